"""Throughput of :func:`s1stac.timescan.timescan` against numpy and openeo-processes-dask.

A float32 dB stack ``(T, size, size)`` with 10 % missing values is built in memory and the OST
timescan metrics (avg, max, min, std, cov, median, p5, p95, count; dB -> power -> outlier
removal -> metrics -> dB, ``OST_SPEC.md`` §4.2) are computed:

* ``s1stac``: the numba kernel, dask-chunked (threaded scheduler) and on the numpy-backed cube;
* ``numpy``: the same metrics with numpy's nan-functions (and OST's outlier removal written
  with them), per dask block on the same threads, on a strip of rows (the nan-percentiles of
  numpy loop over pixels in Python, the full stack would take hours);
* ``openeo-processes-dask``: one ``reduce_dimension`` per metric with its ``mean``, ``_max``,
  ``_min``, ``sd``, ``median``, ``quantiles`` and ``count`` processes, same strip, without
  outlier removal (no openEO reducer for it), if the package imports.

Throughput is bytes of the input stack processed per second of wall time.  Usage::

    python benchmarks/bench_timescan.py [--size 4000 --t 60 --threads 2] [--small]
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
import warnings
from collections.abc import Callable
from typing import Any

import dask
import dask.array as da
import numba
import numpy as np
import xarray as xr

from s1stac.timescan import timescan

METRICS = ("avg", "max", "min", "std", "cov", "median", "p5", "p95", "count")


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def make_stack(n_t: int, size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.empty((n_t, size, size), dtype=np.float32)
    for t in range(n_t):
        rng.standard_normal((size, size), dtype=np.float32, out=x[t])
        x[t] *= 3.0
        x[t] -= 12.0
        x[t][rng.random((size, size), dtype=np.float32) < 0.1] = np.nan
    return x


def chunked_view(stack: np.ndarray, rows: int) -> da.Array:
    """Dask array of row strips that are views of ``stack`` (``da.from_array`` copies it)."""

    def strip(start: int) -> np.ndarray:
        return stack[:, start : start + rows]

    parts = [
        da.from_delayed(
            dask.delayed(strip, pure=False)(start),
            shape=(stack.shape[0], min(rows, stack.shape[1] - start), stack.shape[2]),
            dtype=stack.dtype,
        )
        for start in range(0, stack.shape[1], rows)
    ]
    return da.concatenate(parts, axis=1)


def numpy_block(x_db: np.ndarray) -> np.ndarray:
    """Compute the metrics with numpy nan-functions, OST order and outlier removal (§4.3)."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        x = 10 ** (x_db / 10)
        p95, p5 = np.nanpercentile(x, [95, 5], axis=0)
        y = np.where((x > p95) | (x < p5), np.nan, x)
        m, s = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
        count = np.isfinite(x).sum(axis=0)
        outlier = ((x > m + 2 * s) | (x < m - 2 * s)) & (count >= 5)
        x = np.where(outlier, np.nan, x)
        avg, std = np.nanmean(x, axis=0), np.nanstd(x, axis=0)
        q5, q95 = np.nanpercentile(x, [5, 95], axis=0)
        out = [avg, np.nanmax(x, 0), np.nanmin(x, 0), std, std / avg, np.nanmedian(x, 0), q5, q95]
        out = [10 * np.log10(v) if i not in (3, 4) else v for i, v in enumerate(out)]
    return np.stack([*out, count]).astype(np.float32)


def run_numpy(strip: np.ndarray, rows: int) -> np.ndarray:
    arr = chunked_view(strip, rows)
    out = arr.map_blocks(numpy_block, chunks=(len(METRICS), rows, strip.shape[2]), dtype="f4")
    return out.compute()


def run_openeo(strip: np.ndarray, rows: int) -> Any:
    from functools import partial

    import openeo_processes_dask.process_implementations as processes
    from openeo_pg_parser_networkx.pg_schema import ParameterReference
    from openeo_processes_dask.process_implementations import math as m
    from openeo_processes_dask.process_implementations.core import process
    from openeo_processes_dask.process_implementations.cubes.reduce import reduce_dimension

    ref = ParameterReference(from_parameter="data")

    def quantile(p: float) -> Callable[..., Any]:
        def reducer(data: Any, axis: int | None = None, keepdims: bool = False) -> Any:
            q = m.quantiles(data, probabilities=[p], axis=axis)
            return np.take(q, 0, axis=axis)

        return reducer

    cube = xr.DataArray(
        chunked_view(strip, rows),
        dims=("t", "y", "x"),
        coords={"t": np.arange(strip.shape[0])},
    )
    power = 10 ** (cube / 10)
    reducers = [
        processes.mean, m._max, m._min, processes.sd, processes.median,
        quantile(0.05), quantile(0.95), processes.count,
    ]  # fmt: skip
    out = [reduce_dimension(power, partial(process(f), data=ref), "t") for f in reducers]
    out.insert(4, out[3] / out[0])
    for i in (0, 1, 2, 5, 6, 7):
        out[i] = 10 * np.log10(out[i])
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        return dask.compute(*[o.data for o in out])


def timed(label: str, nbytes: int, func: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (and the CPU time of that run)."""
    runs = []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()
        result = func()
        runs.append((time.perf_counter() - t0, time.process_time() - c0))
    wall, cpu = min(runs)
    print(
        f"{label:<52s} {nbytes / 1e9:6.3f} GB {wall:7.2f} s {nbytes / wall / 1e9:7.3f} GB/s"
        f"  (cpu {cpu:6.2f} s = {cpu / wall:.1f} cores)  peak RSS {peak_rss_gb():5.2f} GB"
    )
    return nbytes / wall / 1e9, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="pixels along y and x")
    parser.add_argument("--t", type=int, default=60, help="number of dates")
    parser.add_argument("--threads", type=int, default=2, help="dask / numba threads")
    parser.add_argument("--chunk", type=int, default=250, help="rows per dask chunk")
    parser.add_argument("--strip", type=int, default=64, help="rows for numpy/openeo runs")
    parser.add_argument("--repeat", type=int, default=3, help="s1stac runs (best is shown)")
    parser.add_argument("--small", action="store_true", help="quick run: 1000 x 1000, T=30")
    args = parser.parse_args()
    if args.small:
        args.size, args.t, args.chunk, args.strip = 1000, 30, 125, 16
    logging.basicConfig(level=logging.WARNING)
    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    dask.config.set(scheduler="threads", num_workers=args.threads)

    print(f"stack float32 T={args.t} x {args.size} x {args.size}, 10 % NaN, {args.threads} threads")
    stack = make_stack(args.t, args.size)
    cube = xr.DataArray(stack, dims=("t", "y", "x"))
    print(f"stack built: {stack.nbytes / 1e9:.2f} GB, peak RSS {peak_rss_gb():.2f} GB")
    kwargs: dict[str, Any] = {"metrics": METRICS, "to_power": True, "remove_outliers": True}
    timescan(cube[:, :8, :8], **kwargs)  # compile / load the numba cache
    timescan(cube[:, :8, :8].chunk({"x": 4}), **kwargs).compute()

    lazy = timescan(xr.DataArray(chunked_view(stack, args.chunk), dims=cube.dims), **kwargs)
    rate, result = timed(
        "s1stac timescan (dask chunks)", stack.nbytes, lambda: lazy.compute(), args.repeat
    )
    timed(
        "s1stac timescan (numpy-backed, prange)",
        stack.nbytes,
        lambda: timescan(cube, **kwargs),
        args.repeat,
    )

    strip = stack[:, : args.strip, :]
    np_rate, expected = timed(
        f"numpy nan-functions ({args.strip}-row strip)",
        strip.nbytes,
        lambda: run_numpy(strip, max(args.strip // args.threads, 1)),
    )
    got = result.values[:, : args.strip, :]
    with np.errstate(invalid="ignore"):
        worst = np.nanmax(np.abs(got - expected) / np.maximum(np.abs(expected), 1e-6))
    print(f"  s1stac vs numpy on the strip: max relative difference {worst:.2e}")
    try:
        oe_rate, _ = timed(
            f"openeo-processes-dask ({args.strip}-row strip, no outliers)",
            strip.nbytes,
            lambda: run_openeo(strip, max(args.strip // args.threads, 1)),
        )
    except Exception as exc:  # noqa: BLE001 - report why the optional comparison is skipped
        oe_rate = float("nan")
        print(f"openeo-processes-dask skipped: {type(exc).__name__}: {exc}")
    print(f"speed-up s1stac / numpy: {rate / np_rate:.0f}x")
    if np.isfinite(oe_rate):
        print(f"speed-up s1stac / openeo-processes-dask: {rate / oe_rate:.0f}x")
    print(f"target >= 1 GB/s: {'met' if rate >= 1.0 else 'NOT met'} ({rate:.2f} GB/s)")
    print(f"peak RSS {peak_rss_gb():.2f} GB")


if __name__ == "__main__":
    main()
