"""The training engine: turns a JobSpec into candidates, a best candidate and model artifacts.

The service calls `run_job(spec, ctx)` in a worker process; everything the job reports goes
through `ctx` (a JobContext backed by the service's store)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from airflow_automl.local.engine.job import JobContext, JobFailed, JobOutcome

if TYPE_CHECKING:
    from airflow_automl.local.engine.data import Dataset

__all__ = ["JobContext", "JobFailed", "JobOutcome", "run_job"]

# Autopilot's AUTO mode: ENSEMBLING below this input size, HYPERPARAMETER_TUNING from it on.
AUTO_ENSEMBLING_LIMIT_BYTES = 100 * 1024 * 1024
# SageMaker's defaults, reported in ResolvedAttributes when the request leaves them out.
DEFAULT_MAX_CANDIDATES = 250
DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB = 86400
DEFAULT_MAX_JOB_RUNTIME = 2592000


def run_job(spec, ctx: JobContext) -> JobOutcome:
    """Run one AutoML job to its end. Raises JobFailed(reason) for bad input."""
    # Imported here so the exchange types above load without pandas and scikit-learn.
    from airflow_automl.local.engine.data import load_dataset
    from airflow_automl.local.engine.features import apply_feature_specification, load_feature_specification

    started = time.monotonic()
    deadline = started + spec.max_job_runtime if spec.max_job_runtime else None

    ctx.set_secondary_status("AnalyzingData")
    dataset = load_dataset(ctx.storage, spec)
    objective = resolve_objective(spec, dataset.problem_type)
    mode = resolve_mode(spec, dataset)
    if spec.feature_specification_uri:
        features = load_feature_specification(
            ctx.storage, spec.feature_specification_uri, list(dataset.train.columns), dataset.target, mode
        )
        dataset = apply_feature_specification(dataset, features)
    ctx.set_resolved_attributes(
        {
            "AutoMLJobObjective": {"MetricName": objective},
            "ProblemType": dataset.problem_type,
            "CompletionCriteria": {
                "MaxCandidates": spec.max_candidates or DEFAULT_MAX_CANDIDATES,
                "MaxRuntimePerTrainingJobInSeconds": spec.max_runtime_per_training_job
                or DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB,
                "MaxAutoMLJobRuntimeInSeconds": spec.max_job_runtime or DEFAULT_MAX_JOB_RUNTIME,
            },
        }
    )
    if ctx.should_stop():
        return JobOutcome("Stopped")

    if mode == "ENSEMBLING":
        from airflow_automl.local.engine.ensembling import run_ensembling

        return run_ensembling(spec, ctx, dataset, objective, deadline)
    from airflow_automl.local.engine.tuning import run_tuning

    return run_tuning(spec, ctx, dataset, objective, deadline)


def resolve_objective(spec, problem_type: str) -> str:
    from airflow_automl.local.engine.metrics import DEFAULT_OBJECTIVE, OBJECTIVES

    metric = spec.metric_name or DEFAULT_OBJECTIVE[problem_type]
    if metric not in OBJECTIVES[problem_type]:
        inferred = "" if spec.problem_type else " (inferred from the target column)"
        raise JobFailed(
            f"AutoMLJobObjective.MetricName {metric} is not available for problem type {problem_type}{inferred}; "
            f"choose one of {', '.join(OBJECTIVES[problem_type])}"
        )
    return metric


def resolve_mode(spec, dataset: Dataset) -> str:
    if spec.mode != "AUTO":
        return spec.mode
    return "ENSEMBLING" if dataset.input_bytes < AUTO_ENSEMBLING_LIMIT_BYTES else "HYPERPARAMETER_TUNING"
