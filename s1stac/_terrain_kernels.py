"""Numba kernels of :mod:`s1stac.terrain`: lattice nodes, facets, profiles and flags.

Reference: Small, D. (2011), IEEE TGRS 49(8), doi:10.1109/TGRS.2011.2120616 (area
projection); see :mod:`s1stac.terrain` for the ground lattice they work on.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

LAYOVER = 1
SHADOW = 2
VALID = 4
_MAX_SPLIT = 8


@numba.njit(cache=True, nogil=True)
def simulate_kernel(
    fields: Any,
    valid: Any,
    row_i: Any,
    row_w: Any,
    col_j: Any,
    col_w: Any,
    dem: Any,
    centre: float,
    starts: Any,
    r0: float,
    dr: float,
    tables: Any,
    conversion: Any,
    sensor: Any,
    area: Any,
    area_line0: float,
    flags: Any,
    flag_row0: int,
) -> None:  # pragma: no cover - numba
    """Nodes row by row; layover/shadow along each row; facets between consecutive rows."""
    n_rows, n_cols = row_i.shape[0], col_j.shape[0]
    nr, nc = dem.shape
    n_lines, n_pixels = area.shape
    pos = np.empty((2, n_cols, 3))
    rad = np.empty((2, n_cols, 2))
    flag = np.zeros((2, n_cols), dtype=np.uint8)
    alpha = np.empty(n_cols)
    rng = np.empty(n_cols)
    n_fields, n_coarse = fields.shape[0], fields.shape[2]
    row = np.empty((n_coarse, n_fields))
    row_ok = np.empty(n_coarse, dtype=np.bool_)
    v = np.empty(n_fields)
    a2, e2 = 6378137.0**2, 6.69437999014e-3
    for r in range(n_rows):
        cur = r % 2
        i, wy = row_i[r], row_w[r]
        i1 = min(i + 1, valid.shape[0] - 1)
        for jc in range(n_coarse):  # the lattice row, interpolated once for all nodes
            row_ok[jc] = valid[i, jc] and valid[i1, jc]
            for q in range(n_fields):
                row[jc, q] = fields[q, i, jc] * (1.0 - wy) + fields[q, i1, jc] * wy
        sx, sy, sz = sensor[r, 0], sensor[r, 1], sensor[r, 2]
        s_norm = math.sqrt(sx * sx + sy * sy + sz * sz)
        for c in range(n_cols):
            j, wx = col_j[c], col_w[c]
            j1 = min(j + 1, n_coarse - 1)
            flag[cur, c] = 0
            if not (row_ok[j] and row_ok[j1]):
                continue
            for q in range(n_fields):
                v[q] = row[j, q] * (1.0 - wx) + row[j1, q] * wx
            x, y = v[2], v[3]
            p, q = int(math.floor(y)), int(math.floor(x))
            if p < 0 or q < 0 or p + 1 >= nr or q + 1 >= nc:
                continue
            fy, fx = y - p, x - q
            h = (dem[p, q] * (1 - fx) + dem[p, q + 1] * fx) * (1 - fy) + (
                dem[p + 1, q] * (1 - fx) + dem[p + 1, q + 1] * fx
            ) * fy
            if math.isnan(h):
                continue
            lam, phi = math.radians(v[0]), math.radians(v[1])
            sin_phi = math.sin(phi)
            n = math.sqrt(a2 / (1.0 - e2 * sin_phi * sin_phi))
            rho = (n + h) * math.cos(phi)
            px, py, pz = rho * math.cos(lam), rho * math.sin(lam), (n * (1.0 - e2) + h) * sin_phi
            pos[cur, c, 0], pos[cur, c, 1], pos[cur, c, 2] = px, py, pz
            d = h - centre
            line = v[4] + d * (v[5] + d * v[6])
            slant = v[7] + d * (v[8] + d * v[9])
            residual = v[10] + d * (v[11] + d * v[12])
            k = 0
            while k + 1 < starts.shape[0] and line >= starts[k + 1]:
                k += 1
            t = (slant - r0) / dr
            m = min(max(int(math.floor(t)), 0), tables.shape[1] - 2)
            pixel = tables[k, m] * (1.0 - (t - m)) + tables[k, m + 1] * (t - m) + residual
            rad[cur, c, 0] = (line - conversion[0]) / conversion[2]
            rad[cur, c, 1] = (pixel - conversion[1]) / conversion[3]
            lx, ly, lz = px - sx, py - sy, pz - sz
            rng[c] = math.sqrt(lx * lx + ly * ly + lz * lz)
            # cosine of the look angle from nadir: a larger angle has a smaller cosine
            alpha[c] = -(lx * sx + ly * sy + lz * sz) / (rng[c] * s_norm)
            flag[cur, c] = VALID
        seen, nearest, farthest = 2.0, -1.0, 1e30
        for c in range(n_cols):
            if flag[cur, c]:
                if alpha[c] > seen + 5e-10:
                    flag[cur, c] |= SHADOW
                if rng[c] < nearest - 1e-3:
                    flag[cur, c] |= LAYOVER
                seen, nearest = min(seen, alpha[c]), max(nearest, rng[c])
        for c in range(n_cols - 1, -1, -1):
            if flag[cur, c]:
                if rng[c] > farthest + 1e-3:
                    flag[cur, c] |= LAYOVER
                farthest = min(farthest, rng[c])
        if 0 <= r - flag_row0 < flags.shape[0]:
            flags[r - flag_row0, :] = flag[cur]
        if r == 0:
            continue
        prev = 1 - cur
        ox = 0.5 * (sensor[r - 1, 0] + sx)
        oy = 0.5 * (sensor[r - 1, 1] + sy)
        oz = 0.5 * (sensor[r - 1, 2] + sz)
        for c in range(1, n_cols):
            f00, f01, f10, f11 = flag[prev, c - 1], flag[prev, c], flag[cur, c - 1], flag[cur, c]
            if not (f00 & f01 & f10 & f11 & VALID) or ((f00 | f01 | f10 | f11) & SHADOW):
                continue
            d1x = pos[cur, c, 0] - pos[prev, c - 1, 0]
            d1y = pos[cur, c, 1] - pos[prev, c - 1, 1]
            d1z = pos[cur, c, 2] - pos[prev, c - 1, 2]
            d2x = pos[prev, c, 0] - pos[cur, c - 1, 0]
            d2y = pos[prev, c, 1] - pos[cur, c - 1, 1]
            d2z = pos[prev, c, 2] - pos[cur, c - 1, 2]
            nx = 0.5 * (d1y * d2z - d1z * d2y)
            ny = 0.5 * (d1z * d2x - d1x * d2z)
            nz = 0.5 * (d1x * d2y - d1y * d2x)
            cx = 0.25 * (
                pos[prev, c - 1, 0] + pos[prev, c, 0] + pos[cur, c - 1, 0] + pos[cur, c, 0]
            )
            cy = 0.25 * (
                pos[prev, c - 1, 1] + pos[prev, c, 1] + pos[cur, c - 1, 1] + pos[cur, c, 1]
            )
            cz = 0.25 * (
                pos[prev, c - 1, 2] + pos[prev, c, 2] + pos[cur, c - 1, 2] + pos[cur, c, 2]
            )
            if nx * cx + ny * cy + nz * cz < 0.0:
                nx, ny, nz = -nx, -ny, -nz
            lx, ly, lz = ox - cx, oy - cy, oz - cz
            projected = (nx * lx + ny * ly + nz * lz) / math.sqrt(lx * lx + ly * ly + lz * lz)
            if projected <= 0.0:
                continue
            _splat(
                rad[prev, c - 1],
                rad[prev, c],
                rad[cur, c - 1],
                rad[cur, c],
                projected,
                area,
                area_line0,
            )


@numba.njit(cache=True, nogil=True)
def _splat(
    q00: Any, q01: Any, q10: Any, q11: Any, weight: float, area: Any, line0: float
) -> None:  # pragma: no cover - numba
    """Spread ``weight`` bilinearly at the facet's radar position (split if large)."""
    lo_l = min(min(q00[0], q01[0]), min(q10[0], q11[0]))
    hi_l = max(max(q00[0], q01[0]), max(q10[0], q11[0]))
    lo_p = min(min(q00[1], q01[1]), min(q10[1], q11[1]))
    hi_p = max(max(q00[1], q01[1]), max(q10[1], q11[1]))
    n = min(max(int(math.ceil(max(hi_l - lo_l, hi_p - lo_p) / 0.5)), 1), _MAX_SPLIT)
    w = weight / (n * n)
    n_lines, n_pixels = area.shape
    for a in range(n):
        u = (a + 0.5) / n
        for b in range(n):
            t = (b + 0.5) / n
            ln = (1 - u) * ((1 - t) * q00[0] + t * q01[0]) + u * ((1 - t) * q10[0] + t * q11[0])
            pn = (1 - u) * ((1 - t) * q00[1] + t * q01[1]) + u * ((1 - t) * q10[1] + t * q11[1])
            ln -= line0
            i, j = int(math.floor(ln)), int(math.floor(pn))
            fy, fx = ln - i, pn - j
            for di in range(2):
                ii = i + di
                if ii < 0 or ii >= n_lines:
                    continue
                wy = fy if di else 1.0 - fy
                for dj in range(2):
                    jj = j + dj
                    if 0 <= jj < n_pixels:
                        area[ii, jj] += w * wy * (fx if dj else 1.0 - fx)


@numba.njit(cache=True, nogil=True)
def flags_kernel(
    flags: Any, row: Any, col: Any, origin: Any, radius: int, out: Any
) -> None:  # pragma: no cover - numba
    nr, nc = flags.shape
    for k in range(row.shape[0]):
        for m in range(row.shape[1]):
            out[k, m] = np.nan
            if math.isnan(row[k, m]) or math.isnan(col[k, m]):
                continue
            i0 = int(math.floor(row[k, m])) - origin[0]
            j0 = int(math.floor(col[k, m])) - origin[1]
            value, seen = 0, False
            for i in range(i0 - radius + 1, i0 + radius + 1):
                for j in range(j0 - radius + 1, j0 + radius + 1):
                    if 0 <= i < nr and 0 <= j < nc and flags[i, j] & VALID:
                        seen = True
                        value |= flags[i, j] & (LAYOVER | SHADOW)
            if seen:
                out[k, m] = value
