"""Rendering of one track: every acquisition and slice of a datatake, written as SAFE products.

The facet geometry of a track is computed once (the orbit repeats exactly every 12 days), then
the datatake is rendered in azimuth blocks: per block the per-class beta0 maps are combined with
each date's class gamma0, thermal noise from the written noise LUTs is added, speckled and
quantised with the written calibration LUT, and written into each product's measurement
GeoTIFF window.  Annotation, calibration and noise XML, quick-look, KML and manifest follow.

Reference: Sentinel-1 Product Specification S1-RS-MDA-52-7441 (product layout).
"""

from __future__ import annotations

import logging
import math
import pathlib
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import rasterio
import rasterio.enums
from rasterio.windows import Window

from s1stac.esa_safe import manifest_crc
from s1stac.simulate import instrument, safe_writer, xml_annotation, xml_tree
from s1stac.simulate.orbit import CircularOrbit, add_seconds
from s1stac.simulate.product import ProductSpec, annotation_record
from s1stac.simulate.radar import RadarGeometry
from s1stac.simulate.scene import NODATA, Block, scene_model
from s1stac.simulate.terrain import GammaClass, Terrain
from s1stac.types import (
    Annotation,
    CalibrationVectors,
    FloatArray,
    NoiseVectors,
    OrbitDirection,
    Polarisation,
)

LOGGER = logging.getLogger(__name__)
_BLOCK_BYTES = 300e6
_QUICKLOOK_SIZE = 1000


@dataclass(frozen=True)
class Acquisition:
    """One date of a track: its orbit and the class gamma0 (linear) per polarisation."""

    orbit: CircularOrbit
    class_gamma0: FloatArray
    """``(polarisations, classes)``."""


@dataclass(frozen=True)
class TrackOutput:
    products: list[pathlib.Path]
    radar_truth: list[pathlib.Path]
    layover_shadow: np.ndarray
    """DEM-grid layover/shadow codes of the track (255 outside the image)."""


@dataclass
class _Product:
    spec: ProductSpec
    safe_dir: pathlib.Path
    calibration: CalibrationVectors
    noise: NoiseVectors
    annotations: dict[Polarisation, Annotation]
    writers: dict[Polarisation, rasterio.io.DatasetWriter]
    beta0_writers: dict[Polarisation, rasterio.io.DatasetWriter]
    mask_writer: rasterio.io.DatasetWriter | None
    sums: dict[Polarisation, list[float]]


def _datatake_id(absolute_orbit: int, direction: OrbitDirection) -> int:
    return (
        0x40000
        + (absolute_orbit * 7 + (3 if direction == OrbitDirection.DESCENDING else 0)) % 0xBFFFF
    )


def _slice_specs(
    geometry: RadarGeometry,
    orbit_: CircularOrbit,
    direction: OrbitDirection,
    *,
    slices: int,
    polarisations: tuple[Polarisation, ...],
    legacy: bool,
    slice_seconds: float,
) -> list[ProductSpec]:
    datatake = replace(geometry, orbit=orbit_)
    bounds = np.round(np.linspace(0, datatake.lines, slices + 1)).astype(int)
    first = int(datatake.first_line_tau // slice_seconds) % 12 + 1
    segment_start = orbit_.time(datatake.first_line_tau - (first - 1) * slice_seconds)
    specs = []
    for k in range(slices):
        part = datatake.crop_lines(int(bounds[k]), int(bounds[k + 1] - bounds[k]))
        stop = orbit_.time(part.last_line_tau)
        specs.append(
            ProductSpec(
                polarisations=polarisations,
                geometry=part,
                datatake_id=_datatake_id(orbit_.absolute_orbit, direction),
                slice_number=first + k,
                total_slices=first + slices + 3,
                segment_start=segment_start,
                direction=direction,
                ipf_version="002.72" if legacy else "003.52",
                processing_stop=add_seconds(stop, 3 * 3600.0),
            )
        )
    return specs


def _open(
    spec: ProductSpec, out: pathlib.Path, terrain: Terrain, *, legacy: bool, radar_truth: bool
) -> _Product:
    safe_dir = out / f"{spec.name}.SAFE"
    if safe_dir.exists():  # left over by an interrupted run
        shutil.rmtree(safe_dir)
    record = annotation_record(spec, spec.polarisations[0], terrain.sample_height)
    annotations = {pol: replace(record, polarisation=pol) for pol in spec.polarisations}
    writers, beta0_writers = {}, {}
    mask_writer = None
    for pol in spec.polarisations:
        files = safe_writer.polarisation_files(spec, pol)
        writers[pol] = safe_writer.open_measurement(
            safe_dir / files["measurement"], spec, record.geolocation_grid
        )
        if radar_truth:
            path = out / "truth" / "radar" / f"{spec.name}_beta0_{pol.value}.tif"
            beta0_writers[pol] = safe_writer.open_measurement(
                path, spec, record.geolocation_grid, dtype="float32"
            )
    if radar_truth:
        path = out / "truth" / "radar" / f"{spec.name}_layover_shadow.tif"
        mask_writer = safe_writer.open_measurement(
            path, spec, record.geolocation_grid, dtype="uint8"
        )
    return _Product(
        spec=spec,
        safe_dir=safe_dir,
        calibration=instrument.calibration_vectors(spec.geometry),
        noise=instrument.noise_vectors(spec.geometry, legacy=legacy),
        annotations=annotations,
        writers=writers,
        beta0_writers=beta0_writers,
        mask_writer=mask_writer,
        sums={pol: [0.0, 0.0, 0.0] for pol in spec.polarisations},
    )


def _finish(product: _Product, *, zip_products: bool) -> tuple[pathlib.Path, list[pathlib.Path]]:
    spec, safe_dir = product.spec, product.safe_dir
    radar = []
    for writer in [*product.writers.values(), *product.beta0_writers.values()]:
        writer.close()
    if product.mask_writer is not None:
        product.mask_writer.close()
        radar.append(pathlib.Path(product.mask_writer.name))
    radar += [pathlib.Path(w.name) for w in product.beta0_writers.values()]
    (safe_dir / "annotation" / "calibration").mkdir(parents=True, exist_ok=True)
    for pol in spec.polarisations:
        files = safe_writer.polarisation_files(spec, pol)
        total, square, count = product.sums[pol]
        mean = total / count
        std = math.sqrt(max(square / count - mean * mean, 0.0))
        annotation = product.annotations[pol]
        (safe_dir / files["annotation"]).write_bytes(
            xml_annotation.annotation_xml(spec, annotation, mean=mean, std=std)
        )
        (safe_dir / files["calibration"]).write_bytes(
            xml_tree.calibration_xml(spec, pol, product.calibration)
        )
        (safe_dir / files["noise"]).write_bytes(xml_tree.noise_xml(spec, pol, product.noise))
    grid = product.annotations[spec.polarisations[0]].geolocation_grid
    factor = max(1, math.ceil(max(spec.geometry.lines, spec.geometry.samples) / _QUICKLOOK_SIZE))
    bands = []
    for pol in spec.polarisations:
        with rasterio.open(
            safe_dir / safe_writer.polarisation_files(spec, pol)["measurement"]
        ) as src:
            shape = (src.height // factor, src.width // factor)
            bands.append(src.read(1, out_shape=shape, resampling=rasterio.enums.Resampling.average))
    safe_writer.write_png(
        safe_dir / "preview" / "quick-look.png", instrument.quicklook_rows(bands, 1)
    )
    corners = safe_writer.footprint(grid)
    safe_writer.write_kml(safe_dir / "preview" / "map-overlay.kml", spec, corners)
    manifest = safe_writer.manifest(spec, safe_dir, corners)
    (safe_dir / "manifest.safe").write_bytes(manifest)
    final = replace(spec, unique_id=manifest_crc(manifest))
    target = safe_dir.with_name(f"{final.name}.SAFE")
    if target.exists():  # the same product written again (same seed and settings)
        shutil.rmtree(target)
    safe_dir = safe_dir.rename(target)
    radar = [
        path.rename(path.with_name(path.name.replace(spec.name, final.name))) for path in radar
    ]
    return (safe_writer.zip_safe(safe_dir) if zip_products else safe_dir), radar


def _combine(gamma0: FloatArray, class_beta0: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Beta0 of lines ``start:stop`` of a block: sum over classes of gamma0 x class beta0."""
    out = class_beta0[0, start:stop] * np.float32(gamma0[0])
    for c in range(1, class_beta0.shape[0]):
        out += class_beta0[c, start:stop] * np.float32(gamma0[c])
    return out


def _write_block(
    block: Block,
    products: list[_Product],
    acquisitions: Sequence[Acquisition],
    polarisations: tuple[Polarisation, ...],
    rngs: dict[tuple[int, int], np.random.Generator],
) -> None:
    """Write the part of a rendered block that falls in one slice, for every date."""
    geometry = products[0].spec.geometry
    first = geometry.first_line_offset
    l0 = block.first_line
    l1 = l0 + block.class_beta0.shape[1]
    a, b = max(l0, first), min(l1, first + geometry.lines)
    if a >= b:
        return
    rows = np.arange(a - first, b - first, dtype=np.float64)
    window = Window(0, a - first, geometry.samples, b - a)
    for d, (acquisition, product) in enumerate(zip(acquisitions, products, strict=True)):
        lut = instrument.calibration_field(product.calibration, rows, geometry.samples)
        noise = instrument.noise_field(product.noise, rows, geometry.samples)
        if product.mask_writer is not None and block.layover_shadow is not None:
            product.mask_writer.write(block.layover_shadow[a - l0 : b - l0], 1, window=window)
        for p, pol in enumerate(polarisations):
            beta0 = _combine(acquisition.class_gamma0[p], block.class_beta0, a - l0, b - l0)
            dn = instrument.digital_numbers(beta0, lut, noise, rngs[d, p])
            product.writers[pol].write(dn, 1, window=window)
            values = dn.astype(np.float64)
            sums = product.sums[pol]
            sums[0] += float(values.sum())
            sums[1] += float(np.square(values).sum())
            sums[2] += values.size
            if pol in product.beta0_writers:
                product.beta0_writers[pol].write(beta0.astype(np.float32), 1, window=window)


def render_track(
    out: pathlib.Path,
    terrain: Terrain,
    geometry: RadarGeometry,
    acquisitions: Sequence[Acquisition],
    *,
    direction: OrbitDirection,
    track_index: int,
    polarisations: tuple[Polarisation, ...],
    slices: int,
    seed: int,
    legacy_noise: bool,
    zip_products: bool,
    radar_truth: bool,
    block_lines: int | None,
    slice_seconds: float,
) -> TrackOutput:
    """Render and write every acquisition and slice of one track."""
    model = scene_model(terrain, geometry)
    if block_lines is None:
        per_line = len(GammaClass) * geometry.samples * 4
        block_lines = max(64, min(geometry.lines, int(_BLOCK_BYTES // per_line) // 64 * 64))
    specs = [
        _slice_specs(
            geometry,
            acq.orbit,
            direction,
            slices=slices,
            polarisations=polarisations,
            legacy=legacy_noise,
            slice_seconds=slice_seconds,
        )
        for acq in acquisitions
    ]
    products = [
        [_open(s, out, terrain, legacy=legacy_noise, radar_truth=radar_truth) for s in row]
        for row in specs
    ]
    rngs = {
        (d, p): np.random.default_rng([seed, track_index, d, p])
        for d in range(len(acquisitions))
        for p in range(len(polarisations))
    }
    flags = np.full(terrain.shape, NODATA, dtype=np.uint8)
    # NOTE: a small GDAL cache: the measurements are written once, block by block.
    with rasterio.Env(GDAL_CACHEMAX=256):
        for block in model.blocks(block_lines, radar_mask=radar_truth):
            flags.reshape(-1)[block.facets] = block.facet_flags
            LOGGER.info(
                "track %d: lines %d-%d of %d",
                track_index,
                block.first_line,
                block.first_line + block.class_beta0.shape[1],
                geometry.lines,
            )
            for product_row in zip(*products, strict=True):
                _write_block(block, list(product_row), acquisitions, polarisations, rngs)
    paths, radar = [], []
    for row in products:
        for product in row:
            path, extra = _finish(product, zip_products=zip_products)
            paths.append(path)
            radar += extra
    return TrackOutput(products=paths, radar_truth=radar, layover_shadow=flags)
