"""Throughput and peak memory of the speckle filters on a dask-chunked float32 image.

Usage::

    python benchmarks/bench_speckle.py [--size 4000] [--chunk 1000] [--workers 2] [--lazy-input]

For each filter the image is filtered lazily (``s1stac.speckle.speckle_filter``) and reduced
to its sum with the threaded dask scheduler, so the filtered scene is never held in memory.
The input is a numpy array wrapped in dask (or, with ``--lazy-input``, generated chunk by chunk
so that no full-size array exists at all).  Prints Mpixel/s (wall clock, and per CPU-second
of the process, which is less sensitive to other load on the machine) and the peak resident
memory of the process during each run (Linux ``VmHWM``, reset between runs).
"""

from __future__ import annotations

import argparse
import pathlib
import resource
import time

import dask
import dask.array
import numpy as np
import xarray as xr

from s1stac.speckle import speckle_filter

METHODS = (("boxcar", 3), ("lee", 3), ("lee", 7), ("refined_lee", None))


def reset_peak_rss() -> bool:
    """Reset the peak RSS counter of this process (Linux >= 4.0); False if not possible."""
    try:
        pathlib.Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB."""
    try:
        for line in pathlib.Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_input(size: int, chunk: int, lazy: bool) -> xr.DataArray:
    """Single-look gamma speckle of mean 1 on a 10 dB step, float32."""
    if lazy:
        rng = dask.array.random.default_rng(0)
        data = rng.gamma(1.0, 1.0, (size, size), chunks=chunk).astype(np.float32)
    else:
        values = np.random.default_rng(0).gamma(1.0, 1.0, (size, size)).astype(np.float32)
        data = dask.array.from_array(values, chunks=chunk)
    step = dask.array.where(dask.array.arange(size, chunks=chunk) < size // 2, 1.0, 10.0)
    return xr.DataArray((data * step[None, :]).astype(np.float32), dims=("line", "pixel"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="image side in pixels")
    parser.add_argument("--chunk", type=int, default=1000, help="dask chunk side in pixels")
    parser.add_argument("--workers", type=int, default=2, help="dask threads")
    parser.add_argument("--lazy-input", action="store_true", help="generate the input per chunk")
    args = parser.parse_args()

    t0 = time.perf_counter()
    warm = xr.DataArray(np.ones((16, 16), dtype=np.float32), dims=("line", "pixel"))
    for method, window in METHODS:
        speckle_filter(warm, method, window=window).compute()  # type: ignore[arg-type]
    compile_s = time.perf_counter() - t0

    image = make_input(args.size, args.chunk, args.lazy_input)
    if not args.lazy_input:
        image = image.persist()
    mpix = args.size * args.size / 1e6
    print(
        f"image {args.size}x{args.size} float32, chunks {args.chunk}, {args.workers} threads, "
        f"input {'generated per chunk' if args.lazy_input else 'in memory'}; "
        f"numba load/compile {compile_s:.2f} s"
    )
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        reset_peak_rss()
        t0 = time.perf_counter()
        image.sum().compute()
        base = time.perf_counter() - t0
        print(f"{'input sum only':>16}: {base:7.2f} s, peak RSS {peak_rss_mib():7.0f} MiB")
        for method, window in METHODS:
            filtered = speckle_filter(image, method, window=window)  # type: ignore[arg-type]
            reset_peak_rss()
            t0, c0 = time.perf_counter(), time.process_time()
            filtered.sum().compute()
            elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
            label = f"{method} {window or 7}x{window or 7}"
            print(
                f"{label:>16}: {elapsed:7.2f} s, {mpix / elapsed:7.1f} Mpix/s "
                f"({mpix / cpu:5.1f} Mpix per CPU-s), peak RSS {peak_rss_mib():7.0f} MiB"
            )


if __name__ == "__main__":
    main()
