"""Throughput and accuracy of the range-Doppler geometry on the real Sentinel-1 annotations.

Usage::

    python benchmarks/bench_geometry.py [--points 1000000] [--product 5371]

Throughput: ``radar_to_ground`` of random (line, pixel, height) over the whole image, then
``ground_to_radar`` of the result, timed by wall clock and by CPU time of the process (less
sensitive to other load on the machine); prints points/s and the round-trip error.

Accuracy: for every real product, ``ground_to_radar`` of the annotation's geolocation grid
points (lat, lon, height) against the grid's own (line, pixel), with the calibrated model, the
plain annotation model (``calibrate=False``) and with every other grid column / line held out
of the calibration.  The shared data folder is ``$S1STAC_SHARED/data/s1/grd`` (default
``../shared`` next to the repository); without it the script says so and exits.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import sys
import time

import numpy as np

from s1stac.geometry import SarGeometry
from s1stac.safe import open_product
from s1stac.types import Annotation, GeolocationGrid

REPO = pathlib.Path(__file__).resolve().parents[1]
GRD_DIR = pathlib.Path(os.environ.get("S1STAC_SHARED", REPO.parent / "shared")) / "data/s1/grd"


def load(grd_dir: pathlib.Path) -> dict[str, Annotation]:
    annotations = {}
    for path in sorted(grd_dir.iterdir()):
        product = open_product(path)
        annotations[product.name[-4:]] = product.annotation(product.polarisations[0])
    return annotations


def throughput(annotation: Annotation, n: int) -> None:
    geometry = SarGeometry(annotation)
    rng = np.random.default_rng(0)
    line = rng.uniform(0, annotation.number_of_lines - 1, n)
    pixel = rng.uniform(0, annotation.number_of_samples - 1, n)
    height = rng.uniform(0.0, 3000.0, n)
    for name in ("radar_to_ground", "ground_to_radar"):
        wall, cpu = time.perf_counter(), time.process_time()
        if name == "radar_to_ground":
            lon, lat = geometry.radar_to_ground(line, pixel, height)
        else:
            line2, pixel2 = geometry.ground_to_radar(lon, lat, height)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"{name:16s} {n:>9d} points: {n / wall:>11,.0f} points/s wall, {n / cpu:>11,.0f} /CPU-s"
        )
    error = max(np.abs(line2 - line).max(), np.abs(pixel2 - pixel).max())
    print(f"round trip (line, pixel) -> (lon, lat) -> (line, pixel): max error {error:.1e} px")


def subset(annotation: Annotation, keep: np.ndarray) -> Annotation:
    grid = annotation.geolocation_grid
    fields = {f.name: getattr(grid, f.name)[keep] for f in dataclasses.fields(grid)}
    return dataclasses.replace(annotation, geolocation_grid=GeolocationGrid(**fields))


def errors(geometry: SarGeometry, grid: GeolocationGrid, at: np.ndarray) -> str:
    line, pixel = geometry.ground_to_radar(grid.longitude[at], grid.latitude[at], grid.height[at])
    dl, dp = line - grid.line[at], pixel - grid.pixel[at]
    rms = np.sqrt(np.mean(dl**2)), np.sqrt(np.mean(dp**2))
    return f"{np.abs(dl).max():7.4f} {rms[0]:7.4f} {np.abs(dp).max():7.4f} {rms[1]:7.4f}"


def accuracy(annotations: dict[str, Annotation]) -> None:
    print("\nground_to_radar(grid lat, lon, height) - grid (line, pixel), pixels:")
    print(f"{'product':8s} {'model':12s} {'line max':>8s} {'rms':>7s} {'pix max':>7s} {'rms':>7s}")
    for key, ann in annotations.items():
        grid = ann.geolocation_grid
        every = np.ones(len(grid.line), dtype=bool)
        cols = np.searchsorted(np.unique(grid.pixel), grid.pixel)
        rows = np.searchsorted(np.unique(grid.line), grid.line)
        held_cols = (cols % 2 == 1) & (cols != cols.max())
        held_rows = (rows % 2 == 1) & (rows < rows.max() - 1)
        cases = [
            ("calibrated", SarGeometry(ann), every),
            ("annotation", SarGeometry(ann, calibrate=False), every),
            ("held cols", SarGeometry(subset(ann, ~held_cols)), held_cols),
            ("held lines", SarGeometry(subset(ann, ~held_rows)), held_rows),
        ]
        for name, geometry, at in cases:
            print(f"{key:8s} {name:12s} {errors(geometry, grid, at)}")
        geometry = cases[0][1]
        lon, lat = geometry.radar_to_ground(grid.line, grid.pixel, grid.height)
        c0, c1 = geometry.azimuth_offset
        print(
            f"{key:8s} radar_to_ground(grid) - grid: lon {np.abs(lon - grid.longitude).max():.1e} "
            f"lat {np.abs(lat - grid.latitude).max():.1e} deg; "
            f"azimuth offset c0={c0 * 1e3:+.4f} ms c1={c1:.5f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--product", default="5371", help="unique id of the timed product")
    args = parser.parse_args()
    if not GRD_DIR.is_dir():
        print(f"shared test data not available ({GRD_DIR}): nothing to benchmark")
        return 0
    annotations = load(GRD_DIR)
    throughput(annotations[args.product], args.points)
    accuracy(annotations)
    return 0


if __name__ == "__main__":
    sys.exit(main())
