"""What the engine and the service exchange about one job: the context the service provides,
the outcome the engine returns, the failure it raises for bad input, and where the job keeps
its candidates' models.

Every candidate's model is kept, as Autopilot keeps every candidate's artifacts, so any candidate
can be served. The layout under ``ctx.model_dir`` is the contract serving reads:

    model.json                          the best candidate's manifest (what a job kept before
                                        every candidate was kept; serving still reads it)
    candidates/<candidate>/model.json   one manifest per candidate whose model is kept
    ...                                 the files the manifests name

A manifest names its files by paths relative to ``ctx.model_dir`` (never outside it), so files
several candidates share (AutoGluon's predictor, a forecaster's fitted models that an ensemble
reuses) are kept once. A manifest says which candidate it serves under ``candidate``; the
engine writes it as soon as that candidate's files are final, with ``write_candidate_manifest``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airflow_automl.local.storage import Storage

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

# The file that describes a kept model: the best candidate's in ctx.model_dir, and each candidate's
# in its own directory (candidate_model_dir).
MODEL_MANIFEST = "model.json"
CANDIDATES_DIR = "candidates"
# CandidateName's pattern: a candidate's directory is named by it, so no name can leave the model dir.
CANDIDATE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")
# SageMaker's defaults, reported in ResolvedAttributes when the request leaves them out.
DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB = 86400
DEFAULT_MAX_JOB_RUNTIME = 2592000


class JobFailed(Exception):
    """The job cannot go on; `reason` becomes its FailureReason and names the file, column or
    setting at fault and the rule it broke."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass
class JobOutcome:
    # Completed | MaxCandidatesReached | MaxAutoMLJobRuntimeReached | CandidateDefinitionsGenerated | Stopped
    secondary_status: str
    # Where the job's time went, for logs and benchmarks (see StageTimes).
    stage_seconds: dict[str, float] = field(default_factory=dict)


class StageTimes:
    """Wall seconds per stage of a job: data analysis, feature work, training, candidate archives,
    reports. A stage entered twice adds up; stages that overlap in time each count in full."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(name, time.monotonic() - started)

    def add(self, name: str, seconds: float) -> None:
        self.seconds[name] = self.seconds.get(name, 0.0) + seconds


@dataclass(frozen=True)
class CandidateTraining:
    """What a candidate's training step did, for the training job SageMaker would describe
    (DescribeTrainingJob): the algorithm, its hyperparameters and the seconds it trained."""

    algorithm: str  # e.g. "AutoGluon LGBModel", "xgboost", "statsforecast AutoETS"
    hyperparameters: dict[str, Any]
    seconds: float | None = None

    def described(self) -> dict[str, Any]:
        """As the store keeps it: HyperParameters as SageMaker's strings (JSON for lists and maps)."""
        return {
            "Algorithm": self.algorithm,
            "HyperParameters": {
                str(key): value if isinstance(value, str) else json.dumps(value, default=str)
                for key, value in self.hyperparameters.items()
            },
            "TrainingSeconds": self.seconds,
        }


class JobContext(Protocol):
    """Implemented by the service's worker, backed by its store."""

    storage: Storage
    work_dir: Path  # private scratch space for this job
    model_dir: Path  # trained models kept for the service (endpoints load from here only)
    # When the job's clock started (time.time(): a worker claimed it), which MaxAutoMLJobRuntimeInSeconds
    # counts from, as the supervisor does; None: from when the engine starts.
    started_at: float | None

    def set_secondary_status(self, status: str) -> None: ...

    def set_resolved_attributes(self, resolved: dict) -> None: ...

    def add_candidate(self, candidate: dict, training: CandidateTraining | None = None) -> None: ...

    def set_best_candidate(self, candidate_name: str) -> None: ...

    def set_artifacts(self, artifacts: dict) -> None: ...

    def add_partial_failure(self, message: str) -> None: ...

    def should_stop(self) -> bool: ...

    def candidate_model_dir(self, candidate_name: str) -> Path: ...


def candidate_model_dir(model_dir: Path, candidate_name: str) -> Path:
    """The directory of one candidate's manifest (and of files only that candidate uses) in a
    job's model_dir; ValueError for a name that is no CandidateName."""
    if not CANDIDATE_NAME_RE.fullmatch(candidate_name):
        raise ValueError(f"{candidate_name!r} is not a candidate name (letters, digits and hyphens, at most 64)")
    return Path(model_dir) / CANDIDATES_DIR / candidate_name


def write_candidate_manifest(model_dir: Path, candidate_name: str, manifest: dict) -> Path:
    """Keep a candidate's manifest: ``manifest`` with ``candidate`` set, its paths relative to
    model_dir. Written to a temporary name and renamed, so serving never reads half a manifest."""
    directory = candidate_model_dir(model_dir, candidate_name)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / MODEL_MANIFEST
    partial = directory / f".{MODEL_MANIFEST}.partial"
    partial.write_text(json.dumps({**manifest, "candidate": candidate_name}, indent=2))
    partial.replace(path)
    return path


def keep_best_manifest(model_dir: Path, candidate_name: str) -> bool:
    """Make a kept candidate the job's own model (``MODEL_MANIFEST`` in model_dir), as the engine
    does when it ends the job itself; for a job whose worker was killed before it could (at the
    runtime limit, or when it died). False when that candidate kept no manifest."""
    own = candidate_model_dir(model_dir, candidate_name) / MODEL_MANIFEST
    if not own.is_file():
        return False
    job_manifest = Path(model_dir) / MODEL_MANIFEST
    if job_manifest.is_file() and json.loads(job_manifest.read_text()).get("best_candidate") == candidate_name:
        return True
    partial = Path(model_dir) / f".{MODEL_MANIFEST}.partial"
    partial.write_text(json.dumps({**json.loads(own.read_text()), "best_candidate": candidate_name}, indent=2))
    partial.replace(job_manifest)
    return True


def resolved_completion_criteria(spec: JobSpec, default_max_candidates: int) -> dict[str, Any]:
    """ResolvedAttributes.CompletionCriteria: the request's limits, SageMaker's defaults for the rest
    (the default number of candidates depends on the problem type)."""
    return {
        "MaxCandidates": spec.max_candidates or default_max_candidates,
        "MaxRuntimePerTrainingJobInSeconds": spec.max_runtime_per_training_job or DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB,
        "MaxAutoMLJobRuntimeInSeconds": spec.max_job_runtime or DEFAULT_MAX_JOB_RUNTIME,
    }
