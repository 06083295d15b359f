"""The worker process that runs one batch transform job, never in the service's request path.

The supervisor starts it as ``python -m airflow_automl.local.runs.transform`` with the command
line, parent-death handling and run-id fencing every worker shares (worker.py). It
loads the model the job's CreateModel named (the AutoML job's kept model, as endpoints load it),
streams the input through it (runner.py) and ends the job Completed, Stopped or Failed.
"""

from __future__ import annotations

import logging
import resource
import sys
import traceback
from dataclasses import replace

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.runs.worker import StopCheck, become_worker, worker_arguments
from airflow_automl.local.serving.loading import load_job_model
from airflow_automl.local.storage import Storage
from airflow_automl.local.store import ModelRecord, Store
from airflow_automl.local.transform.runner import TransformStopped, run_transform
from airflow_automl.local.transform.settings import (
    TransformSettings,
    forecast_split_error,
    inference_keys,
    transform_settings,
)
from airflow_automl.sagemaker.shapes import RequestValidationError

log = logging.getLogger(__name__)

FAILURE_REASON_MAX = 1024  # DescribeTransformJob's FailureReason


def run_transform_worker(config: ServiceConfig, name: str, run_id: str) -> int:
    store = Store(config.db_path)
    job = store.transform_jobs.get(name)
    if job is None or job.run_id != run_id or not job.is_active:
        log.info("transform job %s is not run by %s any more; nothing to do", name, run_id)
        return 0
    model_name = job.request["ModelName"]
    try:
        settings = _with_model_environment(transform_settings(job.request), store.models.get(model_name))
        model = load_job_model(config, job.model_job_name, job.model_candidate_name)
        if model.forecasts_from_history and settings.split_type != "None":
            raise forecast_split_error(model_name, settings.split_type)
    except RequestValidationError as error:  # checked at create; a changed rule must still end the job
        return _finish(store, job.name, run_id, "Failed", str(error))
    except Exception as error:  # noqa: BLE001 - whatever the loader raises is this model's failure to load
        traceback.print_exc()
        return _finish(
            store,
            job.name,
            run_id,
            "Failed",
            f"ModelName: model {model_name} (AutoML job {job.model_job_name}) could not be loaded: {error}",
        )
    storage = Storage(list(config.file_roots), config.s3_endpoint_url)
    try:
        counts = run_transform(
            settings,
            model,
            storage,
            config.transform_job_dir(job.name) / "scratch",
            StopCheck(store.transform_jobs, job.name),
        )
    except TransformStopped:
        return _finish(store, job.name, run_id, "Stopped")
    except JobFailed as error:
        return _finish(store, job.name, run_id, "Failed", error.reason)
    except Exception as error:  # noqa: BLE001 - the worker ends its job whatever the transform raised
        traceback.print_exc()
        return _finish(
            store, job.name, run_id, "Failed", f"The transform failed unexpectedly: {type(error).__name__}: {error}"
        )
    # Peak RSS in the log: what benchmarks/batch_transform.py reports for the streaming claim.
    log.info(
        "transform job %s: %d records in %d files, %.1f s, peak RSS %d MiB",
        job.name,
        counts["records"],
        counts["files"],
        counts["seconds"],
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    )
    return _finish(store, job.name, run_id, "Completed")


def _with_model_environment(settings: TransformSettings, model: ModelRecord | None) -> TransformSettings:
    """The model container's SAGEMAKER_INFERENCE_OUTPUT, unless the transform's Environment sets
    it (as a container sees the job's environment over the model's). A model deleted since the
    create has no say."""
    if settings.inference_keys is not None or model is None:
        return settings
    containers = model.request.get("Containers") or [model.request.get("PrimaryContainer") or {}]
    keys = inference_keys(containers[-1].get("Environment"), "Containers.Environment")
    return replace(settings, inference_keys=keys)


def _finish(store: Store, name: str, run_id: str, status: str, reason: str | None = None) -> int:
    if reason is not None and len(reason) > FAILURE_REASON_MAX:
        reason = reason[: FAILURE_REASON_MAX - 3] + "..."
    if store.transform_jobs.finish(name, run_id, status, reason):
        log.info("transform job %s ended %s%s", name, status, f": {reason}" if reason else "")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = worker_arguments(
        "python -m airflow_automl.local.runs.transform", "Run one batch transform job for the local service.", argv
    )
    config = become_worker(args)
    return run_transform_worker(config, args.job_name, args.run_id)


if __name__ == "__main__":
    sys.exit(main())
