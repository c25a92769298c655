"""Radiometric terrain flattening (Small 2011), layover/shadow flags and incidence angles.

References: Small, D. (2011), "Flattening Gamma: Radiometric Terrain Correction for SAR
Imagery", IEEE TGRS 49(8), doi:10.1109/TGRS.2011.2120616 (area projection); ``OST_SPEC.md``
§2.3 (RTC: ``gamma0_T = beta0 * A_beta / A_gamma_sim``, SNAP ``Terrain-Flattening``) and §2.7
(layover/shadow mask: 0 none, 1 layover, 2 shadow, 3 both).

Ground lattice
    The terrain is sampled on a lattice of ground points attached to the multilooked radar
    grid: node ``(r, c)`` lies, at the reference height ``h_ref``, at radar line
    ``-0.5 + r / n_az`` and pixel ``-margin - 0.5 + c / n_rg`` (``n_az``, ``n_rg``: the
    oversampling, nodes per radar pixel; ``margin``: pixels beyond both swath edges, so that
    terrain seen by the image is sampled whatever its height).  Each node is raised to the
    DEM height at its longitude/latitude (bilinear DEM); neighbouring nodes span the DEM
    facets.  A lattice row lies in one zero-Doppler plane and is ordered by ground range,
    which makes it the range profile of the layover/shadow scan.
Simulated area
    Every facet's area projected on the plane perpendicular to the look direction
    (``A_gamma``, zero for facets facing away or in shadow) is spread over the radar pixels at
    the facet's position (bilinear splat; facets larger than half a pixel in radar geometry
    are split).  ``A_beta`` of a radar pixel is its azimuth spacing times its slant-range
    extent; terrain flattening is ``gamma0_T = beta0 * A_beta / A_gamma_sim``.
Layover and shadow
    Along each lattice row (nodes by increasing ground range): a node is in *shadow* when a
    nearer node is seen under a larger look angle, in *layover* when its slant range is below
    that of a nearer node or above that of a farther node.  The flags stay on the ground:
    an output pixel takes the flags of the lattice nodes around its position at ``h_ref``.
Chunking
    One task per block of radar lines, with the DEM window those lines see; each task keeps
    two lattice rows in memory at a time (numba kernel).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import dask
import dask.array as da
import numpy as np
import numpy.typing as npt
import pyproj
import xarray as xr
from odc.geo.geobox import GeoBox

from s1stac._terrain_kernels import LAYOVER, SHADOW, flags_kernel, simulate_kernel
from s1stac.ellipsoid import geodetic_to_ecef
from s1stac.errors import ParameterError
from s1stac.geocoding import GeocodingPlan, Layer
from s1stac.radar_model import (
    HeightLattice,
    RadarModel,
    axis_weights,
    lattice_positions,
    pixel_centres_lonlat,
)
from s1stac.types import FloatArray
from s1stac.windows import WindowReader, assemble_window

__all__ = [
    "LAYOVER",
    "SHADOW",
    "GroundLattice",
    "TerrainSimulation",
    "incidence_angle_layer",
    "layover_shadow_layer",
    "simulate_terrain",
    "terrain_flattening",
]

_COARSE = (8, 32)  # lattice nodes between exactly solved nodes (rows, columns)


@dataclass(frozen=True)
class GroundLattice:
    """Ground lattice of a radar image (see the module documentation)."""

    reference_height: float
    """Ellipsoidal height ``h_ref`` at which the nodes are attached to radar coordinates, m."""
    oversampling: tuple[int, int]
    """Nodes per multilooked radar pixel along azimuth and range."""
    margin: int
    """Radar pixels sampled beyond both swath edges."""
    shape: tuple[int, int]
    """Number of node rows and columns."""

    def to_radar(self, row: Any, col: Any) -> tuple[Any, Any]:
        """Radar (line, pixel) at ``h_ref`` of (fractional) node indices."""
        return -0.5 + row / self.oversampling[0], -self.margin - 0.5 + col / self.oversampling[1]

    def from_radar(self, line: Any, pixel: Any) -> tuple[Any, Any]:
        """Fractional node indices of radar coordinates at ``h_ref``."""
        n_az, n_rg = self.oversampling
        return (line + 0.5) * n_az, (pixel + self.margin + 0.5) * n_rg


@dataclass(frozen=True)
class TerrainSimulation:
    """Simulated illuminated area and layover/shadow flags of one radar image (lazy)."""

    gamma_area: xr.DataArray
    """``A_gamma_sim`` per multilooked radar pixel, m², dims ``(line, pixel)``."""
    beta_area: xr.DataArray
    """``A_beta`` per multilooked radar pixel (azimuth spacing x slant-range extent), m²."""
    flags: da.Array
    """Flags of the lattice nodes (uint8): 1 layover, 2 shadow, 4 valid (DEM height known)."""
    lattice: GroundLattice


def _relief_shifts(model: RadarModel, reference: float, low: float, high: float) -> Any:
    lines = np.linspace(0, model.shape[0] - 1, 7)
    pixels = np.linspace(0, model.shape[1] - 1, 7)
    ll, pp = np.meshgrid(lines, pixels, indexing="ij")
    lon, lat = model.to_ground(ll, pp, reference)
    shifts = []
    for h in (low, high):
        line, pixel = model.to_radar(lon, lat, h)
        shifts.append((np.nanmax(np.abs(line - ll)), np.nanmax(np.abs(pixel - pp))))
    return np.nan_to_num(np.max(shifts, axis=0), nan=0.0)


def simulate_terrain(
    model: RadarModel,
    dem: xr.DataArray,
    *,
    height_range: tuple[float, float],
    oversampling: int | tuple[int, int] = 2,
    block_lines: int = 64,
) -> TerrainSimulation:
    """Simulate ``A_gamma`` and the layover/shadow flags of a radar image from a DEM, lazily.

    Parameters
    ----------
    model
        Radar model of the multilooked image.
    dem
        Heights above the WGS84 ellipsoid on the DEM's own grid (odc-geo coordinates), dask
        backed; NaN where unknown.
    height_range
        Lowest and highest DEM height over the scene (sets the lattice margins).
    oversampling
        Lattice nodes per multilooked radar pixel (azimuth, range); 2 samples the DEM at about
        half the radar pixel.
    block_lines
        Radar lines per task.
    """
    n_az, n_rg = (oversampling, oversampling) if isinstance(oversampling, int) else oversampling
    if min(n_az, n_rg, block_lines) < 1:
        raise ParameterError(f"{oversampling=} and {block_lines=} must be positive integers")
    geobox = dem.odc.geobox
    if not isinstance(geobox, GeoBox):
        raise ParameterError("dem must be a DataArray on an odc-geo GeoBox (s1stac.dem.load_dem)")
    low, high = (float(v) for v in height_range)
    reference = 0.5 * (low + high)
    shift_line, shift_pixel = _relief_shifts(model, reference, low, high)
    margin = int(math.ceil(shift_pixel)) + 3
    line_margin = int(math.ceil(shift_line)) + 3
    n_lines, n_pixels = model.shape
    lattice = GroundLattice(
        reference, (n_az, n_rg), margin, (n_lines * n_az + 1, (n_pixels + 2 * margin) * n_rg + 1)
    )
    areas, betas, flags = [], [], []
    reader = WindowReader(dem.data)
    for l0 in range(0, n_lines, block_lines):
        l1 = min(l0 + block_lines, n_lines)
        rows = ((l0 - line_margin) * n_az, (l1 + line_margin) * n_az + 1)
        out_rows = (l0 * n_az, l1 * n_az + (1 if l1 == n_lines else 0))
        window = _dem_window(model, lattice, geobox, rows)
        task = dask.delayed(_simulate_block, pure=True, nout=3)(
            reader.parts(window) if window is not None else None,
            window,
            geobox,
            model,
            lattice,
            rows,
            out_rows,
            (l0, l1),
        )
        areas.append(da.from_delayed(task[0], (l1 - l0, n_pixels), dtype=np.float32))
        betas.append(da.from_delayed(task[1], (l1 - l0, n_pixels), dtype=np.float32))
        flags.append(
            da.from_delayed(task[2], (out_rows[1] - out_rows[0], lattice.shape[1]), dtype=np.uint8)
        )
    dims = ("line", "pixel")
    gamma = xr.DataArray(da.concatenate(areas), dims=dims, name="gamma_area").assign_attrs(
        long_name="simulated illuminated area (A_gamma)", units="m2"
    )
    beta = xr.DataArray(da.concatenate(betas), dims=dims, name="beta_area").assign_attrs(
        long_name="beta0 reference area (A_beta)", units="m2"
    )
    return TerrainSimulation(gamma, beta, da.concatenate(flags), lattice)


@functools.lru_cache(maxsize=16)
def _from_lonlat(crs: str) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs("EPSG:4326", crs, always_xy=True)


def _dem_xy(geobox: GeoBox, lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Fractional (column, row) in the DEM grid, pixel centres at integers."""
    if geobox.crs is not None and geobox.crs.epsg != 4326:
        lon, lat = _from_lonlat(str(geobox.crs)).transform(lon, lat)
    a, _, c, _, e, f = list(geobox.affine)[:6]
    return (np.asarray(lon) - c) / a - 0.5, (np.asarray(lat) - f) / e - 0.5


def _dem_window(
    model: RadarModel, lattice: GroundLattice, geobox: GeoBox, rows: tuple[int, int]
) -> tuple[slice, slice] | None:
    cols = np.linspace(0, lattice.shape[1] - 1, 65)
    edge_rows = np.array([rows[0], rows[1] - 1], dtype=np.float64)
    sides = np.linspace(float(rows[0]), float(rows[1] - 1), 9).repeat(2)
    r = np.concatenate([np.repeat(edge_rows, cols.size), sides])
    c = np.concatenate([np.tile(cols, 2), np.tile([0.0, cols[-1]], 9)])
    line, pixel = lattice.to_radar(r, c)
    lon, lat = model.to_ground(line, pixel, lattice.reference_height)
    x, y = _dem_xy(geobox, lon, lat)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    height, width = geobox.shape
    r0, r1 = max(int(np.floor(y[ok].min())) - 2, 0), min(int(np.ceil(y[ok].max())) + 3, height)
    c0, c1 = max(int(np.floor(x[ok].min())) - 2, 0), min(int(np.ceil(x[ok].max())) + 3, width)
    return (slice(r0, r1), slice(c0, c1)) if r0 < r1 and c0 < c1 else None


def _simulate_block(
    dem: Any,
    window: tuple[slice, slice] | None,
    geobox: GeoBox,
    model: RadarModel,
    lattice: GroundLattice,
    rows: tuple[int, int],
    out_rows: tuple[int, int],
    lines: tuple[int, int],
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.uint8]]:
    n_pixels = model.shape[1]
    l0, l1 = lines
    edges = np.arange(n_pixels + 1) - 0.5
    slant = model.slant_range(np.full(edges.shape, 0.5 * (l0 + l1 - 1)), edges)
    # NOTE: a read-only broadcast view: the block keeps one row in memory, not l1 - l0
    beta = np.broadcast_to(
        (np.diff(slant) * model.azimuth_spacing).astype(np.float32), (l1 - l0, n_pixels)
    )
    area = np.zeros((l1 - l0 + 4, n_pixels))
    flags = np.zeros((out_rows[1] - out_rows[0], lattice.shape[1]), dtype=np.uint8)
    heights = None if dem is None else np.asarray(assemble_window(*dem), dtype=np.float64)
    if heights is None or window is None or not np.isfinite(heights).any():
        return area[2:-2].astype(np.float32), beta, flags
    n_rows, n_cols = rows[1] - rows[0], lattice.shape[1]
    node_rows = lattice_positions(n_rows, _COARSE[0])
    node_cols = lattice_positions(n_cols, _COARSE[1])
    line, pixel = lattice.to_radar(
        (rows[0] + node_rows)[:, None].astype(float), node_cols[None, :].astype(float)
    )
    lon, lat = model.to_ground(line, pixel, lattice.reference_height)
    if np.nanmax(lon) - np.nanmin(lon) > 180.0:  # across the antimeridian: the kernel
        lon = np.where(lon < 0.0, lon + 360.0, lon)  # interpolates longitudes between nodes
    x, y = _dem_xy(geobox, lon, lat)
    finite = heights[np.isfinite(heights)]
    radar = HeightLattice.build(model, lon, lat, float(finite.min()), float(finite.max()))
    valid = np.isfinite(radar.coefficients).all(axis=(0, 1)) & np.isfinite(lon + lat)
    fields = np.concatenate(
        [
            np.stack([lon, lat, x - window[1].start, y - window[0].start]),
            radar.coefficients.reshape(9, *lon.shape),
        ]
    )
    d = radar.half * np.linspace(-1.0, 1.0, 5)[:, None]
    c = radar.coefficients[:2, :, valid]
    reach = c[:, 0, None] + d * (c[:, 1, None] + d * c[:, 2, None])
    starts, slant_table, tables = model.range_tables(
        (float(reach[0].min()) - 2.0, float(reach[0].max()) + 2.0),
        (float(reach[1].min()) - 100.0, float(reach[1].max()) + 100.0),
    )
    row_lines, _ = lattice.to_radar(np.arange(rows[0], rows[1], dtype=float), 0.0)
    sensor, _ = model.sensor(row_lines)
    row_i, row_w = axis_weights(n_rows, node_rows)
    col_i, col_w = axis_weights(n_cols, node_cols)
    simulate_kernel(
        np.ascontiguousarray(np.nan_to_num(fields)),
        valid,
        row_i,
        row_w,
        col_i,
        col_w,
        heights,
        radar.centre,
        starts,
        float(slant_table[0]),
        float(slant_table[1] - slant_table[0]),
        tables,
        model.conversion,
        sensor,
        area,
        float(l0 - 2),
        flags,
        out_rows[0] - rows[0],
    )
    return area[2:-2].astype(np.float32), beta, flags


def terrain_flattening(
    beta0: xr.DataArray, simulation: TerrainSimulation, *, min_ratio: float = 0.01
) -> xr.DataArray:
    """``gamma0_T = beta0 * A_beta / A_gamma_sim`` (Small 2011), NaN where the area is tiny.

    Parameters
    ----------
    beta0
        Multilooked beta nought, dims ``(line, pixel)``, of the image ``simulation`` models.
    simulation
        From :func:`simulate_terrain`.
    min_ratio
        Pixels with ``A_gamma_sim / A_beta`` below this (shadow, image edges) become NaN.
    """
    if beta0.sizes["line"] != simulation.gamma_area.sizes["line"] or (
        beta0.sizes["pixel"] != simulation.gamma_area.sizes["pixel"]
    ):
        raise ParameterError(
            f"beta0 {dict(beta0.sizes)} and the simulation {dict(simulation.gamma_area.sizes)} "
            "differ in shape: simulate the image that beta0 is on"
        )
    beta = beta0.transpose("line", "pixel")
    ratio = (simulation.gamma_area / simulation.beta_area).data
    data = da.where(ratio > min_ratio, beta.data / da.maximum(ratio, min_ratio), np.nan)
    return (
        beta.copy(data=data.astype(np.float32))
        .rename("gamma0_terrain")
        .assign_attrs(long_name="terrain-flattened gamma nought", units="m2 m-2")
    )


def _flags_block(
    coords: Any, flags: Any, window: tuple[slice, slice], lattice: GroundLattice, radius: int
) -> npt.NDArray[np.float32]:
    row, col = lattice.from_radar(coords[2].astype(np.float64), coords[3].astype(np.float64))
    out = np.empty(row.shape, dtype=np.float32)
    origin = np.array([window[0].start, window[1].start], dtype=np.int64)
    flags_kernel(np.asarray(flags), row, col, origin, radius, out)
    return out


def layover_shadow_layer(
    simulation: TerrainSimulation, plan: GeocodingPlan, *, radius: int = 1
) -> Layer:
    """Layover/shadow mask layer: 0 none, 1 layover, 2 shadow, 3 both, NaN unknown.

    Each output pixel takes the union of the flags of the lattice nodes within ``radius``
    nodes of its position at the lattice's reference height (``radius=1``: the 4 nodes of its
    cell).  ``plan`` must have been made with ``reference_height=lattice.reference_height``.
    """
    lattice = simulation.lattice
    if plan.reference_windows is None or plan.reference_height != lattice.reference_height:
        raise ParameterError(
            "the geocoding plan has no lookup at the lattice's reference height: make it with "
            f"plan_geocoding(..., reference_height={lattice.reference_height})"
        )
    pad = radius + 1
    windows = []
    for row in plan.reference_windows:
        out_row: list[tuple[slice, slice] | None] = []
        for window in row:
            if window is None:
                out_row.append(None)
                continue
            r0, c0 = lattice.from_radar(window[0].start, window[1].start)
            r1, c1 = lattice.from_radar(window[0].stop, window[1].stop)
            rows = slice(max(int(r0) - pad, 0), min(int(np.ceil(r1)) + pad, lattice.shape[0]))
            cols = slice(max(int(c0) - pad, 0), min(int(np.ceil(c1)) + pad, lattice.shape[1]))
            ok = rows.start < rows.stop and cols.start < cols.stop
            out_row.append((rows, cols) if ok else None)
        windows.append(tuple(out_row))
    block = functools.partial(_flags_block, lattice=lattice, radius=radius)
    attrs = {"long_name": "layover/shadow mask (0 none, 1 layover, 2 shadow, 3 both)", "units": "1"}
    return Layer(simulation.flags, tuple(windows), block, "mask", attrs)


def _angles_block(
    coords: Any,
    height: Any,
    window: tuple[slice, slice],
    model: RadarModel,
    geobox: GeoBox,
    local: bool,
    strip: int = 256,
) -> npt.NDArray[np.float32]:
    ny, nx = coords.shape[1:]
    line = coords[0].astype(np.float64)
    ok = np.isfinite(line)
    out = np.full((ny, nx), np.nan, dtype=np.float32)
    if not ok.any():
        return out
    first, last = int(np.floor(line[ok].min())), int(np.ceil(line[ok].max())) + 1
    table, _ = model.sensor(np.arange(first, last + 1, dtype=np.float64))
    rows, cols = window
    top = 0 if rows.start == 0 else 1  # the window has a halo row/column where it can
    left = 0 if cols.start == 0 else 1
    heights = np.asarray(height, dtype=np.float64)
    for r0 in range(0, ny, strip):  # strips bound the float64 temporaries
        r1 = min(r0 + strip, ny)
        # window rows of output rows r0 - 1 .. r1 (one halo row on each side when present)
        w0, w1 = max(r0 + top - 1, 0), min(r1 + top + 1, heights.shape[0])
        lon, lat = pixel_centres_lonlat(
            geobox, np.arange(rows.start + w0, rows.start + w1), np.arange(cols.start, cols.stop)
        )
        points = geodetic_to_ecef(lon, lat, heights[w0:w1])
        i0 = r0 + top - w0  # row of output row r0 in points
        centre = points[i0 : i0 + r1 - r0, left : left + nx]
        t = np.clip(np.where(ok[r0:r1], line[r0:r1], first) - first, 0, last - first)
        k = np.minimum(np.floor(t).astype(np.intp), last - first - 1)
        f = (t - k)[..., None]
        look = table[k] * (1.0 - f) + table[k + 1] * f - centre
        look /= np.linalg.norm(look, axis=-1, keepdims=True)
        if local:
            pad_top, pad_bottom = 1 - i0, (i0 + r1 - r0 + 1) - points.shape[0]
            padded = np.pad(
                points,
                ((pad_top, max(pad_bottom, 0)), (1 - left, 1), (0, 0)),
                constant_values=np.nan,
            )[:, : nx + 2]
            east = padded[1:-1, 2:] - padded[1:-1, :-2]
            north = padded[:-2, 1:-1] - padded[2:, 1:-1]
            normal = np.cross(east, north)
        else:
            # NOTE: the geocentric vertical, as the annotation's incidenceAngle (< 0.05 deg
            # from the ellipsoid normal)
            normal = centre
        cosine = np.einsum("...i,...i->...", normal, look) / np.linalg.norm(normal, axis=-1)
        angle = np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
        out[r0:r1] = np.where(ok[r0:r1], angle, np.nan)
    return out


def incidence_angle_layer(plan: GeocodingPlan, *, kind: str = "local") -> Layer:
    """Incidence angle layer on the output grid, degrees.

    ``kind="local"``: angle between the line of sight and the DEM surface normal (central
    differences of the ECEF positions of the neighbouring pixels; NaN on the grid's outer
    edge).  ``kind="ellipsoid"``: angle to the geocentric vertical at the pixel's DEM height,
    the convention of the annotation's geolocation grid.
    """
    if kind not in ("local", "ellipsoid"):
        raise ParameterError(f"{kind=} unknown: choose 'local' or 'ellipsoid'")
    offsets = [np.cumsum((0,) + c) for c in plan.chunks]
    ny, nx = plan.geobox.shape
    windows = tuple(
        tuple(
            (
                slice(max(int(offsets[0][i]) - 1, 0), min(int(offsets[0][i + 1]) + 1, ny)),
                slice(max(int(offsets[1][j]) - 1, 0), min(int(offsets[1][j + 1]) + 1, nx)),
            )
            for j in range(len(plan.chunks[1]))
        )
        for i in range(len(plan.chunks[0]))
    )
    block = functools.partial(
        _angles_block, model=plan.model, geobox=plan.geobox, local=kind == "local"
    )
    name = f"{kind}_incidence_angle"
    attrs = {"long_name": name.replace("_", " "), "units": "degree"}
    return Layer(plan.height.data, windows, block, name, attrs)
