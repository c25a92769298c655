"""openEO API 1.2 batch jobs: create, list, describe, update, delete, start, cancel, results, logs.

Every route requires authentication and sees only the user's own jobs: another user's job id
is answered like an unknown one (404 ``JobNotFound``).  Results are a STAC Collection whose
assets are the files written by the job, downloaded from
``/jobs/{job_id}/results/assets/{key}`` (with HTTP Range support); each result item is at
``/jobs/{job_id}/results/items/{item_id}``.

References
----------
openEO API 1.2.0, batch jobs, https://api.openeo.org/1.2.0/#tag/Batch-Jobs
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Final

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from s1stac.openeo import validate_graph

from .documents import api_item, catalog_item_url, job_results
from .errors import (
    BadRequest,
    FileNotFound,
    JobLocked,
    JobNotFinished,
    NoDataForUpdate,
)
from .graphs import resolve_process
from .jobs import ACTIVE, Job, JobStatus, read_logs
from .openeo_routes import process_of
from .state import JsonBody, Server, ServerDep, UserDep, openeo_root, stac_root
from .workspace import asset_files, own_items

__all__ = ["router"]

LOGGER = logging.getLogger(__name__)

router = APIRouter()

MAX_LIMIT: Final = 1000
_JOB_FIELDS: Final = ("title", "description", "process", "job_options")
_IGNORED_FIELDS: Final = ("plan", "budget", "log_level")


def _validated(server: Server, user: str, process: dict[str, Any]) -> dict[str, Any]:
    """Resolve a process for the engine and validate it against the catalog."""
    resolved = resolve_process(process, server.store.process_graphs(user))
    validate_graph(resolved, catalog=server.catalog)
    return resolved


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key!r} must be a string or null")
    return value


def _options(body: dict[str, Any]) -> dict[str, Any] | None:
    value = body.get("job_options")
    if value is not None and not isinstance(value, dict):
        raise BadRequest("'job_options' must be an object or null")
    return value


@router.post("/jobs", status_code=201)
def create_job(body: JsonBody, request: Request, user: UserDep, server: ServerDep) -> Response:
    """Create a job (status ``created``) from a validated process graph."""
    process = process_of(body)
    _validated(server, user, process)
    job = server.store.create_job(
        user,
        process,
        title=_text(body, "title"),
        description=_text(body, "description"),
        job_options=_options(body),
    )
    location = f"{openeo_root(request)}/jobs/{job.id}"
    return Response(status_code=201, headers={"OpenEO-Identifier": job.id, "Location": location})


@router.get("/jobs")
def list_jobs(
    request: Request,
    user: UserDep,
    server: ServerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """List the user's jobs, newest first (paged with ``limit`` and ``offset``)."""
    jobs = server.store.list_jobs(user, limit=limit + 1, offset=offset)
    links = []
    if len(jobs) > limit:
        url = f"{openeo_root(request)}/jobs?limit={limit}&offset={offset + limit}"
        links.append({"rel": "next", "href": url, "type": "application/json"})
    return {"jobs": [job.to_dict(full=False) for job in jobs[:limit]], "links": links}


@router.get("/jobs/{job_id}")
async def describe_job(job_id: str, user: UserDep, server: ServerDep) -> dict[str, Any]:
    """Metadata and status of a job."""
    return server.store.get_job(user, job_id).to_dict()


@router.patch("/jobs/{job_id}", status_code=204)
def update_job(job_id: str, body: JsonBody, user: UserDep, server: ServerDep) -> Response:
    """Change title, description, process or job options of a job that is not running."""
    job = server.store.get_job(user, job_id)
    unknown = sorted(set(body) - set(_JOB_FIELDS) - set(_IGNORED_FIELDS))
    if unknown:
        raise BadRequest(f"cannot update {unknown}; properties: {list(_JOB_FIELDS)}")
    fields: dict[str, Any] = {key: body[key] for key in _JOB_FIELDS if key in body}
    if not fields:
        raise NoDataForUpdate(f"give at least one of {list(_JOB_FIELDS)}")
    if job.status in ACTIVE:
        raise JobLocked(f"job {job_id!r} is {job.status}; cancel it before changing it")
    if "process" in fields:
        fields["process"] = process_of(body)
        _validated(server, user, fields["process"])
    for key in ("title", "description"):
        if key in fields:
            _text(fields, key)
    if "job_options" in fields:
        _options(fields)
    server.store.update_job(user, job_id, fields)
    return Response(status_code=204)


@router.delete("/jobs/{job_id}", status_code=204)
def delete_job(job_id: str, user: UserDep, server: ServerDep) -> Response:
    """Stop a job if it runs and delete it with its results and logs."""
    server.store.get_job(user, job_id)
    server.runner.delete(job_id)
    server.store.delete_job(user, job_id)
    return Response(status_code=204)


@router.post("/jobs/{job_id}/results", status_code=202)
def start_job(job_id: str, user: UserDep, server: ServerDep) -> Response:
    """Queue a job (no effect while it is queued or running); previous results are discarded."""
    job = server.store.get_job(user, job_id)
    if job.status not in ACTIVE:
        resolved = _validated(server, user, dict(job.process))
        server.runner.submit(job_id, resolved)
    return Response(status_code=202)


@router.delete("/jobs/{job_id}/results", status_code=204)
def cancel_job(job_id: str, user: UserDep, server: ServerDep) -> Response:
    """Cancel a queued (-> ``created``) or running (-> ``canceled``) job."""
    job = server.store.get_job(user, job_id)
    if job.status in ACTIVE:
        server.runner.cancel(job_id)
    return Response(status_code=204)


def _last_error(server: Server, job: Job) -> dict[str, Any]:
    """Return the last error log entry of a failed job (also an openEO error object)."""
    logs = read_logs(server.runner.job_dir(job.id) / "logs.jsonl", level="error")
    last = logs[-1] if logs else {"id": "0", "message": "the job failed"}
    return {
        "id": last["id"],
        "level": "error",
        "code": last.get("code") or "Internal",
        "message": last["message"],
        "links": [],
    }


def _results(server: Server, job: Job) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    items = own_items(server.runner.job_dir(job.id) / "results")
    documents = [item.to_dict(include_self_link=False, transform_hrefs=False) for _, item in items]
    return documents, asset_files(items)


@router.get("/jobs/{job_id}/results", response_model=None)
def get_results(
    job_id: str,
    request: Request,
    user: UserDep,
    server: ServerDep,
    partial: bool = False,
) -> dict[str, Any] | JSONResponse:
    """Results of a finished job as a STAC Collection (424 with the error for failed jobs)."""
    job = server.store.get_job(user, job_id)
    if job.status == JobStatus.ERROR and not partial:
        return JSONResponse(_last_error(server, job), status_code=424)
    if job.status != JobStatus.FINISHED and not partial:
        raise JobNotFinished(f"job {job_id!r} is {job.status}; results exist once it is finished")
    documents, files = _results(server, job)
    return job_results(job, documents, files, root=openeo_root(request))


@router.get("/jobs/{job_id}/results/items/{item_id}")
def get_result_item(
    job_id: str, item_id: str, request: Request, user: UserDep, server: ServerDep
) -> JSONResponse:
    """One item of a job's results, its assets pointing to the download URLs."""
    job = server.store.get_job(user, job_id)
    documents, files = _results(server, job)
    document = next((d for d in documents if d["id"] == item_id), None)
    if document is None:
        raise FileNotFound(f"job {job_id!r} has no result item {item_id!r}")
    base = f"{openeo_root(request)}/jobs/{job_id}/results"
    by_asset = {(f.item_id, f.asset_key): key for key, f in files.items()}

    def asset_url(key: str, asset: Any) -> str | None:
        unique = by_asset.get((item_id, key))
        return f"{base}/assets/{unique}" if unique else None

    item = api_item(
        document,
        self_url=f"{base}/items/{item_id}",
        collection_url=base,
        root_url=f"{openeo_root(request)}/",
        asset_url=asset_url,
        derived_url=lambda href: catalog_item_url(
            href, server.runner.job_dir(job_id), server.catalog.root, stac_root(request)
        ),
    )
    return JSONResponse(item, media_type="application/geo+json")


@router.api_route("/jobs/{job_id}/results/assets/{key}", methods=["GET", "HEAD"])
def get_result_asset(job_id: str, key: str, user: UserDep, server: ServerDep) -> FileResponse:
    """Download a result file (HTTP Range requests are honoured)."""
    job = server.store.get_job(user, job_id)
    if job.status != JobStatus.FINISHED:
        raise JobNotFinished(f"job {job_id!r} is {job.status}")
    _, files = _results(server, job)
    file = files.get(key)
    if file is None or not file.path.is_file():
        raise FileNotFound(f"job {job_id!r} has no result file {key!r}")
    return FileResponse(file.path, media_type=file.media_type)


@router.get("/jobs/{job_id}/logs")
def get_logs(
    job_id: str,
    request: Request,
    user: UserDep,
    server: ServerDep,
    offset: str | None = None,
    level: str = "debug",
    limit: Annotated[int | None, Query(ge=1, le=MAX_LIMIT)] = None,
) -> dict[str, Any]:
    """Log entries of a job, from ``offset`` on, at ``level`` or more severe."""
    server.store.get_job(user, job_id)
    path = server.runner.job_dir(job_id) / "logs.jsonl"
    logs = read_logs(path, offset=offset, level=level, limit=limit)
    links = []
    if limit is not None and len(logs) == limit:
        url = (
            f"{openeo_root(request)}/jobs/{job_id}/logs?offset={logs[-1]['id']}&level={level}"
            f"&limit={limit}"
        )
        links.append({"rel": "next", "href": url, "type": "application/json"})
    return {"level": level, "logs": logs, "links": links}
