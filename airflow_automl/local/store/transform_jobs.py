"""Persistence of batch transform jobs (CreateTransformJob).

As for AutoML jobs, a worker's writes are fenced by its run id: once the job has ended (or a
restarted service ended it) a late write from an old worker changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page
from airflow_automl.local.store.tags import put_tag

TRANSFORM_ACTIVE_STATUSES = ("InProgress", "Stopping")
TRANSFORM_JOB_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}


class TransformJobNameInUse(Exception):
    pass


@dataclass(frozen=True)
class TransformJobRecord:
    seq: int
    name: str
    arn: str
    request: dict
    model_job_name: str
    status: str
    failure_reason: str | None
    creation_time: float
    last_modified_time: float
    start_time: float | None
    end_time: float | None
    run_id: str | None
    worker_pid: int | None
    stop_requested_time: float | None

    @property
    def is_active(self) -> bool:
        return self.status in TRANSFORM_ACTIVE_STATUSES


def _transform_job_from_row(row: sqlite3.Row) -> TransformJobRecord:
    return TransformJobRecord(
        seq=row["seq"],
        name=row["name"],
        arn=row["arn"],
        request=json.loads(row["request_json"]),
        model_job_name=row["model_job_name"],
        status=row["status"],
        failure_reason=row["failure_reason"],
        creation_time=row["creation_time"],
        last_modified_time=row["last_modified_time"],
        start_time=row["start_time"],
        end_time=row["end_time"],
        run_id=row["run_id"],
        worker_pid=row["worker_pid"],
        stop_requested_time=row["stop_requested_time"],
    )


class TransformJobStore:
    """The transform_jobs table."""

    def __init__(self, database: Database):
        self._database = database

    def _read(self) -> sqlite3.Connection:
        return self._database.connection()

    # -- API side --------------------------------------------------------------------------

    def create(self, *, name: str, arn: str, request: dict, model_job_name: str) -> TransformJobRecord:
        """A new job InProgress, queued for a worker, with the request's tags."""
        now = time.time()
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM transform_jobs WHERE name_key = ?", (name.lower(),)).fetchone():
                raise TransformJobNameInUse(name)
            db.execute(
                "INSERT INTO transform_jobs (name_key, name, arn, request_json, model_job_name, status,"
                " creation_time, last_modified_time) VALUES (?, ?, ?, ?, ?, 'InProgress', ?, ?)",
                (name.lower(), name, arn, json.dumps(request), model_job_name, now, now),
            )
            for tag in request.get("Tags") or ():
                put_tag(db, arn, tag["Key"], tag.get("Value", ""))
        job = self.get(name)
        assert job is not None
        return job

    def get(self, name: str) -> TransformJobRecord | None:
        row = self._read().execute("SELECT * FROM transform_jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else _transform_job_from_row(row)

    def page(self, query: ListQuery) -> Page:
        return fetch_page(
            self._database, "transform_jobs", TRANSFORM_JOB_SORT_COLUMNS[query.sort_by], query, _transform_job_from_row
        )

    def request_stop(self, name: str) -> None:
        """Move an InProgress job to Stopping; a job no worker has picked up yet stops at once."""
        now = time.time()
        with self._database.write() as db:
            db.execute(
                "UPDATE transform_jobs SET status = 'Stopped', end_time = ?, last_modified_time = ?,"
                " stop_requested_time = ? WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (now, now, now, name.lower()),
            )
            db.execute(
                "UPDATE transform_jobs SET status = 'Stopping', last_modified_time = ?, stop_requested_time = ?"
                " WHERE name_key = ? AND status = 'InProgress'",
                (now, now, name.lower()),
            )

    # -- supervisor side -------------------------------------------------------------------

    def queued(self, limit: int) -> list[TransformJobRecord]:
        rows = (
            self._read()
            .execute(
                "SELECT * FROM transform_jobs WHERE status = 'InProgress' AND run_id IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [_transform_job_from_row(row) for row in rows]

    def running(self) -> list[TransformJobRecord]:
        rows = (
            self._read()
            .execute(
                "SELECT * FROM transform_jobs WHERE status IN (?, ?) AND run_id IS NOT NULL ORDER BY seq",
                TRANSFORM_ACTIVE_STATUSES,
            )
            .fetchall()
        )
        return [_transform_job_from_row(row) for row in rows]

    def claim(self, name: str, run_id: str) -> bool:
        """Give a queued job to a new run; False if it was stopped or claimed meanwhile."""
        now = time.time()
        with self._database.write() as db:
            cursor = db.execute(
                "UPDATE transform_jobs SET run_id = ?, start_time = ?, last_modified_time = ?"
                " WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (run_id, now, now, name.lower()),
            )
        return cursor.rowcount == 1

    def set_worker_pid(self, name: str, run_id: str, pid: int) -> None:
        with self._database.write() as db:
            db.execute(
                "UPDATE transform_jobs SET worker_pid = ? WHERE name_key = ? AND run_id = ?",
                (pid, name.lower(), run_id),
            )

    def end_interrupted(self, reason: str) -> list[str]:
        """End every job a previous service process left running: Stopping ones Stopped (as
        asked), InProgress ones Failed with reason."""
        now = time.time()
        with self._database.write() as db:
            names = [
                row["name"]
                for row in db.execute(
                    "SELECT name FROM transform_jobs WHERE status IN (?, ?) ORDER BY seq", TRANSFORM_ACTIVE_STATUSES
                )
            ]
            db.execute(
                "UPDATE transform_jobs SET status = 'Stopped', end_time = ?, last_modified_time = ?"
                " WHERE status = 'Stopping'",
                (now, now),
            )
            db.execute(
                "UPDATE transform_jobs SET status = 'Failed', failure_reason = ?, end_time = ?, last_modified_time = ?"
                " WHERE status = 'InProgress'",
                (reason, now, now),
            )
        return names

    # -- worker side (fenced by run id) ----------------------------------------------------

    def status(self, name: str) -> str | None:
        row = self._read().execute("SELECT status FROM transform_jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else row["status"]

    def finish(self, name: str, run_id: str, status: str, failure_reason: str | None = None) -> bool:
        """End a run's job; False if the run no longer owns it (already ended). A job asked to
        stop ends Stopped whatever the worker reports, unless it failed."""
        now = time.time()
        with self._database.write() as db:
            cursor = db.execute(
                "UPDATE transform_jobs SET"
                " status = CASE WHEN status = 'Stopping' AND ? != 'Failed' THEN 'Stopped' ELSE ? END,"
                " failure_reason = ?, end_time = ?, last_modified_time = ?"
                " WHERE name_key = ? AND run_id = ? AND status IN (?, ?)",
                (status, status, failure_reason, now, now, name.lower(), run_id, *TRANSFORM_ACTIVE_STATUSES),
            )
        return cursor.rowcount == 1
