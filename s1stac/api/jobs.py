"""Persistent state of the API server: batch jobs, user-defined processes, bearer tokens, job logs.

Jobs, user-defined processes and (hashed) tokens live in one SQLite database
(``<state>/jobs.sqlite``, WAL journal), so a restarted server knows every job, every stored
process and every session that has not expired.  Every query on jobs and processes is
filtered by the owner: another user's id behaves exactly like an unknown id.

Job logs are JSON lines in ``<state>/jobs/<job id>/logs.jsonl``, appended by the server and by
the worker process that runs the job; the id of an entry is its line number.

References
----------
openEO API 1.2, batch jobs, https://api.openeo.org/#tag/Batch-Jobs
"""

from __future__ import annotations

import datetime as dt
import enum
import json
import logging
import os
import pathlib
import re
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import BadRequest, JobNotFound, ProcessGraphNotFound

__all__ = [
    "JOB_ID",
    "LOG_LEVELS",
    "Job",
    "JobStatus",
    "JobStore",
    "append_log",
    "read_logs",
    "utc_now",
]

LOGGER = logging.getLogger(__name__)

JOB_ID: Final = re.compile(r"^[\w\-.~]{1,64}$", re.ASCII)
"""Job id pattern of openEO API 1.2 (``^[\\w\\-\\.~]+$``), ASCII and at most 64 characters."""
LOG_LEVELS: Final = ("debug", "info", "warning", "error")
"""openEO log levels, from the most to the least verbose."""
_UPDATABLE: Final = ("title", "description", "process", "job_options")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    status TEXT NOT NULL,
    title TEXT,
    description TEXT,
    process TEXT NOT NULL,
    job_options TEXT,
    created TEXT NOT NULL,
    updated TEXT NOT NULL,
    pid INTEGER
);
CREATE INDEX IF NOT EXISTS jobs_by_user ON jobs (user, created);
CREATE TABLE IF NOT EXISTS process_graphs (
    user TEXT NOT NULL,
    id TEXT NOT NULL,
    process TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (user, id)
);
CREATE TABLE IF NOT EXISTS tokens (
    digest TEXT PRIMARY KEY,
    user TEXT NOT NULL,
    expires REAL NOT NULL
);
"""


class JobStatus(enum.StrEnum):
    """Status of a batch job (openEO API 1.2)."""

    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    CANCELED = "canceled"
    FINISHED = "finished"
    ERROR = "error"


ACTIVE: Final = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
"""Statuses during which a job is locked."""


def utc_now() -> str:
    """Return the current UTC time as RFC 3339 with a ``Z`` (second precision)."""
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Job:
    """A batch job as stored."""

    id: str
    user: str
    status: JobStatus
    process: Mapping[str, Any]
    """Process object ``{"process_graph": ..., ...}`` as submitted."""
    title: str | None
    description: str | None
    job_options: Mapping[str, Any] | None
    created: str
    updated: str
    pid: int | None
    """Process id of the worker while the job runs."""

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        """OpenEO batch job object (``full=False``: without the process, for listings)."""
        data: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "description": self.description,
            "status": str(self.status),
            "created": self.created,
            "updated": self.updated,
        }
        if self.status == JobStatus.FINISHED:
            data["progress"] = 100
        if full:
            data["process"] = dict(self.process)
            if self.job_options is not None:
                data["job_options"] = dict(self.job_options)
        return data


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        user=row["user"],
        status=JobStatus(row["status"]),
        process=json.loads(row["process"]),
        title=row["title"],
        description=row["description"],
        job_options=json.loads(row["job_options"]) if row["job_options"] else None,
        created=row["created"],
        updated=row["updated"],
        pid=row["pid"],
    )


class JobStore:
    """SQLite store of jobs, user-defined processes and tokens (thread-safe).

    Parameters
    ----------
    path
        Database file, created with its folder when missing.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._db.executescript(_SCHEMA)
        os.chmod(self.path, 0o600)

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._db.close()

    def _query(self, sql: str, parameters: Iterable[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, tuple(parameters)).fetchall()

    def _change(self, sql: str, parameters: Iterable[Any] = ()) -> int:
        with self._lock:
            return self._db.execute(sql, tuple(parameters)).rowcount

    # jobs ------------------------------------------------------------------------------------

    def create_job(
        self,
        user: str,
        process: Mapping[str, Any],
        *,
        title: str | None = None,
        description: str | None = None,
        job_options: Mapping[str, Any] | None = None,
    ) -> Job:
        """Store a new job with status ``created``."""
        job_id = f"j-{secrets.token_hex(12)}"
        now = utc_now()
        self._change(
            "INSERT INTO jobs (id, user, status, title, description, process, job_options, "
            "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job_id,
                user,
                str(JobStatus.CREATED),
                title,
                description,
                json.dumps(process),
                json.dumps(job_options) if job_options is not None else None,
                now,
                now,
            ),
        )
        return self.get_job(user, job_id)

    def get_job(self, user: str, job_id: str) -> Job:
        """Return the job ``job_id`` of ``user`` (``JobNotFound`` for other users' jobs too)."""
        if not JOB_ID.match(job_id):
            raise JobNotFound(f"invalid job id {job_id!r}: ids match {JOB_ID.pattern}")
        rows = self._query("SELECT * FROM jobs WHERE id = ? AND user = ?", (job_id, user))
        if not rows:
            raise JobNotFound(f"the batch job {job_id!r} does not exist")
        return _job(rows[0])

    def job(self, job_id: str) -> Job | None:
        """Return the job ``job_id`` of any user (for the job runner)."""
        rows = self._query("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _job(rows[0]) if rows else None

    def list_jobs(self, user: str, *, limit: int, offset: int = 0) -> list[Job]:
        """Jobs of ``user``, newest first."""
        rows = self._query(
            "SELECT * FROM jobs WHERE user = ? ORDER BY created DESC, id LIMIT ? OFFSET ?",
            (user, limit, offset),
        )
        return [_job(row) for row in rows]

    def jobs_with_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Jobs of every user whose status is one of ``statuses``, oldest first."""
        wanted = [str(s) for s in statuses]
        marks = ", ".join("?" for _ in wanted)
        rows = self._query(
            f"SELECT * FROM jobs WHERE status IN ({marks}) ORDER BY updated, id", wanted
        )
        return [_job(row) for row in rows]

    def update_job(self, user: str, job_id: str, fields: Mapping[str, Any]) -> None:
        """Change title, description, process or job options of a job."""
        unknown = sorted(set(fields) - set(_UPDATABLE))
        if unknown:
            raise BadRequest(f"cannot update {unknown}; updatable: {list(_UPDATABLE)}")
        self.get_job(user, job_id)
        values = [
            json.dumps(v) if k in ("process", "job_options") and v is not None else v
            for k, v in fields.items()
        ]
        assignments = ", ".join(f"{key} = ?" for key in fields)
        self._change(
            f"UPDATE jobs SET {assignments}, updated = ? WHERE id = ? AND user = ?",
            [*values, utc_now(), job_id, user],
        )

    def set_status(
        self,
        job_id: str,
        status: JobStatus,
        *,
        expected: Iterable[JobStatus] | None = None,
        pid: int | None = None,
        expected_pid: int | None = None,
    ) -> bool:
        """Set the status and worker pid; True if changed.

        With ``expected`` (statuses) or ``expected_pid`` (worker process id), only a job in
        that state is changed (compare-and-set).
        """
        sql = "UPDATE jobs SET status = ?, pid = ?, updated = ? WHERE id = ?"
        parameters: list[Any] = [str(status), pid, utc_now(), job_id]
        if expected is not None:
            wanted = [str(s) for s in expected]
            sql += f" AND status IN ({', '.join('?' for _ in wanted)})"
            parameters += wanted
        if expected_pid is not None:
            sql += " AND pid = ?"
            parameters.append(expected_pid)
        return self._change(sql, parameters) == 1

    def delete_job(self, user: str, job_id: str) -> None:
        """Forget a job."""
        self.get_job(user, job_id)
        self._change("DELETE FROM jobs WHERE id = ? AND user = ?", (job_id, user))

    # user-defined processes ------------------------------------------------------------------

    def put_process_graph(self, user: str, process_id: str, process: Mapping[str, Any]) -> None:
        """Store (or replace) a user-defined process."""
        self._change(
            "INSERT OR REPLACE INTO process_graphs (user, id, process, updated) "
            "VALUES (?, ?, ?, ?)",
            (user, process_id, json.dumps(process), utc_now()),
        )

    def get_process_graph(self, user: str, process_id: str) -> dict[str, Any]:
        """Return a user-defined process of ``user`` (``ProcessGraphNotFound`` otherwise)."""
        rows = self._query(
            "SELECT process FROM process_graphs WHERE user = ? AND id = ?", (user, process_id)
        )
        if not rows:
            raise ProcessGraphNotFound(f"user-defined process {process_id!r} does not exist")
        process: dict[str, Any] = json.loads(rows[0]["process"])
        return process

    def process_graphs(self, user: str) -> dict[str, dict[str, Any]]:
        """All user-defined processes of ``user`` by id."""
        rows = self._query(
            "SELECT id, process FROM process_graphs WHERE user = ? ORDER BY id", (user,)
        )
        return {row["id"]: json.loads(row["process"]) for row in rows}

    def delete_process_graph(self, user: str, process_id: str) -> None:
        """Delete a user-defined process."""
        self.get_process_graph(user, process_id)
        self._change("DELETE FROM process_graphs WHERE user = ? AND id = ?", (user, process_id))

    # tokens ----------------------------------------------------------------------------------

    def add_token(self, digest: str, user: str, expires: float) -> None:
        """Store the digest of a new bearer token."""
        self._change(
            "INSERT INTO tokens (digest, user, expires) VALUES (?, ?, ?)", (digest, user, expires)
        )

    def token(self, digest: str) -> tuple[str, float] | None:
        """(user, expiry as POSIX time) of a token digest, if known."""
        rows = self._query("SELECT user, expires FROM tokens WHERE digest = ?", (digest,))
        return (rows[0]["user"], rows[0]["expires"]) if rows else None

    def purge_tokens(self, now: float) -> int:
        """Delete expired tokens; number deleted."""
        return self._change("DELETE FROM tokens WHERE expires <= ?", (now,))


# logs ----------------------------------------------------------------------------------------


def append_log(
    path: str | os.PathLike[str],
    level: str,
    message: str,
    *,
    code: str | None = None,
    data: Any = None,
) -> None:
    """Append one openEO log entry (one JSON line, written with a single ``write``)."""
    entry: dict[str, Any] = {"level": level, "message": message, "time": utc_now()}
    if code is not None:
        entry["code"] = code
    if data is not None:
        entry["data"] = data
    line = (json.dumps(entry, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def _entries(path: pathlib.Path) -> Iterator[dict[str, Any]]:
    try:
        with path.open(encoding="utf-8") as stream:
            for number, line in enumerate(stream):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line still being written by another process
                yield {"id": str(number), **entry}
    except FileNotFoundError:
        return


def read_logs(
    path: str | os.PathLike[str],
    *,
    offset: str | None = None,
    level: str = "debug",
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Log entries after the entry ``offset``, at ``level`` or more severe."""
    if level not in LOG_LEVELS:
        raise BadRequest(f"log level {level!r} is not one of {list(LOG_LEVELS)}")
    if offset is not None and not offset.isdigit():
        raise BadRequest(f"offset {offset!r} is not the id of a log entry (a number)")
    start = int(offset) + 1 if offset is not None else 0
    minimum = LOG_LEVELS.index(level)
    logs = []
    for entry in _entries(pathlib.Path(path)):
        if int(entry["id"]) < start:
            continue
        if LOG_LEVELS.index(entry.get("level", "info")) >= minimum:
            logs.append(entry)
            if limit is not None and len(logs) >= limit:
                break
    return logs
