"""Timescan of a time series larger than the machine's memory, the way users run it.

A float32 dB time series ``T x size x size`` (10 % NaN, one COG per date, registered as an
``s1-timeseries`` item with the project's own writer) is generated once in ``--workdir``; then
:func:`s1stac.pipeline.timescan_products` computes the OST timescan (avg, max, min, std, cov,
median, p5, p95, count; dB -> power -> outlier removal -> metrics) from the files into
``s1-timescan``, in a child process whose peak resident memory is measured.  A window of the
result is compared with numpy's nan-functions on the same window read back from the files.

The default size (T=60, 11 000 x 11 000: 29 GB of float32) is larger than the 25 GB of the
reference machine; ``--size`` makes it smaller for a quick run.  Usage::

    python benchmarks/bench_timescan_ooc.py [--workdir DIR] [--size 11000 --t 60] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import pathlib
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import dask
import dask.array as da
import numpy as np
import rasterio
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.catalog import StaticCatalog, local_path
from s1stac.products import Layer, grid_properties, is_complete, write_product

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from bench_timescan import METRICS, numpy_block  # noqa: E402

ITEM_ID = "ts_1_VV_bench"
START = dt.datetime(2020, 1, 1, 5, 30, tzinfo=dt.UTC)


def memory_gb() -> float:
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / 1024**2
    return float("nan")


def date_layer(k: int, geobox: GeoBox, seed: int) -> xr.DataArray:
    """Lazy dB image of date ``k``: speckle-like noise around a per-date level, 10 % NaN."""

    def block(block_info: dict | None = None) -> np.ndarray:  # type: ignore[type-arg]
        info = block_info[None]  # type: ignore[index]
        shape = info["chunk-shape"]
        rng = np.random.default_rng((seed, k, *info["chunk-location"]))
        x = rng.standard_normal(shape, dtype=np.float32) * 3.0 - 12.0 + np.float32(k % 7 - 3)
        x[rng.random(shape, dtype=np.float32) < 0.1] = np.nan
        return x

    data = da.map_blocks(block, chunks=da.core.normalize_chunks(2048, geobox.shape), dtype="f4")
    coords = xr_coords(geobox)
    return xr.DataArray(data, dims=("y", "x"), coords=coords, name=f"VV {k}", attrs={"units": "dB"})


def generate(root: pathlib.Path, n_t: int, size: int, seed: int) -> None:
    """Register the synthetic series (skipped when the item is already complete)."""
    store = StaticCatalog(root)
    if is_complete(store, "s1-timeseries", ITEM_ID):
        print("time series present, generation skipped")
        return
    geobox = GeoBox((size, size), Affine(20.0, 0, 500000.0, 0, -20.0, 5300000.0), "EPSG:32633")
    times = [START + dt.timedelta(days=12 * k) for k in range(n_t)]
    layers = []
    for k, moment in enumerate(times):
        iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        layers.append(
            Layer(
                f"vv_{moment:%Y%m%dT%H%M%S}",
                f"{k + 1:02d}.{moment:%y%m%d}.bs.VV.tif",
                date_layer(k, geobox, seed),
                f"VV backscatter {iso}",
                {"sar:polarizations": ["VV"], "datetime": iso},
            )
        )
    properties = {
        "platform": "sentinel-1a",
        "constellation": "sentinel-1",
        "sat:relative_orbit": 1,
        "sat:orbit_state": "ascending",
        "sar:polarizations": ["VV"],
        **grid_properties(geobox, times=[np.datetime64(t.replace(tzinfo=None)) for t in times]),
        "cube:variables": {"vv": {"dimensions": ["t", "y", "x"], "type": "data", "unit": "dB"}},
    }
    t0 = time.perf_counter()
    write_product(
        store,
        "s1-timeseries",
        ITEM_ID,
        layers=layers,
        time_range=(times[0], times[-1]),
        properties=properties,
        lineage="synthetic benchmark series",
    )
    print(f"time series written in {time.perf_counter() - t0:.0f} s")


def run_timescan(root: pathlib.Path, threads: int) -> None:
    """Child process: the timescan exactly as a user runs it, then its own figures."""
    from s1stac.pipeline import timescan_products

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    dask.config.set(scheduler="threads", num_workers=threads)
    t0, c0 = time.perf_counter(), time.process_time()
    timescan_products(
        root, metrics=[m for m in METRICS if m not in ("p5", "p95")] + ["percentiles"],
        remove_outliers=True, overwrite=True, progress=True,
    )  # fmt: skip
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"CHILD {wall:.3f} {cpu:.3f} {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")


def check_window(root: pathlib.Path, size: int) -> tuple[float, float]:
    """Largest differences to numpy on a 256 x 256 window: (dB metrics in dB, std/cov relative).

    ``count`` must be equal and the NaN pattern of every metric the same.
    """
    store = StaticCatalog(root)
    series = store.get_item("s1-timeseries", ITEM_ID)
    scan = next(iter(store.items("s1-timescan")))
    row = col = size // 2 - 128
    window = rasterio.windows.Window(col, row, 256, 256)
    keys = sorted(k for k, a in series.assets.items() if "data" in (a.roles or []))
    # float64 reference: in float32, numpy puts a value that lies on the outlier bound m + 2 s
    # (relative distance 6e-8 for one pixel of the 29 GB run) on the other side of it
    stack = np.stack([read(series, key, window) for key in keys]).astype(np.float64)
    expected = numpy_block(stack)
    db = linear = 0.0
    for i, metric in enumerate(METRICS):
        got, want = read(scan, f"vv_{metric}", window), expected[i]
        if not np.array_equal(np.isnan(got), np.isnan(want)):
            raise AssertionError(f"{metric}: NaN pattern differs from numpy")
        if metric == "count":
            np.testing.assert_array_equal(got, want)
        elif metric in ("std", "cov"):
            linear = max(linear, float(np.nanmax(np.abs(got - want) / np.abs(want))))
        else:
            db = max(db, float(np.nanmax(np.abs(got - want))))
    return db, linear


def read(item, key: str, window) -> np.ndarray:  # type: ignore[no-untyped-def]
    found = local_path(item.assets[key].href, pathlib.Path(item.get_self_href()).parent)
    assert found is not None
    with rasterio.open(found[0]) as dataset:
        return dataset.read(1, window=window).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=pathlib.Path, default=None, help="keeps the stack")
    parser.add_argument("--size", type=int, default=11000, help="pixels along y and x")
    parser.add_argument("--t", type=int, default=60, help="number of dates")
    parser.add_argument("--threads", type=int, default=2, help="dask threads")
    parser.add_argument("--keep", action="store_true", help="keep a temporary workdir")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_timescan(args.workdir, args.threads)
        return
    logging.basicConfig(level=logging.WARNING)
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="s1stac-ooc-"))
    root = workdir / "catalog"
    stack_gb = args.t * args.size**2 * 4 / 1e9
    print(
        f"time series float32 T={args.t} x {args.size} x {args.size} = {stack_gb:.1f} GB;"
        f" machine memory {memory_gb() * 1.073741824:.1f} GB"
    )
    try:
        generate(root, args.t, args.size, seed=0)
        disk = sum(f.stat().st_size for f in (root / "s1-timeseries").rglob("*.tif")) / 1e9
        print(f"on disk (deflate COGs): {disk:.1f} GB")
        command = [sys.executable, __file__, "--child", "--workdir", str(root)]
        command += ["--threads", str(args.threads)]
        t0 = time.perf_counter()
        output = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout
        elapsed = time.perf_counter() - t0
        wall, cpu, rss_kb = next(
            line.split()[1:] for line in output.splitlines() if line.startswith("CHILD")
        )
        wall_s, rss = float(wall), int(rss_kb) / 1024**2
        print(
            f"timescan_products: {wall_s:.1f} s ({elapsed:.1f} s with start-up),"
            f" {stack_gb / wall_s:.3f} GB/s of float32 stack, cpu {float(cpu):.0f} s,"
            f" peak RSS {rss:.2f} GB = {rss / stack_gb * 100:.1f} % of the stack"
        )
        db, linear = check_window(root, args.size)
        print(
            f"vs numpy nan-functions on a 256 x 256 window: dB metrics within {db:.1e} dB,"
            f" std/cov within {linear:.1e} relative, count equal"
        )
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
