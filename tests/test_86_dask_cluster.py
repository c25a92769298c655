"""The time series and timescan chain on a distributed cluster gives the local result."""

from __future__ import annotations

import pathlib
import shutil

import numpy as np
import pytest
import rasterio
from _ard_like import register_ard_like  # noqa: I001 - test helper next to this file

from s1stac import pipeline
from s1stac.catalog import StaticCatalog
from s1stac.simulate import simulate

distributed = pytest.importorskip("distributed")


def _layers(root: pathlib.Path, collection: str) -> dict[str, np.ndarray]:
    out = {}
    for item in StaticCatalog(root).items(collection):
        for key, asset in item.assets.items():
            if "data" in (asset.roles or []):
                with rasterio.open(asset.get_absolute_href()) as src:
                    out[f"{item.id}/{key}"] = src.read(1)
    return out


def test_chain_on_local_cluster_equals_local_threads(tmp_path: pathlib.Path) -> None:
    sim = tmp_path / "sim"
    simulate(sim, dates=3, size=(200, 200), seed=5)
    base = tmp_path / "ard"
    register_ard_like(StaticCatalog(base), sorted(sim.glob("S1*.SAFE")), sim / "truth", seed=2)
    local, remote = tmp_path / "local", tmp_path / "remote"
    shutil.copytree(base, local)
    shutil.copytree(base, remote)

    pipeline.timeseries(local, scheduler="threads")
    pipeline.timescan_products(local, scheduler="threads")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
    ) as cluster:
        address = cluster.scheduler_address
        pipeline.timeseries(remote, scheduler=address)
        pipeline.timescan_products(remote, scheduler=address)

    for collection in ("s1-timeseries", "s1-timescan"):
        expected, got = _layers(local, collection), _layers(remote, collection)
        assert sorted(got) == sorted(expected) and len(got) >= 8
        for key, values in expected.items():
            np.testing.assert_array_equal(got[key], values, err_msg=key)
