"""HTTP API of s1stac: openEO API 1.2, STAC API and HTML pages over a static catalog.

``s1stac serve`` runs :func:`serve`; ``s1stac user add`` runs :func:`add_user`.
"""

from __future__ import annotations

from .app import create_app, serve
from .auth import add_user, list_users, remove_user

__all__ = ["add_user", "create_app", "list_users", "remove_user", "serve"]
