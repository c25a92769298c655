"""Layover and shadow of a DEM seen from a datatake, along exact zero-Doppler range profiles.

For every image line (at sub-line steps) the DEM is sampled along the zero-Doppler plane at
sub-pixel steps of ground range.  Along such a profile, ordered by ground distance from the
nadir track, a point is in *shadow* when a nearer point is seen under a larger look angle (or
the terrain faces away from the sensor), and in *layover* when its slant range is not larger
than that of every nearer point and smaller than that of every farther one.  Flags are then
carried to the DEM pixels the samples fall in.

Reference: Small, D. (2011), IEEE TGRS 49(8), doi:10.1109/TGRS.2011.2120616; SNAP
``SARSimulationOp`` (layover/shadow mask: 1 layover, 2 shadow, 3 both).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from s1stac.ellipsoid import WGS84_A, ecef_to_geodetic
from s1stac.simulate.orbit import geodetic_ecef, orbit_state
from s1stac.simulate.radar import RadarGeometry
from s1stac.simulate.terrain import Terrain
from s1stac.types import FloatArray

SAMPLED = 4
"""Flag bit of DEM pixels that at least one profile sample fell in."""
_BAND = 64


@numba.njit(cache=True, inline="always")
def _bilinear(grid: FloatArray, r: float, c: float) -> float:  # pragma: no cover
    i = min(max(int(math.floor(r)), 0), grid.shape[0] - 2)
    j = min(max(int(math.floor(c)), 0), grid.shape[1] - 2)
    u, v = r - i, c - j
    return (1 - u) * ((1 - v) * grid[i, j] + v * grid[i, j + 1]) + u * (
        (1 - v) * grid[i + 1, j] + v * grid[i + 1, j + 1]
    )


@numba.njit(cache=True, nogil=True)
def _band(
    first: int,
    stop: int,
    lattice_lon: FloatArray,
    lattice_lat: FloatArray,
    lattice: FloatArray,
    height: FloatArray,
    grid: FloatArray,
    params: FloatArray,
    timing: FloatArray,
    sampling: FloatArray,
    flag_map: np.ndarray,
) -> None:  # pragma: no cover
    """Flag profiles ``first..stop-1`` and carry the flags to the DEM pixels."""
    lon0, lat0, step_x, step_y = grid[0], grid[1], grid[2], grid[3]
    first_tau, interval = timing[0], timing[1]
    line0, pix0, lat_step = lattice[0], lattice[1], lattice[2]
    l_first, l_step = sampling[0], sampling[2]
    q_first, q_count, q_step = sampling[3], int(sampling[4]), sampling[5]
    rows, cols = height.shape
    alpha = np.empty(q_count)
    rng = np.empty(q_count)
    node_r = np.empty(q_count, dtype=np.int64)
    node_c = np.empty(q_count, dtype=np.int64)
    for n in range(first, stop):
        ln = l_first + n * l_step
        sx, sy, sz, _, _, _, _, _, _ = orbit_state(first_tau + ln * interval, params)
        s_norm = math.sqrt(sx * sx + sy * sy + sz * sz)
        for m in range(q_count):
            q = q_first + m * q_step
            lr, lc = (ln - line0) / lat_step, (q - pix0) / lat_step
            lon, lat = _bilinear(lattice_lon, lr, lc), _bilinear(lattice_lat, lr, lc)
            r, c = (lat0 - lat) / step_y, (lon - lon0) / step_x
            h = _bilinear(height, r, c)
            node_r[m] = min(max(int(math.floor(r + 0.5)), 0), rows - 1)
            node_c[m] = min(max(int(math.floor(c + 0.5)), 0), cols - 1)
            x, y, z = geodetic_ecef(lon, lat, h)
            lx, ly, lz = x - sx, y - sy, z - sz
            rng[m] = math.sqrt(lx * lx + ly * ly + lz * lz)
            alpha[m] = math.acos(min(1.0, -(lx * sx + ly * sy + lz * sz) / (rng[m] * s_norm)))
        seen, nearest = -1.0, -1.0
        for m in range(q_count):
            flag = 4
            if alpha[m] < seen - 1e-9:
                flag |= 2
            if rng[m] < nearest - 1e-3:
                flag |= 1
            seen, nearest = max(seen, alpha[m]), max(nearest, rng[m])
            alpha[m] = flag
        farthest = 1e30
        for m in range(q_count - 1, -1, -1):
            flag = int(alpha[m])
            if rng[m] > farthest + 1e-3:
                flag |= 1
            farthest = min(farthest, rng[m])
            flag_map[node_r[m], node_c[m]] |= flag


@numba.njit(cache=True, parallel=True)
def _profiles(
    lattice_lon: FloatArray,
    lattice_lat: FloatArray,
    lattice: FloatArray,
    height: FloatArray,
    grid: FloatArray,
    params: FloatArray,
    timing: FloatArray,
    sampling: FloatArray,
    flag_map: np.ndarray,
) -> None:  # pragma: no cover
    """Layover/shadow along all profiles: bands of 64 profiles, even bands then odd ones.

    Two bands run at once only when a whole band lies between them (more than a DEM pixel
    in azimuth), so that no two threads update the same DEM pixel.
    """
    count = int(sampling[1])
    n_bands = (count + _BAND - 1) // _BAND
    for parity in range(2):
        for k in numba.prange((n_bands + 1 - parity) // 2):
            b = 2 * k + parity
            _band(
                b * _BAND,
                min((b + 1) * _BAND, count),
                lattice_lon,
                lattice_lat,
                lattice,
                height,
                grid,
                params,
                timing,
                sampling,
                flag_map,
            )


def flag_map(terrain: Terrain, geometry: RadarGeometry) -> np.ndarray:
    """Layover/shadow flags of the DEM pixels from zero-Doppler range profiles."""
    metres = math.radians(min(terrain.transform.a, -terrain.transform.e)) * WGS84_A
    step = min(1.0, 0.45 * metres / geometry.range_spacing)
    relief = float(terrain.height.max() - terrain.height.min())
    margin_q = relief / math.tan(math.radians(25.0)) / geometry.range_spacing + 8.0
    margin_l = 8.0
    lattice_step = 32.0
    lines = np.arange(
        -margin_l - lattice_step, geometry.lines + margin_l + 2 * lattice_step, lattice_step
    )
    pixels = np.arange(
        -margin_q - lattice_step, geometry.samples + margin_q + 2 * lattice_step, lattice_step
    )
    points, _ = geometry.ground(lines[:, None], pixels[None, :])
    lon, lat, _ = ecef_to_geodetic(points)
    flag_map = np.zeros(terrain.shape, dtype=np.uint8)
    sampling = np.array(
        [
            -margin_l,
            math.ceil((geometry.lines + 2 * margin_l) / step),
            step,
            -margin_q,
            math.ceil((geometry.samples + 2 * margin_q) / step),
            step,
        ]
    )
    _profiles(
        np.ascontiguousarray(lon),
        np.ascontiguousarray(lat),
        np.array([lines[0], pixels[0], lattice_step]),
        terrain.height,
        terrain.kernel_grid,
        geometry.orbit.params,
        geometry.kernel_timing,
        sampling,
        flag_map,
    )
    return flag_map
