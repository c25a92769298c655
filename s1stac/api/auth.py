"""Users and authentication of the API server: a users file, HTTP basic login, bearer tokens.

Users live in ``<state>/users.json`` (``<state>`` defaults to ``<catalog>/.s1stac``, mode 0600)
with scrypt password hashes (``scrypt$n$r$p$salt$hash``, base64); they are managed with
:func:`add_user` / :func:`remove_user` (``s1stac user add``) and picked up by a running server
without restart.  ``GET /credentials/basic`` exchanges a user name and password for a random
bearer token; the server keeps only its SHA-256 digest, with an expiry, in the state database,
so sessions survive a server restart and end when they expire or when the user is removed.
Clients send ``Authorization: Bearer basic//<token>`` (openEO) or ``Bearer <token>``.

References
----------
openEO API 1.2, authentication, https://api.openeo.org/#section/Authentication
RFC 7617 (HTTP Basic), RFC 6750 (Bearer tokens); scrypt, RFC 7914
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import logging
import os
import pathlib
import re
import secrets
import tempfile
import threading
import time
from typing import Any, Final

import filelock

from s1stac.errors import ParameterError

from .errors import (
    AuthenticationRequired,
    AuthenticationSchemeInvalid,
    CredentialsInvalid,
    TokenInvalid,
)
from .jobs import JobStore, utc_now

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "USER_NAME",
    "Authenticator",
    "add_user",
    "list_users",
    "remove_user",
    "state_path",
]

LOGGER = logging.getLogger(__name__)

USER_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$", re.ASCII)
"""User names: letters, digits, ``_ . @ -``, at most 64 characters (no ``:``, see RFC 7617)."""
MIN_PASSWORD_LENGTH: Final = 8
STATE_FOLDER: Final = ".s1stac"
"""Default state folder inside the catalog (users, job database, job results)."""
_SCRYPT: Final = {"n": 2**14, "r": 8, "p": 1}
_PREFIXES: Final = ("basic//",)


def state_path(
    catalog: str | os.PathLike[str], state_dir: str | os.PathLike[str] | None = None
) -> pathlib.Path:
    """State folder of a served catalog: ``state_dir`` or ``<catalog>/.s1stac``."""
    if state_dir is not None:
        return pathlib.Path(state_dir).absolute()
    return pathlib.Path(catalog).absolute() / STATE_FOLDER


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> str:
    """Salted scrypt hash of a password, as ``scrypt$n$r$p$salt$hash``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    n, r, p = _SCRYPT["n"], _SCRYPT["r"], _SCRYPT["p"]
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` matches a hash made by :func:`hash_password`."""
    try:
        scheme, n, r, p, salt, digest = encoded.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=base64.b64decode(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
        )
    except (ValueError, binascii.Error):
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


_DUMMY_HASH: Final = hash_password(secrets.token_hex(16))
"""Checked against for unknown users, so that both cases take the same time."""


def _users_file(
    catalog: str | os.PathLike[str], state_dir: str | os.PathLike[str] | None
) -> pathlib.Path:
    return state_path(catalog, state_dir) / "users.json"


def _read_users(path: pathlib.Path) -> dict[str, dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        raise ParameterError(f"cannot read the users file {str(path)!r}: {error}") from error
    users: dict[str, dict[str, Any]] = data.get("users", {})
    return users


def _write_users(path: pathlib.Path, users: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".users.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            json.dump({"users": users}, stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def add_user(
    catalog: str | os.PathLike[str],
    name: str,
    password: str,
    *,
    state_dir: str | os.PathLike[str] | None = None,
    replace: bool = False,
) -> pathlib.Path:
    """Add a user (or, with ``replace``, set a new password) in the users file of a catalog.

    Parameters
    ----------
    catalog
        Catalog folder served by ``s1stac serve``.
    name
        User name (letters, digits, ``_ . @ -``; at most 64 characters).
    password
        At least :data:`MIN_PASSWORD_LENGTH` characters; only its scrypt hash is stored.
    state_dir
        State folder, if not ``<catalog>/.s1stac``.
    replace
        Replace the password of an existing user instead of failing.

    Returns
    -------
    pathlib.Path
        The users file.

    Raises
    ------
    ParameterError
        For an invalid name, a short password or an existing user without ``replace``.
    """
    if not USER_NAME.match(name):
        raise ParameterError(
            f"user name {name!r} is invalid: use 1-64 letters, digits, '_', '.', '@' or '-', "
            "starting with a letter or digit"
        )
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ParameterError(
            f"the password of {name!r} is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    path = _users_file(catalog, state_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with filelock.FileLock(str(path) + ".lock", timeout=30):
        users = _read_users(path)
        if name in users and not replace:
            raise ParameterError(
                f"user {name!r} already exists in {str(path)!r}; pass replace=True "
                "(--replace) to set a new password"
            )
        users[name] = {"password": hash_password(password), "created": utc_now()}
        _write_users(path, users)
    LOGGER.info("user %s stored in %s", name, path)
    return path


def remove_user(
    catalog: str | os.PathLike[str],
    name: str,
    *,
    state_dir: str | os.PathLike[str] | None = None,
) -> None:
    """Remove a user; their tokens stop working at once (jobs and processes are kept)."""
    path = _users_file(catalog, state_dir)
    with filelock.FileLock(str(path) + ".lock", timeout=30):
        users = _read_users(path)
        if name not in users:
            raise ParameterError(f"no user {name!r} in {str(path)!r}; users: {sorted(users)}")
        del users[name]
        _write_users(path, users)


def list_users(
    catalog: str | os.PathLike[str], *, state_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """Names of the users of a catalog."""
    return sorted(_read_users(_users_file(catalog, state_dir)))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Authenticator:
    """Checks credentials and bearer tokens against the users file and the token store.

    Parameters
    ----------
    users_file
        The users file (re-read when it changes).
    store
        Where token digests are kept.
    token_ttl
        Lifetime of a token in seconds.
    """

    def __init__(self, users_file: pathlib.Path, store: JobStore, token_ttl: float) -> None:
        self.users_file = users_file
        self.store = store
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._users: dict[str, dict[str, Any]] = {}
        self._stamp: tuple[int, int] | None = None
        self._tokens: dict[str, tuple[str, float]] = {}

    def _current_users(self) -> dict[str, dict[str, Any]]:
        try:
            stat = self.users_file.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                self._users = _read_users(self.users_file) if stamp else {}
                self._stamp = stamp
            return self._users

    def login(self, authorization: str | None) -> tuple[str, str, float]:
        """Check an HTTP Basic ``Authorization`` header; (token, user, expiry) on success."""
        if not authorization:
            raise AuthenticationRequired(
                "send the user name and password with HTTP Basic authentication"
            )
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise AuthenticationSchemeInvalid(
                f"{scheme!r} authentication is not supported here; use HTTP Basic"
            )
        try:
            name, sep, password = (
                base64.b64decode(credentials, validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            sep = ""
        if not sep:
            raise CredentialsInvalid("malformed HTTP Basic credentials")
        user = self._current_users().get(name)
        valid = verify_password(password, user["password"] if user else _DUMMY_HASH)
        if user is None or not valid:
            LOGGER.warning("failed login for user %r", name)
            raise CredentialsInvalid("the user name or the password is not correct")
        token = secrets.token_urlsafe(32)
        now = time.time()
        expires = now + self.token_ttl
        self.store.purge_tokens(now)
        self.store.add_token(_digest(token), name, expires)
        with self._lock:
            self._tokens = {d: v for d, v in self._tokens.items() if v[1] > now}
            self._tokens[_digest(token)] = (name, expires)
        return token, name, expires

    def user(self, authorization: str | None) -> str:
        """Return the user owning the bearer token of an ``Authorization`` header."""
        if not authorization:
            raise AuthenticationRequired(
                "this endpoint requires authentication: get a token from "
                "GET /credentials/basic and send it as 'Authorization: Bearer basic//<token>'"
            )
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise AuthenticationSchemeInvalid(
                f"{scheme!r} authentication is not accepted here; send the bearer token "
                "from GET /credentials/basic"
            )
        for prefix in _PREFIXES:
            token = token.removeprefix(prefix)
        if "/" in token:
            raise AuthenticationSchemeInvalid("only tokens of basic authentication are accepted")
        digest = _digest(token)
        with self._lock:
            known = self._tokens.get(digest)
        if known is None:
            known = self.store.token(digest)
            if known is not None:
                with self._lock:
                    self._tokens[digest] = known
        if known is None or known[1] <= time.time():
            raise TokenInvalid("the token is invalid or has expired; authenticate again")
        if known[0] not in self._current_users():
            raise TokenInvalid(f"user {known[0]!r} no longer exists")
        return known[0]
