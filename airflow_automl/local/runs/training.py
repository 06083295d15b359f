"""The worker process that trains one AutoML job, never in the service's request path.

The supervisor (supervisor.py) starts it as ``python -m airflow_automl.local.runs.training``. A worker
runs the engine (``run_job(spec, ctx)``) with a JobContext backed by the store. Its writes
carry the run id the supervisor gave it, so a worker whose job has ended writes nothing. A
worker never outlives the service: on Linux the kernel kills it when the service dies
(PR_SET_PDEATHSIG), and everywhere it exits when its parent process changes.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.runs.deployment import deploy_if_requested
from airflow_automl.local.runs.parentdeath import die_with_parent
from airflow_automl.local.serving.loading import model_dir
from airflow_automl.local.store import JobRecord, ListQuery, RunFenced, Store
from airflow_automl.sagemaker.metrics import best_candidate

log = logging.getLogger(__name__)

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
    page = store.jobs.candidates_page(job.name, ListQuery(status_equals="Completed", limit=1000))
    best = best_candidate(page.rows)
    return best["CandidateName"] if best is not None else None


class StoreJobContext:
    """The engine's JobContext, backed by the store and fenced by this worker's run id."""

    def __init__(self, config: ServiceConfig, store: Store, job_name: str, run_id: str):
        self._config = config
        self._store = store
        self._job_name = job_name
        self._run_id = run_id
        job_dir = config.job_dir(job_name)
        self.work_dir: Path = job_dir / "work"
        self.model_dir: Path = model_dir(config, job_name)
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
        self._store.jobs.set_secondary_status(self._job_name, self._run_id, status)

    def set_resolved_attributes(self, resolved: dict) -> None:
        self._store.jobs.set_resolved_attributes(self._job_name, self._run_id, resolved)

    def add_candidate(self, candidate: dict) -> None:
        self._store.jobs.add_candidate(self._job_name, self._run_id, candidate)

    def set_best_candidate(self, candidate_name: str) -> None:
        self._store.jobs.set_best_candidate(self._job_name, self._run_id, candidate_name)

    def set_artifacts(self, artifacts: dict) -> None:
        self._store.jobs.set_artifacts(self._job_name, self._run_id, artifacts)

    def set_model_deploy_result(self, deploy_result: dict) -> None:
        """ModelDeployResult shape, e.g. {"EndpointName": "..."}."""
        self._store.jobs.set_deploy_result(self._job_name, self._run_id, deploy_result)

    def add_partial_failure(self, message: str) -> None:
        """A step that failed without failing the job (PartialFailureReasons)."""
        self._store.jobs.add_partial_failure(self._job_name, self._run_id, message)

    def should_stop(self) -> bool:
        now = time.monotonic()
        if not self._stop_requested and now - self._stop_checked_at >= _STOP_CHECK_SECONDS:
            self._stop_checked_at = now
            self._stop_requested = self._store.jobs.status(self._job_name) != "InProgress"
        return self._stop_requested


def run_worker(config: ServiceConfig, job_name: str, run_id: str) -> int:
    store = Store(config.db_path)
    job = store.jobs.get(job_name)
    if job is None or job.run_id != run_id or not job.is_active:
        log.info("job %s is not run by %s any more; nothing to do", job_name, run_id)
        return 0
    ctx = StoreJobContext(config, store, job.name, run_id)
    try:
        engine = load_engine(config.engine)
        from airflow_automl.local.engine import JobFailed
    except (ImportError, AttributeError, ValueError) as error:
        traceback.print_exc()
        return _finish_failed(
            store, job.name, run_id, f"The training engine {config.engine!r} could not be loaded: {error}"
        )
    try:
        outcome = engine(job.spec, ctx)
    except RunFenced as error:
        log.info("stopping: %s", error)
        return 0
    except JobFailed as error:
        return _finish_failed(store, job.name, run_id, str(error.reason))
    except Exception as error:
        traceback.print_exc()
        return _finish_failed(
            store, job.name, run_id, f"The training engine failed unexpectedly: {type(error).__name__}: {error}"
        )
    job = store.jobs.get(job.name)
    assert job is not None
    if job.best_candidate_name is None:
        best = choose_best_candidate(store, job)
        if best is not None:
            store.jobs.set_best_candidate(job.name, run_id, best)
    secondary = getattr(outcome, "secondary_status", "Completed")
    if secondary == "Stopped" or job.status == "Stopping":
        store.jobs.finish(job.name, run_id, "Stopped", "Stopped")
    else:
        store.jobs.finish(job.name, run_id, "Completed", deploy_if_requested(config, store, ctx, job.name, secondary))
    return 0


def _finish_failed(store: Store, name: str, run_id: str, reason: str) -> int:
    if store.jobs.finish(name, run_id, "Failed", "Failed", reason):
        log.info("job %s failed: %s", name, reason)
    return 0


def worker_arguments(prog: str, description: str, argv: list[str] | None) -> argparse.Namespace:
    """The command line the supervisor gives every worker (training or transform)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--job-name", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--file-root", type=Path, action="append", default=[])
    parser.add_argument("--s3-endpoint-url")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account-id", default="123456789012")
    return parser.parse_args(argv)


def become_worker(args: argparse.Namespace) -> ServiceConfig:
    """What every worker process does first: die with the service, yield the CPU to the API
    (which must keep answering while jobs run), log, and rebuild the service's settings."""
    die_with_parent(args.parent_pid, _PARENT_CHECK_SECONDS)
    os.nice(10)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return ServiceConfig(
        data_dir=args.data_dir,
        file_roots=tuple(args.file_root),
        s3_endpoint_url=args.s3_endpoint_url,
        region=args.region,
        account_id=args.account_id,
        engine=args.engine,
    )


def main(argv: list[str] | None = None) -> int:
    args = worker_arguments(
        "python -m airflow_automl.local.runs.training", "Train one AutoML job for the local service.", argv
    )
    config = become_worker(args)
    return run_worker(config, args.job_name, args.run_id)


if __name__ == "__main__":
    sys.exit(main())
