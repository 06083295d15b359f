"""Worker supervision: the service's thread that runs every kind of job in worker processes.

The Supervisor starts queued jobs (at most --max-concurrent-jobs at once, all kinds together),
each in its own process (the kind's worker module, kinds.py), watches them, ends a job whose worker
died, and kills a worker that ignores a stop past a grace period, overruns its job's runtime limit,
or lingers after its job ended. On start it ends what a previous service process left unfinished:
its jobs end as jobs whose worker is gone do (Stopped if they were being stopped, else Failed;
store/runs.py), endpoints it was creating end Failed, and endpoints it was updating go back
InService on their previous config. All of it is written once, for every kind in KINDS.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from typing import IO

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.runs.kinds import AUTOML_JOBS, KINDS, TRANSFORM_JOBS, JobKind
from airflow_automl.local.runs.worker import worker_command
from airflow_automl.local.store import ACTIVE_STATUSES, RunRecord, Store

log = logging.getLogger(__name__)

RESTART_FAILURE_REASON = AUTOML_JOBS.restart_failure_reason()
TRANSFORM_RESTART_FAILURE_REASON = TRANSFORM_JOBS.restart_failure_reason()
ENDPOINT_RESTART_FAILURE_REASON = (
    "The local service restarted while the endpoint was being created; delete it and create it again "
    "(CreateEndpoint, or a new AutoML job with ModelDeployConfig)"
)
ENDPOINT_UPDATE_RESTART_REASON = (
    "The local service restarted while the endpoint was being updated; it kept its previous endpoint config "
    "(call UpdateEndpoint again)"
)
# A worker that finished its job has this long to exit before it is killed.
_EXIT_GRACE_SECONDS = 10.0
_SUPERVISOR_TICK_SECONDS = 0.5


@dataclass
class _Run:
    kind: JobKind
    name: str
    run_id: str
    process: subprocess.Popen
    log_file: IO[bytes]
    killed_after_stop: bool = False
    ended_time: float | None = None


class Supervisor:
    """Starts queued jobs in worker processes, watches them, enforces stops."""

    def __init__(self, config: ServiceConfig, store: Store):
        self.config = config
        self.store = store
        self._runs: dict[str, _Run] = {}
        self._wake = threading.Event()
        self._shutdown = threading.Event()
        # PR_SET_PDEATHSIG fires when the thread that started a worker ends, so workers are
        # started from this thread only, which lives as long as the service.
        self._thread = threading.Thread(target=self._loop, name="automl-supervisor", daemon=True)

    def start(self) -> None:
        """End what the previous service process left unfinished, then start supervising."""
        self.recover_after_restart()
        self._thread.start()

    def recover_after_restart(self) -> None:
        """Jobs InProgress or Stopping and endpoints Creating had their workers in a previous
        service process, which is gone (one service per data dir): jobs end as jobs whose worker
        is gone do (Stopped if they were being stopped, else Failed), keeping what they produced;
        endpoints Creating end Failed. Endpoints left Updating go back InService on the config
        they served, as a rolled-back update."""
        for kind in KINDS:
            runs = kind.runs(self.store)
            for job in runs.active():
                kind.keep_results(self.config, self.store, job)
            ended = runs.end_interrupted(kind.restart_failure_reason())
            if ended:
                log.warning(
                    "%ss interrupted by the previous service process, now ended: %s",
                    kind.noun,
                    ", ".join(f"{name} ({status})" for name, status in ended),
                )
        orphaned = self.store.endpoints.fail_creating(ENDPOINT_RESTART_FAILURE_REASON)
        if orphaned:
            log.warning("endpoints left Creating by the previous service process, now Failed: %s", ", ".join(orphaned))
        rolled_back = self.store.endpoints.roll_back_updating(ENDPOINT_UPDATE_RESTART_REASON)
        if rolled_back:
            log.warning(
                "endpoints left Updating by the previous service process, back on their config: %s",
                ", ".join(rolled_back),
            )

    def wake(self) -> None:
        self._wake.set()

    def shutdown(self, timeout: float = 10.0) -> None:
        self._shutdown.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._shutdown.is_set():
            try:
                self._tick()
            except Exception:
                # Keep supervising: one bad tick (e.g. a locked database) must not orphan every job.
                log.exception("supervisor tick failed")
            self._wake.wait(_SUPERVISOR_TICK_SECONDS)
            self._wake.clear()
        self._stop_all_workers()

    def _tick(self) -> None:
        self._reap()
        self._enforce_limits()
        for kind in KINDS:
            free = self.config.max_concurrent_jobs - len(self._runs)
            if free <= 0:
                break
            for job in kind.runs(self.store).queued(free):
                self._start(kind, job)

    def _start(self, kind: JobKind, job: RunRecord) -> None:
        runs = kind.runs(self.store)
        run_id = uuid.uuid4().hex
        if not runs.claim(job.name, run_id):
            return
        launched = self._launch(kind, job.name, run_id)
        if isinstance(launched, OSError):
            runs.finish(job.name, run_id, "Failed", f"The {kind.worker} worker could not start: {launched}")
            return
        runs.set_worker_pid(job.name, run_id, launched.pid)
        log.info("%s %s started in worker process %d", kind.noun, job.name, launched.pid)

    def _launch(self, kind: JobKind, name: str, run_id: str) -> subprocess.Popen | OSError:
        """Start the worker of one run, logging to worker.log in its job's directory."""
        job_dir = kind.job_dir(self.config, name)
        job_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(job_dir / "worker.log", "ab")  # noqa: SIM115 - the worker writes to it; closed when it is reaped
        command = [sys.executable, *worker_command(kind.worker_module, self.config, name, run_id, os.getpid())]
        try:
            # Own session: a Ctrl-C meant for the service reaches workers through the service,
            # and a stop can kill the worker together with any processes it started.
            process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
            )
        except OSError as error:
            log_file.close()
            return error
        self._runs[_run_key(kind, name)] = _Run(kind, name, run_id, process, log_file)
        return process

    def _reap(self) -> None:
        """End the jobs whose worker exited without ending them."""
        for key, run in list(self._runs.items()):
            code = run.process.poll()
            if code is None:
                continue
            run.log_file.close()
            del self._runs[key]
            runs = run.kind.runs(self.store)
            job = runs.get(run.name)
            if job is None or job.run_id != run.run_id or not job.is_active:
                continue  # the worker ended its job itself
            run.kind.keep_results(self.config, self.store, job)
            if runs.end_orphaned(job.name, run.run_id, _death_reason(code, run.kind.worker)) == "Failed":
                log.warning("%s %s failed: its worker exited with code %s", run.kind.noun, job.name, code)

    def _enforce_limits(self) -> None:
        """Kill the workers of jobs that ignore a stop past the grace period or overrun their
        runtime limit, and workers that linger after their job ended."""
        if not self._runs:
            return
        now = time.time()
        grace = self.config.stop_grace_seconds
        for kind in KINDS:
            for job in kind.runs(self.store).running():
                run = self._runs.get(_run_key(kind, job.name))
                if run is None or job.run_id != run.run_id or run.killed_after_stop:
                    continue
                if job.status == "Stopping" and now - (job.stop_requested_time or now) > grace:
                    log.warning(
                        "%s %s ignored %s for %.0f s: killing its worker",
                        kind.noun,
                        job.name,
                        kind.stop_operation,
                        grace,
                    )
                    self._kill(run)
                    run.killed_after_stop = True
                    continue
                overrun = kind.overrun(job, now, grace)
                if overrun is not None:
                    # The worker should have ended the job at its limit; it is stuck in a library call.
                    log.warning("%s %s overran %s: killing its worker", kind.noun, job.name, overrun)
                    self._kill(run)
                    run.process.wait(timeout=10)
                    kind.end_overrun(self.config, self.store, job)
        # Workers whose job has ended but which linger (e.g. stuck in library threads).
        for run in self._runs.values():
            status = run.kind.runs(self.store).status(run.name)
            if status is not None and status not in ACTIVE_STATUSES:
                run.ended_time = run.ended_time or now
                if now - run.ended_time > _EXIT_GRACE_SECONDS:
                    self._kill(run)

    @staticmethod
    def _kill(run: _Run) -> None:
        with contextlib.suppress(ProcessLookupError):  # already gone; _reap will see it
            os.killpg(run.process.pid, signal.SIGKILL)

    def _stop_all_workers(self) -> None:
        for run in self._runs.values():
            self._kill(run)
        for run in self._runs.values():
            run.process.wait(timeout=10)
            run.log_file.close()
        self._runs.clear()


def _run_key(kind: JobKind, name: str) -> str:
    """Runs by kind and name: names are unique case-insensitively within a kind only."""
    return f"{kind.worker}:{name.lower()}"


def _death_reason(code: int, worker: str) -> str:
    if code < 0:
        signal_name = signal.Signals(-code).name
        hint = " (the machine may have run out of memory)" if -code == signal.SIGKILL else ""
        return f"The {worker} worker was killed by {signal_name}{hint} before the job ended; start a new job"
    return f"The {worker} worker exited with code {code} before the job ended; see worker.log in the job's directory"
