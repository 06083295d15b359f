"""What the engine and the service exchange about one job: the context the service provides,
the outcome the engine returns, and the failure it raises for bad input."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from airflow_automl.local.storage import Storage


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

    def should_stop(self) -> bool: ...
