"""The processing, training and transform steps AutoML candidates name (CandidateSteps), read as
the jobs SageMaker would list and describe: read-only records derived from the candidates an
engine reported (the views of migrations.py), never jobs of their own.

A step is found by its name (case-insensitively, as SageMaker's job names) and listed with the
List parameters every family shares (paging.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page
from airflow_automl.local.store.records import from_row

STEP_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}
TRAINING, PROCESSING, TRANSFORM = "training_steps", "processing_steps", "transform_steps"


@dataclass(frozen=True)
class StepRecord:
    name: str
    arn: str
    job_name: str  # the AutoML job
    candidate_name: str | None  # None for the job's processing step
    status: str
    creation_time: float
    end_time: float | None
    last_modified_time: float

    @property
    def secondary_status(self) -> str:
        """A training job's SecondaryStatus: Completed, Failed and Stopped are themselves."""
        return "Training" if self.status == "InProgress" else self.status


class CandidateStepStore:
    """The candidate steps of every job, as views of the candidates table."""

    def __init__(self, database: Database):
        self._database = database

    def get(self, kind: str, name: str) -> StepRecord | None:
        row = (
            self._database.connection()
            .execute(f"SELECT * FROM {kind} WHERE name_key = ? ORDER BY seq DESC LIMIT 1", (name.lower(),))
            .fetchone()
        )
        return None if row is None else from_row(StepRecord, row)

    def page(self, kind: str, query: ListQuery) -> Page:
        return fetch_page(
            self._database, kind, STEP_SORT_COLUMNS[query.sort_by], query, lambda row: from_row(StepRecord, row)
        )

    def training(self, job_name: str, candidate_name: str) -> dict:
        """What the engine reported of a candidate's training ({} when it reported nothing)."""
        row = (
            self._database.connection()
            .execute(
                "SELECT training_json FROM candidates WHERE job_name_key = ? AND name = ?",
                (job_name.lower(), candidate_name),
            )
            .fetchone()
        )
        return json.loads(row["training_json"]) if row is not None and row["training_json"] else {}
