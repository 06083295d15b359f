"""The training engine: turns a JobSpec into candidates, a best candidate and model artifacts
(tabular jobs here, time-series forecasting jobs in engine.forecasting, text and image
classification jobs in engine.classification).

The service calls `run_job(spec, ctx)` in a worker process; everything the job reports goes
through `ctx` (a JobContext backed by the service's store)."""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from airflow_automl.local.engine.job import JobContext, JobFailed, JobOutcome, StageTimes, resolved_completion_criteria

# OpenMP threads (LightGBM, XGBoost, scikit-learn) spin while they wait by default; on a
# machine whose cores are busy with other work that turns a one-second fit into a minute.
# Set before any OpenMP runtime loads; a value the user exported wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

if TYPE_CHECKING:
    from airflow_automl.local.engine.data import Dataset
    from airflow_automl.local.jobspec import JobSpec

__all__ = ["JobContext", "JobFailed", "JobOutcome", "run_job"]

log = logging.getLogger(__name__)

# Autopilot's AUTO mode: ENSEMBLING below this input size, HYPERPARAMETER_TUNING from it on.
AUTO_ENSEMBLING_LIMIT_BYTES = 100 * 1024 * 1024
# SageMaker's default number of candidates for a tabular job, reported in ResolvedAttributes.
DEFAULT_MAX_CANDIDATES = 250


def run_job(spec: JobSpec, ctx: JobContext) -> JobOutcome:
    """Run one AutoML job to its end. Raises JobFailed(reason) for bad input."""
    from airflow_automl.local.storage import StorageAccessError

    try:
        return _run(spec, ctx)
    except StorageAccessError as error:
        # Input errors are reported where data is read; what is left is writing the output.
        raise JobFailed(
            f"Cannot write the job's output under OutputDataConfig.S3OutputPath {spec.output_path}: {error}"
        ) from error


def _run(spec: JobSpec, ctx: JobContext) -> JobOutcome:
    # Imported here so the exchange types above load without pandas and scikit-learn.
    from airflow_automl.local.engine.data import load_dataset
    from airflow_automl.local.engine.features import apply_feature_specification, load_feature_specification

    started = time.monotonic()
    # The runtime limit counts from when the job started, as the supervisor counts it: the worker's
    # start-up (seconds of imports on a loaded machine) is part of it.
    spent = max(0.0, time.time() - ctx.started_at) if ctx.started_at is not None else 0.0
    deadline = started - spent + spec.max_job_runtime if spec.max_job_runtime else None
    stages = StageTimes()

    ctx.set_secondary_status("AnalyzingData")
    if spec.time_series is not None:
        from airflow_automl.local.engine.forecasting import run_forecasting

        outcome = run_forecasting(spec, ctx, deadline, stages)
        outcome.stage_seconds = stages.seconds
        return outcome
    if spec.text is not None or spec.image_classification:
        outcome = _run_classification(spec, ctx, deadline, stages)
        outcome.stage_seconds = stages.seconds
        return outcome
    with stages.stage("data analysis"):
        dataset = load_dataset(ctx.storage, spec)
        objective = resolve_objective(spec, dataset.problem_type)
        mode = resolve_mode(spec, dataset)
    if spec.feature_specification_uri:
        with stages.stage("feature work"):
            features = load_feature_specification(
                ctx.storage, spec.feature_specification_uri, list(dataset.train.columns), dataset.target, mode
            )
            dataset = apply_feature_specification(dataset, features)
    ctx.set_resolved_attributes(
        {
            "AutoMLJobObjective": {"MetricName": objective},
            "ProblemType": dataset.problem_type,
            "CompletionCriteria": resolved_completion_criteria(spec, DEFAULT_MAX_CANDIDATES),
        }
    )
    if ctx.should_stop():
        return JobOutcome("Stopped", stages.seconds)

    # The data exploration report needs only the data: it renders while the models train, and
    # its location is linked once training is over.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="data-exploration") as background:
        exploration = background.submit(_publish_exploration_report, spec, ctx, dataset, stages)
        with stages.stage("reports"):
            artifacts = _write_definitions(spec, ctx, dataset, mode, objective)
        outcome = _train(spec, ctx, dataset, mode, objective, deadline, stages)
        exploration_uri = exploration.result()
        if exploration_uri is not None:
            ctx.set_artifacts({"DataExplorationNotebookLocation": exploration_uri, **artifacts})
    outcome.stage_seconds = stages.seconds
    log.info(
        "job %s took %.1f s: %s",
        spec.name,
        time.monotonic() - started,
        ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stages.seconds.items()),
    )
    return outcome


def _run_classification(spec: JobSpec, ctx: JobContext, deadline, stages: StageTimes) -> JobOutcome:
    from airflow_automl.local.engine.classification import run_classification
    from airflow_automl.sagemaker.metrics import NON_TABULAR_DEFAULT_OBJECTIVE

    with stages.stage("data analysis"):
        if spec.text is not None:
            from airflow_automl.local.engine.classification.text import load_text_inputs, text_builders

            inputs, builders = load_text_inputs(ctx.storage, spec), text_builders()
        else:
            from airflow_automl.local.engine.classification.images import image_builders, load_image_inputs

            inputs, builders = load_image_inputs(ctx.storage, spec), image_builders(deadline)
    objective = spec.metric_name or NON_TABULAR_DEFAULT_OBJECTIVE["TextClassificationJobConfig"]
    return run_classification(spec, ctx, inputs, builders, objective, deadline, stages)


def _train(
    spec: JobSpec, ctx: JobContext, dataset: Dataset, mode: str, objective: str, deadline, stages: StageTimes
) -> JobOutcome:
    if spec.generate_candidate_definitions_only:
        return JobOutcome("CandidateDefinitionsGenerated")
    if ctx.should_stop():
        return JobOutcome("Stopped")
    if mode == "ENSEMBLING":
        from airflow_automl.local.engine.ensembling import run_ensembling

        return run_ensembling(spec, ctx, dataset, objective, deadline, stages)
    from airflow_automl.local.engine.tuning import run_tuning

    with stages.stage("training"):
        return run_tuning(spec, ctx, dataset, objective, deadline)


def _publish_exploration_report(spec: JobSpec, ctx: JobContext, dataset: Dataset, stages: StageTimes) -> str | None:
    """Writes the data exploration report; its location, or None when it could not be made."""
    from airflow_automl.local.engine.candidates import Placement
    from airflow_automl.local.engine.reports import DATA_EXPLORATION_PATH, data_exploration_report, publish

    uri = Placement.for_job(spec, ctx).uri(DATA_EXPLORATION_PATH)
    with stages.stage("reports"):
        published = publish(
            ctx, uri, lambda: data_exploration_report(spec.name, dataset), "The data exploration report"
        )
    return uri if published else None


def _write_definitions(spec: JobSpec, ctx: JobContext, dataset: Dataset, mode: str, objective: str) -> dict:
    """The candidate definitions (JSON and notebook), written and linked for every job; returns the artifacts."""
    import json

    from airflow_automl.local.engine.candidates import Placement
    from airflow_automl.local.engine.definitions import (
        DEFINITIONS_PATH,
        NOTEBOOK_PATH,
        candidate_definitions,
        definitions_notebook,
    )

    placement = Placement.for_job(spec, ctx)
    definitions = candidate_definitions(spec, dataset, mode, objective)
    ctx.storage.write_bytes(placement.uri(DEFINITIONS_PATH), json.dumps(definitions, indent=2).encode())
    notebook_uri = placement.uri(NOTEBOOK_PATH)
    ctx.storage.write_bytes(notebook_uri, definitions_notebook(spec, dataset, mode, objective, definitions).encode())
    artifacts = {"CandidateDefinitionNotebookLocation": notebook_uri}
    ctx.set_artifacts(dict(artifacts))
    return artifacts


def resolve_objective(spec: JobSpec, problem_type: str) -> str:
    from airflow_automl.sagemaker.metrics import DEFAULT_OBJECTIVE, OBJECTIVES

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
