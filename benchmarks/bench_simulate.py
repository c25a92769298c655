"""Time and peak memory of the scene simulator, at the small default size and (--full) IW size.

Usage::

    python benchmarks/bench_simulate.py [--full] [--out DIR]

Every configuration runs in its own child process, so that the peak resident memory reported
is its own: a tiny warm-up run first (loads or compiles the numba kernels, timed apart), then
the configuration, timed by wall clock and CPU time.  Throughput counts the radar pixels
written (lines x samples x polarisations x products).  Configurations:

* ``small``: the default (two tracks, four dates, VV+VH, 800 x 800 pixels);
* ``small-1``: one track, one date;
* ``full`` (``--full``): one track, one date, VV+VH, 16700 x 25000 pixels (an IW GRDH slice).
"""

from __future__ import annotations

import argparse
import multiprocessing
import pathlib
import resource
import shutil
import tempfile
import time
from typing import Any

from s1stac.simulate import SIZES, TrackSpec, simulate

CONFIGS: dict[str, dict[str, Any]] = {
    "small": {},
    "small-1": {"dates": 1, "tracks": [TrackSpec("ASCENDING", 117)]},
    "full": {"size": "full", "dates": 1, "tracks": [TrackSpec("ASCENDING", 117)]},
}


def _child(name: str, out: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    warm = time.perf_counter()
    simulate(
        pathlib.Path(out) / "warmup",
        size=(100, 100),
        dates=1,
        polarisations=("VV",),
        tracks=[TrackSpec("ASCENDING", 117)],
    )
    warm = time.perf_counter() - warm
    kwargs = CONFIGS[name]
    wall, cpu = time.perf_counter(), time.process_time()
    result = simulate(pathlib.Path(out) / name, **kwargs)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    lines, samples = SIZES[kwargs.get("size", "small")]
    pixels = lines * samples * 2 * len(result.products)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
    queue.put((warm, wall, cpu, peak, len(result.products), pixels))


def run(name: str, out: pathlib.Path) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(name, str(out), queue))
    process.start()
    warm, wall, cpu, peak, products, pixels = queue.get()
    process.join()
    print(
        f"{name:8s} {products:3d} products {pixels / 1e6:8.1f} Mpx  wall {wall:7.1f} s  "
        f"CPU {cpu:7.1f} s  {pixels / wall / 1e6:6.2f} Mpx/s  peak RSS {peak:5.2f} GB  "
        f"(warm-up {warm:.1f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the full IW GRDH size")
    parser.add_argument("--out", type=pathlib.Path, help="keep the products in this folder")
    args = parser.parse_args()
    out = args.out or pathlib.Path(tempfile.mkdtemp(prefix="bench-simulate-"))
    try:
        for name in ("small", "small-1", *(("full",) if args.full else ())):
            run(name, out)
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)


if __name__ == "__main__":
    main()
