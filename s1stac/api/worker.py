"""Worker process of one batch job: ``python -m s1stac.api.worker CATALOG [--scheduler S]``.

The worker imports the engine first, then reads the job folder (one line) from its standard
input, so the server can start it before a job arrives and a job starts without the import
delay.  It then redirects its standard error to ``JOB_DIR/worker.err``, reads
``JOB_DIR/process.json``, runs it with :func:`s1stac.openeo.run_graph` on dask over an
:class:`~s1stac.api.workspace.OverlayCatalog` in ``JOB_DIR/results`` and appends log entries
(``s1stac`` log records at INFO and above, warnings, the outcome) to ``JOB_DIR/logs.jsonl``.
A failure writes the openEO error object to ``JOB_DIR/error.json`` and exits with status 1.

The worker exits at once when its standard input reaches end of file (before or after the
job line): the server holds the other end of that pipe, so a killed server never leaves a
worker running.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import pathlib
import sys
import threading
import traceback
from collections.abc import Sequence
from typing import Final

from .jobs import append_log

__all__ = ["main", "run_job"]

LOGGER = logging.getLogger(__name__)

ORPHANED: Final = 70
"""Exit status when the server went away."""
_LEVELS: Final = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warning"}
_STDIN: Final = 0


def _read_line() -> str:
    """Read one line from the standard input (unbuffered); exit on end of file."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(_STDIN, 1)
        if not chunk:
            os._exit(ORPHANED)
        data += chunk
    return data.decode().strip()


def _watch_server() -> None:
    """Exit the process when the server's end of the standard input pipe closes."""

    def watch() -> None:
        # os.read, not sys.stdin: a daemon thread blocked in a buffered read would hold the
        # reader's lock and abort the interpreter at exit
        try:
            while os.read(_STDIN, 1024):
                pass
        except OSError:
            pass
        os._exit(ORPHANED)

    threading.Thread(target=watch, name="server-watch", daemon=True).start()


class _JobLogHandler(logging.Handler):
    """Appends log records to the job's log as openEO log entries."""

    def __init__(self, path: pathlib.Path) -> None:
        super().__init__(logging.INFO)
        self.path = path

    def emit(self, record: logging.LogRecord) -> None:
        level = _LEVELS.get(record.levelno, "error")
        try:
            append_log(self.path, level, self.format(record))
        except OSError:
            self.handleError(record)


def run_job(folder: pathlib.Path, catalog: pathlib.Path, scheduler: str | None) -> int:
    """Run the job of ``folder``; the exit status (0 finished, 1 error)."""
    from s1stac.catalog import StaticCatalog
    from s1stac.openeo import run_graph
    from s1stac.openeo.errors import OpenEOError

    from .workspace import OverlayCatalog

    logs = folder / "logs.jsonl"
    append_log(logs, "info", "job started")
    try:
        process = json.loads((folder / "process.json").read_text(encoding="utf-8"))
        overlay = OverlayCatalog(folder / "results", StaticCatalog(catalog, create=False))
        result = run_graph(process, catalog=overlay, scheduler=scheduler)
    except OpenEOError as error:
        append_log(logs, "error", error.message, code=error.code)
        (folder / "error.json").write_text(json.dumps(error.to_dict()), encoding="utf-8")
        return 1
    except Exception as error:  # every failure must end as a job error with a log entry
        traceback.print_exc()
        message = f"{type(error).__name__}: {error}"
        append_log(logs, "error", message, code="Internal")
        body = {"code": "Internal", "message": message, "links": []}
        (folder / "error.json").write_text(json.dumps(body), encoding="utf-8")
        return 1
    append_log(logs, "info", f"job finished: {len(result.items)} STAC item(s) written")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point of the worker."""
    parser = argparse.ArgumentParser(prog="python -m s1stac.api.worker")
    parser.add_argument("catalog", type=pathlib.Path)
    parser.add_argument("--scheduler", default=None)
    args = parser.parse_args(argv)
    import s1stac.openeo  # noqa: F401 - the slow part of the start, done before a job arrives

    folder = pathlib.Path(_read_line())
    _watch_server()
    errors = os.open(folder / "worker.err", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.dup2(errors, 2)
    os.close(errors)
    handler = _JobLogHandler(folder / "logs.jsonl")
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    for name in ("s1stac", "py.warnings"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    logging.captureWarnings(True)
    return run_job(folder, args.catalog, args.scheduler)


if __name__ == "__main__":
    sys.exit(main())
