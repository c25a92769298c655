"""Loading stacks for temporal computations: values, decoding and blocks holding every date.

The reference is rasterio reading each written file; the structure checked is the one that
keeps the memory of a timescan or multi-temporal filter bounded by its blocks (whole-stack
runs are measured by ``benchmarks/bench_timescan_ooc.py``).
"""

from __future__ import annotations

import datetime as dt
import pathlib

import dask
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from odc.geo.geobox import GeoBox
from odc.geo.xr import xr_coords

from s1stac.catalog import StaticCatalog
from s1stac.openeo import run_graph
from s1stac.products import Layer, grid_properties, load_series, stack_chunk, write_product
from s1stac.timescan import timescan
from s1stac.timeseries import scale_to_int

N_DATES = 7
SHAPE = (700, 900)
START = dt.datetime(2021, 3, 1, 5, 50, tzinfo=dt.UTC)


def _grid() -> GeoBox:
    return GeoBox(SHAPE, Affine(20.0, 0, 600000.0, 0, -20.0, 5100000.0), "EPSG:32632")


def _series(store: StaticCatalog, dtype: str) -> tuple[str, np.ndarray]:
    """Register a series of ``N_DATES`` dB images (NaN holes), returns (item id, values)."""
    rng = np.random.default_rng(3)
    values = (rng.standard_normal((N_DATES, *SHAPE)) * 3 - 12).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    geobox = _grid()
    times = [START + dt.timedelta(days=6 * k) for k in range(N_DATES)]
    layers = []
    for k, moment in enumerate(times):
        data = xr.DataArray(
            values[k], dims=("y", "x"), coords=xr_coords(geobox), attrs={"units": "dB"}
        )
        if dtype != "float32":
            data = scale_to_int(data, dtype)
        iso = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        layers.append(
            Layer(f"vv_{k}", f"{k:02d}.bs.VV.tif", data.rename(f"VV {k}"), iso, {"datetime": iso})
        )
    item_id = f"series_{dtype}"
    write_product(
        store,
        "s1-timeseries",
        item_id,
        layers=layers,
        time_range=(times[0], times[-1]),
        properties={
            "sat:relative_orbit": 1,
            "sar:polarizations": ["VV"],
            **grid_properties(geobox, times=[np.datetime64(t.replace(tzinfo=None)) for t in times]),
        },
    )
    return item_id, values


def _read(path: pathlib.Path) -> np.ndarray:
    """Independent decoding: rasterio's masked read, scale and offset of the band."""
    with rasterio.open(path) as src:
        raw = src.read(1, masked=True)
        decoded = raw.astype(np.float64) * src.scales[0] + src.offsets[0]
    return np.ma.filled(decoded, np.nan)


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
def test_load_series_equals_the_files_and_blocks_hold_every_date(
    tmp_path: pathlib.Path, dtype: str
) -> None:
    store = StaticCatalog(tmp_path / "catalog")
    item_id, values = _series(store, dtype)
    item = store.get_item("s1-timeseries", item_id)
    keys = [f"vv_{k}" for k in range(N_DATES)]
    cube = load_series(item, keys, chunk=512)
    assert cube.dims == ("t", "y", "x")
    assert cube.data.chunks == ((N_DATES,), (512, 188), (512, 388))
    folder = store.item_path("s1-timeseries", item_id).parent
    expected = np.stack([_read(folder / f"{k:02d}.bs.VV.tif") for k in range(N_DATES)])
    got = cube.values
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-5)
    if dtype == "float32":
        np.testing.assert_array_equal(got, values)  # lossless
    else:
        assert np.nanmax(np.abs(got - values)) <= 35 / 65534 / 2 + 1e-5  # half a uint16 step
    stamps = [np.datetime64((START + dt.timedelta(days=6 * k)).replace(tzinfo=None), "ns")
              for k in range(N_DATES)]  # fmt: skip
    np.testing.assert_array_equal(cube["t"].values, np.array(stamps))
    assert cube.attrs["units"] == "dB"


def test_timescan_of_a_loaded_stack_reads_each_block_once_without_rechunking(
    tmp_path: pathlib.Path,
) -> None:
    store = StaticCatalog(tmp_path / "catalog")
    item_id, _ = _series(store, "float32")
    item = store.get_item("s1-timeseries", item_id)
    cube = load_series(item, [f"vv_{k}" for k in range(N_DATES)], chunk=512)
    result = timescan(cube, ["avg", "median"], to_power=True, remove_outliers=False)
    graph = dict(result.data.__dask_graph__())
    names = {(k[0] if isinstance(k, tuple) else k).rsplit("-", 1)[0] for k in graph}
    assert not any(name.startswith("rechunk") for name in names), sorted(names)
    with dask.config.set(scheduler="synchronous"):
        np.testing.assert_allclose(
            result.values, timescan(cube.compute(), ["avg", "median"], remove_outliers=False)
        )


def test_stack_chunk_bounds_blocks_and_follows_cog_tiles() -> None:
    for n_dates in (1, 5, 60, 200, 5000):
        side = stack_chunk(n_dates)
        assert side % 512 == 0 and 512 <= side <= 2048
        if side > 512:  # the floor of 512 pixels wins for very long series
            assert n_dates * side * side * 4 <= 256 * 2**20
    assert stack_chunk(60) == 1024 and stack_chunk(1) == 2048


def test_openeo_load_collection_gives_blocks_with_every_date(tmp_path: pathlib.Path) -> None:
    store = StaticCatalog(tmp_path / "catalog")
    item_id, values = _series(store, "float32")
    series = store.get_item("s1-timeseries", item_id)
    folder = store.item_path("s1-timeseries", item_id).parent
    for k in range(N_DATES):  # the same dates as items of one asset each
        moment = START + dt.timedelta(days=6 * k)
        layer = xr.DataArray(values[k], dims=("y", "x"), coords=xr_coords(_grid())).rename("VV")
        write_product(
            store,
            "s1-timescan",
            f"date_{k}",
            layers=[Layer("vv", "vv.tif", layer, "VV")],
            time_range=(moment, moment),
            properties={k: v for k, v in series.properties.items() if k.startswith("proj:")},
        )
    assert (folder / "00.bs.VV.tif").exists()
    graph = {
        "load": {
            "process_id": "load_collection",
            "arguments": {"id": "s1-timescan", "spatial_extent": None, "temporal_extent": None},
            "result": True,
        }
    }
    cube = run_graph({"process_graph": graph}, catalog=store.root).value
    assert cube.sizes["t"] == N_DATES
    assert len(cube.chunksizes["t"]) == 1
    got = cube.transpose("t", "bands", "y", "x").values[:, 0]
    assert np.array_equal(np.isnan(got), np.isnan(values))
    np.testing.assert_array_equal(got[np.isfinite(got)], values[np.isfinite(values)])
