"""openEO layer: process registry and specs, graph validation, lazy evaluation, save_result."""

from __future__ import annotations

import datetime as dt
import inspect
import json
import math
import pathlib
import re
import socket
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pystac
import pytest
import rasterio
import rasterio.warp
import shapely
import shapely.geometry
import xarray as xr
from _ard_like import utm_ard_item
from affine import Affine

from s1stac.catalog import COLLECTIONS, StaticCatalog
from s1stac.openeo import (
    PROCESSES,
    list_processes,
    load_process,
    parse_parameter,
    run_graph,
    validate_graph,
)
from s1stac.openeo.errors import OpenEOError
from s1stac.stac_items import extension_urls
from s1stac.validation import validate_dict

REPO = pathlib.Path(__file__).resolve().parents[1]
GRAPHS = REPO / "process_graphs"
SPECS = REPO / "s1stac" / "openeo" / "specs"
UTC = dt.UTC

BASE = Affine(10.0, 0.0, 400000.0, 0.0, -10.0, 4600000.0)
SHAPE = (30, 40)
DAYS = (1, 13, 25, 6)  # the fourth acquisition is in April
OFFSETS = ((0, 0), (0, 0), (4, 0), (0, 2))  # (column, row) of each item on the common grid
UNION = (32, 44)
BANDS = ("vv", "vh")


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refuse TCP connections.

    UDP ``connect`` sends nothing; distributed uses it to find the local IP address.
    """
    connect = socket.socket.connect

    def refuse(self: socket.socket, *args: object, **kwargs: object) -> None:
        if self.type != socket.SOCK_DGRAM:
            raise OSError("network access attempted in an offline test")
        connect(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", refuse)


@dataclass
class Stack:
    root: pathlib.Path
    item_files: list[pathlib.Path]
    times: list[np.datetime64]
    reference: dict[str, np.ndarray]
    """Band -> (t, 32, 44) float64 array on the union grid, NaN where no data."""


def _acquisition(index: int) -> dt.datetime:
    month = 4 if index == 3 else 3
    return dt.datetime(2021, month, DAYS[index], 5, 11, 22, tzinfo=UTC)


def make_stack(root: pathlib.Path) -> Stack:
    """Four s1-ard items of two COG bands each, on one 10 m UTM grid, with real pixels."""
    rng = np.random.default_rng(20210301)
    catalog = StaticCatalog(root)
    reference = {band: np.full((4, *UNION), np.nan) for band in BANDS}
    items = []
    for index, (col, row) in enumerate(OFFSETS):
        item_id = f"ard-{index}"
        folder = root / "s1-ard" / item_id
        folder.mkdir(parents=True)
        transform = BASE * Affine.translation(col, row)
        assets = {}
        for band in BANDS:
            data = rng.gamma(2.0, 0.05, size=SHAPE).astype("float32")
            data[index : index + 3, 5:9] = np.nan
            nodata = float("nan") if band == "vv" else -9999.0
            if band == "vh":
                data[np.isnan(data)] = -9999.0
                data[-1, -3:] = -9999.0
            path = folder / f"{item_id}_{band}.tif"
            profile = {"driver": "COG", "dtype": "float32", "count": 1, "nodata": nodata}
            with rasterio.open(
                path,
                "w",
                height=SHAPE[0],
                width=SHAPE[1],
                crs="EPSG:32633",
                transform=transform,
                **profile,
            ) as dataset:
                dataset.write(data, 1)
                bounds = dataset.bounds
            values = np.where(data == -9999.0, np.nan, data).astype(np.float64)
            reference[band][index, row : row + SHAPE[0], col : col + SHAPE[1]] = values
            assets[band] = pystac.Asset(
                str(path),
                media_type=pystac.MediaType.COG,
                roles=["data"],
                extra_fields={
                    "data_type": "float32",
                    "nodata": "nan" if band == "vv" else nodata,
                    "file:size": path.stat().st_size,
                },
            )
        item = utm_ard_item(item_id, bounds, transform, SHAPE, _acquisition(index), assets)
        items.append(item)
    files = catalog.add_items("s1-ard", items)
    times = [np.datetime64(_acquisition(i).replace(tzinfo=None), "ns") for i in range(4)]
    return Stack(root, files, times, reference)


@pytest.fixture()
def stack(tmp_path: pathlib.Path) -> Stack:
    return make_stack(tmp_path / "catalog")


def reducer(process_id: str, **arguments: Any) -> dict[str, Any]:
    return {
        "process_graph": {
            "r": {
                "process_id": process_id,
                "arguments": {"data": {"from_parameter": "data"}, **arguments},
                "result": True,
            }
        }
    }


def mean_graph(**load_arguments: Any) -> dict[str, Any]:
    load = {"id": "s1-ard", "spatial_extent": None, "temporal_extent": None}
    return {
        "process_graph": {
            "load": {"process_id": "load_collection", "arguments": load | load_arguments},
            "mean": {
                "process_id": "reduce_dimension",
                "arguments": {
                    "data": {"from_node": "load"},
                    "dimension": "t",
                    "reducer": reducer("mean"),
                },
            },
            "save": {
                "process_id": "save_result",
                "arguments": {
                    "data": {"from_node": "mean"},
                    "format": "GTiff",
                    "options": {"collection": "s1-timescan"},
                },
                "result": True,
            },
        }
    }


def nan_mean(values: np.ndarray) -> np.ndarray:
    valid = ~np.isnan(values)
    count = valid.sum(axis=0)
    total = np.where(valid, values, 0.0).sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def read_asset(item: dict[str, Any], key: str) -> tuple[np.ndarray, Any]:
    href = pathlib.Path(item["assets"][key]["href"])
    if not href.is_absolute():
        href = pathlib.Path(item["links"][0]["href"]).parent / href
    with rasterio.open(href) as dataset:
        return dataset.read(1), dataset


def item_file(stack: Stack, collection: str, item: dict[str, Any]) -> pathlib.Path:
    return StaticCatalog(stack.root, create=False).item_path(collection, item["id"])


def asset_path(stack: Stack, collection: str, item: dict[str, Any], key: str) -> pathlib.Path:
    return (item_file(stack, collection, item).parent / item["assets"][key]["href"]).resolve()


# ---------------------------------------------------------------------------------------------
# end to end: load_collection -> reduce_dimension(mean) -> save_result


def test_mean_over_time_matches_numpy(stack: Stack) -> None:
    result = run_graph(mean_graph(bands=["vv", "vh"]), catalog=stack.root)
    assert len(result.items) == 1 and result.value == result.items[0]
    item = result.items[0]
    assert item["collection"] == "s1-timescan"
    cat = StaticCatalog(stack.root, create=False)
    assert cat.item_ids("s1-timescan") == [item["id"]]
    for band in BANDS:
        path = asset_path(stack, "s1-timescan", item, band)
        with rasterio.open(path) as dataset:
            written = dataset.read(1)
            assert dataset.crs.to_epsg() == 32633
            assert dataset.transform == BASE
            assert (dataset.height, dataset.width) == UNION
            assert np.isnan(dataset.nodata)
            assert dataset.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            assert dataset.compression.name == "deflate"
        expected = nan_mean(stack.reference[band])
        np.testing.assert_array_equal(np.isnan(written), np.isnan(expected))
        np.testing.assert_allclose(written, expected, rtol=2e-7, equal_nan=True)
    # corners covered by no item are NaN, pixels masked as -9999 in one date are ignored
    assert np.isnan(written[31, 43]) and not np.isnan(written[29, 39])

    derived = {
        (item_file(stack, "s1-timescan", item).parent / link["href"]).resolve()
        for link in item["links"]
        if link["rel"] == "derived_from"
    }
    assert derived == {p.resolve() for p in stack.item_files}
    props = item["properties"]
    assert props["proj:code"] == "EPSG:32633" and props["proj:shape"] == list(UNION)
    assert props["start_datetime"] == "2021-03-01T05:11:22Z"
    assert props["end_datetime"] == "2021-04-06T05:11:22Z"
    assert props["sat:relative_orbit"] == 117 and props["platform"] == "sentinel-1b"
    assert props["cube:dimensions"]["bands"]["values"] == ["vv", "vh"]
    assert props["processing:expression"]["format"] == "openeo"

    # running the same graph again replaces the item (same id), nothing accumulates
    again = run_graph(mean_graph(bands=["vv", "vh"]), catalog=stack.root)
    assert again.items[0]["id"] == item["id"]
    assert cat.item_ids("s1-timescan") == [item["id"]]


def test_output_item_and_catalog_validate(stack: Stack, schemas_dir: pathlib.Path) -> None:
    item = run_graph(mean_graph(), catalog=stack.root).items[0]
    document = json.loads(item_file(stack, "s1-timescan", item).read_text())
    assert validate_dict(document, schemas_dir) == []
    assert set(document["stac_extensions"]) == set(extension_urls(document, "s1-timescan"))
    assert StaticCatalog(stack.root, create=False).validate(schemas_dir) > 10


# ---------------------------------------------------------------------------------------------
# bad input: openEO error code, message naming node and parameter, nothing written


def _graph(**changes: Any) -> dict[str, Any]:
    graph = mean_graph()
    for path, value in changes.items():
        target = graph["process_graph"]
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        if value is _DELETE:
            del target[keys[-1]]
        else:
            target[keys[-1]] = value
    return graph


_DELETE = object()

BAD_INPUTS: dict[str, tuple[Callable[[pathlib.Path], Any], str, list[str]]] = {
    "invalid JSON": (
        lambda d: _write(d, '{"process_graph": {"a": '),
        "ProcessGraphInvalid",
        ["line 1"],
    ),
    "not a graph": (lambda d: {"nodes": []}, "ProcessGraphMissing", []),
    "unknown process": (
        lambda d: _graph(mean__process_id="reduce_dimensions"),
        "ProcessUnsupported",
        ["'mean'", "reduce_dimension"],
    ),
    "unknown namespace": (
        lambda d: _graph(mean__namespace="vito"),
        "ProcessUnsupported",
        ["'mean'", "vito"],
    ),
    "missing argument": (
        lambda d: _graph(mean__arguments__dimension=_DELETE),
        "ProcessParameterRequired",
        ["'mean'", "'dimension'"],
    ),
    "unknown argument": (
        lambda d: _graph(mean__arguments__axis=0),
        "ProcessParameterUnsupported",
        ["'mean'", "'axis'"],
    ),
    "wrong type": (
        lambda d: _graph(mean__arguments__dimension=5),
        "ProcessParameterInvalid",
        ["'mean'", "'dimension'", "string"],
    ),
    "literal for a cube": (
        lambda d: _graph(mean__arguments__data=[1, 2]),
        "ProcessParameterInvalid",
        ["'mean'", "'data'", "from_node"],
    ),
    "wrong type in callback": (
        lambda d: _graph(mean__arguments__reducer=reducer("mean", ignore_nodata="yes")),
        "ProcessParameterInvalid",
        ["'mean/r'", "'ignore_nodata'"],
    ),
    "missing node": (
        lambda d: _graph(save__arguments__data={"from_node": "average"}),
        "ProcessGraphInvalid",
        ["'save'", "'data'", "average"],
    ),
    "cycle": (
        lambda d: _graph(load__arguments__spatial_extent={"from_node": "save"}),
        "ProcessGraphInvalid",
        ["cycle", "load -> mean -> save -> load"],
    ),
    "two result nodes": (
        lambda d: _graph(mean__result=True),
        "ProcessGraphInvalid",
        ["result"],
    ),
    "unknown callback parameter": (
        lambda d: _graph(
            mean__arguments__reducer={
                "process_graph": {
                    "r": {
                        "process_id": "mean",
                        "arguments": {"data": {"from_parameter": "x"}},
                        "result": True,
                    }
                }
            }
        ),
        "ProcessGraphInvalid",
        ["'mean/r'", "'x'"],
    ),
    "graph parameter without value": (
        lambda d: _graph(load__arguments__temporal_extent={"from_parameter": "period"}),
        "ProcessParameterRequired",
        ["'load'", "period", "--param"],
    ),
    "empty temporal extent": (
        lambda d: _graph(load__arguments__temporal_extent=["2021-03-25", "2021-03-01"]),
        "TemporalExtentEmpty",
        ["'load'", "'temporal_extent'"],
    ),
    "year-only temporal extent": (
        lambda d: _graph(load__arguments__temporal_extent=["2021", "2022"]),
        "ProcessParameterInvalid",
        ["'load'", "'temporal_extent'", "YYYY-MM-DD"],
    ),
    "empty spatial extent": (
        lambda d: _graph(
            load__arguments__spatial_extent={
                "west": 13.9,
                "east": 13.8,
                "south": 41.5,
                "north": 41.6,
            }
        ),
        "SpatialExtentEmpty",
        ["'load'", "'spatial_extent'"],
    ),
    "unknown collection": (
        lambda d: _graph(load__arguments__id="sentinel-2-l2a"),
        "CollectionNotFound",
        ["'load'", "'id'", "sentinel-2-l2a"],
    ),
    "no item in time": (
        lambda d: _graph(load__arguments__temporal_extent=["2020-01-01", "2020-02-01"]),
        "NoDataAvailable",
        ["'load'", "'temporal_extent'"],
    ),
    "no item in space": (
        lambda d: _graph(
            load__arguments__spatial_extent={"west": 2.0, "east": 2.1, "south": 48.0, "north": 48.1}
        ),
        "NoDataAvailable",
        ["'load'", "'spatial_extent'"],
    ),
    "unknown band": (
        lambda d: _graph(load__arguments__bands=["hh"]),
        "ProcessParameterInvalid",
        ["'load'", "'bands'", "hh"],
    ),
    "unknown dimension": (
        lambda d: _graph(mean__arguments__dimension="time"),
        "DimensionNotAvailable",
        ["'mean'", "'dimension'", "time"],
    ),
    "unknown format": (
        lambda d: _graph(save__arguments__format="PNG"),
        "ProcessParameterInvalid",
        ["'save'", "PNG"],
    ),
    "input collection as output": (
        lambda d: _graph(save__arguments__options={"collection": "sentinel-1-grd"}),
        "ProcessParameterInvalid",
        ["'save'", "'options'"],
    ),
    "dimension a GeoTIFF cannot hold": (
        lambda d: _graph(
            save__arguments__data={"from_node": "extra"},
            extra={
                "process_id": "add_dimension",
                "arguments": {"data": {"from_node": "mean"}, "name": "orbit", "label": 117},
            },
        ),
        "FormatUnsuitable",
        ["'save'", "orbit"],
    ),
}


def _write(folder: pathlib.Path, text: str) -> pathlib.Path:
    path = folder / "graph.json"
    path.write_text(text)
    return path


def _snapshot(root: pathlib.Path) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_gives_openeo_error_and_writes_nothing(
    case: str, stack: Stack, tmp_path: pathlib.Path
) -> None:
    make, code, fragments = BAD_INPUTS[case]
    before = _snapshot(stack.root)
    with pytest.raises(OpenEOError) as raised:
        run_graph(make(tmp_path), catalog=stack.root)
    error = raised.value
    assert error.code == code, str(error)
    for fragment in fragments:
        assert fragment in error.message, (fragment, error.message)
    body = error.to_dict()
    assert body["code"] == code and body["message"] == error.message and body["id"]
    assert 400 <= error.status_code < 500
    assert _snapshot(stack.root) == before
    cat = StaticCatalog(stack.root, create=False)
    assert {cid: cat.item_ids(cid) for cid in COLLECTIONS if cid != "s1-ard"} == {
        cid: [] for cid in COLLECTIONS if cid != "s1-ard"
    }


def test_validation_errors_come_before_execution(stack: Stack) -> None:
    """An invalid node after a valid save_result: nothing is written."""
    graph = mean_graph()
    graph["process_graph"]["later"] = {"process_id": "filter_bands", "arguments": {"data": 3}}
    before = _snapshot(stack.root)
    with pytest.raises(OpenEOError, match="later"):
        run_graph(graph, catalog=stack.root)
    assert _snapshot(stack.root) == before
    with pytest.raises(OpenEOError, match="ProcessUnsupported"):
        validate_graph(_graph(mean__process_id="nope"), catalog=stack.root)


def test_missing_catalog_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(Exception, match="no STAC catalog"):
        run_graph(mean_graph(), catalog=tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


# ---------------------------------------------------------------------------------------------
# specifications and registry


def _official(openeo_dir: pathlib.Path, process_id: str) -> dict[str, Any] | None:
    for folder in ("processes", "proposals"):
        path = openeo_dir / folder / f"{process_id}.json"
        if path.is_file():
            return json.loads(path.read_text())
    return None


def test_specs_agree_with_official_openeo_specs(openeo_dir: pathlib.Path) -> None:
    compared = 0
    for path in sorted((SPECS / "openeo").glob("*.json")):
        ours = json.loads(path.read_text())
        official = _official(openeo_dir, ours["id"])
        if official is None:
            continue
        compared += 1
        mine = [
            (p["name"], p.get("optional", False), p.get("default", "-")) for p in ours["parameters"]
        ]
        theirs = [
            (p["name"], p.get("optional", False), p.get("default", "-"))
            for p in official["parameters"]
        ]
        assert mine == theirs, ours["id"]
        assert ours["id"] == path.stem == official["id"]
    assert compared >= 50


def test_every_registered_process_has_a_spec_and_matching_signature() -> None:
    for process_id, entry in PROCESSES.items():
        spec = entry.spec
        assert spec["id"] == process_id
        assert spec["description"] and spec["summary"] and "schema" in spec["returns"]
        assert (SPECS / entry.namespace / f"{process_id}.json").is_file()
        signature = inspect.signature(entry.implementation)
        names = [n for n, p in signature.parameters.items() if p.kind is not p.KEYWORD_ONLY]
        assert names == [p["name"] for p in spec["parameters"]], process_id
        assert (
            "context" in signature.parameters
            and signature.parameters["context"].kind is inspect.Parameter.KEYWORD_ONLY
        ) == entry.needs_context
        for parameter in spec["parameters"]:
            default = signature.parameters[parameter["name"]].default
            if "default" in parameter:
                value = list(default) if isinstance(default, tuple) else default
                assert value == parameter["default"], (process_id, parameter["name"])
            elif not parameter.get("optional"):
                assert default is inspect.Parameter.empty, (process_id, parameter["name"])
    spec_files = {p.stem for p in SPECS.glob("*/*.json")}
    assert spec_files == set(PROCESSES)


def test_list_processes() -> None:
    processes = list_processes()
    ids = [p["id"] for p in processes]
    assert ids == sorted(ids) and {"load_collection", "save_result", "timescan"} <= set(ids)
    timescan = next(p for p in processes if p["id"] == "timescan")
    assert timescan["namespace"] == "s1stac"
    processes[0]["id"] = "changed"
    assert list_processes()[0]["id"] != "changed"


def _process_ids(value: Any) -> set[str]:
    if isinstance(value, dict):
        ids = {value["process_id"]} if isinstance(value.get("process_id"), str) else set()
        return ids.union(*(_process_ids(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_process_ids(v) for v in value))
    return set()


def test_every_process_graph_file_loads_and_uses_registered_ids(tmp_path: pathlib.Path) -> None:
    files = sorted(GRAPHS.glob("*.json"))
    assert {"timescan.json", "statistics.json", "timeseries.json"} <= {f.name for f in files}
    StaticCatalog(tmp_path)
    for path in files:
        process = load_process(path)
        ids = _process_ids(process["process_graph"])
        assert ids and ids <= set(PROCESSES), (path.name, ids - set(PROCESSES))
        required = {  # the graphs' required parameters are relative orbits (integers)
            p["name"]: 117
            for p in process.get("parameters", [])
            if "default" not in p and not p.get("optional")
        }
        assert all(
            p["schema"]["type"] == "integer"
            for p in process.get("parameters", [])
            if p["name"] in required
        )
        validate_graph(path, catalog=tmp_path, parameters=required)


def test_parse_parameter() -> None:
    assert parse_parameter('bands=["vv"]') == ("bands", ["vv"])
    assert parse_parameter("start=2021-03-01") == ("start", "2021-03-01")
    assert parse_parameter("x = 3") == ("x", 3)
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_parameter("novalue")


# ---------------------------------------------------------------------------------------------
# the shipped process graphs on the stack


def test_timescan_graph(stack: Stack) -> None:
    result = run_graph(
        GRAPHS / "timescan.json",
        catalog=stack.root,
        parameters={"metrics": ["avg", "std", "max"], "temporal_extent": ["2021-03-01", None]},
    )
    item = result.items[0]
    assert item["collection"] == "s1-timescan"
    assert sorted(item["assets"]) == sorted(
        f"{b}_{m}" for b in BANDS for m in ("avg", "std", "max")
    )
    linear = stack.reference["vv"]
    valid = ~np.isnan(linear)
    count = valid.sum(axis=0)
    mean = nan_mean(linear)
    deviation = np.where(valid, linear - mean, 0.0)
    std = np.where(count > 0, np.sqrt((deviation**2).sum(axis=0) / np.maximum(count, 1)), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {
            "avg": 10 * np.log10(mean),
            "std": std,
            "max": 10 * np.log10(np.nanmax(linear, axis=0)),
        }
    for metric, reference in expected.items():
        with rasterio.open(asset_path(stack, "s1-timescan", item, f"vv_{metric}")) as dataset:
            written = dataset.read(1).astype(np.float64)
        np.testing.assert_array_equal(np.isnan(written), np.isnan(reference))
        np.testing.assert_allclose(written, reference, rtol=1e-5, atol=1e-6, equal_nan=True)
    derived = [link for link in item["links"] if link["rel"] == "derived_from"]
    assert len(derived) == 4


def test_statistics_graph(stack: Stack) -> None:
    item = run_graph(
        GRAPHS / "statistics.json",
        catalog=stack.root,
        parameters={"temporal_extent": ["2021-03-01", "2021-04-01"]},
    ).items[0]
    assert list(item["assets"]) == [f"{b}_{s}" for s in ("mean", "sd", "min", "max") for b in BANDS]
    vh = stack.reference["vh"][:3, :30]  # the April item (two rows lower) is not loaded
    valid = ~np.isnan(vh)
    count = valid.sum(axis=0)
    mean = nan_mean(vh)
    squares = np.where(valid, (vh - mean) ** 2, 0.0).sum(axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {
            "vh_sd": np.where(count > 1, np.sqrt(squares / np.maximum(count - 1, 1)), np.nan),
            "vh_min": np.nanmin(vh, axis=0),
            "vh_max": np.nanmax(vh, axis=0),
            "vh_mean": mean,
        }
    for key, reference in expected.items():
        with rasterio.open(asset_path(stack, "s1-timescan", item, key)) as dataset:
            written = dataset.read(1)
        np.testing.assert_allclose(written, reference, rtol=1e-5, equal_nan=True, err_msg=key)
    derived = [link for link in item["links"] if link["rel"] == "derived_from"]
    assert len(derived) == 3


def test_timeseries_graph_writes_netcdf(stack: Stack) -> None:
    # bbox in the cube's CRS on pixel edges: columns 10..30, rows 5..25 of the union grid
    west, north = BASE * (10, 5)
    east, south = BASE * (30, 25)
    extent = {"west": west, "east": east, "south": south, "north": north, "crs": 32633}
    item = run_graph(
        GRAPHS / "timeseries.json",
        catalog=stack.root,
        parameters={"spatial_extent": extent, "temporal_extent": ["2021-03-02", "2021-05-01"]},
    ).items[0]
    assert item["collection"] == "s1-timeseries"
    assert item["properties"]["cube:dimensions"]["t"]["values"] == [
        "2021-03-13T05:11:22Z",
        "2021-03-25T05:11:22Z",
        "2021-04-06T05:11:22Z",
    ]
    with xr.open_dataset(asset_path(stack, "s1-timeseries", item, "data"), engine="scipy") as ds:
        assert list(ds.data_vars) == ["vv", "vh"]
        assert ds.vv.dims == ("t", "y", "x") and ds.vv.shape == (3, 20, 20)
        np.testing.assert_array_equal(ds.t.values, stack.times[1:])
        assert float(ds.x[0]) == west + 5 and float(ds.y[0]) == north - 5
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            expected = 10 * np.log10(stack.reference["vh"][1:, 5:25, 10:30])
        np.testing.assert_allclose(ds.vh.values, expected, rtol=1e-5, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# processes and callbacks evaluated lazily (result node without save_result)


def lazy(stack: Stack, nodes: dict[str, Any], **load_arguments: Any) -> xr.DataArray:
    load = {"id": "s1-ard", "spatial_extent": None, "temporal_extent": None} | load_arguments
    graph = {"load": {"process_id": "load_collection", "arguments": load}} | nodes
    value = run_graph({"process_graph": graph}, catalog=stack.root).value
    assert isinstance(value, xr.DataArray) and value.chunks is not None
    return value


def test_reduce_bands_ratio_with_labels(stack: Stack) -> None:
    ratio = {
        "process_graph": {
            "vv": {
                "process_id": "array_element",
                "arguments": {"data": {"from_parameter": "data"}, "label": "vv"},
            },
            "vh": {
                "process_id": "array_element",
                "arguments": {"data": {"from_parameter": "data"}, "index": 1},
            },
            "q": {
                "process_id": "divide",
                "arguments": {"x": {"from_node": "vv"}, "y": {"from_node": "vh"}},
                "result": True,
            },
        }
    }
    node = {
        "process_id": "reduce_dimension",
        "arguments": {"data": {"from_node": "load"}, "dimension": "bands", "reducer": ratio},
        "result": True,
    }
    value = lazy(stack, {"ratio": node})
    assert value.dims == ("t", "y", "x")
    expected = stack.reference["vv"] / stack.reference["vh"]
    np.testing.assert_allclose(value.values, expected, rtol=1e-6, equal_nan=True)


def test_quantile_count_and_apply(stack: Stack) -> None:
    p75 = {
        "process_graph": {
            "q": {
                "process_id": "quantiles",
                "arguments": {"data": {"from_parameter": "data"}, "probabilities": [0.25, 0.75]},
            },
            "e": {
                "process_id": "array_element",
                "arguments": {"data": {"from_node": "q"}, "index": 1},
                "result": True,
            },
        }
    }
    scale = {
        "process_graph": {
            "s": {
                "process_id": "linear_scale_range",
                "arguments": {
                    "x": {"from_parameter": "x"},
                    "inputMin": 0,
                    "inputMax": 0.2,
                    "outputMax": 255,
                },
                "result": True,
            }
        }
    }
    nodes = {
        "scaled": {
            "process_id": "apply",
            "arguments": {"data": {"from_node": "load"}, "process": scale},
        },
        "p75": {
            "process_id": "reduce_dimension",
            "arguments": {"data": {"from_node": "scaled"}, "dimension": "t", "reducer": p75},
            "result": True,
        },
    }
    value = lazy(stack, nodes, bands=["vv"])
    scaled = np.clip(stack.reference["vv"], 0, 0.2) / 0.2 * 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanquantile(scaled, 0.75, axis=0)
    np.testing.assert_allclose(value.sel(bands="vv").values, expected, rtol=1e-5, equal_nan=True)

    count = {
        "process_id": "reduce_dimension",
        "arguments": {"data": {"from_node": "load"}, "dimension": "t", "reducer": reducer("count")},
        "result": True,
    }
    counted = lazy(stack, {"count": count}, temporal_extent=["2021-03-01", "2021-04-01"])
    np.testing.assert_array_equal(
        counted.sel(bands="vh").values, (~np.isnan(stack.reference["vh"][:3, :30])).sum(axis=0)
    )


def test_filters_and_merge(stack: Stack) -> None:
    nodes = {
        "march": {
            "process_id": "filter_temporal",
            "arguments": {"data": {"from_node": "load"}, "extent": ["2021-03-13", "2021-04-06"]},
        },
        "box": {
            "process_id": "filter_bbox",
            "arguments": {
                "data": {"from_node": "march"},
                "extent": {
                    "west": 400055.0,
                    "east": 400101.0,
                    "south": 4599801.0,
                    "north": 4599900.0,
                    "crs": 32633,
                },
            },
        },
        "vh": {
            "process_id": "filter_bands",
            "arguments": {"data": {"from_node": "box"}, "bands": ["vh"]},
        },
        "merged": {
            "process_id": "merge_cubes",
            "arguments": {
                "cube1": {"from_node": "box"},
                "cube2": {"from_node": "vh"},
                "overlap_resolver": {
                    "process_graph": {
                        "m": {
                            "process_id": "add",
                            "arguments": {
                                "x": {"from_parameter": "x"},
                                "y": {"from_parameter": "y"},
                            },
                            "result": True,
                        }
                    }
                },
            },
            "result": True,
        },
    }
    value = lazy(stack, nodes)
    # pixels intersecting x in (400055, 400101): columns 5..10,
    # y in (4599801, 4599900): rows 10..19
    assert value.sizes == {"t": 2, "bands": 2, "y": 10, "x": 6}
    np.testing.assert_array_equal(value.t.values, stack.times[1:3])
    window = (slice(1, 3), slice(10, 20), slice(5, 11))
    np.testing.assert_allclose(
        value.sel(bands="vv").values, stack.reference["vv"][window], equal_nan=True
    )
    np.testing.assert_allclose(
        value.sel(bands="vh").values, 2 * stack.reference["vh"][window], rtol=1e-6, equal_nan=True
    )
    nodes["merged"]["arguments"].pop("overlap_resolver")
    with pytest.raises(OpenEOError, match="OverlapResolverMissing"):
        lazy(stack, nodes)


def test_load_stac_equals_load_collection(stack: Stack) -> None:
    collection = stack.root / "s1-ard" / "collection.json"
    node = {
        "process_id": "load_stac",
        "arguments": {"url": str(collection), "bands": ["vv"]},
        "result": True,
    }
    graph = {"process_graph": {"stac": node}}
    value = run_graph(graph, catalog=stack.root).value
    np.testing.assert_array_equal(
        value.sel(bands="vv").values, stack.reference["vv"].astype("float32")
    )
    bad = {"process_graph": {"stac": node | {"arguments": {"url": str(stack.root / "none.json")}}}}
    with pytest.raises(OpenEOError, match="ProcessParameterInvalid.*url"):
        run_graph(bad, catalog=stack.root)


def test_save_cube_with_time_as_cogs(stack: Stack) -> None:
    graph = {
        "process_graph": {
            "load": {
                "process_id": "load_collection",
                "arguments": {
                    "id": "s1-ard",
                    "spatial_extent": None,
                    "temporal_extent": ["2021-03-20", None],
                    "bands": ["vh"],
                },
            },
            "save": {
                "process_id": "save_result",
                "arguments": {
                    "data": {"from_node": "load"},
                    "format": "gtiff",
                    "options": {"item_id": "stack-vh"},
                },
                "result": True,
            },
        }
    }
    item = run_graph(graph, catalog=stack.root).items[0]
    assert item["id"] == "stack-vh" and item["collection"] == "s1-timeseries"
    assert sorted(item["assets"]) == ["vh_20210325T051122", "vh_20210406T051122"]
    with rasterio.open(asset_path(stack, "s1-timeseries", item, "vh_20210406T051122")) as dataset:
        np.testing.assert_array_equal(dataset.read(1), stack.reference["vh"][3].astype("float32"))
    assert len([link for link in item["links"] if link["rel"] == "derived_from"]) == 2


def test_ost_integer_codes(stack: Stack) -> None:
    graph = {
        "process_graph": {
            "load": {
                "process_id": "load_collection",
                "arguments": {
                    "id": "s1-ard",
                    "spatial_extent": None,
                    "temporal_extent": None,
                    "bands": ["vv"],
                },
            },
            "db": {
                "process_id": "to_db",
                "namespace": "s1stac",
                "arguments": {"data": {"from_node": "load"}},
            },
            "mean": {
                "process_id": "reduce_dimension",
                "arguments": {
                    "data": {"from_node": "db"},
                    "dimension": "t",
                    "reducer": reducer("max"),
                },
            },
            "codes": {
                "process_id": "scale_to_int",
                "arguments": {"data": {"from_node": "mean"}, "dtype": "uint16"},
            },
            "save": {
                "process_id": "save_result",
                "arguments": {
                    "data": {"from_node": "codes"},
                    "format": "GTiff",
                    "options": {"item_id": "codes"},
                },
                "result": True,
            },
        }
    }
    item = run_graph(graph, catalog=stack.root).items[0]
    asset = item["assets"]["vv"]
    step = 35.0 / 65534
    assert asset["data_type"] == "uint16" and asset["nodata"] == 0
    assert asset["raster:scale"] == pytest.approx(step) and asset["raster:offset"] == -30.0 - step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        db = 10 * np.log10(np.nanmax(stack.reference["vv"], axis=0))
    expected = np.where(np.isnan(db), 0, np.round((np.clip(db, -30, 5) + 30) / step) + 1)
    with rasterio.open(asset_path(stack, "s1-timescan", item, "vv")) as dataset:
        codes = dataset.read(1)
        assert dataset.nodata == 0 and dataset.scales[0] == pytest.approx(step)
    assert np.abs(codes.astype(np.int64) - expected).max() <= 1  # float32 dB at half-steps
    assert (codes == expected).mean() > 0.99


def _boxcar(values: np.ndarray) -> np.ndarray:
    """NaN-aware 3x3 mean, windows clipped at the image edges."""
    import scipy.ndimage

    valid = ~np.isnan(values)
    kernel = np.ones((3, 3))
    total = scipy.ndimage.correlate(np.where(valid, values, 0.0), kernel, mode="constant")
    count = scipy.ndimage.correlate(valid.astype(float), kernel, mode="constant")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / count, np.nan)


def test_multitemporal_speckle_filter_process(stack: Stack) -> None:
    node = {
        "process_id": "multitemporal_speckle_filter",
        "namespace": "s1stac",
        "arguments": {"data": {"from_node": "load"}, "window": 3},
        "result": True,
    }
    value = lazy(stack, {"mtsf": node})
    assert value.dims == ("t", "bands", "y", "x")
    for band in BANDS:
        intensity = stack.reference[band]
        filtered = np.stack([_boxcar(layer) for layer in intensity])
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = intensity / filtered
        usable = ~np.isnan(ratio) & (filtered != 0) & np.isfinite(ratio)
        count = usable.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_ratio = np.where(usable, ratio, 0.0).sum(axis=0) / count
        expected = np.where(np.isnan(intensity), np.nan, filtered * mean_ratio)
        np.testing.assert_allclose(
            value.sel(bands=band).values, expected, rtol=2e-5, equal_nan=True, err_msg=band
        )


def test_geojson_extent_masks_outside_polygon(stack: Stack) -> None:
    import pyproj

    to_lonlat = pyproj.Transformer.from_crs(32633, 4326, always_xy=True)
    corners = [BASE * (3, 3), BASE * (40, 6), BASE * (12, 28)]
    triangle = shapely.Polygon([to_lonlat.transform(x, y) for x, y in corners])
    extent = shapely.geometry.mapping(triangle)
    value = lazy(
        stack,
        {
            "r": {
                "process_id": "filter_bands",
                "arguments": {"data": {"from_node": "load"}, "bands": ["vv"]},
                "result": True,
            }
        },
        spatial_extent=extent,
    )
    masked = np.isnan(value.isel(t=0, bands=0).values)
    to_utm = pyproj.Transformer.from_crs(4326, 32633, always_xy=True)
    area = shapely.ops.transform(to_utm.transform, triangle)
    x0, y0 = value.x.values[0] - 5, value.y.values[0] + 5
    col0, row0 = round((x0 - BASE.c) / 10), round((BASE.f - y0) / 10)
    data = stack.reference["vv"][0]
    checked = 0
    for row in range(masked.shape[0]):
        for col in range(masked.shape[1]):
            x, y = x0 + 10 * col, y0 - 10 * row
            pixel = shapely.box(x, y - 10, x + 10, y)
            if np.isnan(data[row0 + row, col0 + col]):
                continue
            if area.contains(pixel.centroid):
                assert not masked[row, col]
                checked += 1
            elif not area.intersects(pixel):
                assert masked[row, col]
                checked += 1
    assert checked > 200


def test_distributed_scheduler(stack: Stack) -> None:
    distributed = pytest.importorskip("distributed")
    reference = run_graph(mean_graph(), catalog=stack.root, scheduler="synchronous").items[0]
    expected = rasterio.open(asset_path(stack, "s1-timescan", reference, "vh")).read(1)
    options = {"collection": "s1-mosaic", "item_id": "via-cluster"}
    graph = _graph(save__arguments__options=options)
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None
    ) as cluster:
        item = run_graph(graph, catalog=stack.root, scheduler=cluster.scheduler_address).items[0]
    assert item["collection"] == "s1-mosaic"
    with rasterio.open(asset_path(stack, "s1-mosaic", item, "vh")) as dataset:
        np.testing.assert_array_equal(dataset.read(1), expected)


def test_failed_registration_leaves_no_files(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    from s1stac.errors import CatalogError

    def refuse(self: StaticCatalog, collection_id: str, items: object, **kwargs: object) -> None:
        raise CatalogError("catalog is read-only")

    before = _snapshot(stack.root)
    monkeypatch.setattr(StaticCatalog, "add_items", refuse)
    with pytest.raises(CatalogError, match="read-only"):
        run_graph(mean_graph(), catalog=stack.root)
    assert _snapshot(stack.root) == before


def _equals(value: Any) -> dict[str, Any]:
    return {
        "process_graph": {
            "eq": {
                "process_id": "eq",
                "arguments": {"x": {"from_parameter": "value"}, "y": value},
                "result": True,
            }
        }
    }


def test_property_filters(stack: Stack) -> None:
    node = {
        "process_id": "filter_bands",
        "arguments": {"data": {"from_node": "load"}, "bands": ["vv"]},
        "result": True,
    }
    kept = lazy(stack, {"r": node}, properties={"sat:orbit_state": _equals("descending")})
    assert kept.sizes["t"] == 4
    with pytest.raises(OpenEOError, match="NoDataAvailable.*'properties'.*sat:relative_orbit"):
        lazy(stack, {"r": node}, properties={"sat:relative_orbit": _equals(12)})


# ---------------------------------------------------------------------------------------------
# the official openEO test cases (JSON5) of the scalar and array processes


def _json5(text: str) -> Any:
    """Parse the subset of JSON5 used by the openEO test files (comments, trailing commas)."""
    text = re.sub(r"^\s*//.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r",(\s*[\]}])", r"\1", text)
    return json.loads(text)


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("type") == "nodata":
            return None
        if value.get("type") in ("datetime", "labeled-array", "datacube") or "$ref" in value:
            raise _Unsupported
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


class _Unsupported(Exception):
    """A test case with data cubes, labeled arrays or dates (covered by the tests above)."""


def _same(actual: Any, expected: Any, delta: float) -> bool:
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(_same(a, e, delta) for a, e in zip(actual, expected, strict=True))
        )
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return actual is expected or actual == expected
    if isinstance(actual, bool) or not isinstance(actual, int | float):
        return False
    if math.isnan(expected) or math.isinf(expected):
        return math.isnan(actual) if math.isnan(expected) else actual == expected
    return abs(actual - expected) <= delta


UPSTREAM_ERRATA: dict[tuple[str, int], dict[str, Any]] = {
    # IEEE 754 (which the lte specification refers to) has inf <= inf; the same test suite
    # has eq(inf, inf) = true and gte(inf, inf) = true
    ("lte", 15): {"returns": True},
    # the callback lacks its {"process_graph": ...} wrapper and names the parameter "element"
    # where the count specification names it "x"
    ("count", 4): {
        "arguments": {
            "data": [0, 1, 2, 3, 4, 5, {"type": "nodata"}],
            "condition": {
                "process_graph": {
                    "gt": {
                        "process_id": "gt",
                        "arguments": {"x": {"from_parameter": "x"}, "y": 2},
                        "result": True,
                    }
                }
            },
        }
    },
    ("count", 5): {
        "arguments": {
            "data": [0, 1, 2, 3, 4, 5, {"type": "nodata"}],
            "condition": {
                "process_graph": {
                    "gt": {
                        "process_id": "gt",
                        "arguments": {
                            "x": {"from_parameter": "x"},
                            "y": {"from_parameter": "context"},
                        },
                        "result": True,
                    }
                }
            },
            "context": 2,
        }
    },
}

SCALAR_PROCESSES = sorted(
    pid
    for pid, entry in PROCESSES.items()
    if entry.namespace == "openeo"
    and not entry.needs_context
    and not any(
        p["schema"] == {"type": "object", "subtype": "datacube"} for p in entry.spec["parameters"]
    )
)


@pytest.mark.parametrize("process_id", SCALAR_PROCESSES)
def test_official_openeo_test_cases(
    process_id: str, openeo_dir: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    path = openeo_dir / "tests" / f"{process_id}.json5"
    if not path.is_file():
        pytest.skip(f"no official test cases for {process_id}")
    StaticCatalog(tmp_path)
    cases = _json5(path.read_text())["tests"]
    run = 0
    for number, case in enumerate(cases):
        if not set(case.get("required", [])) <= set(PROCESSES):
            continue
        if (process_id, number) in UPSTREAM_ERRATA:
            case = case | UPSTREAM_ERRATA[process_id, number]
        try:
            arguments = _decode(case["arguments"])
            expected = _decode(case.get("returns"))
        except _Unsupported:
            continue
        graph = {"p": {"process_id": process_id, "arguments": arguments, "result": True}}
        where = f"{process_id} case {number}: {case}"
        try:
            actual = run_graph({"process_graph": graph}, catalog=tmp_path).value
        except OpenEOError as error:
            assert "throws" in case, f"{where} raised {error}"
        else:
            if "returns" not in case:
                pytest.fail(f"{where} returned {actual!r} instead of raising")
            assert _same(actual, expected, case.get("delta", 1e-10)), f"{where} gave {actual!r}"
        run += 1
    assert run > 0


def test_apply_dimension_and_dimension_processes(stack: Stack) -> None:
    deciles = {
        "process_graph": {
            "q": {
                "process_id": "quantiles",
                "arguments": {"data": {"from_parameter": "data"}, "probabilities": [0.1, 0.9]},
                "result": True,
            }
        }
    }
    nodes = {
        "deciles": {
            "process_id": "apply_dimension",
            "arguments": {
                "data": {"from_node": "load"},
                "dimension": "t",
                "target_dimension": "q",
                "process": deciles,
            },
        },
        "renamed": {
            "process_id": "rename_dimension",
            "arguments": {"data": {"from_node": "deciles"}, "source": "q", "target": "decile"},
            "result": True,
        },
    }
    value = lazy(stack, nodes)
    assert value.dims == ("decile", "bands", "y", "x") and list(value.decile.values) == [0, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanquantile(stack.reference["vh"], [0.1, 0.9], axis=0)
    np.testing.assert_allclose(value.sel(bands="vh").values, expected, rtol=1e-6, equal_nan=True)

    labels = {
        "one": {
            "process_id": "filter_temporal",
            "arguments": {"data": {"from_node": "load"}, "extent": ["2021-04-01", None]},
        },
        "squeezed": {
            "process_id": "drop_dimension",
            "arguments": {"data": {"from_node": "one"}, "name": "t"},
        },
        "tagged": {
            "process_id": "add_dimension",
            "arguments": {
                "data": {"from_node": "squeezed"},
                "name": "t",
                "label": "2021-04-06",
                "type": "temporal",
            },
        },
        "labels": {
            "process_id": "dimension_labels",
            "arguments": {"data": {"from_node": "tagged"}, "dimension": "t"},
            "result": True,
        },
    }
    graph = {
        "load": {
            "process_id": "load_collection",
            "arguments": {"id": "s1-ard", "spatial_extent": None, "temporal_extent": None},
        }
    }
    value = run_graph({"process_graph": graph | labels}, catalog=stack.root).value
    assert value == ["2021-04-06T00:00:00Z"]
    labels["squeezed"]["arguments"]["data"] = {"from_node": "load"}
    with pytest.raises(OpenEOError, match="'squeezed'.*4 labels"):
        run_graph({"process_graph": graph | labels}, catalog=stack.root)
