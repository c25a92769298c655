"""Forward model of a GRD scene: DEM facets, their illuminated area, layover/shadow, radar image.

Each DEM pixel is a facet whose corners are the bilinear DEM heights at the pixel corners.
For every facet the zero-Doppler time and slant range give its position in the GRD image
(line, pixel via the SRGR polynomial); its *illuminated area* is the facet area projected on
the plane perpendicular to the look direction (Small 2011), zero when it faces away.  Along
each zero-Doppler line (bins of the DEM spacing), facets are ordered by ground distance from
the nadir track: a facet is in *shadow* when a nearer facet is seen under a larger look angle
or it faces away from the sensor, and in *layover* when the slant range is not increasing with
ground distance.  The power ``gamma0 * illuminated_area`` of each lit facet is spread over
the radar pixels it covers (sub-facets of at most half a pixel, quadratic B-spline kernel) and
divided by the beta0 reference area ``slant_range_spacing * azimuth_spacing``: the result is
beta0 per radar pixel, with the terrain effects RTC is meant to undo.

Reference: Small, D. (2011), IEEE TGRS 49(8), doi:10.1109/TGRS.2011.2120616, sections II-III.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numba
import numpy as np

from s1stac.simulate.layover import flag_map
from s1stac.simulate.orbit import geodetic_ecef, orbit_state, zero_doppler
from s1stac.simulate.radar import RadarGeometry
from s1stac.simulate.terrain import GammaClass, Terrain
from s1stac.types import FloatArray

LAYOVER = 1
SHADOW = 2
NODATA = 255
_REACH = 64.0  # pixels: facets further outside the image cannot reach it
_MAX_SUB = 48
_INFO = 4  # line, pixel, illuminated area, extent in radar pixels


@numba.njit(cache=True, nogil=True)
def _ground_range(
    x: float, tau: float, conv_tau: FloatArray, srgr: FloatArray
) -> float:  # pragma: no cover
    k = 0
    while k < conv_tau.size - 2 and tau > conv_tau[k + 1]:
        k += 1
    w = min(max((tau - conv_tau[k]) / (conv_tau[k + 1] - conv_tau[k]), 0.0), 1.0)
    g0, g1 = 0.0, 0.0
    for i in range(srgr.shape[1] - 1, -1, -1):
        g0 = g0 * x + srgr[k, i]
        g1 = g1 * x + srgr[k + 1, i]
    return (1.0 - w) * g0 + w * g1


@numba.njit(cache=True, parallel=True)
def _corners(
    height: FloatArray,
    grid: FloatArray,
    params: FloatArray,
    timing: FloatArray,
    conv_tau: FloatArray,
    srgr: FloatArray,
    line: FloatArray,
    pixel: FloatArray,
) -> None:  # pragma: no cover
    lon0, lat0, step_x, step_y = grid[0], grid[1], grid[2], grid[3]
    first_tau, interval, near_range, spacing = timing[0], timing[1], timing[2], timing[3]
    for i in numba.prange(height.shape[0] - 1):
        lat = lat0 - (i + 0.5) * step_y
        guess = first_tau
        for j in range(height.shape[1] - 1):
            h = 0.25 * (height[i, j] + height[i, j + 1] + height[i + 1, j] + height[i + 1, j + 1])
            x, y, z = geodetic_ecef(lon0 + (j + 0.5) * step_x, lat, h)
            tau, rng = zero_doppler(x, y, z, guess, params)
            guess = tau
            line[i, j] = (tau - first_tau) / interval
            pixel[i, j] = _ground_range(rng - near_range, tau, conv_tau, srgr) / spacing


@numba.njit(cache=True, parallel=True)
def _facet_info(
    index: np.ndarray,
    height: FloatArray,
    grid: FloatArray,
    params: FloatArray,
    timing: FloatArray,
    line: FloatArray,
    pixel: FloatArray,
    out: FloatArray,
) -> None:  # pragma: no cover
    lon0, lat0, step_x, step_y = grid[0], grid[1], grid[2], grid[3]
    first_tau, interval = timing[0], timing[1]
    cols = height.shape[1]
    for k in numba.prange(index.size):
        i, j = index[k] // cols, index[k] % cols
        pts = np.empty((4, 3))
        lc, pc = 0.0, 0.0
        lmin, lmax, pmin, pmax = 1e30, -1e30, 1e30, -1e30
        for c in range(4):
            a, b = i - 1 + c // 2, j - 1 + c % 2
            h = 0.25 * (height[a, b] + height[a, b + 1] + height[a + 1, b] + height[a + 1, b + 1])
            pts[c, 0], pts[c, 1], pts[c, 2] = geodetic_ecef(
                lon0 + (b + 0.5) * step_x, lat0 - (a + 0.5) * step_y, h
            )
            lc += 0.25 * line[a, b]
            pc += 0.25 * pixel[a, b]
            lmin, lmax = min(lmin, line[a, b]), max(lmax, line[a, b])
            pmin, pmax = min(pmin, pixel[a, b]), max(pmax, pixel[a, b])
        d1 = pts[3] - pts[0]
        d2 = pts[1] - pts[2]
        nx = 0.5 * (d1[1] * d2[2] - d1[2] * d2[1])
        ny = 0.5 * (d1[2] * d2[0] - d1[0] * d2[2])
        nz = 0.5 * (d1[0] * d2[1] - d1[1] * d2[0])
        cx = 0.25 * (pts[0, 0] + pts[1, 0] + pts[2, 0] + pts[3, 0])
        cy = 0.25 * (pts[0, 1] + pts[1, 1] + pts[2, 1] + pts[3, 1])
        cz = 0.25 * (pts[0, 2] + pts[1, 2] + pts[2, 2] + pts[3, 2])
        if nx * cx + ny * cy + nz * cz < 0.0:
            nx, ny, nz = -nx, -ny, -nz
        sx, sy, sz, _, _, _, _, _, _ = orbit_state(first_tau + lc * interval, params)
        lx, ly, lz = sx - cx, sy - cy, sz - cz
        rng = math.sqrt(lx * lx + ly * ly + lz * lz)
        out[k, 0] = lc
        out[k, 1] = pc
        out[k, 2] = max(0.0, (nx * lx + ny * ly + nz * lz) / rng)
        out[k, 3] = max(lmax - lmin, pmax - pmin)


@numba.njit(cache=True, nogil=True)
def _splat(
    start: int,
    stop: int,
    index: np.ndarray,
    cols: int,
    line: FloatArray,
    pixel: FloatArray,
    info: FloatArray,
    weight: FloatArray,
    klass: np.ndarray,
    flags: np.ndarray,
    first_line: int,
    power: np.ndarray,
    masks: np.ndarray,
    with_masks: bool,
) -> None:  # pragma: no cover
    """Spread the power of facets ``start..stop-1`` over the radar pixels (B-spline kernel)."""
    n_lines, n_pix = power.shape[1], power.shape[2]
    tap = np.empty(3)
    tap_p = np.empty(3)
    for k in range(start, stop):
        i, j = index[k] // cols, index[k] % cols
        n = min(max(int(math.ceil(info[k, 3] / 0.5)), 1), _MAX_SUB)
        inv = 1.0 / (n * n)
        l00, l01, l10, l11 = line[i - 1, j - 1], line[i - 1, j], line[i, j - 1], line[i, j]
        p00, p01, p10, p11 = pixel[i - 1, j - 1], pixel[i - 1, j], pixel[i, j - 1], pixel[i, j]
        w = weight[k] * inv
        c = klass[k]
        for a in range(n):
            u = (a + 0.5) / n
            for b in range(n):
                v = (b + 0.5) / n
                ln = (1 - u) * ((1 - v) * l00 + v * l01) + u * ((1 - v) * l10 + v * l11)
                pn = (1 - u) * ((1 - v) * p00 + v * p01) + u * ((1 - v) * p10 + v * p11)
                ln -= first_line
                l0, p0 = int(math.floor(ln + 0.5)), int(math.floor(pn + 0.5))
                dl, dp = ln - l0, pn - p0
                tap[0], tap[1], tap[2] = (
                    0.5 * (0.5 - dl) ** 2,
                    0.75 - dl * dl,
                    0.5 * (0.5 + dl) ** 2,
                )
                tap_p[0], tap_p[1] = 0.5 * (0.5 - dp) ** 2, 0.75 - dp * dp
                tap_p[2] = 0.5 * (0.5 + dp) ** 2
                for s in range(3):
                    ll = l0 - 1 + s
                    if ll < 0 or ll >= n_lines:
                        continue
                    for t in range(3):
                        pp = p0 - 1 + t
                        if pp < 0 or pp >= n_pix:
                            continue
                        kernel = tap[s] * tap_p[t]
                        power[c, ll, pp] += w * kernel
                        if not with_masks:
                            continue
                        masks[0, ll, pp] += inv * kernel
                        if flags[k] & 1:
                            masks[1, ll, pp] += inv * kernel
                        if flags[k] & 2:
                            masks[2, ll, pp] += inv * kernel


@numba.njit(cache=True, parallel=True)
def _splat_bands(
    bands: np.ndarray,
    index: np.ndarray,
    cols: int,
    line: FloatArray,
    pixel: FloatArray,
    info: FloatArray,
    weight: FloatArray,
    klass: np.ndarray,
    flags: np.ndarray,
    first_line: int,
    power: np.ndarray,
    masks: np.ndarray,
    with_masks: bool,
) -> None:  # pragma: no cover
    """Splat facets sorted by line, by bands: even bands in parallel, then odd bands.

    ``bands`` holds the first facet of every band (and the end); a band is taller than the
    reach of its facets, so bands two apart never touch the same radar line.
    """
    n_bands = bands.size - 1
    for parity in range(2):
        for k in numba.prange((n_bands + 1 - parity) // 2):
            b = 2 * k + parity
            _splat(
                bands[b],
                bands[b + 1],
                index,
                cols,
                line,
                pixel,
                info,
                weight,
                klass,
                flags,
                first_line,
                power,
                masks,
                with_masks,
            )


@numba.njit(cache=True)
def _bucket(
    line: np.ndarray,
    pixel: np.ndarray,
    block: int,
    n_blocks: int,
    lines: int,
    samples: int,
    order: np.ndarray,
) -> np.ndarray:  # pragma: no cover
    """Interior facets grouped by azimuth block of their centre line (counting sort).

    Keys: 0 just before the image, ``b + 1`` for block ``b``, ``n_blocks + 1`` just after it;
    facets more than ``_REACH`` pixels outside the image get key ``n_blocks + 2`` (unused).
    Fills ``order`` with flat node indices and returns the start of each key in it.
    """
    rows, cols = line.shape[0] + 1, line.shape[1] + 1
    counts = np.zeros(n_blocks + 4, dtype=np.int64)
    keys = np.empty((rows - 2) * (cols - 2), dtype=np.int16)
    n = 0
    for i in range(1, rows - 1):
        for j in range(1, cols - 1):
            lc = 0.25 * (line[i - 1, j - 1] + line[i - 1, j] + line[i, j - 1] + line[i, j])
            pc = 0.25 * (pixel[i - 1, j - 1] + pixel[i - 1, j] + pixel[i, j - 1] + pixel[i, j])
            if lc < -_REACH or lc > lines + _REACH or pc < -_REACH or pc > samples + _REACH:
                b = n_blocks + 2
            else:
                b = min(max(int(math.floor(lc / block)) + 1, 0), n_blocks + 1)
            keys[n] = b
            counts[b + 1] += 1
            n += 1
    starts = np.cumsum(counts)
    fill = starts[:-1].copy()
    n = 0
    for i in range(1, rows - 1):
        for j in range(1, cols - 1):
            b = keys[n]
            order[fill[b]] = i * cols + j
            fill[b] += 1
            n += 1
    return starts


@dataclass(frozen=True)
class Block:
    """Radar-geometry result for lines ``[first_line, first_line + lines)`` of a datatake."""

    first_line: int
    class_beta0: np.ndarray
    """``(classes, lines, samples)`` float32: beta0 each class gives for a gamma0 of 1."""
    layover_shadow: np.ndarray | None
    """``(lines, samples)`` uint8: 1 layover, 2 shadow, 3 both, 255 no DEM facet (optional)."""
    facets: np.ndarray
    """Flat DEM indices of the facets whose centre falls in these lines."""
    facet_flags: np.ndarray


@dataclass(frozen=True)
class SceneModel:
    """Facet positions of one datatake over one terrain, ready to be rendered block by block."""

    terrain: Terrain
    geometry: RadarGeometry
    corner_line: FloatArray
    corner_pixel: FloatArray
    flag_map: np.ndarray
    """DEM-grid flags from the range profiles: 1 layover, 2 shadow, 4 sampled."""

    def blocks(self, block_lines: int, *, radar_mask: bool = True) -> Iterator[Block]:
        """Render the datatake in azimuth blocks of ``block_lines`` lines.

        ``radar_mask=False`` skips the layover/shadow mask in radar geometry (faster).
        """
        geometry, terrain = self.geometry, self.terrain
        n_blocks = max(1, math.ceil(geometry.lines / block_lines))
        rows, cols = terrain.shape
        if n_blocks > 32000:
            raise ValueError(f"block_lines={block_lines} gives too many blocks")
        order = np.empty(
            (rows - 2) * (cols - 2), dtype=np.int32 if rows * cols < 2**31 else np.int64
        )
        starts = _bucket(
            self.corner_line,
            self.corner_pixel,
            block_lines,
            n_blocks,
            geometry.lines,
            geometry.samples,
            order,
        )
        a_beta = geometry.slant_spacing(np.arange(geometry.samples)) * geometry.azimuth_spacing
        flat_class = terrain.gamma_class.ravel()
        flat_texture = terrain.texture.ravel()
        flat_flags = self.flag_map.ravel()
        buckets: dict[int, tuple[np.ndarray, FloatArray]] = {}
        for b in range(n_blocks):
            l0, l1 = b * block_lines, min((b + 1) * block_lines, geometry.lines)
            for key in range(b, b + 3):
                if key not in buckets:
                    buckets[key] = self._facets(order[starts[key] : starts[key + 1]])
            buckets.pop(b - 1, None)
            index = np.concatenate([buckets[k][0] for k in range(b, b + 3)])
            info = np.concatenate([buckets[k][1] for k in range(b, b + 3)])
            margin = float(info[:, 3].max(initial=0.0)) / 2.0 + 2.0
            keep = (info[:, 0] >= l0 - margin) & (info[:, 0] < l1 + margin)
            index, info = index[keep], info[keep]
            flags = (flat_flags[index] & (LAYOVER | SHADOW)) | np.where(info[:, 2] > 0, 0, SHADOW)
            flags = flags.astype(np.uint8)
            weight = np.where(flags & SHADOW, 0.0, info[:, 2] * flat_texture[index])
            power = np.zeros((len(GammaClass), l1 - l0, geometry.samples), dtype=np.float32)
            mask_shape = (3, l1 - l0, geometry.samples) if radar_mask else (3, 1, 1)
            masks = np.zeros(mask_shape, dtype=np.float32)
            order = np.argsort(info[:, 0], kind="stable")
            index, info, flags, weight = index[order], info[order], flags[order], weight[order]
            reach = float(info[:, 3].max(initial=0.0)) / 2.0 + 2.0
            height = max(16, 2 * math.ceil(reach) + 2)
            edges = np.arange(l0 - math.ceil(margin), l1 + math.ceil(margin) + height, height)
            bands = np.searchsorted(info[:, 0], edges).astype(np.int64)
            bands[-1] = index.size
            _splat_bands(
                bands,
                index,
                terrain.shape[1],
                self.corner_line,
                self.corner_pixel,
                info,
                weight,
                flat_class[index],
                flags,
                l0,
                power,
                masks,
                radar_mask,
            )
            mask = None
            if radar_mask:
                mask = np.where(masks[1] > 1e-3, LAYOVER, 0) + np.where(
                    masks[2] > 0.5 * masks[0], SHADOW, 0
                )
                mask[masks[0] < 1e-3] = NODATA
            core = (info[:, 0] >= l0) & (info[:, 0] < l1)
            inside = core & (info[:, 1] >= 0) & (info[:, 1] <= geometry.samples - 1)
            power /= a_beta.astype(np.float32)
            yield Block(
                first_line=l0,
                class_beta0=power,
                layover_shadow=None if mask is None else mask.astype(np.uint8),
                facets=index[inside],
                facet_flags=flags[inside],
            )

    def _facets(self, index: np.ndarray) -> tuple[np.ndarray, FloatArray]:
        info = np.empty((index.size, _INFO), dtype=np.float32)
        _facet_info(
            index,
            self.terrain.height,
            self.terrain.kernel_grid,
            self.geometry.orbit.params,
            self.geometry.kernel_timing,
            self.corner_line,
            self.corner_pixel,
            info,
        )
        return index, info


def scene_model(terrain: Terrain, geometry: RadarGeometry) -> SceneModel:
    """Position every DEM corner of ``terrain`` in the GRD image of ``geometry``."""
    rows, cols = terrain.shape
    # NOTE: float32 keeps 0.002 px at 25000 px, well inside the 0.01 px the geometry needs.
    line = np.empty((rows - 1, cols - 1), dtype=np.float32)
    pixel = np.empty((rows - 1, cols - 1), dtype=np.float32)
    _corners(
        terrain.height,
        terrain.kernel_grid,
        geometry.orbit.params,
        geometry.kernel_timing,
        geometry.conversion_tau,
        geometry.srgr,
        line,
        pixel,
    )
    return SceneModel(terrain, geometry, line, pixel, flag_map(terrain, geometry))
