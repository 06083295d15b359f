"""Text and image classification jobs (CreateAutoMLJobV2 TextClassificationJobConfig and
ImageClassificationJobConfig), trained from the data alone: no pretrained network is downloaded.

The data modules (text.py) turn a job's channels into inputs and labels and a set of candidate
builders; ``run_classification`` fits each builder on the training split, scores it on the
holdout (the validation channel, or a stratified ValidationFraction of the training data), adds
the soft vote of the fitted candidates as one more candidate (Ensemble), and makes the best by
the objective metric the job's best candidate. Each candidate's artifacts are written under the
job's output, where its CandidateArtifactLocations point:

  <S3OutputPath>/<job>/leaderboard.csv                            every candidate, best first
  <S3OutputPath>/<job>/model-insights/<candidate>/insights.json   holdout metrics, per-class scores,
                                                                  confusion matrix
  <S3OutputPath>/<job>/explainability/<candidate>/candidate.json  what the candidate is made of
                                                                  (and a linear model's top n-grams)
  <S3OutputPath>/<job>/models/<candidate>/model.tar.gz           model.json and model.pkl

Every candidate is kept in the job's model directory as soon as it is trained (model.json of
framework "classification" under candidates/<candidate>/, next to its pickled estimator; see
engine/job.py), and the best candidate's model.json as the job's own, which endpoints and batch
transform serve (serving/classification.py).

MaxAutoMLJobRuntimeInSeconds bounds the training: no candidate starts after the deadline, and
the job ends MaxAutoMLJobRuntimeReached with those that finished. MaxCandidates bounds their
number (the ensemble counts).
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from airflow_automl.local.engine.candidates import INFERENCE_SUPPORTED, Placement, build_candidate, candidate_name
from airflow_automl.local.engine.classification.models import SoftVote
from airflow_automl.local.engine.job import (
    MODEL_MANIFEST,
    CandidateTraining,
    JobContext,
    JobFailed,
    JobOutcome,
    StageTimes,
    resolved_completion_criteria,
    write_candidate_manifest,
)
from airflow_automl.sagemaker.metric_values import compute_metrics
from airflow_automl.sagemaker.metrics import BINARY, MULTICLASS, greater_is_better, is_better

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

log = logging.getLogger(__name__)

MODEL_FILE = "model.pkl"
FRAMEWORK = "classification"
# Stands for Autopilot's inference images (recorded, never run: the service serves the model itself).
IMAGES = {
    "text": "{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-automl-text-classification:local",
    "image": "{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-automl-image-classification:local",
}
ENSEMBLE = "ensemble"
# SageMaker's default number of candidates for text and image classification jobs.
DEFAULT_MAX_CANDIDATES = 1
TOP_TERMS = 10


@dataclass(frozen=True)
class Builder:
    """One candidate: its label in the candidate name, the library it is, its settings, and a
    function returning a fresh unfitted estimator."""

    label: str
    library: str
    settings: dict[str, Any]
    make: Callable[[], Any]


@dataclass
class Inputs:
    """A job's data as the candidates take it: training and holdout inputs (texts, or rows of
    image features) and their labels, and what serving needs to read a request."""

    kind: str  # "text" | "image"
    train: Any
    train_labels: np.ndarray
    holdout: Any
    holdout_labels: np.ndarray
    holdout_source: str  # "validation channel" or "ValidationFraction 0.2 of the training data"
    serving: dict[str, Any] = field(default_factory=dict)  # settings the served model reads requests with


@dataclass
class Trained:
    name: str
    builder: Builder
    model: Any
    metrics: dict[str, float]
    seconds: float
    model_path: Path


def run_classification(
    spec: JobSpec,
    ctx: JobContext,
    inputs: Inputs,
    builders: list[Builder],
    objective: str,
    deadline: float | None,
    stages: StageTimes,
) -> JobOutcome:
    ctx.set_resolved_attributes(
        {
            "AutoMLJobObjective": {"MetricName": objective},
            "CompletionCriteria": resolved_completion_criteria(spec, DEFAULT_MAX_CANDIDATES),
        }
    )
    if ctx.should_stop():
        return JobOutcome("Stopped")
    ctx.set_secondary_status("TrainingModels")
    placement = Placement.for_job(spec, ctx)
    limit = spec.max_candidates or len(builders) + 1
    trained: list[Trained] = []
    status = "Completed"
    with stages.stage("training"):
        for number, builder in enumerate(builders, start=1):
            if ctx.should_stop():
                status = "Stopped"
                break
            if deadline is not None and time.monotonic() >= deadline:
                status = "MaxAutoMLJobRuntimeReached"
                break
            if len(trained) >= limit:
                status = "MaxCandidatesReached"
                break
            name = candidate_name(spec.name, builder.label, number)
            started = time.monotonic()
            try:
                model = builder.make().fit(inputs.train, inputs.train_labels)
            except (ValueError, ArithmeticError, MemoryError) as error:
                reason = f"{builder.library} could not fit the data: {type(error).__name__}: {error}"
                log.warning("job %s: %s", spec.name, reason)
                ctx.add_partial_failure(f"Candidate {name}: {reason}")
                continue
            trained.append(_finish_candidate(spec, ctx, placement, inputs, name, builder, model, objective, started))
        if status == "Completed" and len(trained) >= 2 and len(trained) < limit and not ctx.should_stop():
            started = time.monotonic()
            builder = Builder(
                ENSEMBLE,
                "SoftVote: the average of the other candidates' class probabilities",
                {"members": [t.name for t in trained]},
                lambda: None,
            )
            model = SoftVote([t.model for t in trained])
            name = candidate_name(spec.name, ENSEMBLE, len(builders) + 1)
            trained.append(_finish_candidate(spec, ctx, placement, inputs, name, builder, model, objective, started))
        elif status == "Completed" and len(trained) >= limit and len(builders) + 1 > limit:
            status = "MaxCandidatesReached"
        _write_leaderboard(ctx, placement, trained, objective)
    if not trained:
        if status == "Stopped":
            return JobOutcome("Stopped")
        if status == "MaxAutoMLJobRuntimeReached":
            raise JobFailed(
                f"No candidate finished within MaxAutoMLJobRuntimeInSeconds ({spec.max_job_runtime} s); raise it"
            )
        raise JobFailed("No candidate could fit the data; see PartialFailureReasons")
    best = trained[0]
    for result in trained[1:]:
        if is_better(objective, result.metrics[objective], best.metrics[objective]):
            best = result
    _keep_best(spec, ctx, inputs, best, trained, objective)
    ctx.set_best_candidate(best.name)
    return JobOutcome(status)


def _finish_candidate(
    spec: JobSpec,
    ctx: JobContext,
    placement: Placement,
    inputs: Inputs,
    name: str,
    builder: Builder,
    model: Any,
    objective: str,
    started: float,
) -> Trained:
    """Score a fitted candidate on the holdout, keep it, write its artifacts and report it."""
    classes = np.asarray(model.classes_)
    probabilities = np.asarray(model.predict_proba(inputs.holdout))
    predicted = classes[np.argmax(probabilities, axis=1)]
    problem = BINARY if len(classes) == 2 else MULTICLASS
    scores = compute_metrics(problem, inputs.holdout_labels, predicted, probabilities, classes=classes)
    seconds = time.monotonic() - started
    model_bytes = pickle.dumps(model)
    model_dir = Path(ctx.model_dir)
    model_path = ctx.candidate_model_dir(name) / MODEL_FILE
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(model_bytes)
    manifest = _manifest(spec, inputs, classes, model_path.relative_to(model_dir), objective)
    # Kept before it is reported: a listed candidate can be served.
    write_candidate_manifest(model_dir, name, manifest)
    result = Trained(name, builder, model, scores, seconds, model_path)
    _publish(spec, ctx, placement, inputs, result, objective, predicted, model_bytes, manifest)
    return result


def _manifest(spec: JobSpec, inputs: Inputs, classes: np.ndarray, model_path: Path, objective: str) -> dict:
    return {
        "framework": FRAMEWORK,
        "input": inputs.kind,
        "model_path": str(model_path),
        "target": spec.target,
        "classes": [str(c) for c in classes],
        "objective": objective,
        **inputs.serving,
    }


def _keep_best(
    spec: JobSpec, ctx: JobContext, inputs: Inputs, best: Trained, trained: list[Trained], objective: str
) -> None:
    """The job's own manifest: the best candidate's."""
    model_dir = Path(ctx.model_dir)
    classes = np.asarray(best.model.classes_)
    manifest = {
        **_manifest(spec, inputs, classes, best.model_path.relative_to(model_dir), objective),
        "best_candidate": best.name,
        "candidates": {t.name: t.builder.label for t in trained},
    }
    partial = model_dir / f".{MODEL_MANIFEST}.partial"
    partial.write_text(json.dumps(manifest, indent=2))
    partial.replace(model_dir / MODEL_MANIFEST)


def _publish(
    spec: JobSpec,
    ctx: JobContext,
    placement: Placement,
    inputs: Inputs,
    result: Trained,
    objective: str,
    predicted: np.ndarray,
    model_bytes: bytes,
    manifest: dict,
) -> None:
    name, builder = result.name, result.builder
    classes = [str(c) for c in result.model.classes_]
    insights_prefix = placement.uri(f"model-insights/{name}")
    explainability_prefix = placement.uri(f"explainability/{name}")
    report = skm.classification_report(
        inputs.holdout_labels, predicted, labels=classes, output_dict=True, zero_division=0
    )
    insights = {
        "candidate": name,
        "holdout": inputs.holdout_source,
        "holdout_rows": len(inputs.holdout_labels),
        "metrics": result.metrics,
        "per_class": {label: report[label] for label in classes},
        "confusion_matrix": {
            "labels": classes,
            "rows_true_columns_predicted": skm.confusion_matrix(
                inputs.holdout_labels, predicted, labels=classes
            ).tolist(),
        },
    }
    ctx.storage.write_bytes(f"{insights_prefix}/insights.json", json.dumps(insights, indent=2).encode())
    description = {
        "candidate": name,
        "algorithm": builder.label,
        "library": builder.library,
        "settings": builder.settings,
        "pretrained_weights": None,  # trained from the job's data alone
        "training_rows": len(inputs.train_labels),
        "classes": classes,
        "metrics": result.metrics,
        "training_seconds": round(result.seconds, 3),
    }
    terms = top_terms(result.model)
    if terms:
        description["top_terms"] = terms
    ctx.storage.write_bytes(f"{explainability_prefix}/candidate.json", json.dumps(description, indent=2).encode())
    ctx.storage.write_bytes(placement.model_uri(name), _model_archive(manifest, model_bytes))
    image = IMAGES[inputs.kind].format(account=placement.account_id, region=placement.region)
    ctx.add_candidate(
        build_candidate(
            placement,
            name,
            objective,
            result.metrics,
            image,
            environment={"AUTOML_CLASSIFIER": builder.label, **INFERENCE_SUPPORTED},
            artifact_locations={"Explainability": explainability_prefix, "ModelInsights": insights_prefix},
        ),
        CandidateTraining(builder.library, builder.settings, result.seconds),
    )


def top_terms(model: Any, count: int = TOP_TERMS) -> dict[str, list[str]] | None:
    """A TF-IDF linear model's n-grams that weigh most for each class (for two classes, the
    positive class and the negative one); None for any other model."""
    steps = getattr(model, "named_steps", None)
    if not steps:
        return None
    vectorizer, classifier = list(steps.values())[0], list(steps.values())[-1]
    coefficients = getattr(classifier, "coef_", None)
    if coefficients is None or not hasattr(vectorizer, "get_feature_names_out"):
        return None
    names = vectorizer.get_feature_names_out()
    classes = [str(c) for c in model.classes_]
    if coefficients.shape[0] == 1:  # binary: one row of weights towards classes_[1]
        row = coefficients[0]
        return {
            classes[1]: [str(names[i]) for i in np.argsort(row)[::-1][:count]],
            classes[0]: [str(names[i]) for i in np.argsort(row)[:count]],
        }
    return {
        label: [str(names[i]) for i in np.argsort(row)[::-1][:count]]
        for label, row in zip(classes, coefficients, strict=True)
    }


def _write_leaderboard(ctx: JobContext, placement: Placement, trained: list[Trained], objective: str) -> None:
    """leaderboard.csv, best first: every candidate's holdout metrics and training seconds."""
    if not trained:
        return
    rows = [
        {"CandidateName": t.name, "Algorithm": t.builder.label, **t.metrics, "FitTimeSeconds": round(t.seconds, 3)}
        for t in trained
    ]
    frame = pd.DataFrame(rows).sort_values(objective, ascending=not greater_is_better(objective), kind="stable")
    ctx.storage.write_bytes(placement.uri("leaderboard.csv"), frame.to_csv(index=False).encode())


def _model_archive(manifest: dict, model_bytes: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, content in (
            (MODEL_MANIFEST, json.dumps({**manifest, "model_path": MODEL_FILE}, indent=2).encode()),
            (MODEL_FILE, model_bytes),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
