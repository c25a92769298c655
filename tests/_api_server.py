"""Helpers of the API tests: a catalog with real COGs, a real server process on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import pystac
import rasterio
import rasterio.warp
import requests
from _ard_like import utm_ard_item
from affine import Affine

from s1stac.api import add_user
from s1stac.catalog import StaticCatalog

BASE = Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 4600000.0)
"""Grid of the first item (EPSG:32633, 10 m)."""
SHAPE = (30, 40)
OFFSETS = ((0, 0), (0, 0), (4, 0), (0, 2))
"""(column, row) of each item on the common grid."""
UNION = (32, 44)
BANDS = ("vv", "vh")
DATES = (
    dt.datetime(2021, 3, 1, 5, 11, 22, tzinfo=dt.UTC),
    dt.datetime(2021, 3, 13, 5, 11, 22, tzinfo=dt.UTC),
    dt.datetime(2021, 3, 25, 5, 11, 22, tzinfo=dt.UTC),
    dt.datetime(2021, 4, 6, 5, 11, 22, tzinfo=dt.UTC),
)
USERS = {"alice": "alice-password", "bob": "bob-password"}


@dataclass
class Stack:
    root: pathlib.Path
    reference: dict[str, np.ndarray]
    """Band -> (t, *UNION) float64 values on the union grid, NaN where no data."""
    bboxes: list[list[float]]
    """Lon/lat bbox of each item."""


def make_stack(root: pathlib.Path, *, items: int = 4, seed: int = 95) -> Stack:
    """``items`` s1-ard items with two float32 COG bands each, on one 10 m UTM grid."""
    rng = np.random.default_rng(seed)
    catalog = StaticCatalog(root)
    reference = {band: np.full((items, *UNION), np.nan) for band in BANDS}
    stac_items, bboxes = [], []
    for index in range(items):
        col, row = OFFSETS[index % len(OFFSETS)]
        item_id = f"ard-{index}"
        folder = root / "s1-ard" / item_id
        folder.mkdir(parents=True)
        transform = BASE * Affine.translation(col, row)
        assets = {}
        for band in BANDS:
            data = rng.gamma(2.0, 0.05, size=SHAPE).astype("float32")
            data[index % 5 : index % 5 + 3, 5:9] = np.nan
            path = folder / f"{item_id}_{band}.tif"
            with rasterio.open(
                path,
                "w",
                driver="COG",
                dtype="float32",
                count=1,
                nodata=float("nan"),
                height=SHAPE[0],
                width=SHAPE[1],
                crs="EPSG:32633",
                transform=transform,
            ) as dataset:
                dataset.write(data, 1)
                bounds = dataset.bounds
            reference[band][index, row : row + SHAPE[0], col : col + SHAPE[1]] = data
            assets[band] = pystac.Asset(
                str(path),
                title=f"{band.upper()} backscatter",
                media_type=pystac.MediaType.COG,
                roles=["data"],
                extra_fields={
                    "data_type": "float32",
                    "nodata": "nan",
                    "file:size": path.stat().st_size,
                },
            )
        when = DATES[index % len(DATES)] + dt.timedelta(days=36 * (index // len(DATES)))
        item = utm_ard_item(item_id, bounds, transform, SHAPE, when, assets)
        bboxes.append(item.bbox)
        stac_items.append(item)
    catalog.add_items("s1-ard", stac_items)
    for name, password in USERS.items():
        add_user(root, name, password)
    return Stack(root, reference, bboxes)


def nan_mean(values: np.ndarray) -> np.ndarray:
    """Mean over axis 0 ignoring NaN (NaN where every value is NaN), without warnings."""
    valid = ~np.isnan(values)
    count = valid.sum(axis=0)
    total = np.where(valid, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


class ServerProcess:
    """``s1stac.api.serve`` in a child process on 127.0.0.1 (a real socket)."""

    def __init__(self, catalog: pathlib.Path, *, port: int | None = None, **options: object):
        self.catalog = catalog
        self.port = port or free_port()
        self.options = options
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = catalog.parent / f"server-{self.port}.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        code = (
            "import sys, json; from s1stac.api import serve; "
            "serve(sys.argv[1], host='127.0.0.1', port=int(sys.argv[2]), access_log=False, "
            "**json.loads(sys.argv[3]))"
        )
        import json

        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    code,
                    str(self.catalog),
                    str(self.port),
                    json.dumps(self.options),
                ],
                stdout=log,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-3000:]}")
            try:
                if requests.get(f"{self.url}/.well-known/openeo", timeout=1).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
