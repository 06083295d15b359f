"""What the engine and the service exchange about one job: the context the service provides,
the outcome the engine returns, and the failure it raises for bad input."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from airflow_automl.local.storage import Storage

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

# The file a job keeps in ctx.model_dir to describe its best candidate's model: what serving loads.
MODEL_MANIFEST = "model.json"
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


class JobContext(Protocol):
    """Implemented by the service's worker, backed by its store."""

    storage: Storage
    work_dir: Path  # private scratch space for this job
    model_dir: Path  # trained models kept for the service (endpoints load from here only)

    def set_secondary_status(self, status: str) -> None: ...

    def set_resolved_attributes(self, resolved: dict) -> None: ...

    def add_candidate(self, candidate: dict) -> None: ...

    def set_best_candidate(self, candidate_name: str) -> None: ...

    def set_artifacts(self, artifacts: dict) -> None: ...

    def add_partial_failure(self, message: str) -> None: ...

    def should_stop(self) -> bool: ...


def resolved_completion_criteria(spec: JobSpec, default_max_candidates: int) -> dict[str, Any]:
    """ResolvedAttributes.CompletionCriteria: the request's limits, SageMaker's defaults for the rest
    (the default number of candidates depends on the problem type)."""
    return {
        "MaxCandidates": spec.max_candidates or default_max_candidates,
        "MaxRuntimePerTrainingJobInSeconds": spec.max_runtime_per_training_job or DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB,
        "MaxAutoMLJobRuntimeInSeconds": spec.max_job_runtime or DEFAULT_MAX_JOB_RUNTIME,
    }
