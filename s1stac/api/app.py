"""The ASGI application of ``s1stac serve``: openEO API 1.2, STAC API and HTML pages in one app.

Layout of the server::

    /.well-known/openeo        openEO version discovery
    /openeo/1.2/...            openEO API (openeo_routes, job_routes)
    /stac/...                  STAC API over the served catalog (stac_routes)
    /browse/...                HTML pages of the catalog (html); / redirects there

State (users file, job database, job folders, temporary files of synchronous requests) lives
in ``<catalog>/.s1stac`` unless another folder is given.  Every error, from the engine or from
the API, is answered with openEO error JSON (``{"id", "code", "message", "links"}``) and the
HTTP status of the openEO error list; request bodies larger than ``max_body`` bytes are
refused with 413 before they reach a route.  CORS is open to any origin, as openEO asks.

What needs authentication: everything under ``/openeo/1.2`` except the discovery endpoints
(capabilities, ``/conformance``, ``/file_formats``, ``/collections``, ``/processes``).  The
STAC API and the HTML pages publish the served catalog read-only, without authentication,
like the collection metadata of openEO; users' jobs, results and processes are only under
``/openeo/1.2`` and only for their owner.

References
----------
openEO API 1.2.0, https://api.openeo.org/1.2.0/
Uvicorn, https://www.uvicorn.org; FastAPI, https://fastapi.tiangolo.com
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import threading
from collections.abc import AsyncIterator
from typing import Any, Final

import filelock
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from s1stac import __version__
from s1stac.catalog import StaticCatalog
from s1stac.errors import S1StacError

from . import html, job_routes, metadata, openeo_routes, stac_routes
from .auth import Authenticator, list_users, state_path
from .errors import BadRequest, Internal, MethodNotAllowed, NotFound, OpenEOError, PayloadTooLarge
from .jobs import JobStore
from .runner import JobRunner
from .stac_index import CatalogIndex
from .state import OPENEO_PREFIX, STAC_PREFIX, Server, base_url

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_TOKEN_TTL", "create_app", "serve"]

LOGGER = logging.getLogger(__name__)

DEFAULT_TOKEN_TTL: Final = 24 * 3600.0
"""Lifetime of bearer tokens, seconds."""
DEFAULT_MAX_BODY: Final = 2 * 1024 * 1024
"""Largest request body accepted, bytes."""


class BodyLimit:
    """ASGI middleware refusing request bodies over ``limit`` bytes with 413 PayloadTooLarge."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"the request body exceeds the limit of {self.limit} bytes")
        await JSONResponse(error.to_dict(), status_code=error.status_code)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


def _error_response(error: OpenEOError, status: int | None = None) -> JSONResponse:
    status = status or error.status_code
    if status >= 500:
        LOGGER.error("%s (error id %s)", error, error.id)
    headers = {"WWW-Authenticate": 'Bearer realm="openEO"'} if status == 401 else None
    return JSONResponse(error.to_dict(), status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(OpenEOError)
    async def openeo_error(request: Request, error: OpenEOError) -> JSONResponse:
        return _error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in error.errors()
        )
        return _error_response(BadRequest(f"invalid request: {problems}"))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        if error.status_code == 404:
            return _error_response(NotFound(f"nothing at {request.url.path}"))
        if error.status_code == 405:
            return _error_response(
                MethodNotAllowed(f"{request.method} is not allowed on {request.url.path}")
            )
        return _error_response(BadRequest(str(error.detail)), error.status_code)

    @app.exception_handler(S1StacError)
    async def s1stac_error(request: Request, error: S1StacError) -> JSONResponse:
        return _error_response(Internal(str(error)))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        LOGGER.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error_response(Internal(f"unexpected server error ({type(error).__name__})"))


def create_app(
    catalog: str | os.PathLike[str],
    *,
    state_dir: str | os.PathLike[str] | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    token_ttl: float = DEFAULT_TOKEN_TTL,
    max_body: int = DEFAULT_MAX_BODY,
) -> FastAPI:
    """Build the ASGI application serving a catalog.

    Parameters
    ----------
    catalog
        Folder of an existing static catalog (``catalog.json``).
    state_dir
        Folder of the server state (users, jobs); default ``<catalog>/.s1stac``.
    workers
        Batch jobs run at the same time (one worker process each); also the number of
        synchronous ``POST /result`` computations at the same time.
    scheduler
        Dask scheduler for the computations (see :func:`s1stac.openeo.run_graph`).
    token_ttl
        Lifetime of bearer tokens, seconds.
    max_body
        Largest request body, bytes.

    Returns
    -------
    fastapi.FastAPI
        The application; its lifespan starts and stops the job runner.
    """
    served = StaticCatalog(catalog, create=False)
    state = state_path(served.root, state_dir)
    state.mkdir(mode=0o700, parents=True, exist_ok=True)
    store = JobStore(state / "jobs.sqlite")
    server = Server(
        catalog=served,
        index=CatalogIndex(served),
        store=store,
        auth=Authenticator(state / "users.json", store, token_ttl),
        runner=JobRunner(store, served.root, state / "jobs", workers=workers, scheduler=scheduler),
        state_dir=state,
        scheduler=scheduler,
        sync_slots=threading.BoundedSemaphore(max(1, workers)),
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock = filelock.FileLock(str(state / "server.lock"), timeout=0)
        try:
            lock.acquire()
        except filelock.Timeout:
            raise S1StacError(
                f"another server already uses the state folder {str(state)!r}; stop it, or "
                "serve with another state folder"
            ) from None
        try:
            shutil.rmtree(state / "tmp", ignore_errors=True)
            server.runner.start()
            LOGGER.info("serving %s (state in %s)", served.root, state)
            if not list_users(served.root, state_dir=state):
                LOGGER.warning("no users yet: add one with `s1stac user add NAME --catalog DIR`")
            yield
            server.runner.shutdown()
            server.store.close()
        finally:
            lock.release()

    app = FastAPI(
        title="s1stac",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.server = server

    @app.get("/.well-known/openeo")
    def well_known(request: Request) -> dict[str, Any]:
        return metadata.well_known(base_url(request))

    app.include_router(openeo_routes.router, prefix=OPENEO_PREFIX)
    app.include_router(job_routes.router, prefix=OPENEO_PREFIX)
    app.include_router(stac_routes.router, prefix=STAC_PREFIX)
    app.include_router(html.router)
    _install_error_handlers(app)
    app.add_middleware(BodyLimit, limit=max_body)
    # openEO API 1.2 asks for CORS so that browser clients (openEO Web Editor) can connect;
    # authentication is by bearer token, never by cookie, so any origin may call
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["Authorization", "Content-Type", "Range"],
        expose_headers=["Location", "OpenEO-Identifier", "Link", "Content-Range", "Accept-Ranges"],
    )
    return app


def serve(
    catalog: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    state_dir: str | os.PathLike[str] | None = None,
    workers: int = 2,
    scheduler: str | None = None,
    token_ttl: float = DEFAULT_TOKEN_TTL,
    max_body: int = DEFAULT_MAX_BODY,
    access_log: bool = True,
) -> None:
    """Serve a catalog over HTTP until interrupted (``s1stac serve``).

    Parameters
    ----------
    catalog, state_dir, workers, scheduler, token_ttl, max_body
        See :func:`create_app`.
    host, port
        Address to listen on; the default only accepts connections from this machine.
    access_log
        Log every request.
    """
    app = create_app(
        catalog,
        state_dir=state_dir,
        workers=workers,
        scheduler=scheduler,
        token_ttl=token_ttl,
        max_body=max_body,
    )
    uvicorn.run(app, host=host, port=port, access_log=access_log, log_level="info")
