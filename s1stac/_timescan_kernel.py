"""Numba kernel of :func:`s1stac.timescan.timescan`: every metric from one read of each series.

Reference: ``OST_SPEC.md`` §4.2-§4.4.  Pixels are processed in tiles of ``TILE`` consecutive
pixels laid out as ``buf[date, pixel]``, so that every step is a loop over pixels that
the compiler vectorises:

1. load the tile, dB -> linear power (``10**(v/10)`` evaluated as ``2**k * exp(f ln 2)`` with
   the power of two built from its exponent bits, numba having no vector ``exp``), NaN -> +inf;
2. sort every pixel's series with the same Batcher odd-even merge sorting network, so the valid
   values come first, in ascending order, and the missing ones (+inf) last;
3. outlier bounds (OST ``remove_outliers``): mean ± k std of the valid values within the 5th
   and 95th percentiles, per pixel with at least ``MIN_OUTLIER_DATES`` valid values;
4. the kept values form one run ``[first, first + num)`` of the sorted series: mean and
   variance by masked sums, minimum, maximum, median and percentiles by indexing;
5. optional harmonic least-squares fit on the kept values in time order.

Sums are accumulated in float64 whatever the input precision.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
from numba import prange

from s1stac.timeseries import DB_FLOOR

TILE = 128
GROUP = 16 * TILE
MIN_OUTLIER_DATES = 5
MIN_HARMONIC_DATES = 5
STAT_NAMES = (
    "avg", "max", "min", "std", "cov", "median", "count",
    "amplitude", "phase", "residuals", "trend", "model_mean",
)  # fmt: skip
"""Rows of the statistics table; percentiles follow at ``len(STAT_NAMES) + i``."""

_AVG, _MAX, _MIN, _STD, _COV, _MEDIAN, _COUNT = range(7)
_AMPLITUDE, _PHASE, _RESIDUALS, _TREND, _MODEL_MEAN = range(7, 12)
_N_FIXED = len(STAT_NAMES)
# per-pixel work rows: valid count, kept bounds, kept count/mean/variance, first kept index,
# harmonic fit flag, scratch
_CNT, _LO, _HI, _NUM, _MEAN, _VAR, _FIRST, _OK, _TMP = range(9)
_N_LANE = 9
_N_ACC = 15  # harmonics: 10 normal-matrix terms, 4 right-hand sides, SSR
# Taylor coefficients of exp on |z| <= ln(2)/2: relative error < 1e-14
_EXP_COEFFS = tuple(1.0 / math.factorial(i) for i in range(12))
_LOG2_10_OVER_10 = math.log2(10.0) / 10.0
_LN2 = math.log(2.0)
# 2 atanh(s) = 2 s sum(s**(2i) / (2i + 1)), |s| <= 0.172: relative error < 1e-16 with 10 terms
_ATANH_COEFFS = tuple(1.0 / (2 * i + 1) for i in range(10))
_DB_PER_NEPER = 10.0 / math.log(10.0)
_MANTISSA = (1 << 52) - 1
_ONE_EXP = 1 << 52
_ONE = 1023 << 52
_SQRT2 = int(np.array(math.sqrt(2.0)).view(np.int64))


def merge_sort_network(n: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Return the comparators ``(i, j)``, ``i < j``, of Batcher's merge sort of ``n`` keys.

    Generated for the next power of two with the comparators that touch a key ``>= n``
    dropped: those keys would be +inf padding, which such comparators never move.
    """
    pairs = []
    p = 1
    while p < n:
        k = p
        while k >= 1:
            for j in range(k % p, n - k, 2 * k):
                for i in range(min(k, n - j - k)):
                    if (i + j) // (2 * p) == (i + j + k) // (2 * p):
                        pairs.append((i + j, i + j + k))
            k //= 2
        p *= 2
    arr = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    return np.ascontiguousarray(arr[:, 0]), np.ascontiguousarray(arr[:, 1])


@numba.njit(cache=True, nogil=True, inline="always")
def _quantile(buf: Any, j: int, start: int, n: int, q: float) -> float:
    """Quantile (numpy ``"linear"``) of the sorted values ``buf[start:start + n, j]``."""
    h = q * (n - 1)
    lo = int(math.floor(h))
    frac = h - lo
    a: float = buf[start + lo, j]
    b: float = buf[start + lo + 1, j] if lo + 1 < n else a
    diff = b - a
    # same two-sided form as numpy's _lerp
    return b - diff * (1.0 - frac) if frac >= 0.5 else a + diff * frac


@numba.njit(cache=True, nogil=True)
def _to_db(row: Any, w: int, bits: Any, exponent: Any) -> None:
    """``row[:w] = 10 log10(max(row, DB_FLOOR))`` in place, vectorised; NaN stays NaN.

    ``log(x) = e ln2 + 2 atanh((m - 1)/(m + 1))`` with ``x = m 2**e``, ``m`` in
    ``[sqrt(1/2), sqrt(2))`` taken from the bits (numba has no vector ``log``).
    """
    value = bits.view(np.float64)
    for j in range(w):
        value[j] = row[j] if row[j] > DB_FLOOR else DB_FLOOR
    for j in range(w):
        b = bits[j]
        m = (b & _MANTISSA) | _ONE
        big = m > _SQRT2
        exponent[j] = np.float64((b >> 52) - 1023 + (1 if big else 0))
        bits[j] = m - _ONE_EXP if big else m
    for j in range(w):
        s = (value[j] - 1.0) / (value[j] + 1.0)
        s2 = s * s
        p = _ATANH_COEFFS[9]
        for i in range(8, -1, -1):
            p = p * s2 + _ATANH_COEFFS[i]
        db = (exponent[j] * _LN2 + 2.0 * s * p) * _DB_PER_NEPER
        v = row[j]
        row[j] = db if (v == v) & (v < np.inf) else v


@numba.njit(cache=True, nogil=True)
def _load(src: Any, time_last: bool, p0: int, w: int, work: Any, power: bool, raw: bool) -> None:
    """Series of pixels ``p0:p0 + w`` into ``buf[:, :w]`` (power if asked), NaN as +inf.

    ``src`` is ``(pixel, t)`` if ``time_last`` else ``(t, pixel)``; with ``raw`` the input
    values are also kept in time order in ``values`` and the powers in ``series``.
    """
    buf, series, values, lane, _, _, bits = work
    n_t = buf.shape[0]
    if time_last:
        for j in range(w):
            for t in range(n_t):
                buf[t, j] = src[p0 + j, t]
    else:
        for t in range(n_t):
            buf[t, :w] = src[t, p0 : p0 + w]
    if raw:
        values[:, :w] = buf[:, :w]
    cnt, mantissa = lane[_CNT], lane[_TMP]
    scale = bits.view(np.float64)
    cnt[:w] = 0.0
    for t in range(n_t):
        dst = buf[t]
        if power:
            # 10**(v/10) = 2**k exp(f ln2), k = round(v log2(10)/10); 2**k from its bits
            for j in range(w):
                z = dst[j] * _LOG2_10_OVER_10 if dst[j] == dst[j] else 0.0
                z = z if z > -1020.0 else -1020.0
                z = z if z < 1020.0 else 1020.0
                k = np.floor(z + 0.5)
                f = (z - k) * _LN2
                p = _EXP_COEFFS[11]
                for i in range(10, -1, -1):
                    p = p * f + _EXP_COEFFS[i]
                bits[j] = (np.int64(k) + 1023) << 52
                mantissa[j] = p
            for j in range(w):
                cnt[j] += 1.0 if dst[j] == dst[j] else 0.0
                dst[j] = mantissa[j] * scale[j] if dst[j] == dst[j] else np.inf
        else:
            for j in range(w):
                cnt[j] += 1.0 if dst[j] == dst[j] else 0.0
                dst[j] = dst[j] if dst[j] == dst[j] else np.inf
    if raw:
        series[:, :w] = buf[:, :w]


@numba.njit(cache=True, nogil=True)
def _sort(buf: Any, w: int, pair_i: Any, pair_j: Any) -> None:
    for c in range(pair_i.size):
        lower = buf[pair_i[c]]
        upper = buf[pair_j[c]]
        for j in range(w):
            a = lower[j]
            b = upper[j]
            lower[j] = a if a <= b else b
            upper[j] = b if a <= b else a


@numba.njit(cache=True, nogil=True)
def _moments(buf: Any, w: int, lane: Any) -> None:
    """Count, mean, variance (ddof 0) and first index of the valid values in ``[lo, hi]``.

    One pass of sums of ``v - c`` and ``(v - c)**2`` with ``c`` the pixel's middle valid
    value, which keeps the variance accurate (the shift is close to the mean).
    """
    cnt, lo, hi, num, mean, var, first, shift = (lane[_CNT], lane[_LO], lane[_HI], lane[_NUM],
                                                 lane[_MEAN], lane[_VAR], lane[_FIRST],
                                                 lane[_TMP])  # fmt: skip
    for j in range(w):
        n = int(cnt[j])
        shift[j] = buf[n // 2, j] if n > 0 else 0.0
    num[:w] = 0.0
    mean[:w] = 0.0
    var[:w] = 0.0
    first[:w] = 0.0
    for t in range(buf.shape[0]):
        row = buf[t]
        for j in range(w):
            valid = t < cnt[j]
            keep = valid & (row[j] >= lo[j]) & (row[j] <= hi[j])
            d = row[j] - shift[j] if keep else 0.0
            num[j] += 1.0 if keep else 0.0
            mean[j] += d
            var[j] += d * d
            first[j] += 1.0 if valid & (row[j] < lo[j]) else 0.0
    for j in range(w):
        m = mean[j] / num[j] if num[j] > 0 else np.nan
        var[j] = max(var[j] / num[j] - m * m, 0.0) if num[j] > 0 else np.nan
        mean[j] = m + shift[j]


@numba.njit(cache=True, nogil=True)
def _outlier_bounds(buf: Any, w: int, lane: Any, k_sigma: float) -> None:
    """OST ``remove_outliers``: ``[lo, hi]`` = mean ± k std of the values within [p5, p95]."""
    cnt, lo, hi, mean, var = lane[_CNT], lane[_LO], lane[_HI], lane[_MEAN], lane[_VAR]
    for j in range(w):
        n = int(cnt[j])
        trim = n >= MIN_OUTLIER_DATES
        lo[j] = _quantile(buf, j, 0, n, 0.05) if trim else -np.inf
        hi[j] = _quantile(buf, j, 0, n, 0.95) if trim else np.inf
    _moments(buf, w, lane)
    for j in range(w):
        trim = cnt[j] >= MIN_OUTLIER_DATES
        sd = math.sqrt(var[j])
        lo[j] = mean[j] - k_sigma * sd if trim else -np.inf
        hi[j] = mean[j] + k_sigma * sd if trim else np.inf


@numba.njit(cache=True, nogil=True)
def _solve4(a: Any, r: Any, sol: Any) -> bool:
    """Solve ``a @ sol = r``, ``a`` symmetric 4x4 given by its lower triangle (Cholesky).

    Returns False when a pivot falls below 1e-12 of its diagonal (rank deficient design).
    """
    for j in range(4):
        s = a[j, j]
        for k in range(j):
            s -= a[j, k] * a[j, k]
        if not s > 1e-12 * abs(a[j, j]):
            return False
        d = math.sqrt(s)
        a[j, j] = d
        for i in range(j + 1, 4):
            s = a[i, j]
            for k in range(j):
                s -= a[i, k] * a[j, k]
            a[i, j] = s / d
    for i in range(4):
        s = r[i]
        for k in range(i):
            s -= a[i, k] * sol[k]
        sol[i] = s / a[i, i]
    for i in range(3, -1, -1):
        s = sol[i]
        for k in range(i + 1, 4):
            s -= a[k, i] * sol[k]
        sol[i] = s / a[i, i]
    return True


@numba.njit(cache=True, nogil=True)
def _harmonics(w: int, work: Any, design: Any) -> None:
    """Least squares ``v ~ b0 (t - t0) + b1 cos 2πt + b2 sin 2πt + b3`` on the kept values."""
    _, series, values, lane, acc, stats, _ = work
    lo, hi, ok = lane[_LO], lane[_HI], lane[_OK]
    mat = np.empty((4, 4))
    rhs = np.empty(4)
    sol = np.empty(4)
    acc[:, :w] = 0.0
    ok[:w] = 0.0
    for t in range(values.shape[0]):
        d0, d1, d2 = design[t, 0], design[t, 1], design[t, 2]
        src = values[t]
        for j in range(w):
            keep = (src[j] == src[j]) & (series[t, j] >= lo[j]) & (series[t, j] <= hi[j])
            wt = 1.0 if keep else 0.0
            v = src[j] if keep else 0.0
            acc[0, j] += wt * d0 * d0
            acc[1, j] += wt * d0 * d1
            acc[2, j] += wt * d0 * d2
            acc[3, j] += wt * d0
            acc[4, j] += wt * d1 * d1
            acc[5, j] += wt * d1 * d2
            acc[6, j] += wt * d1
            acc[7, j] += wt * d2 * d2
            acc[8, j] += wt * d2
            acc[9, j] += wt
            acc[10, j] += v * d0
            acc[11, j] += v * d1
            acc[12, j] += v * d2
            acc[13, j] += v
    for j in range(w):
        if acc[9, j] < MIN_HARMONIC_DATES:
            continue
        mat[0, 0], mat[1, 0], mat[2, 0], mat[3, 0] = acc[0, j], acc[1, j], acc[2, j], acc[3, j]
        mat[1, 1], mat[2, 1], mat[3, 1] = acc[4, j], acc[5, j], acc[6, j]
        mat[2, 2], mat[3, 2], mat[3, 3] = acc[7, j], acc[8, j], acc[9, j]
        for r in range(4):
            rhs[r] = acc[10 + r, j]
        if _solve4(mat, rhs, sol):
            ok[j] = 1.0
            stats[_TREND, j] = sol[0]
            stats[_AMPLITUDE, j] = math.hypot(sol[1], sol[2])
            stats[_PHASE, j] = math.atan2(sol[2], sol[1])
            stats[_MODEL_MEAN, j] = sol[3]
            for r in range(4):
                acc[10 + r, j] = sol[r]
    acc[14, :w] = 0.0
    for t in range(values.shape[0]):
        d0, d1, d2 = design[t, 0], design[t, 1], design[t, 2]
        src = values[t]
        for j in range(w):
            keep = (src[j] == src[j]) & (series[t, j] >= lo[j]) & (series[t, j] <= hi[j])
            e = src[j] - (acc[10, j] * d0 + acc[11, j] * d1 + acc[12, j] * d2 + acc[13, j])
            acc[14, j] += e * e if keep & (ok[j] > 0) else 0.0
    for j in range(w):
        if ok[j] > 0:
            stats[_RESIDUALS, j] = math.sqrt(acc[14, j] / acc[9, j])


@numba.njit(cache=True, nogil=True)
def _tile(src: Any, time_last: bool, p0: int, w: int, work: Any, params: Any) -> None:
    """All statistics of the pixels ``p0:p0 + w`` into ``stats[:, :w]``."""
    buf, _, _, lane, _, stats, _ = work
    pair_i, pair_j, quantiles, design, to_power, outliers, k_sigma, harmonics = params
    _load(src, time_last, p0, w, work, to_power, harmonics)
    _sort(buf, w, pair_i, pair_j)
    cnt, lo, hi, num, mean, var, first = (lane[_CNT], lane[_LO], lane[_HI], lane[_NUM],
                                          lane[_MEAN], lane[_VAR], lane[_FIRST])  # fmt: skip
    if outliers:
        _outlier_bounds(buf, w, lane, k_sigma)
    else:
        lo[:w] = -np.inf
        hi[:w] = np.inf
    _moments(buf, w, lane)
    stats[:, :w] = np.nan
    stats[_COUNT, :w] = cnt[:w]
    for j in range(w):
        a = int(first[j])
        m = int(num[j])
        if m == 0:
            continue
        std = math.sqrt(var[j])
        stats[_STD, j] = std
        stats[_COV, j] = std / mean[j]
        stats[_AVG, j] = mean[j]
        stats[_MAX, j] = buf[a + m - 1, j]
        stats[_MIN, j] = buf[a, j]
        stats[_MEDIAN, j] = _quantile(buf, j, a, m, 0.5)
        for iq in range(quantiles.size):
            stats[_N_FIXED + iq, j] = _quantile(buf, j, a, m, quantiles[iq])
    if to_power:
        for r in range(stats.shape[0]):
            if r <= _MIN or r == _MEDIAN or r >= _N_FIXED:
                _to_db(stats[r], w, work[6], lane[_TMP])
    if harmonics:
        _harmonics(w, work, design)


@numba.njit(cache=True, nogil=True)
def _group(src: Any, time_last: bool, out: Any, rows: Any, params: Any, g: int) -> None:
    """``out[m, p]`` = statistic ``rows[m]`` of pixel ``p`` for the pixels of group ``g``."""
    n_t = src.shape[1] if time_last else src.shape[0]
    n_px = out.shape[1]
    work = (
        np.empty((n_t, TILE)),  # sorted series (power), NaN as +inf
        np.empty((n_t, TILE)),  # series (power) in time order, harmonics only
        np.empty((n_t, TILE)),  # input values in time order, harmonics only
        np.empty((_N_LANE, TILE)),
        np.empty((_N_ACC, TILE)),
        np.empty((_N_FIXED + params[2].size, TILE)),
        np.empty(TILE, dtype=np.int64),
    )
    stats = work[5]
    for p0 in range(g * GROUP, min((g + 1) * GROUP, n_px), TILE):
        w = min(TILE, n_px - p0)
        _tile(src, time_last, p0, w, work, params)
        for m in range(rows.size):
            out[m, p0 : p0 + w] = stats[rows[m], :w]


# NOTE: two functions, not one jitted twice: numba's cache would mix up the two variants.
@numba.njit(cache=True, nogil=True)
def _serial(src: Any, time_last: bool, out: Any, rows: Any, params: Any) -> None:
    for g in range((out.shape[1] + GROUP - 1) // GROUP):
        _group(src, time_last, out, rows, params, g)


@numba.njit(cache=True, nogil=True, parallel=True)
def _parallel(src: Any, time_last: bool, out: Any, rows: Any, params: Any) -> None:
    for g in prange((out.shape[1] + GROUP - 1) // GROUP):
        _group(src, time_last, out, rows, params, g)


_KERNELS = {False: _serial, True: _parallel}


def run(
    block: np.ndarray[Any, Any],
    rows: np.ndarray[Any, Any],
    *,
    quantiles: np.ndarray[Any, Any],
    design: np.ndarray[Any, Any],
    to_power: bool,
    outliers: bool,
    k_sigma: float,
    harmonics: bool,
    parallel: bool,
) -> np.ndarray[Any, Any]:
    """Statistics ``rows`` (indices into ``STAT_NAMES``, then percentiles) of every series.

    ``block`` is ``(T, ...)``, read in place when its memory is time-first (C order) or
    time-last (a transposed view), copied otherwise.  Returns ``(len(rows), ...)``, C order,
    of the dtype of ``block``.
    """
    n_t = block.shape[0]
    lead = block.shape[1:]
    last = np.moveaxis(block, 0, -1)
    time_last = last.flags.c_contiguous and not block.flags.c_contiguous
    if time_last:
        src = last.reshape(-1, n_t)
    else:
        src = np.ascontiguousarray(block).reshape(n_t, -1)
    pair_i, pair_j = merge_sort_network(n_t)
    params = (
        pair_i,
        pair_j,
        np.ascontiguousarray(quantiles, dtype=np.float64),
        np.ascontiguousarray(design, dtype=np.float64),
        bool(to_power),
        bool(outliers),
        float(k_sigma),
        bool(harmonics),
    )
    out = np.empty((rows.size, src.size // n_t), dtype=block.dtype)
    _KERNELS[parallel](src, time_last, out, np.ascontiguousarray(rows, dtype=np.int64), params)
    return out.reshape(rows.size, *lead)
