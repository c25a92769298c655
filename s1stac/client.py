"""Python client convenience: an authenticated ``openeo.Connection`` to an s1stac server.

References
----------
openEO Python client, https://open-eo.github.io/openeo-python-client/
"""

from __future__ import annotations

import os
from typing import Final

from openeo.rest.connection import Connection
from openeo.rest.connection import connect as openeo_connect

__all__ = ["PASSWORD_ENV", "USER_ENV", "connect"]

USER_ENV: Final = "S1STAC_USER"
PASSWORD_ENV: Final = "S1STAC_PASSWORD"


def connect(
    url: str = "http://127.0.0.1:8000",
    *,
    username: str | None = None,
    password: str | None = None,
) -> Connection:
    """Connect to an s1stac server and authenticate with HTTP Basic credentials.

    Parameters
    ----------
    url
        Address of the server (``s1stac serve``); the openEO version is discovered from
        ``/.well-known/openeo``.
    username, password
        Credentials (``s1stac user add``); default to the environment variables
        ``S1STAC_USER`` and ``S1STAC_PASSWORD``, else to the credentials stored for this URL
        by ``openeo-auth add-basic``.

    Returns
    -------
    openeo.Connection
        Authenticated connection of the official openEO client.

    Examples
    --------
    >>> import s1stac.client
    >>> connection = s1stac.client.connect("http://127.0.0.1:8000", username="alice",
    ...                                    password="correct horse")  # doctest: +SKIP
    >>> connection.list_collection_ids()  # doctest: +SKIP
    ['SENTINEL1_GRD', 's1-ard', 's1-timeseries', 's1-timescan', 's1-mosaic']
    """
    username = username if username is not None else os.environ.get(USER_ENV)
    password = password if password is not None else os.environ.get(PASSWORD_ENV)
    connection = openeo_connect(url)
    return connection.authenticate_basic(username=username, password=password)
