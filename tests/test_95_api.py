"""HTTP API: the official openEO client and pystac-client against a real server on 127.0.0.1.

The server runs in a child process (``s1stac.api.serve``) over a catalog of real COGs; values
coming back (synchronous downloads, batch job results, odc-stac loads through the STAC API)
are compared with numpy computed from the arrays written into the catalog. ``sar_backscatter``
runs on a simulated GRD product and is compared with the ARD that ``ard_products`` writes.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import pathlib
import signal
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jsonschema
import numpy as np
import odc.stac
import openeo
import pystac_client
import pytest
import rasterio
import rasterio.warp
import requests
import xarray as xr
import yaml
from _api_server import BANDS, BASE, UNION, USERS, ServerProcess, Stack, make_stack, nan_mean
from openeo.api.process import Parameter
from openeo.rest import JobFailedException, OpenEoApiError

from s1stac.api import add_user
from s1stac.ard_products import ard_products
from s1stac.inventory import inventory
from s1stac.openeo import PROCESSES
from s1stac.openeo.errors import OpenEOError
from s1stac.simulate import parse_tracks, simulate

QUIET = {"print": lambda *args, **kwargs: None, "max_poll_interval": 0.3}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Stack:
    return make_stack(tmp_path_factory.mktemp("api") / "catalog")


@pytest.fixture(scope="module")
def server(stack: Stack) -> Iterator[ServerProcess]:
    process = ServerProcess(stack.root).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def conn(server: ServerProcess) -> openeo.Connection:
    return openeo.connect(server.url).authenticate_basic("alice", USERS["alice"])


def token(server: ServerProcess, user: str) -> dict[str, str]:
    response = requests.get(
        f"{server.url}/openeo/1.2/credentials/basic", auth=(user, USERS[user]), timeout=10
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer basic//{response.json()['access_token']}"}


def api(server: ServerProcess, path: str) -> str:
    return f"{server.url}/openeo/1.2{path}"


def assert_error(response: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert body["message"] and body["id"] and body["links"] == []
    return body


def mean_cube(conn: openeo.Connection, **load: Any) -> Any:
    return conn.load_collection("s1-ard", bands=list(BANDS), **load).reduce_dimension(
        "t", reducer="mean"
    )


# ---------------------------------------------------------------------------------------------
# discovery


def test_discovery_with_the_official_client(server: ServerProcess, conn: openeo.Connection):
    well_known = requests.get(f"{server.url}/.well-known/openeo", timeout=10).json()
    assert well_known["versions"] == [
        {"url": f"{server.url}/openeo/1.2/", "api_version": "1.2.0", "production": True}
    ]
    assert conn.root_url == f"{server.url}/openeo/1.2/"
    capabilities = conn.capabilities()
    assert capabilities.api_version() == "1.2.0"
    assert capabilities.supports_endpoint("/credentials/basic", "GET")
    assert capabilities.supports_endpoint("/process_graphs", "GET")
    assert capabilities.supports_endpoint("/jobs/{job_id}/results", "DELETE")

    assert conn.list_collection_ids() == [
        "SENTINEL1_GRD",
        "s1-ard",
        "s1-timeseries",
        "s1-timescan",
        "s1-mosaic",
    ]
    ard = conn.describe_collection("s1-ard")
    dims = ard["cube:dimensions"]
    assert dims["bands"]["values"] == list(BANDS)
    assert dims["x"]["reference_system"] == 32633 and dims["t"]["type"] == "temporal"
    assert dims["t"]["extent"] == ["2021-03-01T05:11:22Z", "2021-04-06T05:11:22Z"]
    grd = conn.describe_collection("SENTINEL1_GRD")
    assert grd["cube:dimensions"]["bands"]["values"] == ["VV", "VH", "HH", "HV"]
    assert grd["cube:dimensions"]["x"]["reference_system"] == 4326
    with pytest.raises(OpenEoApiError) as error:
        conn.describe_collection("S2_L2A")
    assert error.value.http_status_code == 404 and error.value.code == "CollectionNotFound"

    listed = {p["id"] for p in conn.list_processes()}
    assert listed == set(PROCESSES)  # exactly what the engine implements
    assert ("sar_backscatter" in listed) == ("sar_backscatter" in PROCESSES)
    formats = conn.list_output_formats()
    assert {"GTiff", "netCDF"} <= set(formats)
    assert all(f["gis_data_types"] == ["raster"] for f in formats.values())
    conformance = requests.get(api(server, "/conformance"), timeout=10).json()
    assert "https://api.openeo.org/1.2.0" in conformance["conformsTo"]
    assert conn.describe_account()["user_id"] == "alice"
    preflight = requests.options(
        api(server, "/jobs"),
        headers={
            "Origin": "https://editor.openeo.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"


# ---------------------------------------------------------------------------------------------
# synchronous processing


def test_sync_download_to_gtiff_matches_numpy(
    conn: openeo.Connection, stack: Stack, tmp_path: pathlib.Path
):
    target = tmp_path / "mean.tif"
    mean_cube(conn).download(target)
    with rasterio.open(target) as dataset:
        assert dataset.count == 2 and dataset.descriptions == BANDS
        assert dataset.crs.to_epsg() == 32633 and dataset.transform == BASE
        assert dataset.shape == UNION
        values = dataset.read()
    for index, band in enumerate(BANDS):
        np.testing.assert_allclose(
            values[index], nan_mean(stack.reference[band]), rtol=2e-7, equal_nan=True
        )
    # the served catalog is not modified by users' results
    timescan = json.loads((stack.root / "s1-timescan" / "collection.json").read_text())
    assert not [link for link in timescan["links"] if link["rel"] == "item"]


def test_sync_download_netcdf_with_temporal_filter(
    conn: openeo.Connection, stack: Stack, tmp_path: pathlib.Path
):
    target = tmp_path / "vv.nc"
    cube = conn.load_collection(
        "s1-ard", bands=["vv"], temporal_extent=["2021-03-01", "2021-03-20"]
    ).reduce_dimension("t", reducer="max")
    cube.download(target)
    with xr.open_dataset(target) as dataset:
        written = dataset[list(dataset.data_vars)[0]].values.squeeze()
    first_two = stack.reference["vv"][:2, :30, :40]  # items 0 and 1 share one 30 x 40 grid
    expected = np.where(np.isnan(first_two), -np.inf, first_two).max(axis=0)
    expected[np.isinf(expected)] = np.nan
    np.testing.assert_allclose(written, expected, rtol=1e-7, equal_nan=True)


@dataclass(frozen=True)
class GrdScene:
    """Two catalogs of one simulated GRD acquisition: one served, one for the reference ARD."""

    served: pathlib.Path
    reference: pathlib.Path
    dem: pathlib.Path


@pytest.fixture(scope="module")
def grd_scene(tmp_path_factory: pytest.TempPathFactory) -> GrdScene:
    folder = tmp_path_factory.mktemp("api_grd")
    sim = simulate(
        folder / "products",
        dates=1,
        slices=1,
        tracks=parse_tracks("ASCENDING:117"),
        polarisations=("VV",),
        seed=95,
    )
    assert len(sim.products) == 1
    for name in ("served", "reference"):
        inventory(sim.products, catalog=folder / name, refine=False)
    for user, password in USERS.items():
        add_user(folder / "served", user, password)
    return GrdScene(folder / "served", folder / "reference", sim.dem)


@pytest.fixture(scope="module")
def grd_server(grd_scene: GrdScene) -> Iterator[ServerProcess]:
    process = ServerProcess(grd_scene.served).start()
    try:
        yield process
    finally:
        process.stop()


def test_sar_backscatter_reduce_download(
    grd_server: ServerProcess, grd_scene: GrdScene, tmp_path: pathlib.Path
):
    conn = openeo.connect(grd_server.url).authenticate_basic("alice", USERS["alice"])
    target = tmp_path / "backscatter.tif"
    (
        conn.load_collection("SENTINEL1_GRD", bands=["VV"])
        .sar_backscatter(
            coefficient="gamma0-terrain",
            elevation_model=str(grd_scene.dem),
            options={"resolution": 20},
        )
        .reduce_dimension("t", reducer="mean")
        .download(target)
    )
    # the same acquisition through the batch ARD writer, on an independent copy of the catalog
    (item,) = ard_products(
        grd_scene.reference, dem=grd_scene.dem, resolution=20, product_type="RTC-gamma0"
    )
    with rasterio.open(item.assets["vv"].get_absolute_href()) as src:
        expected, expected_transform, expected_crs = src.read(1), src.transform, src.crs
    with rasterio.open(target) as dataset:
        assert dataset.count == 1 and dataset.dtypes[0] == "float32"
        assert dataset.crs == expected_crs and dataset.crs.to_epsg() == 4326
        assert dataset.transform.almost_equals(expected_transform, precision=1e-12)
        written = dataset.read(1)
    assert written.shape == expected.shape
    np.testing.assert_array_equal(np.isnan(written), np.isnan(expected))
    np.testing.assert_allclose(written, expected, rtol=1e-6, atol=0, equal_nan=True)
    valid = np.isfinite(written)
    assert valid.mean() > 0.3  # the swath is a tilted strip of the box, not all no-data
    assert 0.01 < float(written[valid].mean()) < 1.0  # linear gamma0 of land and water
    # the served catalog is not modified by users' results
    ard = json.loads((grd_scene.served / "s1-ard" / "collection.json").read_text())
    assert not [link for link in ard["links"] if link["rel"] == "item"]


def test_validation_endpoint(server: ServerProcess, conn: openeo.Connection):
    headers = token(server, "alice")
    good = mean_cube(conn).save_result("GTiff").flat_graph()
    response = requests.post(
        api(server, "/validation"), json={"process_graph": good}, headers=headers, timeout=30
    )
    assert response.json() == {"errors": []}
    bad = {"a": {"process_id": "no_such_process", "arguments": {}, "result": True}}
    errors = requests.post(
        api(server, "/validation"), json={"process_graph": bad}, headers=headers, timeout=30
    ).json()["errors"]
    assert [e["code"] for e in errors] == ["ProcessUnsupported"]
    response = requests.post(
        api(server, "/result"),
        json={"process": {"process_graph": bad}},
        headers=headers,
        timeout=30,
    )
    assert_error(response, 400, "ProcessUnsupported")


# ---------------------------------------------------------------------------------------------
# batch jobs


def test_batch_job_results_download_with_range(
    server: ServerProcess, conn: openeo.Connection, stack: Stack, tmp_path: pathlib.Path
):
    job = mean_cube(conn).create_job(out_format="GTiff", title="mean of the stack")
    assert job.status() == "created"
    assert job.job_id in [j["id"] for j in conn.list_jobs()]
    with pytest.raises(OpenEoApiError) as error:
        job.get_results().get_metadata()
    assert error.value.code == "JobNotFinished" and error.value.http_status_code == 400

    job.start_and_wait(**QUIET)
    assert job.describe()["status"] == "finished" and job.describe()["progress"] == 100
    results = job.get_results()
    metadata = results.get_metadata()
    assert metadata["type"] == "Collection" and metadata["openeo:status"] == "finished"
    assert len(metadata["assets"]) == 2
    files = results.download_files(tmp_path / "results")
    tifs = sorted(p for p in files if p.suffix == ".tif")
    for path in tifs:
        band = path.stem.rsplit("_", 1)[1]
        with rasterio.open(path) as dataset:
            np.testing.assert_allclose(
                dataset.read(1), nan_mean(stack.reference[band]), rtol=2e-7, equal_nan=True
            )
    logs = job.logs()
    assert logs[-1]["message"].startswith("job finished") and logs[-1]["level"] == "info"

    headers = token(server, "alice")
    key, asset = next(iter(metadata["assets"].items()))
    head = requests.head(asset["href"], headers=headers, timeout=10)
    assert head.headers["accept-ranges"] == "bytes"
    size = int(head.headers["content-length"])
    whole = (tmp_path / "results" / key).read_bytes()
    assert size == len(whole)
    part = requests.get(asset["href"], headers={**headers, "Range": "bytes=100-199"}, timeout=10)
    assert part.status_code == 206 and part.content == whole[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{size}"
    item_link = next(link for link in metadata["links"] if link["rel"] == "item")
    item = requests.get(item_link["href"], headers=headers, timeout=10).json()
    assert {a["href"] for a in item["assets"].values()} == {
        a["href"] for a in metadata["assets"].values()
    }
    derived = sorted(link["href"] for link in item["links"] if link["rel"] == "derived_from")
    assert derived == [f"{server.url}/stac/collections/s1-ard/items/ard-{i}" for i in range(4)]


def test_failing_job_reports_its_error(server: ServerProcess, conn: openeo.Connection):
    cube = mean_cube(conn, temporal_extent=["2022-01-01", "2022-02-01"])
    job = cube.create_job(out_format="GTiff")
    with pytest.raises(JobFailedException):
        job.start_and_wait(**QUIET)
    assert job.status() == "error"
    errors = job.logs(level="error")
    assert [e["code"] for e in errors] == ["NoDataAvailable"]
    assert "temporal extent" in errors[0]["message"]
    response = requests.get(
        api(server, f"/jobs/{job.job_id}/results"), headers=token(server, "alice"), timeout=10
    )
    assert_error(response, 424, "NoDataAvailable")


def test_update_cancel_delete_job(server: ServerProcess, conn: openeo.Connection):
    headers = token(server, "alice")
    job = mean_cube(conn).create_job(out_format="GTiff", title="first")
    url = api(server, f"/jobs/{job.job_id}")
    response = requests.patch(url, json={"title": "renamed"}, headers=headers, timeout=10)
    assert response.status_code == 204 and job.describe()["title"] == "renamed"
    assert_error(requests.patch(url, json={}, headers=headers, timeout=10), 400, "NoDataForUpdate")

    job.start_job()
    deadline = time.monotonic() + 30
    while job.status() != "running" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert_error(
        requests.patch(url, json={"title": "x"}, headers=headers, timeout=10), 400, "JobLocked"
    )
    job.stop()
    assert job.status() == "canceled"
    assert any("canceled" in entry["message"] for entry in job.logs(level="warning"))
    job.delete()
    assert_error(requests.get(url, headers=headers, timeout=10), 404, "JobNotFound")


# ---------------------------------------------------------------------------------------------
# user-defined processes


def test_user_defined_process_saved_and_called(
    conn: openeo.Connection, stack: Stack, tmp_path: pathlib.Path
):
    extent = Parameter(name="extent", description="time range", schema={"type": "array"})
    body = conn.load_collection("s1-ard", bands=["vv"], temporal_extent=extent)
    udp = conn.save_user_defined_process(
        "vv_mean", body.reduce_dimension("t", reducer="mean"), parameters=[extent]
    )
    assert "vv_mean" in [p["id"] for p in conn.list_user_defined_processes()]
    assert udp.describe()["parameters"][0]["name"] == "extent"
    target = tmp_path / "udp.tif"
    conn.datacube_from_process("vv_mean", extent=["2021-03-01", "2021-03-20"]).download(target)
    with rasterio.open(target) as dataset:
        written = dataset.read(1)
    np.testing.assert_allclose(
        written, nan_mean(stack.reference["vv"][:2, :30, :40]), rtol=2e-7, equal_nan=True
    )
    with pytest.raises(OpenEoApiError) as error, pytest.warns(UserWarning, match="pre-defined"):
        conn.save_user_defined_process(
            "mean", body.reduce_dimension("t", reducer="mean"), parameters=[extent]
        )
    assert error.value.code == "PredefinedProcessExists"


def test_nested_user_defined_processes_and_callback_scopes(
    server: ServerProcess, stack: Stack, tmp_path: pathlib.Path
):
    headers = token(server, "alice")
    # inside the reducer, "data" is the reducer's own parameter; "factor" is the process's
    scaled_mean = {
        "parameters": [
            {"name": "data", "description": "cube", "schema": {"type": "object"}},
            {"name": "factor", "description": "scale", "schema": {"type": "number"}},
        ],
        "process_graph": {
            "reduce": {
                "process_id": "reduce_dimension",
                "arguments": {
                    "data": {"from_parameter": "data"},
                    "dimension": "t",
                    "reducer": {
                        "process_graph": {
                            "mean": {
                                "process_id": "mean",
                                "arguments": {"data": {"from_parameter": "data"}},
                            },
                            "scale": {
                                "process_id": "multiply",
                                "arguments": {
                                    "x": {"from_node": "mean"},
                                    "y": {"from_parameter": "factor"},
                                },
                                "result": True,
                            },
                        }
                    },
                },
                "result": True,
            }
        },
    }
    vv_scaled = {
        "parameters": [
            {"name": "f", "description": "scale", "schema": {"type": "number"}, "default": 1}
        ],
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
            "scaled": {
                "process_id": "scaled_mean",
                "arguments": {"data": {"from_node": "load"}, "factor": {"from_parameter": "f"}},
                "result": True,
            },
        },
    }
    for name, process in (("scaled_mean", scaled_mean), ("vv_scaled", vv_scaled)):
        response = requests.put(
            api(server, f"/process_graphs/{name}"), json=process, headers=headers, timeout=10
        )
        assert response.status_code == 200, response.text
    graph = {
        "call": {"process_id": "vv_scaled", "arguments": {"f": 3}},
        "save": {
            "process_id": "save_result",
            "arguments": {"data": {"from_node": "call"}, "format": "GTiff"},
            "result": True,
        },
    }
    response = requests.post(
        api(server, "/result"),
        json={"process": {"process_graph": graph}},
        headers=headers,
        timeout=60,
    )
    assert response.status_code == 200, response.text
    (tmp_path / "scaled.tif").write_bytes(response.content)
    with rasterio.open(tmp_path / "scaled.tif") as dataset:
        written = dataset.read(1)
    expected = 3 * nan_mean(stack.reference["vv"])
    np.testing.assert_allclose(written, expected, rtol=3e-7, equal_nan=True)
    missing = {"call": {"process_id": "scaled_mean", "arguments": {"factor": 2}, "result": True}}
    response = requests.post(
        api(server, "/result"),
        json={"process": {"process_graph": missing}},
        headers=headers,
        timeout=60,
    )
    assert_error(response, 400, "ProcessParameterRequired")


def test_client_connect_helper(server: ServerProcess, monkeypatch: pytest.MonkeyPatch):
    from s1stac.client import connect

    connection = connect(server.url, username="bob", password=USERS["bob"])
    assert connection.describe_account()["user_id"] == "bob"
    monkeypatch.setenv("S1STAC_USER", "alice")
    monkeypatch.setenv("S1STAC_PASSWORD", USERS["alice"])
    assert connect(server.url).describe_account()["user_id"] == "alice"
    monkeypatch.setenv("S1STAC_PASSWORD", "wrong-password")
    with pytest.raises(OpenEoApiError) as error:
        connect(server.url)
    assert error.value.code == "CredentialsInvalid"


# ---------------------------------------------------------------------------------------------
# security


def test_authentication_is_required_except_for_discovery(server: ServerProcess):
    for path in (
        "/",
        "/conformance",
        "/file_formats",
        "/collections",
        "/collections/s1-ard",
        "/processes",
    ):
        assert requests.get(api(server, path), timeout=10).status_code == 200, path
    assert requests.get(f"{server.url}/stac/search", timeout=10).status_code == 200
    for method, path in (
        ("GET", "/me"),
        ("GET", "/jobs"),
        ("POST", "/jobs"),
        ("POST", "/result"),
        ("POST", "/validation"),
        ("GET", "/process_graphs"),
        ("PUT", "/process_graphs/x"),
        ("GET", "/jobs/j-1/logs"),
    ):
        response = requests.request(method, api(server, path), json={}, timeout=10)
        assert_error(response, 401, "AuthenticationRequired")
    wrong = requests.get(api(server, "/credentials/basic"), auth=("alice", "nope"), timeout=10)
    assert_error(wrong, 403, "CredentialsInvalid")
    unknown = requests.get(api(server, "/credentials/basic"), auth=("eve", "x" * 9), timeout=10)
    assert_error(unknown, 403, "CredentialsInvalid")
    forged = {"Authorization": "Bearer basic//not-a-token"}
    assert_error(requests.get(api(server, "/me"), headers=forged, timeout=10), 403, "TokenInvalid")
    basic = requests.get(api(server, "/me"), auth=("alice", USERS["alice"]), timeout=10)
    assert_error(basic, 403, "AuthenticationSchemeInvalid")


def test_users_file_holds_only_salted_hashes(tmp_path: pathlib.Path):
    from s1stac.api import add_user, list_users, remove_user
    from s1stac.api.auth import Authenticator
    from s1stac.api.jobs import JobStore
    from s1stac.errors import ParameterError

    state = tmp_path / "state"
    add_user(tmp_path, "carol", "first-password", state_dir=state)
    add_user(tmp_path, "dave", "first-password", state_dir=state)
    text = (state / "users.json").read_text()
    assert "first-password" not in text
    hashes = [u["password"] for u in json.loads(text)["users"].values()]
    assert hashes[0] != hashes[1] and all(h.startswith("scrypt$") for h in hashes)  # salted
    for name, password in (("carol:x", "long-enough"), ("", "long-enough"), ("erin", "short")):
        with pytest.raises(ParameterError):
            add_user(tmp_path, name, password, state_dir=state)
    with pytest.raises(ParameterError, match="already exists"):
        add_user(tmp_path, "carol", "second-password", state_dir=state)
    add_user(tmp_path, "carol", "second-password", state_dir=state, replace=True)
    auth = Authenticator(state / "users.json", JobStore(state / "jobs.sqlite"), token_ttl=60)

    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    token, user, _ = auth.login(basic("carol", "second-password"))
    assert user == "carol" and auth.user(f"Bearer basic//{token}") == "carol"
    with pytest.raises(OpenEOError, match="not correct"):
        auth.login(basic("carol", "first-password"))
    remove_user(tmp_path, "carol", state_dir=state)
    assert list_users(tmp_path, state_dir=state) == ["dave"]
    with pytest.raises(OpenEOError) as error:  # the session ends with the user
        auth.user(f"Bearer basic//{token}")
    assert error.value.code == "TokenInvalid"


def test_tokens_expire(stack: Stack, tmp_path: pathlib.Path):
    short = ServerProcess(stack.root, state_dir=str(tmp_path / "state"), token_ttl=1.0)
    from s1stac.api import add_user

    add_user(stack.root, "alice", USERS["alice"], state_dir=tmp_path / "state")
    short.start()
    try:
        headers = token(short, "alice")
        assert requests.get(api(short, "/me"), headers=headers, timeout=10).status_code == 200
        time.sleep(1.2)
        response = requests.get(api(short, "/me"), headers=headers, timeout=10)
        assert_error(response, 403, "TokenInvalid")
    finally:
        short.stop()


def test_users_see_only_their_own_jobs_results_and_processes(
    server: ServerProcess, conn: openeo.Connection
):
    job = mean_cube(conn).create_job(out_format="GTiff", title="alice only")
    job.start_and_wait(**QUIET)
    asset = next(iter(job.get_results().get_metadata()["assets"].values()))
    extent = Parameter(name="extent", description="time range", schema={"type": "array"})
    cube = conn.load_collection("s1-ard", bands=["vv"], temporal_extent=extent)
    conn.save_user_defined_process("alice_secret", cube, parameters=[extent])

    bob = token(server, "bob")
    assert job.job_id not in [
        j["id"] for j in requests.get(api(server, "/jobs"), headers=bob, timeout=10).json()["jobs"]
    ]
    for method, path in (
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/results"),
        ("POST", "/results"),
        ("DELETE", "/results"),
        ("GET", "/logs"),
    ):
        response = requests.request(
            method,
            api(server, f"/jobs/{job.job_id}{path}"),
            json={"title": "x"},
            headers=bob,
            timeout=10,
        )
        assert_error(response, 404, "JobNotFound")
    assert_error(requests.get(asset["href"], headers=bob, timeout=10), 404, "JobNotFound")
    assert_error(requests.get(asset["href"], timeout=10), 401, "AuthenticationRequired")
    assert_error(
        requests.get(api(server, "/process_graphs/alice_secret"), headers=bob, timeout=10),
        404,
        "ProcessGraphNotFound",
    )
    assert (
        requests.get(api(server, "/process_graphs"), headers=bob, timeout=10).json()["processes"]
        == []
    )
    call = {"c": {"process_id": "alice_secret", "arguments": {"extent": None}, "result": True}}
    response = requests.post(
        api(server, "/result"),
        json={"process": {"process_graph": call}},
        headers=bob,
        timeout=30,
    )
    assert_error(response, 400, "ProcessUnsupported")
    assert job.status() == "finished"  # nothing bob did touched it


def raw_get(server: ServerProcess, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    """GET a path exactly as given (no client-side normalisation of '..')."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_ids_are_validated_against_path_traversal(server: ServerProcess, stack: Stack):
    headers = token(server, "alice")
    secret = b"scrypt$"  # content of the users file
    for path in (
        "/openeo/1.2/jobs/..%2F..%2Fusers.json",
        "/openeo/1.2/jobs/..%2Fjobs.sqlite/logs",
        "/openeo/1.2/jobs/%2E%2E/logs",
        "/openeo/1.2/jobs/j-x/results/assets/..%2F..%2F..%2Fusers.json",
        "/openeo/1.2/process_graphs/..%2Fx",
        "/stac/collections/s1-ard/items/ard-0/assets/..%2F..%2F.s1stac%2Fusers.json",
        "/stac/collections/..%2F.s1stac/items/users",
        "/openeo/1.2/jobs/../../.s1stac/users.json",
    ):
        status, body = raw_get(server, path, headers)
        assert status in (404, 400), (path, status)
        assert secret not in body
        assert json.loads(body)["code"] in (
            "JobNotFound",
            "NotFound",
            "ProcessGraphNotFound",
            "FileNotFound",
            "CollectionNotFound",
        ), (path, body)
    users = stack.root / ".s1stac" / "users.json"
    assert secret in users.read_bytes() and oct(users.stat().st_mode)[-3:] == "600"


def test_request_body_size_is_limited(server: ServerProcess):
    headers = token(server, "alice")
    huge = {
        "process": {
            "process_graph": {
                "a": {
                    "process_id": "add",
                    "arguments": {"x": 1, "y": "y" * (3 * 1024 * 1024)},
                    "result": True,
                }
            }
        }
    }
    response = requests.post(api(server, "/result"), json=huge, headers=headers, timeout=30)
    assert_error(response, 413, "PayloadTooLarge")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit applies while reading
        for _ in range(300):
            yield b" " * 10_000

    response = requests.post(api(server, "/jobs"), data=chunks(), headers=headers, timeout=30)
    assert_error(response, 413, "PayloadTooLarge")


def test_errors_follow_the_openeo_error_list(server: ServerProcess, openeo_dir: pathlib.Path):
    catalogue = json.loads((openeo_dir / "openeo-api" / "errors.json").read_text())
    headers = token(server, "alice")
    cases = [
        ("GET", "/jobs/j-unknown", None, "JobNotFound"),
        ("GET", "/collections/nope", None, "CollectionNotFound"),
        ("GET", "/process_graphs/nope", None, "ProcessGraphNotFound"),
        ("PUT", "/process_graphs/mean", {"process_graph": {}}, "PredefinedProcessExists"),
        ("POST", "/jobs", {"title": "no graph"}, "ProcessGraphMissing"),
        ("GET", "/nothing/here", None, "NotFound"),
    ]
    for method, path, body, code in cases:
        response = requests.request(
            method, api(server, path), json=body, headers=headers, timeout=10
        )
        assert_error(response, catalogue[code]["http"], code)
    # s1stac codes for what errors.json does not name
    response = requests.delete(api(server, "/collections"), headers=headers, timeout=10)
    assert_error(response, 405, "MethodNotAllowed")
    response = requests.post(api(server, "/jobs"), data=b"{not json", headers=headers, timeout=10)
    assert_error(response, 400, "BadRequest")
    response = requests.get(api(server, "/me"), timeout=10)
    assert_error(response, catalogue["AuthenticationRequired"]["http"], "AuthenticationRequired")


def openapi_validator(openeo_dir: pathlib.Path) -> Any:
    """``(path, method, status, body) -> errors`` against the openEO API 1.2.0 document."""
    document = yaml.safe_load((openeo_dir / "openeo-api" / "openapi.yaml").read_text())

    def convert(node: Any) -> Any:  # OpenAPI 3.0 schema -> JSON schema
        if isinstance(node, list):
            return [convert(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: convert(v) for k, v in node.items() if k not in ("example", "discriminator")}
        if out.pop("nullable", False) is True:
            out = {"anyOf": [out, {"type": "null"}]}
        return out

    root = convert(document)

    def errors(path: str, method: str, status: str, body: Any) -> list[str]:
        response = root["paths"][path][method]["responses"][status]
        if "$ref" in response:
            response = root["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        schema = response["content"]["application/json"]["schema"]
        validator = jsonschema.Draft7Validator({**root, **schema})
        return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(body)]

    return errors


def test_responses_match_the_openapi_document(
    server: ServerProcess, conn: openeo.Connection, openeo_dir: pathlib.Path
):
    errors = openapi_validator(openeo_dir)
    headers = token(server, "alice")
    finished = mean_cube(conn).create_job(out_format="GTiff", title="schema check")
    finished.start_and_wait(**QUIET)
    failed = mean_cube(conn, temporal_extent=["2030-01-01", "2030-02-01"]).create_job()
    with pytest.raises(JobFailedException):
        failed.start_and_wait(**QUIET)
    # /processes, /process_graphs and /file_formats are left out: the alternatives of the
    # oneOf for parameter schemas overlap, so any parameter schema is reported invalid
    cases = [
        ("/", "/", "200"),
        ("/conformance", "/conformance", "200"),
        ("/collections", "/collections", "200"),
        ("/collections/{collection_id}", "/collections/s1-ard", "200"),
        ("/collections/{collection_id}", "/collections/SENTINEL1_GRD", "200"),
        ("/me", "/me", "200"),
        ("/jobs", "/jobs", "200"),
        ("/jobs/{job_id}", f"/jobs/{finished.job_id}", "200"),
        ("/jobs/{job_id}/results", f"/jobs/{finished.job_id}/results", "200"),
        ("/jobs/{job_id}/results", f"/jobs/{failed.job_id}/results", "424"),
        ("/jobs/{job_id}/logs", f"/jobs/{failed.job_id}/logs", "200"),
        ("/jobs/{job_id}", "/jobs/j-unknown", "4XX"),
    ]
    for spec_path, path, status in cases:
        response = requests.get(api(server, path), headers=headers, timeout=10)
        assert str(response.status_code) == status or status == "4XX", (path, response.text)
        assert errors(spec_path, "get", status, response.json()) == [], path
    well_known = requests.get(f"{server.url}/.well-known/openeo", timeout=10).json()
    assert errors("/.well-known/openeo", "get", "200", well_known) == []
    token_body = requests.get(
        api(server, "/credentials/basic"), auth=("alice", USERS["alice"]), timeout=10
    ).json()
    assert errors("/credentials/basic", "get", "200", token_body) == []


# ---------------------------------------------------------------------------------------------
# STAC API


def lonlat(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    """Lon/lat bbox of a box of the stack's UTM grid."""
    return list(rasterio.warp.transform_bounds("EPSG:32633", "EPSG:4326", x0, y0, x1, y1))


def test_pystac_client_search_then_odc_stac_load(server: ServerProcess, stack: Stack):
    client = pystac_client.Client.open(f"{server.url}/stac")
    assert client.conforms_to("ITEM_SEARCH")
    assert {c.id for c in client.get_collections()} >= {"s1-ard", "sentinel-1-grd"}
    march = "2021-03-01T00:00:00Z/2021-03-31T23:59:59Z"
    # items 0 and 1 end at x = 400400 m, item 2 is shifted 40 m east, item 3 is in April
    east_strip = lonlat(400410.0, 4599800.0, 400430.0, 4599900.0)
    assert [i.id for i in client.search(bbox=east_strip, datetime=march).items()] == ["ard-2"]
    everywhere = lonlat(399000.0, 4599000.0, 401000.0, 4601000.0)
    for method in ("POST", "GET"):
        search = client.search(
            bbox=everywhere, datetime=march, limit=1, method=method, collections=["s1-ard"]
        )
        items = list(search.items())  # three pages of one item
        assert [i.id for i in items] == ["ard-0", "ard-1", "ard-2"]
    april = client.search(datetime="2021-04-01T00:00:00Z/..", collections=["s1-ard"])
    assert [i.id for i in april.items()] == ["ard-3"]
    by_ids = client.search(ids=["ard-1", "ard-3"])
    assert [i.id for i in by_ids.items()] == ["ard-1", "ard-3"]
    # items 0-2 end at y = 4599700 m, item 3 (2 rows lower) at 4599680 m
    west, south, east, north = lonlat(400095.0, 4599685.0, 400105.0, 4599695.0)
    point = {"type": "Point", "coordinates": [(west + east) / 2, (south + north) / 2]}
    assert [i.id for i in client.search(intersects=point).items()] == ["ard-3"]

    dataset = odc.stac.load(items, bands=list(BANDS), chunks={})
    assert dataset.odc.crs.epsg == 32633 and dataset.odc.geobox.affine == BASE
    assert dict(dataset.sizes) == {"time": 3, "y": 30, "x": 44}
    for index in range(3):
        for band in BANDS:
            np.testing.assert_array_equal(
                dataset[band].isel(time=index).values, stack.reference[band][index][:30]
            )


def test_stac_items_paging_and_errors(server: ServerProcess):
    url = f"{server.url}/stac/collections/s1-ard/items"
    first = requests.get(url, params={"limit": 3}, timeout=10).json()
    assert [f["id"] for f in first["features"]] == ["ard-0", "ard-1", "ard-2"]
    assert first["numberMatched"] == 4
    following = next(link["href"] for link in first["links"] if link["rel"] == "next")
    second = requests.get(following, timeout=10).json()
    assert [f["id"] for f in second["features"]] == ["ard-3"]
    assert not [link for link in second["links"] if link["rel"] == "next"]
    item = requests.get(f"{url}/ard-0", timeout=10).json()
    assert item["assets"]["vv"]["href"] == f"{url}/ard-0/assets/vv"
    assert requests.get(item["assets"]["vv"]["href"], timeout=10).content[:4] in (
        b"II*\x00",
        b"II+\x00",
    )
    for params in (
        {"bbox": "1,2,3"},
        {"datetime": "yesterday"},
        {"limit": "0"},
        {"bbox": "0,0,1,1", "intersects": '{"type": "Point", "coordinates": [0, 0]}'},
    ):
        response = requests.get(f"{server.url}/stac/search", params=params, timeout=10)
        assert_error(response, 400, "BadRequest")
    assert_error(
        requests.get(f"{server.url}/stac/collections/nope", timeout=10), 404, "CollectionNotFound"
    )


# ---------------------------------------------------------------------------------------------
# restart


def worker_pid(state: pathlib.Path, job_id: str) -> int | None:
    with sqlite3.connect(state / "jobs.sqlite") as database:
        row = database.execute("SELECT pid FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return row[0] if row else None


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has exited


def test_server_killed_during_a_job_restarts_in_a_defined_state(
    tmp_path: pathlib.Path,
):
    stack = make_stack(tmp_path / "catalog", seed=7)
    state = stack.root / ".s1stac"
    first = ServerProcess(stack.root, workers=1).start()
    try:
        conn = openeo.connect(first.url).authenticate_basic("alice", USERS["alice"])
        running = mean_cube(conn).create_job(out_format="GTiff", title="running")
        queued = mean_cube(conn).create_job(out_format="GTiff", title="queued")
        running.start_job()
        queued.start_job()
        deadline = time.monotonic() + 30
        while worker_pid(state, running.job_id) is None and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = worker_pid(state, running.job_id)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # hold the worker mid-run, whatever the machine's speed
        assert running.status() == "running" and queued.status() == "queued"
    finally:
        first.kill()
    os.kill(pid, signal.SIGCONT)  # it finds the server gone and exits
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(pid), "the worker outlived the killed server"

    second = ServerProcess(stack.root, port=first.port, workers=1).start()
    try:
        conn = openeo.connect(second.url).authenticate_basic("alice", USERS["alice"])
        running = conn.job(running.job_id)
        assert running.status() == "error"
        errors = running.logs(level="error")
        assert "restarted during the run" in errors[-1]["message"]
        with pytest.raises(OpenEoApiError) as error:
            running.get_results().get_metadata()
        assert error.value.http_status_code == 424

        queued = conn.job(queued.job_id)
        deadline = time.monotonic() + 60
        while queued.status() in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert queued.status() == "finished"  # re-queued after the restart
        running.start_and_wait(**QUIET)  # a failed job can be run again
        files = running.get_results().download_files(tmp_path / "again")
        assert len([f for f in files if f.suffix == ".tif"]) == 2
    finally:
        second.stop()
