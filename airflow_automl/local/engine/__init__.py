"""The training engine: turns a JobSpec into candidates, a best candidate and model artifacts.

The service calls `run_job(spec, ctx)` in a worker process; everything the job reports goes
through `ctx` (a JobContext backed by the service's store)."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from airflow_automl.local.engine.job import JobContext, JobFailed, JobOutcome

# OpenMP threads (LightGBM, XGBoost, scikit-learn) spin while they wait by default; on a
# machine whose cores are busy with other work that turns a one-second fit into a minute.
# Set before any OpenMP runtime loads; a value the user exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec
    from airflow_automl.local.engine.data import Dataset

__all__ = ["JobContext", "JobFailed", "JobOutcome", "run_job"]

# Autopilot's AUTO mode: ENSEMBLING below this input size, HYPERPARAMETER_TUNING from it on.
AUTO_ENSEMBLING_LIMIT_BYTES = 100 * 1024 * 1024
# SageMaker's defaults, reported in ResolvedAttributes when the request leaves them out.
DEFAULT_MAX_CANDIDATES = 250
DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB = 86400
DEFAULT_MAX_JOB_RUNTIME = 2592000


def run_job(spec: JobSpec, ctx: JobContext) -> JobOutcome:
    """Run one AutoML job to its end. Raises JobFailed(reason) for bad input."""
    from airflow_automl.local.storage import StorageAccessError

    try:
        return _run(spec, ctx)
    except StorageAccessError as error:
        # Input errors are reported where data is read; what is left is writing the output.
        raise JobFailed(f"Cannot write the job's output under OutputDataConfig.S3OutputPath {spec.output_path}: {error}") from error


def _run(spec: JobSpec, ctx: JobContext) -> JobOutcome:
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

    outcome = _write_analysis(spec, ctx, dataset, mode, objective)
    if outcome is not None:
        return outcome
    if ctx.should_stop():
        return JobOutcome("Stopped")

    if mode == "ENSEMBLING":
        from airflow_automl.local.engine.ensembling import run_ensembling

        return run_ensembling(spec, ctx, dataset, objective, deadline)
    from airflow_automl.local.engine.tuning import run_tuning

    return run_tuning(spec, ctx, dataset, objective, deadline)


def _write_analysis(spec: JobSpec, ctx: JobContext, dataset: Dataset, mode: str, objective: str) -> JobOutcome | None:
    """The data exploration report and the candidate definitions (JSON and notebook), written
    for every job; a GenerateCandidateDefinitionsOnly job ends here."""
    import json

    from airflow_automl.local.engine.candidates import Placement
    from airflow_automl.local.engine.definitions import (
        DEFINITIONS_PATH,
        NOTEBOOK_PATH,
        candidate_definitions,
        definitions_notebook,
    )
    from airflow_automl.local.engine.reports import DATA_EXPLORATION_PATH, data_exploration_report, publish

    placement = Placement.for_job(spec, ctx)
    artifacts = {}
    exploration_uri = placement.uri(DATA_EXPLORATION_PATH)
    if publish(ctx, exploration_uri, lambda: data_exploration_report(spec.name, dataset), "The data exploration report"):
        artifacts["DataExplorationNotebookLocation"] = exploration_uri
        ctx.set_artifacts(dict(artifacts))
    definitions = candidate_definitions(spec, dataset, mode, objective)
    ctx.storage.write_bytes(placement.uri(DEFINITIONS_PATH), json.dumps(definitions, indent=2).encode())
    notebook_uri = placement.uri(NOTEBOOK_PATH)
    ctx.storage.write_bytes(notebook_uri, definitions_notebook(spec, dataset, mode, objective, definitions).encode())
    artifacts["CandidateDefinitionNotebookLocation"] = notebook_uri
    ctx.set_artifacts(dict(artifacts))
    if spec.generate_candidate_definitions_only:
        return JobOutcome("CandidateDefinitionsGenerated")
    return None


def resolve_objective(spec: JobSpec, problem_type: str) -> str:
    from airflow_automl.metrics import DEFAULT_OBJECTIVE, OBJECTIVES

    metric = spec.metric_name or DEFAULT_OBJECTIVE[problem_type]
    if metric not in OBJECTIVES[problem_type]:
        inferred = "" if spec.problem_type else " (inferred from the target column)"
        raise JobFailed(
            f"AutoMLJobObjective.MetricName {metric} is not available for problem type {problem_type}{inferred}; "
            f"choose one of {', '.join(OBJECTIVES[problem_type])}"
        )
    return metric


def resolve_mode(spec: JobSpec, dataset: Dataset) -> str:
    if spec.mode != "AUTO":
        return spec.mode
    if dataset.sample_weight is not None:
        return "ENSEMBLING"  # the only mode that uses sample weights; AUTO must not drop them
    return "ENSEMBLING" if dataset.input_bytes < AUTO_ENSEMBLING_LIMIT_BYTES else "HYPERPARAMETER_TUNING"
