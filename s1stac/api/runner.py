"""Runs batch jobs in worker processes, a few at a time, and keeps their status in the store.

A started job is ``queued`` until one of ``workers`` runner threads takes it, ``running`` while
its worker process (:mod:`s1stac.api.worker`) evaluates the graph on dask, then ``finished``,
``error`` or ``canceled``.  One process per job lets a cancel stop the computation at once,
keeps a failing job from affecting the server and returns its memory when it ends.  One spare
worker is kept started (engine imported, waiting for its job folder on standard input), so a
job does not wait for the imports.

Restarts have defined outcomes: the worker watches a pipe from the server and exits when the
server dies; on start, jobs left ``running`` by a previous server are set to ``error`` with the
log entry "the server was restarted during the run" (start them again to rerun), jobs left
``queued`` are queued again.  On a clean shutdown the running workers are stopped and their
jobs set to ``error`` the same way.

Job folder: ``<jobs dir>/<job id>/`` with ``process.json`` (the graph as run), ``logs.jsonl``,
``results/`` (the job's catalog, :class:`~s1stac.api.workspace.OverlayCatalog`) and
``worker.err`` (the worker's standard error).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pathlib
import queue
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import IO, Any, Final, cast

from .errors import JobNotFound
from .jobs import JOB_ID, JobStatus, JobStore, append_log

__all__ = ["JobRunner"]

LOGGER = logging.getLogger(__name__)

KILL_AFTER: Final = 10.0
"""Seconds between SIGTERM and SIGKILL when stopping a worker."""
RESTARTED: Final = "the server was restarted during the run; start the job again to rerun it"
STOPPED: Final = "the server was stopped during the run; start the job again to rerun it"


class JobRunner:
    """Queue and worker processes of the batch jobs.

    Parameters
    ----------
    store
        Job database.
    catalog
        Folder of the served catalog.
    jobs_dir
        Folder of the job folders.
    workers
        Jobs run at the same time.
    scheduler
        Dask scheduler of the workers (see :func:`s1stac.openeo.run_graph`).
    """

    def __init__(
        self,
        store: JobStore,
        catalog: pathlib.Path,
        jobs_dir: pathlib.Path,
        *,
        workers: int = 2,
        scheduler: str | None = None,
    ) -> None:
        self.store = store
        self.catalog = catalog
        self.jobs_dir = jobs_dir
        self.workers = workers
        self.scheduler = scheduler
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._canceled: set[int] = set()
        """Process ids of the workers stopped by a cancel."""
        self._stopping = False
        self._threads: list[threading.Thread] = []
        self._spare: subprocess.Popen[bytes] | None = None

    def job_dir(self, job_id: str) -> pathlib.Path:
        """Folder of a job (the id is checked against the job id pattern)."""
        if not JOB_ID.match(job_id) or job_id in (".", ".."):
            raise JobNotFound(f"invalid job id {job_id!r}")
        return self.jobs_dir / job_id

    def log(self, job_id: str, level: str, message: str, *, code: str | None = None) -> None:
        """Append a server-side entry to the job's log."""
        folder = self.job_dir(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        append_log(folder / "logs.jsonl", level, message, code=code)

    def start(self) -> None:
        """Recover the jobs of a previous server, then start the runner threads."""
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        for job in self.store.jobs_with_status([JobStatus.RUNNING]):
            _stop_stale_worker(job.pid, self.catalog)
            if self.store.set_status(job.id, JobStatus.ERROR, expected=[JobStatus.RUNNING]):
                self.log(job.id, "error", RESTARTED, code="Internal")
                LOGGER.warning("job %s was running when the server stopped: set to error", job.id)
        for job in self.store.jobs_with_status([JobStatus.QUEUED]):
            LOGGER.info("job %s queued again", job.id)
            self._queue.put(job.id)
        with self._lock:
            self._spare = self._spawn()
        for index in range(self.workers):
            thread = threading.Thread(target=self._work, name=f"job-runner-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def submit(self, job_id: str, process: Mapping[str, Any]) -> bool:
        """Queue a job (not already queued or running) with the process to run; True if queued."""
        folder = self.job_dir(job_id)
        self._wait_for_worker(job_id)  # a canceled run may still be stopping
        with self._lock:
            previous = self.store.job(job_id)
            if previous is None or previous.status in (JobStatus.QUEUED, JobStatus.RUNNING):
                return False
            shutil.rmtree(folder / "results", ignore_errors=True)
            for name in ("error.json", "logs.jsonl"):
                (folder / name).unlink(missing_ok=True)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "process.json").write_text(json.dumps(process), encoding="utf-8")
            self.store.set_status(job_id, JobStatus.QUEUED, expected=[previous.status])
        self.log(job_id, "info", "job queued")
        self._queue.put(job_id)
        return True

    def cancel(self, job_id: str) -> None:
        """Stop a running job (-> ``canceled``) or unqueue a queued one (-> ``created``)."""
        with self._lock:
            proc = self._procs.get(job_id)
            if proc is None:
                if self.store.set_status(job_id, JobStatus.CREATED, expected=[JobStatus.QUEUED]):
                    self.log(job_id, "info", "job removed from the queue")
                return
            self._canceled.add(proc.pid)
            self.store.set_status(
                job_id, JobStatus.CANCELED, expected=[JobStatus.RUNNING], pid=proc.pid
            )
            _terminate(proc)
        self.log(job_id, "warning", "job canceled by the user")

    def _wait_for_worker(self, job_id: str) -> None:
        """Wait until a worker being stopped for this job has ended."""
        with self._lock:
            proc = self._procs.get(job_id)
        if proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(KILL_AFTER + 5)

    def delete(self, job_id: str) -> None:
        """Cancel a job and delete its folder."""
        self.cancel(job_id)
        self._wait_for_worker(job_id)
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)

    def shutdown(self) -> None:
        """Stop the workers (their jobs -> ``error``) and the runner threads."""
        with self._lock:
            self._stopping = True
            running = list(self._procs.items())
            spare, self._spare = self._spare, None
        if spare is not None and spare.stdin is not None:
            spare.stdin.close()  # end of file: the spare exits
        for job_id, proc in running:
            _terminate(proc)
            self.log(job_id, "error", STOPPED, code="Internal")
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(KILL_AFTER + 5)

    def _work(self) -> None:
        while True:
            job_id = self._queue.get()
            if job_id is None:
                return
            try:
                self._run(job_id)
            except Exception:  # a runner thread must survive any single job
                LOGGER.exception("job %s: runner failure", job_id)
                if self.store.set_status(job_id, JobStatus.ERROR, expected=[JobStatus.RUNNING]):
                    self.log(job_id, "error", "internal error of the job runner", code="Internal")

    def _spawn(self) -> subprocess.Popen[bytes]:
        """Start a worker; it imports the engine, then waits for a job folder on stdin."""
        command = [sys.executable, "-m", "s1stac.api.worker", str(self.catalog)]
        command += ["--scheduler", self.scheduler] if self.scheduler else []
        with (self.jobs_dir / "spare-worker.err").open("ab") as errors:
            return subprocess.Popen(  # noqa: S603 - fixed command, no shell
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=errors,
                start_new_session=True,
            )

    def _assign(self, folder: pathlib.Path) -> subprocess.Popen[bytes]:
        """Give a job folder to the spare worker (or a new one); start the next spare."""
        proc, self._spare = self._spare, None
        for attempt in range(2):
            if proc is None or proc.poll() is not None:
                proc = self._spawn()
            try:
                stdin = cast(IO[bytes], proc.stdin)  # started with stdin=PIPE
                stdin.write(f"{folder}\n".encode())
                stdin.flush()
                break
            except OSError:
                LOGGER.warning("worker %d did not take its job (attempt %d)", proc.pid, attempt)
                _signal_group(proc.pid, signal.SIGKILL)
                proc = None
        if proc is None:
            raise RuntimeError("no worker process could be started")
        self._spare = self._spawn()
        return proc

    def _run(self, job_id: str) -> None:
        folder = self.job_dir(job_id)
        with self._lock:
            if self._stopping:
                return
            if not self.store.set_status(job_id, JobStatus.RUNNING, expected=[JobStatus.QUEUED]):
                return  # canceled or deleted while queued
            proc = self._assign(folder)
            self._procs[job_id] = proc
            self.store.set_status(job_id, JobStatus.RUNNING, pid=proc.pid)
        LOGGER.info("job %s running in process %d", job_id, proc.pid)
        code = proc.wait()
        with self._lock:
            if self._procs.get(job_id) is proc:
                del self._procs[job_id]
            canceled = proc.pid in self._canceled
            self._canceled.discard(proc.pid)
            stopping = self._stopping
            if proc.stdin is not None:
                proc.stdin.close()
        if canceled:
            status = JobStatus.CANCELED
        elif code == 0 and not stopping:
            status = JobStatus.FINISHED
        else:
            status = JobStatus.ERROR
            if not stopping and not (folder / "error.json").is_file():
                self.log(
                    job_id,
                    "error",
                    f"the worker process ended unexpectedly (exit status {code}); see "
                    "worker.err in the job folder on the server",
                    code="Internal",
                )
        self.store.set_status(
            job_id, status, expected=[JobStatus.RUNNING, JobStatus.CANCELED], expected_pid=proc.pid
        )
        LOGGER.info("job %s: %s", job_id, status)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the worker's process group now and SIGKILL it if still alive later."""
    _signal_group(proc.pid, signal.SIGTERM)

    def kill() -> None:
        if proc.poll() is None:
            _signal_group(proc.pid, signal.SIGKILL)

    timer = threading.Timer(KILL_AFTER, kill)
    timer.daemon = True
    timer.start()


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _stop_stale_worker(pid: int | None, catalog: pathlib.Path) -> None:
    """Kill a worker left by a dead server if it still runs (normally it has exited)."""
    if pid is None:
        return
    try:
        command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return
    if b"s1stac.api.worker" in command and str(catalog).encode() in command:
        LOGGER.warning("stopping worker %d left by a previous server", pid)
        _signal_group(pid, signal.SIGKILL)
