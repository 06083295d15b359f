"""Worker supervision: the service's thread that runs AutoML and batch transform jobs in
worker processes.

The Supervisor starts queued jobs (at most --max-concurrent-jobs at once, training and
transform together), each in its own process (``python -m airflow_automl.local.runs.training`` or
``airflow_automl.local.runs.transform``), watches them, ends a job whose worker died, and
kills a worker that ignores a stop past a grace period or overruns its job's runtime limit. On
start it ends what a previous service process left unfinished: its jobs end Failed (transform
jobs being stopped end Stopped), and endpoints it was creating end Failed (their workers died
with it).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.runs.training import choose_best_candidate
from airflow_automl.local.store import ACTIVE_STATUSES, JobRecord, RunFenced, Store, TransformJobRecord

log = logging.getLogger(__name__)

RESTART_FAILURE_REASON = "The local service restarted while the job was running; start a new job"
TRANSFORM_RESTART_FAILURE_REASON = (
    "The local service restarted while the transform job was running; start a new transform job"
)
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


def _overrun_limit(max_runtime: float, grace: float) -> float:
    """Seconds after which a job past its MaxAutoMLJobRuntimeInSeconds is killed: the engine
    stops at a model boundary, so it gets a tenth more and twice the stop grace first."""
    return max_runtime * 1.1 + 2 * grace


# What a worker process runs: an AutoML job (training) or a batch transform job.
AUTOML = "training"
TRANSFORM = "transform"
_WORKER_MODULES = {AUTOML: "airflow_automl.local.runs.training", TRANSFORM: "airflow_automl.local.runs.transform"}


@dataclass
class _Run:
    kind: str  # AUTOML or TRANSFORM
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
        service process, which is gone (one service per data dir): end them Failed. Endpoints left
        Updating go back InService on the config they served, as a rolled-back update."""
        interrupted = self.store.jobs.fail_interrupted(RESTART_FAILURE_REASON)
        if interrupted:
            log.warning("jobs interrupted by the previous service process, now Failed: %s", ", ".join(interrupted))
        transforms = self.store.transform_jobs.end_interrupted(TRANSFORM_RESTART_FAILURE_REASON)
        if transforms:
            log.warning(
                "transform jobs interrupted by the previous service process, now ended: %s", ", ".join(transforms)
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
        self._enforce_stops()
        free = self.config.max_concurrent_jobs - len(self._runs)
        if free > 0:
            for job in self.store.jobs.queued(free):
                self._start(job)
        free = self.config.max_concurrent_jobs - len(self._runs)
        if free > 0:
            for transform in self.store.transform_jobs.queued(free):
                self._start_transform(transform)

    def _start(self, job: JobRecord) -> None:
        run_id = uuid.uuid4().hex
        if not self.store.jobs.claim(job.name, run_id):
            return
        launched = self._launch(AUTOML, job.name, run_id, self.config.job_dir(job.name))
        if isinstance(launched, OSError):
            self.store.jobs.finish(
                job.name, run_id, "Failed", "Failed", f"The training worker could not start: {launched}"
            )
            return
        self.store.jobs.set_worker_pid(job.name, run_id, launched.pid)
        log.info("job %s started in worker process %d", job.name, launched.pid)

    def _start_transform(self, job: TransformJobRecord) -> None:
        run_id = uuid.uuid4().hex
        if not self.store.transform_jobs.claim(job.name, run_id):
            return
        launched = self._launch(TRANSFORM, job.name, run_id, self.config.transform_job_dir(job.name))
        if isinstance(launched, OSError):
            self.store.transform_jobs.finish(
                job.name, run_id, "Failed", f"The transform worker could not start: {launched}"
            )
            return
        self.store.transform_jobs.set_worker_pid(job.name, run_id, launched.pid)
        log.info("transform job %s started in worker process %d", job.name, launched.pid)

    def _launch(self, kind: str, name: str, run_id: str, job_dir: Path) -> subprocess.Popen | OSError:
        """Start the worker of one run, logging to worker.log in its job's directory."""
        job_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(job_dir / "worker.log", "ab")
        command = [
            sys.executable,
            "-m",
            _WORKER_MODULES[kind],
            "--data-dir",
            str(self.config.data_dir),
            "--job-name",
            name,
            "--run-id",
            run_id,
            "--parent-pid",
            str(os.getpid()),
            "--engine",
            self.config.engine,
            "--region",
            self.config.region,
            "--account-id",
            self.config.account_id,
        ]
        for root in self.config.file_roots:
            command += ["--file-root", str(root)]
        if self.config.s3_endpoint_url:
            command += ["--s3-endpoint-url", self.config.s3_endpoint_url]
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
        for key, run in list(self._runs.items()):
            code = run.process.poll()
            if code is None:
                continue
            run.log_file.close()
            del self._runs[key]
            if run.kind == TRANSFORM:
                self._end_dead_transform(run, code)
                continue
            job = self.store.jobs.get(run.name)
            if job is None or job.run_id != run.run_id or not job.is_active:
                continue  # the worker ended its job itself
            if job.status == "Stopping":
                self._pick_best_if_missing(job)
                self.store.jobs.finish(job.name, run.run_id, "Stopped", "Stopped")
                continue
            self._pick_best_if_missing(job)
            self.store.jobs.finish(job.name, run.run_id, "Failed", "Failed", self._death_reason(code, AUTOML))
            log.warning("job %s failed: its worker exited with code %s", job.name, code)

    def _end_dead_transform(self, run: _Run, code: int) -> None:
        """A transform worker that exited without ending its job: Stopped if asked to stop, else Failed."""
        job = self.store.transform_jobs.get(run.name)
        if job is None or job.run_id != run.run_id or not job.is_active:
            return  # the worker ended its job itself
        if job.status == "Stopping":
            self.store.transform_jobs.finish(job.name, run.run_id, "Stopped")
            return
        self.store.transform_jobs.finish(job.name, run.run_id, "Failed", self._death_reason(code, TRANSFORM))
        log.warning("transform job %s failed: its worker exited with code %s", job.name, code)

    @staticmethod
    def _death_reason(code: int, kind: str) -> str:
        if code < 0:
            signal_name = signal.Signals(-code).name
            hint = " (the machine may have run out of memory)" if -code == signal.SIGKILL else ""
            return f"The {kind} worker was killed by {signal_name}{hint} before the job ended; start a new job"
        return f"The {kind} worker exited with code {code} before the job ended; see worker.log in the job's directory"

    def _pick_best_if_missing(self, job: JobRecord) -> None:
        if job.best_candidate_name is None:
            best = choose_best_candidate(self.store, job)
            if best is not None:
                try:
                    self.store.jobs.set_best_candidate(job.name, job.run_id, best)
                except RunFenced:
                    log.info("job %s ended before its best candidate could be chosen", job.name)

    def _enforce_stops(self) -> None:
        if not self._runs:
            return
        now = time.time()
        for transform in self.store.transform_jobs.running():
            run = self._runs.get(_run_key(TRANSFORM, transform.name))
            if run is None or transform.run_id != run.run_id or run.killed_after_stop:
                continue
            stop_time = transform.stop_requested_time or now
            if transform.status == "Stopping" and now - stop_time > self.config.stop_grace_seconds:
                log.warning(
                    "transform job %s ignored StopTransformJob for %.0f s: killing its worker",
                    transform.name,
                    self.config.stop_grace_seconds,
                )
                self._kill(run)
                run.killed_after_stop = True
        for job in self.store.jobs.running():
            run = self._runs.get(_run_key(AUTOML, job.name))
            if run is None or job.run_id != run.run_id or run.killed_after_stop:
                continue
            if job.status == "Stopping" and now - (job.stop_requested_time or now) > self.config.stop_grace_seconds:
                log.warning(
                    "job %s ignored StopAutoMLJob for %.0f s: killing its worker",
                    job.name,
                    self.config.stop_grace_seconds,
                )
                self._kill(run)
                run.killed_after_stop = True
            max_runtime = job.spec.max_job_runtime
            if (
                job.status == "InProgress"
                and max_runtime
                and job.started_time is not None
                and now - job.started_time > _overrun_limit(max_runtime, self.config.stop_grace_seconds)
            ):
                # The engine ends a job at MaxAutoMLJobRuntimeInSeconds itself; this catches one
                # stuck in a library call, and ends it as SageMaker would, with its best model.
                log.warning("job %s overran MaxAutoMLJobRuntimeInSeconds=%s: killing its worker", job.name, max_runtime)
                self._kill(run)
                run.process.wait(timeout=10)
                self._end_overrun(job, run, max_runtime)
        # Workers whose job has ended but which linger (e.g. stuck in library threads).
        for run in self._runs.values():
            jobs = self.store.transform_jobs if run.kind == TRANSFORM else self.store.jobs
            status = jobs.status(run.name)
            if status is not None and status not in ACTIVE_STATUSES:
                run.ended_time = run.ended_time or now
                if now - run.ended_time > _EXIT_GRACE_SECONDS:
                    self._kill(run)

    def _end_overrun(self, job: JobRecord, run: _Run, max_runtime: int) -> None:
        self._pick_best_if_missing(job)
        refreshed = self.store.jobs.get(job.name)
        if refreshed is not None and refreshed.best_candidate_name is not None:
            self.store.jobs.finish(job.name, run.run_id, "Completed", "MaxAutoMLJobRuntimeReached")
        else:
            self.store.jobs.finish(
                job.name,
                run.run_id,
                "Failed",
                "Failed",
                f"AutoMLJobConfig.CompletionCriteria.MaxAutoMLJobRuntimeInSeconds: the job ran past {max_runtime} s "
                "without finishing a candidate; allow more time or fewer, faster algorithms",
            )

    @staticmethod
    def _kill(run: _Run) -> None:
        try:
            os.killpg(run.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass  # already gone; _reap will see it

    def _stop_all_workers(self) -> None:
        for run in self._runs.values():
            self._kill(run)
        for run in self._runs.values():
            run.process.wait(timeout=10)
            run.log_file.close()
        self._runs.clear()


def _run_key(kind: str, name: str) -> str:
    """Runs by kind and name: names are unique case-insensitively within a kind only."""
    return f"{kind}:{name.lower()}"
