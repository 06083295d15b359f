"""Persistence of models (CreateModel): the request as received and the AutoML job model it serves."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page

MODEL_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time"}


class ModelNameInUse(Exception):
    pass


@dataclass(frozen=True)
class ModelRecord:
    name: str
    arn: str
    request: dict
    job_name: str
    candidate_name: str
    creation_time: float


def _model_from_row(row: sqlite3.Row) -> ModelRecord:
    return ModelRecord(
        name=row["name"],
        arn=row["arn"],
        request=json.loads(row["request_json"]),
        job_name=row["job_name"],
        candidate_name=row["candidate_name"],
        creation_time=row["creation_time"],
    )


class ModelStore:
    """The models table."""

    def __init__(self, database: Database):
        self._database = database

    def create(self, *, name: str, arn: str, request: dict, job_name: str, candidate_name: str) -> ModelRecord:
        """A new model; ModelNameInUse if the name is taken."""
        now = time.time()
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM models WHERE name_key = ?", (name.lower(),)).fetchone():
                raise ModelNameInUse(name)
            db.execute(
                "INSERT INTO models (name_key, name, arn, request_json, job_name, candidate_name,"
                " creation_time, last_modified_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (name.lower(), name, arn, json.dumps(request), job_name, candidate_name, now, now),
            )
        model = self.get(name)
        assert model is not None
        return model

    def get(self, name: str) -> ModelRecord | None:
        row = self._database.connection().execute("SELECT * FROM models WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else _model_from_row(row)

    def delete(self, name: str) -> bool:
        with self._database.write() as db:
            cursor = db.execute("DELETE FROM models WHERE name_key = ?", (name.lower(),))
        return cursor.rowcount == 1

    def page(self, query: ListQuery) -> Page:
        return fetch_page(self._database, "models", MODEL_SORT_COLUMNS[query.sort_by], query, _model_from_row)
