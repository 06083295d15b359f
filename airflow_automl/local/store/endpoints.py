"""Persistence of endpoints (today: the ones AutoML jobs deploy with ModelDeployConfig)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, fields

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page

ENDPOINT_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}


class EndpointNameInUse(Exception):
    pass


@dataclass(frozen=True)
class EndpointRecord:
    name: str
    arn: str
    job_name: str
    candidate_name: str
    status: str
    failure_reason: str | None
    creation_time: float
    last_modified_time: float


def _endpoint_from_row(row: sqlite3.Row) -> EndpointRecord:
    # The record's fields are the table's columns of the same names.
    return EndpointRecord(**{field.name: row[field.name] for field in fields(EndpointRecord)})


class EndpointStore:
    """The endpoints table."""

    def __init__(self, database: Database):
        self._database = database

    def create(self, *, name: str, arn: str, job_name: str, candidate_name: str) -> EndpointRecord:
        """A new endpoint in status Creating; EndpointNameInUse if the name is taken."""
        now = time.time()
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM endpoints WHERE name_key = ?", (name.lower(),)).fetchone():
                raise EndpointNameInUse(name)
            db.execute(
                "INSERT INTO endpoints (name_key, name, arn, job_name, candidate_name, status,"
                " creation_time, last_modified_time) VALUES (?, ?, ?, ?, ?, 'Creating', ?, ?)",
                (name.lower(), name, arn, job_name, candidate_name, now, now),
            )
        endpoint = self.get(name)
        assert endpoint is not None
        return endpoint

    def set_status(self, name: str, status: str, failure_reason: str | None = None) -> None:
        with self._database.write() as db:
            db.execute(
                "UPDATE endpoints SET status = ?, failure_reason = ?, last_modified_time = ? WHERE name_key = ?",
                (status, failure_reason, time.time(), name.lower()),
            )

    def fail_creating(self, reason: str) -> list[str]:
        """End every endpoint a previous service process left Creating (its worker died with it)."""
        with self._database.write() as db:
            names = [row["name"] for row in db.execute("SELECT name FROM endpoints WHERE status = 'Creating'")]
            db.execute(
                "UPDATE endpoints SET status = 'Failed', failure_reason = ?, last_modified_time = ?"
                " WHERE status = 'Creating'",
                (reason, time.time()),
            )
        return names

    def get(self, name: str) -> EndpointRecord | None:
        row = self._database.connection().execute(
            "SELECT * FROM endpoints WHERE name_key = ?", (name.lower(),)
        ).fetchone()
        return None if row is None else _endpoint_from_row(row)

    def delete(self, name: str) -> bool:
        with self._database.write() as db:
            cursor = db.execute("DELETE FROM endpoints WHERE name_key = ?", (name.lower(),))
        return cursor.rowcount == 1

    def page(self, query: ListQuery) -> Page:
        return fetch_page(
            self._database, "endpoints", ENDPOINT_SORT_COLUMNS[query.sort_by], query, _endpoint_from_row
        )
