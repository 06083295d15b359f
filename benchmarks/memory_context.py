"""A JobContext that keeps in memory what a job reports, for benchmarks that call the engine's
run_job directly, without the service's store."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from airflow_automl.local.engine.job import candidate_model_dir
from airflow_automl.local.storage import Storage


@dataclass
class MemoryJobContext:
    storage: Storage
    work_dir: Path
    model_dir: Path
    started_at: float | None = None  # the engine starts the job clock itself
    candidates: list = field(default_factory=list)
    trainings: dict = field(default_factory=dict)  # candidate name: its CandidateTraining
    failures: list = field(default_factory=list)
    best: str | None = None

    def set_secondary_status(self, status):
        pass

    def set_resolved_attributes(self, resolved):
        pass

    def add_candidate(self, candidate, training=None):
        self.candidates.append(candidate)
        self.trainings[candidate["CandidateName"]] = training

    def set_best_candidate(self, name):
        self.best = name

    def set_artifacts(self, artifacts):
        pass

    def add_partial_failure(self, message):
        self.failures.append(message)

    def should_stop(self):
        return False

    def candidate_model_dir(self, candidate_name):
        return candidate_model_dir(self.model_dir, candidate_name)
