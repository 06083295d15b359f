"""Training jobs run in worker processes, never in the service's request path.

The service's Supervisor thread starts queued jobs (at most --max-concurrent-jobs at once),
each in its own process (``python -m airflow_automl.local.worker``), watches them, ends a job
whose worker died, and kills a worker that ignores StopAutoMLJob past a grace period.

A worker runs the engine (``run_job(spec, ctx)``) with a JobContext backed by the store. Its
writes carry the run id the supervisor gave it, so a worker whose job has ended writes nothing.
A worker never outlives the service: on Linux the kernel kills it when the service dies
(PR_SET_PDEATHSIG), and everywhere it exits when its parent process changes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.store import JobRecord, RunFenced, Store
from airflow_automl.local.parentdeath import die_with_parent
from airflow_automl.metrics import best_candidate

log = logging.getLogger(__name__)

RESTART_FAILURE_REASON = "The local service restarted while the job was running; start a new job"
# A worker that finished its job has this long to exit before it is killed.
_EXIT_GRACE_SECONDS = 10.0
_SUPERVISOR_TICK_SECONDS = 0.5
_PARENT_CHECK_SECONDS = 1.0
_STOP_CHECK_SECONDS = 0.25


def load_engine(reference: str) -> Callable[..., Any]:
    """'package.module:function' -> the function."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"engine {reference!r}: expected 'module:function'")
    return getattr(importlib.import_module(module_name), attribute)


def choose_best_candidate(store: Store, job: JobRecord) -> str | None:
    """The candidate with the best objective value, for a job whose engine never named one
    (its worker was killed after a stop)."""
    page = store.list_candidates(job.name, status_equals="Completed", limit=1000)
    best = best_candidate(page.rows)
    return best["CandidateName"] if best is not None else None


# -- the service side --------------------------------------------------------------------------

def _overrun_limit(max_runtime: float, grace: float) -> float:
    """Seconds after which a job past its MaxAutoMLJobRuntimeInSeconds is killed: the engine
    stops at a model boundary, so it gets a tenth more and twice the stop grace first."""
    return max_runtime * 1.1 + 2 * grace


@dataclass
class _Run:
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
        self._thread.start()

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
            for job in self.store.queued_jobs(free):
                self._start(job)

    def _start(self, job: JobRecord) -> None:
        run_id = uuid.uuid4().hex
        if not self.store.claim_job(job.name, run_id):
            return
        job_dir = self.config.job_dir(job.name)
        job_dir.mkdir(parents=True, exist_ok=True)
        log_file = open(job_dir / "worker.log", "ab")
        command = [
            sys.executable, "-m", "airflow_automl.local.worker",
            "--data-dir", str(self.config.data_dir),
            "--job-name", job.name,
            "--run-id", run_id,
            "--parent-pid", str(os.getpid()),
            "--engine", self.config.engine,
            "--region", self.config.region,
            "--account-id", self.config.account_id,
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
            self.store.finish_job(job.name, run_id, "Failed", "Failed", f"The training worker could not start: {error}")
            return
        self._runs[job.name.lower()] = _Run(job.name, run_id, process, log_file)
        self.store.set_worker_pid(job.name, run_id, process.pid)
        log.info("job %s started in worker process %d", job.name, process.pid)

    def _reap(self) -> None:
        for key, run in list(self._runs.items()):
            code = run.process.poll()
            if code is None:
                continue
            run.log_file.close()
            del self._runs[key]
            job = self.store.get_job(run.name)
            if job is None or job.run_id != run.run_id or not job.is_active:
                continue  # the worker ended its job itself
            if job.status == "Stopping":
                self._pick_best_if_missing(job)
                self.store.finish_job(job.name, run.run_id, "Stopped", "Stopped")
                continue
            self._pick_best_if_missing(job)
            self.store.finish_job(job.name, run.run_id, "Failed", "Failed", self._death_reason(code))
            log.warning("job %s failed: its worker exited with code %s", job.name, code)

    @staticmethod
    def _death_reason(code: int) -> str:
        if code < 0:
            signal_name = signal.Signals(-code).name
            hint = " (the machine may have run out of memory)" if -code == signal.SIGKILL else ""
            return f"The training worker was killed by {signal_name}{hint} before the job ended; start a new job"
        return f"The training worker exited with code {code} before the job ended; see worker.log in the job's directory"

    def _pick_best_if_missing(self, job: JobRecord) -> None:
        if job.best_candidate_name is None:
            best = choose_best_candidate(self.store, job)
            if best is not None:
                try:
                    self.store.set_best_candidate(job.name, job.run_id, best)
                except RunFenced:
                    log.info("job %s ended before its best candidate could be chosen", job.name)

    def _enforce_stops(self) -> None:
        if not self._runs:
            return
        now = time.time()
        for job in self.store.running_jobs():
            run = self._runs.get(job.name.lower())
            if run is None or job.run_id != run.run_id or run.killed_after_stop:
                continue
            if job.status == "Stopping" and now - (job.stop_requested_time or now) > self.config.stop_grace_seconds:
                log.warning("job %s ignored StopAutoMLJob for %.0f s: killing its worker", job.name,
                            self.config.stop_grace_seconds)
                self._kill(run)
                run.killed_after_stop = True
            max_runtime = job.spec.get("max_job_runtime")
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
            status = self.store.job_status(run.name)
            if status is not None and status not in ("InProgress", "Stopping"):
                run.ended_time = run.ended_time or now
                if now - run.ended_time > _EXIT_GRACE_SECONDS:
                    self._kill(run)

    def _end_overrun(self, job: JobRecord, run: _Run, max_runtime: int) -> None:
        self._pick_best_if_missing(job)
        refreshed = self.store.get_job(job.name)
        if refreshed is not None and refreshed.best_candidate_name is not None:
            self.store.finish_job(job.name, run.run_id, "Completed", "MaxAutoMLJobRuntimeReached")
        else:
            self.store.finish_job(
                job.name, run.run_id, "Failed", "Failed",
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


# -- the worker side ---------------------------------------------------------------------------

class StoreJobContext:
    """The engine's JobContext, backed by the store and fenced by this worker's run id."""

    def __init__(self, config: ServiceConfig, store: Store, job_name: str, run_id: str):
        self._config = config
        self._store = store
        self._job_name = job_name
        self._run_id = run_id
        job_dir = config.job_dir(job_name)
        self.work_dir: Path = job_dir / "work"
        self.model_dir: Path = job_dir / "model"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        self._storage = None
        self._stop_checked_at = 0.0
        self._stop_requested = False

    @property
    def storage(self):
        # Imported on first use: an engine that reads no data needs no storage clients.
        if self._storage is None:
            from airflow_automl.local.storage import Storage

            self._storage = Storage(list(self._config.file_roots), self._config.s3_endpoint_url)
        return self._storage

    @property
    def job_name(self) -> str:
        return self._job_name

    @property
    def region(self) -> str:
        return self._config.region

    @property
    def account_id(self) -> str:
        return self._config.account_id

    def set_secondary_status(self, status: str) -> None:
        self._store.set_secondary_status(self._job_name, self._run_id, status)

    def set_resolved_attributes(self, resolved: dict) -> None:
        self._store.set_resolved_attributes(self._job_name, self._run_id, resolved)

    def add_candidate(self, candidate: dict) -> None:
        self._store.add_candidate(self._job_name, self._run_id, candidate)

    def set_best_candidate(self, candidate_name: str) -> None:
        self._store.set_best_candidate(self._job_name, self._run_id, candidate_name)

    def set_artifacts(self, artifacts: dict) -> None:
        self._store.set_artifacts(self._job_name, self._run_id, artifacts)

    def set_model_deploy_result(self, deploy_result: dict) -> None:
        """ModelDeployResult shape, e.g. {"EndpointName": "..."}."""
        self._store.set_deploy_result(self._job_name, self._run_id, deploy_result)

    def add_partial_failure(self, message: str) -> None:
        """A step that failed without failing the job (PartialFailureReasons)."""
        self._store.add_partial_failure(self._job_name, self._run_id, message)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._stop_requested and now - self._stop_checked_at >= _STOP_CHECK_SECONDS:
            self._stop_checked_at = now
            self._stop_requested = self._store.job_status(self._job_name) != "InProgress"
        return self._stop_requested


def run_worker(config: ServiceConfig, job_name: str, run_id: str) -> int:
    from airflow_automl.local.jobspec import JobSpec

    store = Store(config.db_path)
    job = store.get_job(job_name)
    if job is None or job.run_id != run_id or not job.is_active:
        log.info("job %s is not run by %s any more; nothing to do", job_name, run_id)
        return 0
    ctx = StoreJobContext(config, store, job.name, run_id)
    spec = JobSpec.from_dict(job.spec)
    try:
        engine = load_engine(config.engine)
        from airflow_automl.local.engine import JobFailed
    except (ImportError, AttributeError, ValueError) as error:
        traceback.print_exc()
        return _finish_failed(store, job.name, run_id,
                              f"The training engine {config.engine!r} could not be loaded: {error}")
    try:
        outcome = engine(spec, ctx)
    except RunFenced as error:
        log.info("stopping: %s", error)
        return 0
    except JobFailed as error:
        return _finish_failed(store, job.name, run_id, str(error.reason))
    except Exception as error:
        traceback.print_exc()
        return _finish_failed(store, job.name, run_id,
                              f"The training engine failed unexpectedly: {type(error).__name__}: {error}")
    job = store.get_job(job.name)
    assert job is not None
    if job.best_candidate_name is None:
        best = choose_best_candidate(store, job)
        if best is not None:
            store.set_best_candidate(job.name, run_id, best)
    secondary = getattr(outcome, "secondary_status", "Completed")
    if secondary == "Stopped" or job.status == "Stopping":
        store.finish_job(job.name, run_id, "Stopped", "Stopped")
    else:
        store.finish_job(job.name, run_id, "Completed", _deploy_if_requested(config, store, ctx, job.name, secondary))
    return 0


def _deploy_if_requested(config: ServiceConfig, store: Store, ctx: StoreJobContext, job_name: str, secondary: str) -> str:
    """ModelDeployConfig: deploy the best candidate of a job that ran to its end; the job's final
    secondary status (ModelDeploymentError when the deployment failed; the job keeps its candidates)."""
    from airflow_automl.local.endpoints import DEPLOYING_OUTCOMES, deploy_best_model

    job = store.get_job(job_name)
    wanted = job is not None and (job.spec.get("endpoint_name") or job.spec.get("auto_generate_endpoint_name"))
    if not wanted or secondary not in DEPLOYING_OUTCOMES or job.best_candidate_name is None:
        return secondary
    ctx.set_secondary_status("DeployingModel")
    deployment = deploy_best_model(config, store, job)
    if deployment.endpoint_name is not None:
        ctx.set_model_deploy_result({"EndpointName": deployment.endpoint_name})
    if deployment.error is not None:
        ctx.add_partial_failure(deployment.error)
        return "ModelDeploymentError"
    return secondary


def _finish_failed(store: Store, name: str, run_id: str, reason: str) -> int:
    if store.finish_job(name, run_id, "Failed", "Failed", reason):
        log.info("job %s failed: %s", name, reason)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m airflow_automl.local.worker",
                                     description="Train one AutoML job for the local service.")
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--job-name", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--file-root", type=Path, action="append", default=[])
    parser.add_argument("--s3-endpoint-url")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account-id", default="123456789012")
    args = parser.parse_args(argv)
    die_with_parent(args.parent_pid, _PARENT_CHECK_SECONDS)
    # Training yields the CPU to the API, which must keep answering while a job trains.
    os.nice(10)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = ServiceConfig(
        data_dir=args.data_dir,
        file_roots=tuple(args.file_root),
        s3_endpoint_url=args.s3_endpoint_url,
        region=args.region,
        account_id=args.account_id,
        engine=args.engine,
    )
    return run_worker(config, args.job_name, args.run_id)


if __name__ == "__main__":
    sys.exit(main())
