"""Terrain of a simulated scene: DEM and land cover on a geographic (EPSG:4326) grid.

The grid is the "standard grid" of SNAP terrain correction as used by OST: square pixels of
``resolution / 6378137 * 180 / pi`` degrees whose corners are integer multiples of that
spacing, so ARD products written at the same resolution align with the ground truth pixel for
pixel.  Heights are above the WGS84 ellipsoid.  The generated DEM has smooth hills with a
prescribed maximum slope, a plain on the west side and a flat lake; land cover follows it:
water (lake), forest (upper hills), cropland (parcels of three crop calendars) and urban.

Reference: OST specification section 2.4 (output grid), ``../reference/OST_SPEC.md``;
SNAP ``SARGeocoding.getPixelSpacingInDegree``.
"""

from __future__ import annotations

import enum
import logging
import math
from dataclasses import dataclass

import numpy as np
import rasterio
import rasterio.warp
import scipy.interpolate
import scipy.ndimage
import scipy.special
from affine import Affine

from s1stac.ellipsoid import WGS84_A
from s1stac.errors import AoiError, ParameterError
from s1stac.geoid import geoid_undulation, vertical_reference
from s1stac.grid import degrees_per_pixel
from s1stac.simulate.orbit import WGS84_E2
from s1stac.types import FloatArray

_CHUNK = 512
LOGGER = logging.getLogger(__name__)


class LandCover(enum.IntEnum):
    """Land-cover classes of the ground truth (``landcover.tif``)."""

    WATER = 1
    FOREST = 2
    CROPLAND = 3
    URBAN = 4


class GammaClass(enum.IntEnum):
    """Backscatter classes: land cover, with cropland split by crop calendar."""

    WATER = 0
    FOREST = 1
    CROP_WINTER = 2
    CROP_SUMMER = 3
    CROP_SPRING = 4
    URBAN = 5


GAMMA_TO_LANDCOVER = np.array(
    [LandCover.WATER, LandCover.FOREST, LandCover.CROPLAND, LandCover.CROPLAND]
    + [LandCover.CROPLAND, LandCover.URBAN],
    dtype=np.uint8,
)


@dataclass(frozen=True)
class Terrain:
    """DEM, backscatter class and texture on one geographic grid (rows north to south)."""

    height: np.ndarray
    """``(rows, cols)`` float32, metres above the WGS84 ellipsoid."""
    gamma_class: np.ndarray
    """``(rows, cols)`` uint8, :class:`GammaClass` codes."""
    texture: np.ndarray
    """``(rows, cols)`` float32, multiplicative gamma0 texture with mean 1 per class."""
    transform: Affine
    """Pixel-corner transform of the EPSG:4326 grid."""

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.height.shape[0]), int(self.height.shape[1]))

    @property
    def spacing(self) -> float:
        return float(self.transform.a)

    @property
    def kernel_grid(self) -> FloatArray:
        """``[lon, lat]`` of node (0, 0) and ``[step_x, step_y]`` (degrees) for the kernels."""
        t = self.transform
        return np.array([t.c + 0.5 * t.a, t.f + 0.5 * t.e, t.a, -t.e])

    @property
    def landcover(self) -> np.ndarray:
        return GAMMA_TO_LANDCOVER[self.gamma_class]

    def node_lonlat(self, rows: FloatArray, cols: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Longitude/latitude of (fractional) node indices; node (0, 0) is a pixel centre."""
        lon = self.transform.c + (np.asarray(cols) + 0.5) * self.transform.a
        lat = self.transform.f + (np.asarray(rows) + 0.5) * self.transform.e
        return lon, lat

    def sample_height(self, lon: FloatArray, lat: FloatArray) -> FloatArray:
        """Bilinear DEM height at lon/lat (edge values outside the grid)."""
        col = (np.asarray(lon, dtype=np.float64) - self.transform.c) / self.transform.a - 0.5
        row = (np.asarray(lat, dtype=np.float64) - self.transform.f) / self.transform.e - 0.5
        rows, cols = self.shape
        row = np.clip(row, 0.0, rows - 1.0)
        col = np.clip(col, 0.0, cols - 1.0)
        r0 = np.minimum(np.floor(row).astype(np.int64), rows - 2)
        c0 = np.minimum(np.floor(col).astype(np.int64), cols - 2)
        u, v = row - r0, col - c0
        h = self.height
        top = (1.0 - v) * h[r0, c0] + v * h[r0, c0 + 1]
        bottom = (1.0 - v) * h[r0 + 1, c0] + v * h[r0 + 1, c0 + 1]
        return np.asarray((1.0 - u) * top + u * bottom, dtype=np.float64)


def standard_grid(
    bounds: tuple[float, float, float, float], resolution: float
) -> tuple[Affine, tuple[int, int]]:
    """Transform and shape of the standard geographic grid covering ``(W, S, E, N)`` bounds."""
    step = degrees_per_pixel(resolution)
    west, south, east, north = bounds
    col0, col1 = math.floor(west / step), math.ceil(east / step)
    row0, row1 = math.floor(-north / step), math.ceil(-south / step)
    return Affine(step, 0.0, col0 * step, 0.0, -step, -row0 * step), (row1 - row0, col1 - col0)


def _metric(
    transform: Affine, shape: tuple[int, int], centre: tuple[float, float]
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Local east/north metres of node columns and rows from ``centre``; and per-row dx."""
    lon = transform.c + (np.arange(shape[1]) + 0.5) * transform.a
    lat = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
    lat_c = math.radians(centre[1])
    n_radius = WGS84_A / math.sqrt(1.0 - WGS84_E2 * math.sin(lat_c) ** 2)
    m_radius = n_radius * (1.0 - WGS84_E2) / (1.0 - WGS84_E2 * math.sin(lat_c) ** 2)
    x = np.radians(lon - centre[0]) * n_radius * math.cos(lat_c)
    y = np.radians(lat - centre[1]) * m_radius
    lat_r = np.radians(lat)
    n_rows = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat_r) ** 2)
    dx = math.radians(transform.a) * n_rows * np.cos(lat_r)
    return x, y, dx


def _max_slope(height: np.ndarray, dx_rows: FloatArray, dy: float) -> float:
    """Largest terrain slope (tangent) of a grid, from central differences (row chunks)."""
    largest = 0.0
    rows = height.shape[0]
    for r0 in range(0, rows, _CHUNK):
        r1 = min(r0 + _CHUNK, rows)
        lo, hi = max(r0 - 1, 0), min(r1 + 1, rows)
        part = height[lo:hi].astype(np.float64)
        gy, gx = (
            np.gradient(part)
            if part.shape[0] > 1
            else (np.zeros_like(part), np.gradient(part, axis=1))
        )
        keep = slice(r0 - lo, r0 - lo + (r1 - r0))
        slope = np.hypot(gx[keep] / dx_rows[r0:r1, None], gy[keep] / dy)
        largest = max(largest, float(slope.max()))
    return largest


def _splitmix(z: np.ndarray) -> np.ndarray:
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _hash_uniform(seed: int, *keys: np.ndarray) -> np.ndarray:
    """Deterministic uniform [0, 1) numbers from integer keys (parcel ids)."""
    shape = np.broadcast_shapes(*(np.shape(k) for k in keys))
    h = _splitmix(np.full(shape, seed, dtype=np.uint64))
    for key in keys:
        h = _splitmix(h ^ np.asarray(key).astype(np.int64).astype(np.uint64))
    return (h >> np.uint64(11)).astype(np.float64) / float(2**53)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    t = np.clip(x, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


@dataclass(frozen=True)
class _Layout:
    """Positions (metres from the scene centre) of the canonical features."""

    scale: float

    @property
    def lake(self) -> tuple[float, float, float]:
        return (0.35 * self.scale, -0.35 * self.scale, 0.22 * self.scale)

    @property
    def town(self) -> tuple[float, float, float]:
        return (-0.55 * self.scale, 0.45 * self.scale, 0.22 * self.scale)

    def hill_mask(self, x: np.ndarray) -> np.ndarray:
        """0 on the western plain, 1 in the hills."""
        return _smoothstep((x + 0.3 * self.scale) / (0.3 * self.scale))


def _wobbly_distance(
    x: np.ndarray, y: np.ndarray, circle: tuple[float, float, float], phase: float
) -> np.ndarray:
    """Signed distance (m) to a circle with a wavy outline (negative inside)."""
    dx, dy = x - circle[0], y - circle[1]
    angle = np.arctan2(dy, dx)
    radius = circle[2] * (1.0 + 0.15 * np.sin(3 * angle + phase) + 0.08 * np.cos(5 * angle))
    return np.hypot(dx, dy) - radius


def _normal(u: np.ndarray) -> np.ndarray:
    """Return standard normal quantiles of uniform numbers (clipped away from 0 and 1)."""
    return np.asarray(scipy.special.ndtri(np.clip(u, 1e-9, 1.0 - 1e-9)))


def _texture(
    gamma: np.ndarray, x: FloatArray, y: FloatArray, rows: np.ndarray, cols: np.ndarray, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Crop calendar of each parcel and the multiplicative gamma0 texture (mean 1 per class).

    ``gamma`` is a block of rows; ``x``/``y`` its east/north metres and ``rows``/``cols`` its
    global node indices, so that any block split gives the same result.
    """
    yi = np.floor(y / 160.0).astype(np.int64)[:, None]
    parcel_col = np.floor((x[None, :] + 125.0 * (yi % 2)) / 250.0).astype(np.int64)
    u_parcel = _hash_uniform(seed, yi, parcel_col)
    crop = np.where(
        u_parcel > 2 / 3,
        GammaClass.CROP_SPRING,
        np.where(u_parcel > 1 / 3, GammaClass.CROP_SUMMER, GammaClass.CROP_WINTER),
    ).astype(np.uint8)
    gamma = np.where(gamma == GammaClass.CROP_WINTER, crop, gamma).astype(np.uint8)
    pixel = _normal(_hash_uniform(seed + 3, rows[:, None], cols[None, :]))
    db = np.zeros(gamma.shape, dtype=np.float64)
    sigma_db = np.zeros(gamma.shape, dtype=np.float64)
    is_crop = GAMMA_TO_LANDCOVER[gamma] == LandCover.CROPLAND
    db[is_crop] = _normal(_hash_uniform(seed + 1, yi, parcel_col))[is_crop]
    sigma_db[is_crop] = 1.0
    forest = gamma == GammaClass.FOREST
    db[forest] = 0.5 * pixel[forest]
    sigma_db[forest] = 0.5
    urban = gamma == GammaClass.URBAN
    block = _normal(
        _hash_uniform(seed + 2, np.floor(y / 50.0)[:, None], np.floor(x / 50.0)[None, :])
    )
    db[urban] = 2.0 * block[urban] + pixel[urban]
    sigma_db[urban] = math.sqrt(5.0)
    sigma_ln = sigma_db * math.log(10.0) / 10.0
    texture = 10.0 ** (db / 10.0) / np.exp(0.5 * sigma_ln**2)
    return gamma, texture.astype(np.float32)


def _chunks(rows: int) -> list[slice]:
    return [slice(r, min(r + _CHUNK, rows)) for r in range(0, rows, _CHUNK)]


def generate_terrain(
    bounds: tuple[float, float, float, float],
    centre: tuple[float, float],
    *,
    scale: float,
    resolution: float = 10.0,
    max_slope_deg: float = 30.0,
    seed: int = 0,
) -> Terrain:
    """Generate a DEM and its land cover covering ``bounds`` (W, S, E, N degrees).

    ``scale`` (metres) sizes the canonical features around ``centre``: plain west of
    ``-0.3 scale``, lake and town of radius ``0.22 scale``.  Built in row blocks (float32
    storage), so that full IW scenes stay within a few GB.
    """
    if not 0.0 < max_slope_deg < 80.0:
        raise ParameterError(f"max_slope_deg={max_slope_deg} must be within (0, 80) degrees")
    transform, shape = standard_grid(bounds, resolution)
    x, y, dx_rows = _metric(transform, shape, centre)
    dy = math.radians(-transform.e) * WGS84_A * (1.0 - WGS84_E2)
    layout = _Layout(scale)

    coarse_step = 200.0
    cx = np.arange(x.min() - 4 * coarse_step, x.max() + 4 * coarse_step, coarse_step)
    cy = np.arange(y.min() - 4 * coarse_step, y.max() + 4 * coarse_step, coarse_step)
    rng = np.random.default_rng([seed, 1])
    field = scipy.ndimage.gaussian_filter(rng.standard_normal((cy.size, cx.size)), 2.0)
    spline = scipy.interpolate.RectBivariateSpline(cy, cx, field, kx=3, ky=3)
    floor = float(field.min())
    mask = layout.hill_mask(x)[None, :]

    def hills(part: slice) -> np.ndarray:
        values = spline(y[part][::-1], x)[::-1]
        return np.asarray(np.maximum(values - floor, 0.0) * mask)

    def lake_distance(part: slice) -> np.ndarray:
        return _wobbly_distance(x[None, :], y[part, None], layout.lake, phase=float(seed % 7))

    lake_rows = np.flatnonzero(np.abs(y - layout.lake[1]) < 1.4 * layout.lake[2])
    level = 0.0
    if lake_rows.size:
        part = slice(int(lake_rows[0]), int(lake_rows[-1]) + 1)
        inside = lake_distance(part) < 0.0
        level = float(hills(part)[inside].min()) if inside.any() else 0.0

    field_rows = np.empty(shape, dtype=np.float32)
    for part in _chunks(shape[0]):
        distance = lake_distance(part)
        values = level + (hills(part) - level) * _smoothstep(distance / (0.25 * layout.scale))
        values[distance < 0.0] = level
        field_rows[part] = values
    amplitude = math.tan(math.radians(max_slope_deg)) / max(
        _max_slope(field_rows, dx_rows, dy), 1e-12
    )
    sample = field_rows[::4, ::4] - level
    threshold = float(np.quantile(sample[sample > 0], 0.45)) if (sample > 0).any() else 0.0

    gamma = np.empty(shape, dtype=np.uint8)
    texture = np.empty(shape, dtype=np.float32)
    cols = np.arange(shape[1])
    for part in _chunks(shape[0]):
        block = np.full((part.stop - part.start, shape[1]), GammaClass.CROP_WINTER, dtype=np.uint8)
        block[field_rows[part] - level > threshold] = GammaClass.FOREST
        town = _wobbly_distance(x[None, :], y[part, None], layout.town, phase=1.0) < 0.0
        block[town] = GammaClass.URBAN
        block[lake_distance(part) < 0.0] = GammaClass.WATER
        gamma[part], texture[part] = _texture(
            block, x, y[part], np.arange(part.start, part.stop), cols, seed
        )
        field_rows[part] = 100.0 + amplitude * field_rows[part]
    return Terrain(height=field_rows, gamma_class=gamma, texture=texture, transform=transform)


def load_terrain(
    path: str,
    bounds: tuple[float, float, float, float],
    centre: tuple[float, float],
    *,
    scale: float,
    seed: int = 0,
) -> Terrain:
    """Load a user DEM (any CRS) on the standard grid, with ellipsoidal heights and land cover.

    A geographic WGS84 DEM keeps its own grid (cropped to ``bounds``); any other CRS is warped
    (bilinear) to the standard grid at the DEM's resolution.  Heights over EGM96 / EGM2008
    (compound CRS) get the geoid undulation added; heights of a CRS without vertical
    reference are taken as ellipsoidal.  Land cover is synthesised: water
    on the lowest flat ground, forest on slopes above 10 degrees, a town at the centre, cropland
    elsewhere.
    """
    try:
        src = rasterio.open(path)
    except rasterio.RasterioIOError as error:
        raise ParameterError(f"dem={path!r} cannot be opened as a raster: {error}") from error
    with src:
        if src.crs is None:
            raise ParameterError(f"dem={path!r} has no CRS; write one (e.g. EPSG:4326) first")
        left, bottom, right, top = rasterio.warp.transform_bounds(src.crs, "EPSG:4326", *src.bounds)
        west, south, east, north = bounds
        if west < left or east > right or south < bottom or north > top:
            raise AoiError(
                f"dem={path!r} covers lon {left:.4f}..{right:.4f}, lat {bottom:.4f}..{top:.4f} "
                f"but the scenes need lon {west:.4f}..{east:.4f}, lat {south:.4f}..{north:.4f}: "
                "use a smaller size, move aoi_center or give a larger DEM"
            )
        if src.crs.is_geographic:
            step_x, step_y = src.transform.a, -src.transform.e
            col0 = math.floor((west - src.transform.c) / step_x)
            row0 = math.floor((src.transform.f - north) / step_y)
            col1 = math.ceil((east - src.transform.c) / step_x)
            row1 = math.ceil((src.transform.f - south) / step_y)
            window = rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0)
            height = src.read(1, window=window, masked=True).astype(np.float64)
            t = src.transform
            transform = Affine(t.a, 0.0, t.c + col0 * t.a, 0.0, t.e, t.f + row0 * t.e)
        else:
            resolution = float(abs(src.transform.a)) * (1.0 if src.crs.is_projected else 1.0)
            transform, shape = standard_grid(bounds, resolution)
            height = np.ma.masked_invalid(np.full(shape, np.nan))
            destination = np.full(shape, np.nan)
            rasterio.warp.reproject(
                rasterio.band(src, 1),
                destination,
                dst_transform=transform,
                dst_crs="EPSG:4326",
                dst_nodata=np.nan,
                resampling=rasterio.warp.Resampling.bilinear,
            )
            height = np.ma.masked_invalid(destination)
        reference = vertical_reference(src.crs)
    if np.ma.count_masked(height):
        raise ParameterError(f"dem={path!r} has no-data cells inside the scenes; fill them first")
    height = np.asarray(height.filled(0.0), dtype=np.float64)
    shape = (int(height.shape[0]), int(height.shape[1]))
    if reference in ("EGM96", "EGM2008"):
        lon = transform.c + (np.arange(shape[1]) + 0.5) * transform.a
        lat = transform.f + (np.arange(shape[0]) + 0.5) * transform.e
        height += geoid_undulation(lon[None, :], lat[:, None], reference)
    elif reference is None:
        LOGGER.info("dem=%r does not say its height reference: heights taken as ellipsoidal", path)
    x, y, dx_rows = _metric(transform, shape, centre)
    dy = math.radians(abs(transform.e)) * WGS84_A * (1.0 - WGS84_E2)
    gy, gx = np.gradient(height)
    slope = np.degrees(np.arctan(np.hypot(gx / dx_rows[:, None], gy / dy)))
    gamma = np.full(shape, GammaClass.CROP_WINTER, dtype=np.uint8)
    gamma[slope > 10.0] = GammaClass.FOREST
    town = _wobbly_distance(x[None, :], y[:, None], (0.0, 0.0, 0.25 * scale), phase=1.0) < 0.0
    gamma[town] = GammaClass.URBAN
    gamma[(slope < 0.5) & (height <= height.min() + 2.0)] = GammaClass.WATER
    gamma, texture = _texture(gamma, x, y, np.arange(shape[0]), np.arange(shape[1]), seed)
    return Terrain(
        height=height.astype(np.float32), gamma_class=gamma, texture=texture, transform=transform
    )
