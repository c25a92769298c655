"""Analysis-ready backscatter of one acquisition: the lazy GRD -> ARD stage of the chain.

Reference: ``OST_SPEC.md`` §2.2 (order of operations), §2.3 (meaning of GTC-sigma0,
GTC-gamma0 and RTC-gamma0), §2.4 (aligned output grid) and §2.7 (layover/shadow mask).

Order, as OST: read -> thermal-noise removal -> slice assembly -> border-noise removal ->
calibration (sigma0 / gamma0 of the ellipsoid / beta0) -> multilook (``int(resolution / 10)``
looks from 20 m) -> speckle filter -> terrain flattening (RTC) -> range-Doppler terrain
correction onto the aligned grid.  Everything is lazy (dask) except three small passes done
when the stage is set up: the border-noise column means (one read of the measurements), the
coarse minimum / maximum of the DEM and a check that the last line of each measurement TIFF
can be read.  No-data is NaN, values are linear float32.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import rasterio
import shapely
import xarray as xr
from odc.geo.geobox import GeoBox

from s1stac import dateline, radiometry
from s1stac.ard_options import (
    CALIBRATION_OF,
    LONG_NAME_OF,
    ArdOptions,
    ArdProduct,
    ExtraBand,
    ProductType,
    SpeckleMethod,
)
from s1stac.dem import DemSource, load_dem
from s1stac.errors import ParameterError, ProductError
from s1stac.geocoding import (
    GeocodingPlan,
    Layer,
    Resampling,
    geocode_layers,
    image_layer,
    plan_geocoding,
)
from s1stac.grid import GeometryLike, aligned_grid, as_geometry
from s1stac.radar_model import RadarModel
from s1stac.safe import Product, open_product
from s1stac.speckle import speckle_filter as apply_speckle_filter
from s1stac.terrain import (
    TerrainSimulation,
    incidence_angle_layer,
    layover_shadow_layer,
    simulate_terrain,
    terrain_flattening,
)
from s1stac.types import Polarisation

__all__ = [
    "ArdOptions",
    "ArdProduct",
    "ExtraBand",
    "ProductType",
    "SpeckleMethod",
    "backscatter",
    "process_ard",
]

log = logging.getLogger(__name__)

_READ_LINES = 512  # full-resolution lines per chunk of the (strip-organised) measurements
_DEM_STATS = 16  # native DEM pixels per side of the cells of the coarse height range


def _open(products: Any) -> list[Product]:
    items = (
        products if isinstance(products, Sequence) and not isinstance(products, str) else [products]
    )
    if not items:
        raise ParameterError("no product given: pass a GRD product path or a list of slices")
    opened = [p if isinstance(p, Product) else open_product(p) for p in items]
    opened.sort(key=lambda p: p.manifest.start_time)
    datatakes = {(p.manifest.mission, p.manifest.datatake_id) for p in opened}
    if len(datatakes) > 1:
        raise ParameterError(
            f"products {[p.name for p in opened]} belong to different datatakes {datatakes}: "
            "only consecutive slices of one datatake are assembled"
        )
    return opened


def _polarisations(products: list[Product], wanted: tuple[Polarisation, ...] | None) -> Any:
    common = [p for p in products[0].polarisations if all(p in q.polarisations for q in products)]
    if wanted is None:
        if not common:
            raise ProductError(f"{products[0].name}: no polarisation with an annotation")
        return tuple(common)
    for pol in wanted:
        if pol not in common:
            raise ParameterError(
                f"polarisation {pol.value} is not in {', '.join(p.name for p in products)}; "
                f"available: {', '.join(common) or 'none'}"
            )
    return wanted


def _check_measurement(product: Product, pol: Polarisation, dn: xr.DataArray) -> None:
    """Read the last line: truncated or corrupt TIFFs fail here, not in the middle of a run."""
    try:
        dn.isel(line=[-1]).compute(scheduler="synchronous")
    except (rasterio.errors.RasterioError, OSError, ValueError) as err:
        raise ProductError(
            f"{product.name}: the {pol.value} measurement TIFF cannot be read to its end "
            f"({err}); the file is corrupt or truncated, download the product again"
        ) from err


def _intensity_and_lut(
    products: list[Product], pol: Polarisation, options: ArdOptions, pixels: int | None = None
) -> tuple[xr.DataArray, xr.DataArray, tuple[radiometry.SliceOffset, ...]]:
    """Noise-corrected intensity and calibration LUT of the assembled slices (lazy).

    Chunks are strips of full lines (the TIFFs are organised in strips), or ``pixels`` wide.
    """
    kind = CALIBRATION_OF[options.product_type]
    intensities, luts = [], []
    for product in products:
        ann = product.annotation(pol)
        chunks = {"line": _READ_LINES, "pixel": pixels or ann.number_of_samples}
        dn = product.open_measurement(pol, chunks=chunks)
        _check_measurement(product, pol, dn)
        lut = product.calibration_lut_dataarray(pol, kind, dn)
        if options.noise_removal:
            intensity = radiometry.remove_thermal_noise(dn, product.noise_lut_dataarray(pol, dn))
        else:
            intensity = (dn.astype(np.float32) ** 2).rename("intensity")
        timing = (ann.first_line_time, ann.azimuth_time_interval, product.name)
        intensities.append(radiometry.AzimuthSlice(intensity, *timing))
        luts.append(radiometry.AzimuthSlice(lut, *timing))
    intensity, offsets = radiometry.slice_assembly(intensities)
    lut, _ = radiometry.slice_assembly(luts)
    return intensity, lut, offsets


def _height_ranges(native: xr.DataArray, geobox: GeoBox, chunk: int) -> tuple[Any, float, float]:
    """Lowest/highest DEM height over every output chunk, and over the whole DEM window."""
    f = _DEM_STATS

    def _cells(block: Any) -> Any:
        ny, nx = -(-block.shape[0] // f) * f, -(-block.shape[1] // f) * f
        padded = np.full((ny, nx), np.nan, dtype=np.float64)
        padded[: block.shape[0], : block.shape[1]] = block
        cells = padded.reshape(ny // f, f, nx // f, f)
        low = np.where(np.isnan(cells), np.inf, cells).min(axis=(1, 3))
        high = np.where(np.isnan(cells), -np.inf, cells).max(axis=(1, 3))
        return np.stack([low, high], axis=-1)

    data = native.data.rechunk(tuple(-(-max(c) // f) * f for c in native.data.chunks))
    chunks = tuple(tuple(-(-n // f) for n in c) for c in data.chunks)
    cells = data.map_blocks(_cells, chunks=(*chunks, (2,)), new_axis=2, dtype=np.float64)
    stats = np.asarray(cells.compute())
    ok = np.isfinite(stats)
    low = float(stats[..., 0][ok[..., 0]].min()) if ok[..., 0].any() else np.nan
    high = float(stats[..., 1][ok[..., 1]].max()) if ok[..., 1].any() else np.nan
    dem_box = native.odc.geobox
    rows = -(-geobox.shape[0] // chunk)
    cols = -(-geobox.shape[1] // chunk)
    ranges = np.full((rows, cols, 2), np.nan)
    a, _, c, _, e, f_ = list(dem_box.affine)[:6]
    for i in range(rows):
        for j in range(cols):
            part = geobox[i * chunk : (i + 1) * chunk, j * chunk : (j + 1) * chunk]
            x0, y0, x1, y1 = part.extent.to_crs(dem_box.crs, resolution="auto").boundingbox
            cols_ = sorted(((x0 - c) / a, (x1 - c) / a))
            rows_ = sorted(((y0 - f_) / e, (y1 - f_) / e))
            r0, r1 = max(int(rows_[0]) // f - 1, 0), max(int(np.ceil(rows_[1])) // f + 2, 0)
            c0, c1 = max(int(cols_[0]) // f - 1, 0), max(int(np.ceil(cols_[1])) // f + 2, 0)
            sub = stats[r0:r1, c0:c1]
            if sub.size and np.isfinite(sub[..., 0]).any():
                ranges[i, j] = sub[..., 0].min(), sub[..., 1].max()
    return ranges, low, high


def _radar_window(model: RadarModel, area: Any, low: float, high: float) -> tuple[slice, slice]:
    """Full-resolution radar window of an area (for subsets), aligned to the looks."""
    west, south, east, north = dateline.bbox(area)
    east += 360.0 if east < west else 0.0  # across the antimeridian: continuous longitudes
    lon, lat = np.meshgrid(np.linspace(west, east, 9), np.linspace(south, north, 9))
    full = RadarModel(model.slices, shape=model.full_shape, looks=(1, 1))
    lines, pixels = [], []
    for h in (low, high):
        line, pixel = full.to_radar(lon, lat, h)
        lines.append(line)
        pixels.append(pixel)
    line, pixel = np.concatenate(lines), np.concatenate(pixels)
    ok = np.isfinite(line) & np.isfinite(pixel)
    n_l, n_p = model.full_shape
    nl, np_ = model.looks
    if not ok.any():
        raise ParameterError(f"aoi {area.bounds} is not seen by the product")
    l0 = max(int(np.floor(line[ok].min())) - 8 * nl, 0) // nl * nl
    l1 = min(int(np.ceil(line[ok].max())) + 8 * nl, n_l)
    p0 = max(int(np.floor(pixel[ok].min())) - 8 * np_, 0) // np_ * np_
    p1 = min(int(np.ceil(pixel[ok].max())) + 8 * np_, n_p)
    if l0 >= l1 or p0 >= p1:
        raise ParameterError(f"aoi {area.bounds} is outside the product's image")
    return slice(l0, l1), slice(p0, p1)


def _radar_images(
    products: list[Product],
    pols: tuple[Polarisation, ...],
    options: ArdOptions,
    area: Any,
    height_range: tuple[float, float],
) -> tuple[RadarModel, dict[Polarisation, xr.DataArray]]:
    """Calibrated, multilooked (and filtered) radar images and the model of their grid."""
    looks = radiometry.looks_for_resolution(options.resolution)
    images: dict[Polarisation, xr.DataArray] = {}
    models = []
    for pol in pols:
        intensity, lut, offsets = _intensity_and_lut(products, pol, options)
        full = RadarModel.from_annotations(
            [p.annotation(pol) for p in products],
            first_lines=[o.first_line for o in offsets],
            skipped=[o.skipped_lines for o in offsets],
            looks=(looks, looks),
        )
        lines, pixels = slice(None), slice(None)
        if options.aoi is not None:
            lines, pixels = _radar_window(full, area, *height_range)
            intensity, lut = intensity.isel(line=lines), lut.isel(line=lines)
        if options.border_noise:
            log.info("%s border-noise limits (one pass over the range edges)", pol.value)
            # narrow chunks, so that only the columns the scan needs are read
            window = radiometry.BorderNoiseOptions().window
            edges, _, _ = _intensity_and_lut(products, pol, options, pixels=window)
            limits = radiometry.border_noise_limits(edges.isel(line=lines)).compute()
            intensity = radiometry.remove_border_noise(intensity, limits=limits)
        intensity, lut = intensity.isel(pixel=pixels), lut.isel(pixel=pixels)
        models.append(full.crop(lines, pixels))
        image = radiometry.calibrate(intensity, lut, kind=CALIBRATION_OF[options.product_type])
        image = radiometry.multilook(image.drop_vars(["line", "pixel"]), looks, looks)
        if options.speckle_filter is not None:
            image = apply_speckle_filter(image, options.speckle_filter)
        images[pol] = image
    return models[0], images


def _layers(
    images: dict[Polarisation, xr.DataArray],
    simulation: TerrainSimulation | None,
    plan: GeocodingPlan,
    options: ArdOptions,
) -> list[Layer]:
    """One geocoding layer per polarisation and extra band."""
    layers = []
    for pol, image in images.items():
        if simulation is not None and options.product_type == "RTC-gamma0":
            image = terrain_flattening(image, simulation)
        layer = image_layer(image, plan, method=options.resampling)
        attrs = {
            "long_name": f"{LONG_NAME_OF[options.product_type]} {pol.value}",
            "units": "m2 m-2",
        }
        layers.append(replace(layer, name=pol.value, attrs=attrs))
    for band in options.extra_bands:
        if band in ("local_incidence_angle", "ellipsoid_incidence_angle"):
            kind = "local" if band == "local_incidence_angle" else "ellipsoid"
            layers.append(incidence_angle_layer(plan, kind=kind))
        elif simulation is None:  # pragma: no cover - process_ard simulates for these bands
            raise ParameterError(f"extra band {band!r} needs the terrain simulation")
        elif band == "mask":
            layers.append(layover_shadow_layer(simulation, plan))
        else:
            contributing = image_layer(simulation.gamma_area, plan, method=options.resampling)
            layers.append(replace(contributing, name=band))
    return layers


def process_ard(
    products: str | os.PathLike[str] | Product | Sequence[str | os.PathLike[str] | Product],
    options: ArdOptions,
    *,
    dem: DemSource,
) -> ArdProduct:
    """Lazy ARD backscatter of one acquisition (one product or consecutive slices).

    Parameters
    ----------
    products
        A GRD product (path or opened) or consecutive slices of one datatake.
    options
        Processing options.
    dem
        DEM file(s) or STAC collection (:func:`s1stac.dem.load_dem`); it must cover the scene
        (or the AOI).

    Returns
    -------
    ArdProduct
        The lazy Dataset (dims ``y``, ``x`` on the aligned grid, ``spatial_ref``) and its
        metadata.

    Raises
    ------
    s1stac.dem.DemError
        The DEM does not cover the scene.
    s1stac.errors.MissingComponentError
        A calibration, noise or measurement file of the product is missing.
    s1stac.errors.ParameterError
        Bad options, a polarisation absent from the product, non-consecutive slices.
    s1stac.errors.ProductError
        An unreadable or corrupt product.
    """
    opened = _open(products)
    pols = _polarisations(opened, options.polarisations)
    for product in opened:  # missing parts are reported before any pixel or DEM is read
        for pol in pols:
            product.calibration(pol)
            if options.noise_removal:
                product.noise(pol)
            if product.measurement_href(pol) is None:
                product.open_measurement(pol)
    footprint = shapely.union_all([p.manifest.footprint for p in opened])
    area = footprint
    if options.aoi is not None:
        aoi = dateline.split(as_geometry(options.aoi).to_crs("EPSG:4326").geom)
        area = footprint.intersection(aoi)
        if area.is_empty:
            raise ParameterError(f"aoi {options.aoi!r} does not intersect the scene footprint")
    across = dateline.is_split(area)
    looks = radiometry.looks_for_resolution(options.resolution)
    geobox = aligned_grid(area, resolution_m=options.resolution, crs=options.crs)
    if across and geobox.crs.geographic:
        raise ParameterError(
            f"crs={options.crs!r}: {opened[0].name} crosses the antimeridian (180th meridian), "
            "where a longitude/latitude grid breaks in two; give a projected CRS "
            "(--crs AUTO:42001 for the UTM zone, or EPSG:326xx / EPSG:327xx)"
        )
    chunk = options.chunk_size
    heights = load_dem(dem, geobox, geoid=options.dem_geoid, footprint=area, chunks=chunk)
    # heights on the output grid stand in for the native DEM where no lon/lat window exists
    native = heights if across else load_dem(dem, area.buffer(0.1), geoid=options.dem_geoid)
    log.info("DEM height range per output chunk (one pass over the DEM)")
    ranges, low, high = _height_ranges(native, geobox, chunk)
    model, images = _radar_images(opened, pols, options, area, (low, high))
    simulation = None
    if options.product_type == "RTC-gamma0" or {"mask", "contributing_area"} & set(
        options.extra_bands
    ):
        simulation = simulate_terrain(
            model, native, height_range=(low, high), oversampling=options.terrain_oversampling
        )
    plan = plan_geocoding(
        model,
        heights,
        ranges,
        reference_height=(
            simulation.lattice.reference_height
            if simulation is not None and "mask" in options.extra_bands
            else None
        ),
    )
    dataset = geocode_layers(plan, _layers(images, simulation, plan, options))
    first, last = opened[0].manifest, opened[-1].manifest
    lineage = _lineage(opened, options, looks)
    return ArdProduct(
        dataset=dataset,
        sources=tuple(p.name for p in opened),
        options=options,
        geobox=geobox,
        polarisations=tuple(pols),
        start_time=first.start_time,
        stop_time=last.stop_time,
        platform=first.platform,
        orbit_direction=str(first.orbit_direction.value).lower(),
        relative_orbit=first.relative_orbit,
        absolute_orbit=first.absolute_orbit,
        looks=looks,
        lineage=lineage,
        extra={str(k): str(v.attrs.get("long_name", k)) for k, v in dataset.data_vars.items()},
    )


def _lineage(products: list[Product], options: ArdOptions, looks: int) -> str:
    steps = [f"read {', '.join(p.name for p in products)}"]
    if options.noise_removal:
        steps.append("thermal noise removal")
    if len(products) > 1:
        steps.append("slice assembly")
    if options.aoi is not None:
        steps.append("subset to the AOI")
    if options.border_noise:
        steps.append("GRD border noise removal")
    steps.append(f"calibration to {CALIBRATION_OF[options.product_type]}")
    if looks > 1:
        steps.append(f"multilook {looks}x{looks}")
    if options.speckle_filter:
        steps.append(f"{options.speckle_filter} speckle filter")
    if options.product_type == "RTC-gamma0":
        steps.append("terrain flattening (Small 2011)")
    steps.append(
        f"range-Doppler terrain correction ({options.resampling}) onto the aligned "
        f"{options.crs} grid at {options.resolution:g} m"
    )
    return "; ".join(steps)


def backscatter(
    product_or_products: str
    | os.PathLike[str]
    | Product
    | Sequence[str | os.PathLike[str] | Product],
    *,
    product_type: ProductType,
    resolution: float,
    dem: DemSource,
    crs: str = "EPSG:4326",
    polarisations: Sequence[str] | None = None,
    speckle_filter: SpeckleMethod | None = None,
    extra_bands: Sequence[ExtraBand] = (),
    noise_removal: bool = True,
    border_noise: bool = True,
    resampling: Resampling = "bicubic",
    aoi: GeometryLike | None = None,
) -> xr.Dataset:
    """Lazy ARD backscatter (linear float32, NaN no-data) of one acquisition.

    See :class:`ArdOptions` for the parameters and :func:`process_ard` for the metadata.

    Examples
    --------
    >>> ds = backscatter("S1A_IW_GRDH_...zip", product_type="RTC-gamma0", resolution=20,
    ...                  dem="dem.tif", extra_bands=["mask"])  # doctest: +SKIP
    >>> ds.VV.rio.to_raster("VV.tif")  # doctest: +SKIP
    """
    options = ArdOptions(
        product_type=product_type,
        resolution=resolution,
        crs=crs,
        polarisations=None if polarisations is None else tuple(polarisations),  # type: ignore[arg-type]
        speckle_filter=speckle_filter,
        extra_bands=tuple(extra_bands),
        noise_removal=noise_removal,
        border_noise=border_noise,
        resampling=resampling,
        aoi=aoi,
    )
    return process_ard(product_or_products, options, dem=dem).dataset
