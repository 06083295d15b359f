"""The worker process that trains one AutoML job, never in the service's request path.

The supervisor (supervisor.py) starts it as ``python -m airflow_automl.local.runs.training``, with
the command line and start-up every worker shares (worker.py). It runs the engine
(``run_job(spec, ctx)``) with a JobContext backed by the store, whose writes carry the run id the
supervisor gave it, then ends the job: Completed (deploying its best model when the job asks,
deployment.py), Stopped or Failed.
"""

from __future__ import annotations

import importlib
import logging
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.engine.job import CandidateTraining, candidate_model_dir
from airflow_automl.local.runs.deployment import deploy_if_requested
from airflow_automl.local.runs.worker import StopCheck, become_worker, worker_arguments
from airflow_automl.local.serving.loading import model_dir
from airflow_automl.local.store import RunFenced, Store

log = logging.getLogger(__name__)


def load_engine(reference: str) -> Callable[..., Any]:
    """'package.module:function' -> the function."""
    module_name, _, attribute = reference.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"engine {reference!r}: expected 'module:function'")
    return getattr(importlib.import_module(module_name), attribute)


class StoreJobContext:
    """The engine's JobContext, backed by the store and fenced by this worker's run id."""

    def __init__(
        self, config: ServiceConfig, store: Store, job_name: str, run_id: str, started_at: float | None = None
    ):
        self._config = config
        self.started_at = started_at
        self._store = store
        self._job_name = job_name
        self._run_id = run_id
        job_dir = config.job_dir(job_name)
        self.work_dir: Path = job_dir / "work"
        self.model_dir: Path = model_dir(config, job_name)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.model_dir.mkdir(parents=True, exist_ok=True)
        self._storage = None
        self._stop_check = StopCheck(store.jobs, job_name)

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

    def add_candidate(self, candidate: dict, training: CandidateTraining | None = None) -> None:
        self._store.jobs.add_candidate(
            self._job_name, self._run_id, candidate, None if training is None else training.described()
        )

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
        return self._stop_check()

    def candidate_model_dir(self, candidate_name: str) -> Path:
        return candidate_model_dir(self.model_dir, candidate_name)


def run_worker(config: ServiceConfig, job_name: str, run_id: str) -> int:
    store = Store(config.db_path)
    job = store.jobs.get(job_name)
    if job is None or job.run_id != run_id or not job.is_active:
        log.info("job %s is not run by %s any more; nothing to do", job_name, run_id)
        return 0
    ctx = StoreJobContext(config, store, job.name, run_id, job.start_time)
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
    except Exception as error:  # noqa: BLE001 - the worker ends its job whatever the engine raised
        traceback.print_exc()
        return _finish_failed(
            store, job.name, run_id, f"The training engine failed unexpectedly: {type(error).__name__}: {error}"
        )
    try:
        store.jobs.keep_best_candidate(job.name, run_id)
    except RunFenced as error:
        log.info("stopping: %s", error)
        return 0
    secondary = getattr(outcome, "secondary_status", "Completed")
    if secondary == "Stopped" or store.jobs.status(job.name) == "Stopping":
        store.jobs.finish(job.name, run_id, "Stopped")
    else:
        # A stop asked for while the model deploys still ends the job Stopped (store/runs.py).
        secondary = deploy_if_requested(config, store, ctx, job.name, secondary)
        store.jobs.finish(job.name, run_id, "Completed", secondary_status=secondary)
    return 0


def _finish_failed(store: Store, name: str, run_id: str, reason: str) -> int:
    if store.jobs.finish(name, run_id, "Failed", reason):
        log.info("job %s failed: %s", name, reason)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = worker_arguments(
        "python -m airflow_automl.local.runs.training", "Train one AutoML job for the local service.", argv
    )
    config = become_worker(args)
    return run_worker(config, args.job_name, args.run_id)


if __name__ == "__main__":
    sys.exit(main())
