"""What the routes share: the server's components and the request helpers (user, URLs, body).

References
----------
FastAPI dependencies, https://fastapi.tiangolo.com/tutorial/dependencies/
"""

from __future__ import annotations

import pathlib
import threading
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Body, Depends, Request

from s1stac.catalog import StaticCatalog

from .auth import Authenticator
from .jobs import JobStore
from .runner import JobRunner
from .stac_index import CatalogIndex

__all__ = [
    "OPENEO_PREFIX",
    "STAC_PREFIX",
    "JsonBody",
    "Server",
    "ServerDep",
    "UserDep",
    "base_url",
    "get_server",
    "openeo_root",
    "stac_root",
]

OPENEO_PREFIX = "/openeo/1.2"
STAC_PREFIX = "/stac"


@dataclass
class Server:
    """Components of a running API server."""

    catalog: StaticCatalog
    index: CatalogIndex
    store: JobStore
    auth: Authenticator
    runner: JobRunner
    state_dir: pathlib.Path
    scheduler: str | None = None
    sync_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(2)
    )
    """Synchronous ``POST /result`` computations allowed at the same time."""


async def get_server(request: Request) -> Server:
    """Return the :class:`Server` of the application."""
    server: Server = request.app.state.server
    return server


async def current_user(request: Request) -> str:
    """Return the authenticated user of the request (openEO errors otherwise).

    Runs on the event loop (no thread hop): a dictionary look-up, a ``stat`` of the users
    file and, for tokens not seen since the start, one SQLite query.
    """
    server: Server = request.app.state.server
    return server.auth.user(request.headers.get("authorization"))


def base_url(request: Request) -> str:
    """Scheme, host and port of the request, without a trailing slash."""
    return str(request.base_url).rstrip("/")


def openeo_root(request: Request) -> str:
    """URL of the openEO API root (without trailing slash)."""
    return base_url(request) + OPENEO_PREFIX


def stac_root(request: Request) -> str:
    """URL of the STAC API landing page."""
    return base_url(request) + STAC_PREFIX


ServerDep = Annotated[Server, Depends(get_server)]
UserDep = Annotated[str, Depends(current_user)]
JsonBody = Annotated[dict[str, Any], Body()]
"""A JSON object request body (anything else is answered with 400 BadRequest)."""
