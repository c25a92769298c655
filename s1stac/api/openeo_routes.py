"""openEO API 1.2 routes: discovery, authentication, synchronous processing, validation, UDPs.

Discovery endpoints (capabilities, ``/conformance``, ``/file_formats``, ``/collections``,
``/processes``) need no authentication; everything else does.  The routes translate HTTP to
calls of the engine (:func:`s1stac.openeo.run_graph`, :func:`~s1stac.openeo.validate_graph`)
and back; errors become openEO error JSON in :mod:`s1stac.api.app`.  Batch jobs are in
:mod:`s1stac.api.job_routes`.

References
----------
openEO API 1.2.0, https://api.openeo.org/1.2.0/
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import time
import uuid
from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import xarray as xr
from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from s1stac.openeo import PROCESSES, run_graph, validate_graph
from s1stac.openeo.errors import (
    OpenEOError,
    ProcessGraphInvalid,
    ProcessGraphMissing,
)

from . import metadata
from .errors import InfrastructureBusy, PredefinedProcessExists, ProcessGraphNotFound
from .graphs import check_process, resolve_process, unbound_parameters
from .state import JsonBody, Server, ServerDep, UserDep, openeo_root, stac_root
from .workspace import OverlayCatalog, asset_files, own_items, result_file

__all__ = ["process_of", "router"]

LOGGER = logging.getLogger(__name__)

router = APIRouter()

PROCESS_ID: Final = re.compile(r"^\w{1,64}$", re.ASCII)
"""Ids of user-defined processes (openEO ``^\\w+$``, ASCII, at most 64 characters)."""
SYNC_WAIT: Final = 300.0
"""Seconds a synchronous request waits for a free computation slot."""
_EXTENSIONS: Final = {"image/tiff": ".tif", "application/netcdf": ".nc", "application/zip": ".zip"}


@router.get("/")
def get_capabilities(request: Request) -> dict[str, Any]:
    """Capabilities of the back-end."""
    return metadata.capabilities(openeo_root(request), stac_root(request))


@router.get("/conformance")
def get_conformance() -> dict[str, Any]:
    """Conformance classes."""
    return metadata.conformance()


@router.get("/file_formats")
def get_file_formats() -> dict[str, Any]:
    """Output formats of ``save_result``."""
    return metadata.file_formats()


@router.get("/collections")
def get_collections(request: Request, server: ServerDep) -> dict[str, Any]:
    """List the catalog's collections with their data cube dimensions."""
    return metadata.collections(server.index, openeo_root(request), stac_root(request))


@router.get("/collections/{collection_id}")
def get_collection(collection_id: str, request: Request, server: ServerDep) -> dict[str, Any]:
    """One collection (``CollectionNotFound`` 404 for unknown ids)."""
    return metadata.collection(
        server.index, collection_id, openeo_root(request), stac_root(request)
    )


@router.get("/processes")
def get_processes() -> dict[str, Any]:
    """Specifications of the implemented processes."""
    return metadata.processes()


@router.get("/credentials/basic")
def get_token(request: Request, server: ServerDep) -> dict[str, Any]:
    """Exchange HTTP Basic credentials for a bearer token."""
    token, _, expires = server.auth.login(request.headers.get("authorization"))
    return {"access_token": token, "expires_in": int(expires - time.time())}


@router.get("/me")
def get_me(user: UserDep) -> dict[str, Any]:
    """Describe the authenticated user."""
    return {"user_id": user, "name": user, "links": []}


def process_of(body: Mapping[str, Any], key: str | None = "process") -> dict[str, Any]:
    """Return the process object of a request body (``body[key]``; the body if no key)."""
    process = body.get(key) if key is not None else body
    if not isinstance(process, dict) or not isinstance(process.get("process_graph"), dict):
        where = f"'{key}.process_graph'" if key else "'process_graph'"
        raise ProcessGraphMissing(f"the request has no process graph ({where} object)")
    return process


@router.post("/validation")
def post_validation(body: JsonBody, user: UserDep, server: ServerDep) -> dict[str, Any]:
    """Validate a process graph without running it.

    A graph with parameters that have no default (a user-defined process) is only checked
    for structure and known process ids: its parameter values are unknown.
    """
    process = process_of(body, None)
    udps = server.store.process_graphs(user)
    try:
        if unbound_parameters(process):
            check_process("_validation", process, udps)
        else:
            validate_graph(resolve_process(process, udps), catalog=server.catalog)
    except OpenEOError as error:
        return {"errors": [error.to_dict()]}
    return {"errors": []}


def _json_value(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _value_response(value: Any) -> Response:
    if isinstance(value, xr.DataArray | xr.Dataset):
        raise ProcessGraphInvalid(
            "the result is a data cube: end the graph with save_result (format GTiff or "
            "netCDF) to download it"
        )
    try:
        content = json.dumps(value, default=_json_value)
    except (TypeError, ValueError) as error:
        raise ProcessGraphInvalid(f"the result cannot be sent as JSON: {error}") from error
    return Response(content, media_type="application/json")


def _run_sync(server: Server, process: dict[str, Any]) -> Response:
    workspace = server.state_dir / "tmp" / f"r-{uuid.uuid4().hex}"
    try:
        overlay = OverlayCatalog(workspace, server.catalog)
        result = run_graph(process, catalog=overlay, scheduler=server.scheduler)
        files = asset_files(own_items(workspace))
        if not files:
            shutil.rmtree(workspace, ignore_errors=True)
            return _value_response(result.value)
        path, media_type = result_file(files, workspace)
    except BaseException:
        shutil.rmtree(workspace, ignore_errors=True)
        raise
    suffix = next((s for t, s in _EXTENSIONS.items() if media_type.startswith(t)), path.suffix)
    return FileResponse(
        path,
        media_type=media_type,
        filename=f"result{suffix}",
        background=BackgroundTask(shutil.rmtree, workspace, ignore_errors=True),
    )


@router.post("/result")
def post_result(body: JsonBody, user: UserDep, server: ServerDep) -> Response:
    """Run a process graph and send its result (the file written by ``save_result``)."""
    process = resolve_process(process_of(body), server.store.process_graphs(user))
    if not server.sync_slots.acquire(timeout=SYNC_WAIT):
        raise InfrastructureBusy(
            "all synchronous processing slots are busy; retry later or create a batch job"
        )
    try:
        return _run_sync(server, process)
    finally:
        server.sync_slots.release()


# user-defined processes ----------------------------------------------------------------------


def _udp_id(process_graph_id: str) -> str:
    if not PROCESS_ID.match(process_graph_id):
        raise ProcessGraphNotFound(
            f"invalid process id {process_graph_id!r}: use letters, digits and '_' (at most 64)"
        )
    return process_graph_id


_LISTED: Final = ("id", "summary", "description", "parameters", "returns", "categories")


@router.get("/process_graphs")
def get_process_graphs(user: UserDep, server: ServerDep) -> dict[str, Any]:
    """List the user's processes (without their graphs)."""
    stored = server.store.process_graphs(user)
    listed = [{k: p[k] for k in _LISTED if k in p} | {"id": pid} for pid, p in stored.items()]
    return {"processes": listed, "links": []}


@router.get("/process_graphs/{process_graph_id}")
def get_process_graph(process_graph_id: str, user: UserDep, server: ServerDep) -> dict[str, Any]:
    """One of the user's processes."""
    process = server.store.get_process_graph(user, _udp_id(process_graph_id))
    return {**process, "id": process_graph_id}


@router.put("/process_graphs/{process_graph_id}")
def put_process_graph(
    process_graph_id: str, body: JsonBody, user: UserDep, server: ServerDep
) -> Response:
    """Store (or replace) a user-defined process."""
    _udp_id(process_graph_id)
    if process_graph_id in PROCESSES:
        raise PredefinedProcessExists(
            f"{process_graph_id!r} is a predefined process; choose another id"
        )
    process = check_process(
        process_graph_id, process_of(body, None), server.store.process_graphs(user)
    )
    server.store.put_process_graph(user, process_graph_id, process)
    return Response(status_code=200)


@router.delete("/process_graphs/{process_graph_id}", status_code=204)
def delete_process_graph(process_graph_id: str, user: UserDep, server: ServerDep) -> Response:
    """Delete a user-defined process."""
    server.store.delete_process_graph(user, _udp_id(process_graph_id))
    return Response(status_code=204)
