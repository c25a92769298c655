"""Time and peak memory of :func:`s1stac.mosaic.mosaic` on four overlapping images.

Four float32 images of ``size x size`` pixels (speckled power, NaN border strips, gains of
0, +1, -0.5 and +0.7 dB) are placed 2 x 2 on one aligned UTM grid, overlapping by
``overlap`` pixels, and mosaicked with harmonisation and uncapped feathering (OTB
``feather large``).  Reported: the eager part of ``mosaic()`` (overlap statistics, shrunk
masks and distance maps), the lazy blend written into a numpy array with ``dask.array.store``,
the recovered gains against the known offsets, and the peak RSS.  Usage::

    python benchmarks/bench_mosaic.py [--size 4000 --overlap 500 --threads 2 --chunk 1024]
"""

from __future__ import annotations

import argparse
import logging
import resource
import time

import dask
import dask.array as da
import numpy as np
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.mosaic import mosaic

OFFSETS_DB = (0.0, 1.0, -0.5, 0.7)


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def make_images(size: int, overlap: int, chunk: int, seed: int = 0) -> list[xr.DataArray]:
    step = size - overlap
    grid = GeoBox(
        (size + step, size + step),
        Affine(20.0, 0.0, 300000.0, 0.0, -20.0, 4700000.0),
        "EPSG:32633",
    )
    rng = np.random.default_rng(seed)
    images = []
    for k, (row, col) in enumerate(((0, 0), (0, step), (step, 0), (step, step))):
        values = rng.gamma(4.0, 0.1 / 4.0, (size, size)).astype(np.float32)
        values *= np.float32(10 ** (OFFSETS_DB[k] / 10))
        values[:, :25] = np.nan  # a border-noise strip
        coords = xr_coords(grid[row : row + size, col : col + size], dims=("y", "x"))
        data = da.from_array(values, chunks=chunk)
        images.append(xr.DataArray(data, dims=("y", "x"), coords=coords, name=f"track{k}"))
    return images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4000, help="pixels per image side")
    parser.add_argument("--overlap", type=int, default=500, help="overlap in pixels")
    parser.add_argument("--threads", type=int, default=2, help="dask threads")
    parser.add_argument("--chunk", type=int, default=1024, help="dask chunk size")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    dask.config.set(scheduler="threads", num_workers=args.threads)

    images = make_images(args.size, args.overlap, args.chunk)
    nbytes = sum(img.nbytes for img in images)
    print(
        f"4 images float32 {args.size} x {args.size} ({nbytes / 1e9:.2f} GB), overlap "
        f"{args.overlap} px, chunks {args.chunk}, {args.threads} threads; "
        f"RSS after inputs {peak_rss_gb():.2f} GB"
    )
    t0 = time.perf_counter()
    lazy = mosaic(images, reference=0)
    t1 = time.perf_counter()
    print(f"mosaic() eager part (statistics, masks, distances): {t1 - t0:6.2f} s")
    target = np.empty(lazy.shape, dtype=lazy.dtype)
    da.store(lazy.data, target, lock=False)
    t2 = time.perf_counter()
    out_px = target.size
    print(
        f"blend {lazy.shape[0]} x {lazy.shape[1]} ({out_px / 1e6:.1f} Mpx): {t2 - t1:6.2f} s, "
        f"{out_px / (t2 - t1) / 1e6:.1f} Mpx/s; total {t2 - t0:.2f} s"
    )
    size, step = args.size, args.size - args.overlap
    quads = [
        target[100 : step - 100, 100 : step - 100],
        target[100 : step - 100, size + 100 : -100],
        target[size + 100 : -100, 100 : step - 100],
        target[size + 100 : -100, size + 100 : -100],
    ]
    levels = [10 * np.log10(np.nanmean(q, dtype=np.float64) / 0.1) for q in quads]
    print("level of each image's own area after harmonisation (dB, 0 = reference):")
    print("  " + ", ".join(f"{lv:+.3f}" for lv in levels))
    print(f"  largest deviation {max(abs(lv) for lv in levels):.3f} dB (offsets were {OFFSETS_DB})")
    print(f"peak RSS {peak_rss_gb():.2f} GB (inputs {nbytes / 1e9:.2f} GB, output "
          f"{target.nbytes / 1e9:.2f} GB)")  # fmt: skip


if __name__ == "__main__":
    main()
