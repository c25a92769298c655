"""Time and peak memory of the ARD stage on a full-size simulated IW GRDH scene, and sarsen's.

Usage::

    python benchmarks/bench_ard.py --data /tmp/bench/full [--simulate [--slices 2]] [--workers 2]
        [--product-type RTC-gamma0] [--resolution 20] [--extra-bands mask ...]
        [--sarsen] [--sarsen-timeout 1800] [--skip-s1stac]

``--simulate`` first writes a full-size scene (16700 lines x 25000 samples, VV+VH, one
ascending track, 30 m DEM) into ``--data`` with :func:`s1stac.simulate.api.simulate`;
``--slices 2`` makes it two consecutive full-size slices of one datatake, assembled by the ARD.
The ARD (:func:`s1stac.ard.process_ard`) of every polarisation is computed with the threaded
dask scheduler on ``--workers`` threads and reduced to per-variable sums (every output pixel
is computed, none is kept), so the figures are those of the stage, not of a writer.  Printed:
set-up time (graph building, border-noise column means, DEM statistics), compute time, peak
resident memory of the process (Linux ``VmHWM``) and the compute time by task kind (dask
profiler).  With ``--sarsen`` the same product is terrain-corrected by sarsen
(``gamma_bilinear`` RTC, one call per polarisation) on the same DEM resampled onto the ARD
grid, in a subprocess (its own peak memory), with a timeout.
"""

from __future__ import annotations

import argparse
import json
import logging
import pathlib
import resource
import subprocess
import sys
import time
from collections import defaultdict

import dask
import numpy as np
from dask.diagnostics import Profiler

from s1stac.ard import ArdOptions, process_ard

log = logging.getLogger("bench_ard")


def peak_rss_mib() -> float:
    """Peak resident set size of this process in MiB."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def simulate(folder: pathlib.Path, slices: int = 1) -> None:
    """Write the full-size scene with its truth (takes several minutes).

    With ``slices=2`` the acquisition is two consecutive full-size slices of one datatake
    (33400 lines x 25000 samples in all), which the ARD assembles.
    """
    from s1stac.simulate.api import TrackSpec
    from s1stac.simulate.api import simulate as run

    run(
        folder,
        size="full" if slices == 1 else (16700 * slices, 25000),
        slices=slices,
        dates=1,
        tracks=[TrackSpec("ASCENDING", 117)],
        polarisations=("VV", "VH"),
        seed=11,
        max_slope_deg=40,
    )


def task_kind(key: object) -> str:
    name = key[0] if isinstance(key, tuple) else key
    text = str(name)
    for prefix in (
        "_simulate_block",
        "_resample_block",
        "_chunk_task",
        "_lookup_block",
        "_flags_block",
        "_angles_block",
        "open_rasterio",
        "_block",
    ):
        if prefix.strip("_") in text:
            return prefix.strip("_")
    return text.rsplit("-", 1)[0][:40]


def run_ard(product: list[pathlib.Path], dem: pathlib.Path, args: argparse.Namespace) -> dict:
    options = ArdOptions(
        product_type=args.product_type,
        resolution=args.resolution,
        extra_bands=tuple(args.extra_bands),
    )
    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        ard = process_ard(product, options, dem=dem)
        setup = time.perf_counter() - start
        ds = ard.dataset
        sums = [ds[v].sum() for v in ds.data_vars] + [ds[v].count() for v in ds.data_vars]
        with Profiler() as profiler:
            values = dask.compute(*sums)
    total = time.perf_counter() - start
    by_kind: dict[str, float] = defaultdict(float)
    for task in profiler.results:
        by_kind[task_kind(task.key)] += task.end_time - task.start_time
    n = len(ds.data_vars)
    report = {
        "product": [p.name for p in product],
        "grid": list(ard.geobox.shape),
        "variables": list(ds.data_vars),
        "valid_pixels": [int(v) for v in values[n:]],
        "mean": [float(s) / max(int(c), 1) for s, c in zip(values[:n], values[n:], strict=True)],
        "setup_s": round(setup, 1),
        "compute_s": round(total - setup, 1),
        "total_s": round(total, 1),
        "peak_rss_mib": round(peak_rss_mib()),
        "task_seconds": {k: round(v, 1) for k, v in sorted(by_kind.items(), key=lambda x: -x[1])},
    }
    return report


SARSEN_SCRIPT = """
import json, resource, sys, time
import dask
import sarsen
product, dem, out, workers, chunks = sys.argv[1:6]
times = {}
with dask.config.set(scheduler="threads", num_workers=int(workers)):
    for pol in ("VV", "VH"):
        start = time.perf_counter()
        sar = sarsen.Sentinel1SarProduct(product, measurement_group=f"IW/{pol}")
        sarsen.terrain_correction(
            sar, dem, output_urlpath=f"{out}_{pol}.tif", correct_radiometry="gamma_bilinear",
            interp_method="linear", chunks=int(chunks), radiometry_chunks=int(chunks),
        )
        times[pol] = round(time.perf_counter() - start, 1)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": times, "total_s": round(sum(times.values()), 1),
                  "peak_rss_mib": round(peak)}))
"""


def run_sarsen(
    product: pathlib.Path, dem: pathlib.Path, args: argparse.Namespace, work: pathlib.Path
) -> dict:
    from s1stac.dem import load_dem
    from s1stac.grid import aligned_grid
    from s1stac.safe import open_product

    grid = aligned_grid(open_product(product).manifest.footprint, resolution_m=args.resolution)
    on_grid = work / "dem_on_ard_grid.tif"
    if not on_grid.exists():
        heights = load_dem(dem, grid, chunks=2048)
        heights.rio.write_crs("EPSG:4979").rio.to_raster(on_grid, tiled=True, lock=True)
    # NOTE: sarsen's overlap (128 px) must not exceed its last radiometry chunk
    size = next(
        c for c in range(2048, 512, -16) if all(n % c == 0 or n % c >= 128 for n in grid.shape)
    )
    command = [
        sys.executable,
        "-c",
        SARSEN_SCRIPT,
        str(product),
        str(on_grid),
        str(work / "sarsen"),
        str(args.workers),
        str(size),
    ]
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=args.sarsen_timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {args.sarsen_timeout} s"}
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=pathlib.Path("/tmp/bench/full"))
    parser.add_argument("--simulate", action="store_true")
    parser.add_argument("--slices", type=int, default=1, help="with --simulate: 1 or 2")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--product-type", default="RTC-gamma0")
    parser.add_argument("--resolution", type=float, default=20.0)
    parser.add_argument("--extra-bands", nargs="*", default=[], help="e.g. mask")
    parser.add_argument("--sarsen", action="store_true")
    parser.add_argument("--sarsen-timeout", type=float, default=1800.0)
    parser.add_argument("--skip-s1stac", action="store_true", help="run sarsen only")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.simulate and not (args.data / "truth" / "truth.json").exists():
        simulate(args.data, args.slices)
    truth = json.loads((args.data / "truth" / "truth.json").read_text())
    product = [pathlib.Path(p["path"]) for p in truth["products"]]  # the slices, if several
    dem = args.data / "truth" / "dem.tif"
    report = {}
    if not args.skip_s1stac:
        report["s1stac"] = run_ard(product, dem, args)
        print(json.dumps(report["s1stac"], indent=1), flush=True)
    if args.sarsen:
        report["sarsen"] = run_sarsen(product[0], dem, args, args.data)  # sarsen: one slice
        print(json.dumps(report["sarsen"], indent=1))
        if "total_s" in report["sarsen"] and "s1stac" in report:
            speedup = report["sarsen"]["total_s"] / report["s1stac"]["total_s"]
            print(f"s1stac is {speedup:.1f}x faster than sarsen")
    np.set_printoptions(precision=3)


if __name__ == "__main__":
    main()
