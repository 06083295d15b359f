"""An in-memory JobContext for engine tests: records every call the engine makes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from airflow_automl.local.storage import Storage


@dataclass
class RecordingContext:
    storage: Storage
    work_dir: Path
    model_dir: Path
    stop_after_candidates: int | None = None  # should_stop() turns true once this many are reported
    statuses: list[str] = field(default_factory=list)
    resolved: dict | None = None
    candidates: list[dict] = field(default_factory=list)
    best_candidate: str | None = None
    artifacts: dict | None = None
    stop_checks: int = 0
    partial_failures: list[str] = field(default_factory=list)

    def set_secondary_status(self, status: str) -> None:
        self.statuses.append(status)

    def set_resolved_attributes(self, resolved: dict) -> None:
        self.resolved = resolved

    def add_candidate(self, candidate: dict) -> None:
        self.candidates.append(candidate)

    def set_best_candidate(self, candidate_name: str) -> None:
        self.best_candidate = candidate_name

    def set_artifacts(self, artifacts: dict) -> None:
        self.artifacts = artifacts  # replaces, as the service's store does

    def add_partial_failure(self, message: str) -> None:
        self.partial_failures.append(message)

    def should_stop(self) -> bool:
        self.stop_checks += 1
        return self.stop_after_candidates is not None and len(self.candidates) >= self.stop_after_candidates

    def candidate(self, name: str) -> dict:
        """The latest version of a candidate (the engine may report one again, e.g. with reports)."""
        return [c for c in self.candidates if c["CandidateName"] == name][-1]

    @property
    def candidate_names(self) -> list[str]:
        return list(dict.fromkeys(c["CandidateName"] for c in self.candidates))


def make_context(root: Path, **options) -> RecordingContext:
    work_dir, model_dir = root / "work", root / "model"
    work_dir.mkdir(parents=True, exist_ok=True)
    model_dir.mkdir(parents=True, exist_ok=True)
    return RecordingContext(storage=Storage([root]), work_dir=work_dir, model_dir=model_dir, **options)
