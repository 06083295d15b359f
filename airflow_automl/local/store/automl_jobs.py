"""Persistence of AutoML jobs and their candidates.

Writes made on behalf of a training run are fenced by the run's id: once a job has ended (or
the service marked it Failed after a restart) a late write from an old worker changes
nothing, so a leftover writer can never corrupt a finished job.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page
from airflow_automl.local.store.tags import put_tag

ACTIVE_STATUSES = ("InProgress", "Stopping")

# Sort columns a list may be ordered by; each is paired with seq so the order is total and
# a page token can name the exact row to continue after.
JOB_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}
CANDIDATE_SORT_COLUMNS = {
    "CreationTime": "creation_time",
    "Status": "status",
    # Candidates without a metric value sort as the lowest value.
    "FinalObjectiveMetricValue": "COALESCE(metric_value, -1e308)",
}
_CANDIDATE_TIME_MEMBERS = ("CreationTime", "EndTime", "LastModifiedTime")


class JobNameInUse(Exception):
    pass


class TooManyActiveJobs(Exception):
    """args[0]: how many jobs are active."""


class RunFenced(Exception):
    """A worker wrote for a run that no longer owns its job (the job ended or was taken over)."""


@dataclass(frozen=True)
class JobRecord:
    seq: int
    name: str
    arn: str
    api_version: int
    request: dict
    spec: JobSpec
    status: str
    secondary_status: str
    creation_time: float
    last_modified_time: float
    end_time: float | None
    failure_reason: str | None
    partial_failure_reasons: list | None
    best_candidate_name: str | None
    artifacts: dict | None
    resolved_attributes: dict | None
    deploy_result: dict | None
    run_id: str | None
    worker_pid: int | None
    started_time: float | None
    stop_requested_time: float | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _job_from_row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        seq=row["seq"],
        name=row["name"],
        arn=row["arn"],
        api_version=row["api_version"],
        request=json.loads(row["request_json"]),
        spec=JobSpec.from_dict(json.loads(row["spec_json"])),
        status=row["status"],
        secondary_status=row["secondary_status"],
        creation_time=row["creation_time"],
        last_modified_time=row["last_modified_time"],
        end_time=row["end_time"],
        failure_reason=row["failure_reason"],
        partial_failure_reasons=_loads(row["partial_failure_reasons_json"]),
        best_candidate_name=row["best_candidate_name"],
        artifacts=_loads(row["artifacts_json"]),
        resolved_attributes=_loads(row["resolved_attributes_json"]),
        deploy_result=_loads(row["deploy_result_json"]),
        run_id=row["run_id"],
        worker_pid=row["worker_pid"],
        started_time=row["started_time"],
        stop_requested_time=row["stop_requested_time"],
    )


def _candidate_from_row(row: sqlite3.Row) -> dict:
    candidate = json.loads(row["candidate_json"])
    candidate["CandidateStatus"] = row["status"]
    candidate["CreationTime"] = row["creation_time"]
    candidate["LastModifiedTime"] = row["last_modified_time"]
    if row["end_time"] is not None:
        candidate["EndTime"] = row["end_time"]
    return candidate


class AutoMLJobStore:
    """The jobs and candidates tables."""

    def __init__(self, database: Database):
        self._database = database

    def _read(self) -> sqlite3.Connection:
        return self._database.connection()

    # -- API side --------------------------------------------------------------------------

    def create(self, *, spec: JobSpec, arn: str, request: dict, max_active_jobs: int) -> JobRecord:
        """A new job InProgress, queued for a worker, with the request's tags."""
        now = time.time()
        name = spec.name
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone():
                raise JobNameInUse(name)
            active = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)", ACTIVE_STATUSES).fetchone()[0]
            if active >= max_active_jobs:
                raise TooManyActiveJobs(active)
            db.execute(
                "INSERT INTO jobs (name_key, name, arn, api_version, request_json, spec_json, status,"
                " secondary_status, creation_time, last_modified_time)"
                " VALUES (?, ?, ?, ?, ?, ?, 'InProgress', 'Starting', ?, ?)",
                (name.lower(), name, arn, spec.api_version, json.dumps(request), json.dumps(spec.to_dict()), now, now),
            )
            for tag in request.get("Tags") or ():
                put_tag(db, arn, tag["Key"], tag.get("Value", ""))
        job = self.get(name)
        assert job is not None
        return job

    def get(self, name: str) -> JobRecord | None:
        row = self._read().execute("SELECT * FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else _job_from_row(row)

    def get_by_arn(self, arn: str) -> JobRecord | None:
        row = self._read().execute("SELECT * FROM jobs WHERE arn = ?", (arn,)).fetchone()
        return None if row is None else _job_from_row(row)

    def page(self, query: ListQuery) -> Page:
        return fetch_page(self._database, "jobs", JOB_SORT_COLUMNS[query.sort_by], query, _job_from_row)

    def candidate_with_model_data(self, model_data_url: str) -> tuple[str, str, bool] | None:
        """(job name, candidate name, is the job's best candidate) of the candidate whose inference
        containers hold model_data_url; the newest job's when several wrote the same location,
        as the object there is the one written last."""
        row = (
            self._read()
            .execute(
                "SELECT jobs.name AS job_name, candidates.name AS candidate_name,"
                " candidates.name = jobs.best_candidate_name AS is_best"
                " FROM candidates JOIN jobs ON jobs.name_key = candidates.job_name_key"
                " WHERE EXISTS (SELECT 1 FROM json_each(candidates.candidate_json, '$.InferenceContainers')"
                "               WHERE json_extract(json_each.value, '$.ModelDataUrl') = ?)"
                " ORDER BY jobs.seq DESC, is_best DESC LIMIT 1",
                (model_data_url,),
            )
            .fetchone()
        )
        return None if row is None else (row["job_name"], row["candidate_name"], bool(row["is_best"]))

    def request_stop(self, name: str) -> JobRecord | None:
        """Move an InProgress job to Stopping; a job no worker has picked up yet stops at once."""
        now = time.time()
        with self._database.write() as db:
            db.execute(
                "UPDATE jobs SET status = 'Stopped', secondary_status = 'Stopped', end_time = ?,"
                " last_modified_time = ?, stop_requested_time = ?"
                " WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (now, now, now, name.lower()),
            )
            db.execute(
                "UPDATE jobs SET status = 'Stopping', secondary_status = 'Stopping',"
                " last_modified_time = ?, stop_requested_time = ?"
                " WHERE name_key = ? AND status = 'InProgress'",
                (now, now, name.lower()),
            )
        return self.get(name)

    # -- supervisor side -------------------------------------------------------------------

    def queued(self, limit: int) -> list[JobRecord]:
        rows = (
            self._read()
            .execute(
                "SELECT * FROM jobs WHERE status = 'InProgress' AND run_id IS NULL ORDER BY seq LIMIT ?",
                (limit,),
            )
            .fetchall()
        )
        return [_job_from_row(row) for row in rows]

    def running(self) -> list[JobRecord]:
        rows = (
            self._read()
            .execute("SELECT * FROM jobs WHERE status IN (?, ?) AND run_id IS NOT NULL ORDER BY seq", ACTIVE_STATUSES)
            .fetchall()
        )
        return [_job_from_row(row) for row in rows]

    def claim(self, name: str, run_id: str) -> bool:
        """Give a queued job to a new run; False if it was stopped or claimed meanwhile."""
        now = time.time()
        with self._database.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET run_id = ?, started_time = ?, last_modified_time = ?"
                " WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (run_id, now, now, name.lower()),
            )
        return cursor.rowcount == 1

    def set_worker_pid(self, name: str, run_id: str, pid: int) -> None:
        with self._database.write() as db:
            db.execute("UPDATE jobs SET worker_pid = ? WHERE name_key = ? AND run_id = ?", (pid, name.lower(), run_id))

    def fail_interrupted(self, reason: str) -> list[str]:
        """End every job a previous service process left InProgress or Stopping."""
        now = time.time()
        with self._database.write() as db:
            names = [
                row["name"]
                for row in db.execute("SELECT name FROM jobs WHERE status IN (?, ?) ORDER BY seq", ACTIVE_STATUSES)
            ]
            db.execute(
                "UPDATE jobs SET status = 'Failed', secondary_status = 'Failed', failure_reason = ?,"
                " end_time = ?, last_modified_time = ? WHERE status IN (?, ?)",
                (reason, now, now, *ACTIVE_STATUSES),
            )
        return names

    # -- worker side (fenced by run id) ----------------------------------------------------

    @staticmethod
    def _update_run(db: sqlite3.Connection, name: str, run_id: str, assignments: str, params: Sequence) -> None:
        cursor = db.execute(
            f"UPDATE jobs SET {assignments}, last_modified_time = ?"
            " WHERE name_key = ? AND run_id = ? AND status IN (?, ?)",
            (*params, time.time(), name.lower(), run_id, *ACTIVE_STATUSES),
        )
        if cursor.rowcount != 1:
            raise RunFenced(f"job {name!r} is no longer run by {run_id}")

    def status(self, name: str) -> str | None:
        row = self._read().execute("SELECT status FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else row["status"]

    def set_secondary_status(self, name: str, run_id: str, secondary_status: str) -> None:
        with self._database.write() as db:
            # While Stopping the secondary status stays Stopping, as SageMaker shows it.
            status = db.execute("SELECT status FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
            if status is not None and status["status"] == "Stopping":
                return
            self._update_run(db, name, run_id, "secondary_status = ?", (secondary_status,))

    def set_resolved_attributes(self, name: str, run_id: str, resolved: dict) -> None:
        with self._database.write() as db:
            self._update_run(db, name, run_id, "resolved_attributes_json = ?", (json.dumps(resolved),))

    def set_artifacts(self, name: str, run_id: str, artifacts: dict) -> None:
        with self._database.write() as db:
            self._update_run(db, name, run_id, "artifacts_json = ?", (json.dumps(artifacts),))

    def set_deploy_result(self, name: str, run_id: str, deploy_result: dict) -> None:
        with self._database.write() as db:
            self._update_run(db, name, run_id, "deploy_result_json = ?", (json.dumps(deploy_result),))

    def add_partial_failure(self, name: str, run_id: str, message: str) -> None:
        with self._database.write() as db:
            row = db.execute(
                "SELECT partial_failure_reasons_json FROM jobs WHERE name_key = ?", (name.lower(),)
            ).fetchone()
            reasons = (_loads(row["partial_failure_reasons_json"]) if row else None) or []
            reasons.append({"PartialFailureMessage": message})
            self._update_run(db, name, run_id, "partial_failure_reasons_json = ?", (json.dumps(reasons),))

    def set_best_candidate(self, name: str, run_id: str, candidate_name: str) -> None:
        with self._database.write() as db:
            exists = db.execute(
                "SELECT 1 FROM candidates WHERE job_name_key = ? AND name = ?", (name.lower(), candidate_name)
            ).fetchone()
            if not exists:
                raise ValueError(f"best candidate {candidate_name!r} was never added to job {name!r}")
            self._update_run(db, name, run_id, "best_candidate_name = ?", (candidate_name,))

    def add_candidate(self, name: str, run_id: str, candidate: dict) -> None:
        """Insert a candidate, or update it when a candidate of that name exists (keeping its
        CreationTime). Times the engine gives are kept; missing ones are filled in."""
        now = time.time()
        body = {key: value for key, value in candidate.items() if key not in _CANDIDATE_TIME_MEMBERS}
        candidate_name = body["CandidateName"]
        status = body.pop("CandidateStatus", "Completed")
        metric = (body.get("FinalAutoMLJobObjectiveMetric") or {}).get("Value")
        end_time = candidate.get("EndTime")
        if end_time is None and status in ("Completed", "Failed", "Stopped"):
            end_time = now
        with self._database.write() as db:
            self._update_run(db, name, run_id, "seq = seq", ())
            existing = db.execute(
                "SELECT seq FROM candidates WHERE job_name_key = ? AND name = ?", (name.lower(), candidate_name)
            ).fetchone()
            if existing:
                db.execute(
                    "UPDATE candidates SET status = ?, metric_value = ?, end_time = ?, last_modified_time = ?,"
                    " candidate_json = ? WHERE job_name_key = ? AND name = ?",
                    (status, metric, end_time, now, json.dumps(body), name.lower(), candidate_name),
                )
                return
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM candidates WHERE job_name_key = ?", (name.lower(),)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO candidates (job_name_key, seq, name, status, metric_value, creation_time, end_time,"
                " last_modified_time, candidate_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name.lower(),
                    seq,
                    candidate_name,
                    status,
                    metric,
                    candidate.get("CreationTime", now),
                    end_time,
                    candidate.get("LastModifiedTime", now),
                    json.dumps(body),
                ),
            )

    def finish(
        self, name: str, run_id: str, status: str, secondary_status: str, failure_reason: str | None = None
    ) -> bool:
        """End a run's job; False if the run no longer owns it (already ended)."""
        now = time.time()
        with self._database.write() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, secondary_status = ?, failure_reason = COALESCE(?, failure_reason),"
                " end_time = ?, last_modified_time = ?"
                " WHERE name_key = ? AND run_id = ? AND status IN (?, ?)",
                (status, secondary_status, failure_reason, now, now, name.lower(), run_id, *ACTIVE_STATUSES),
            )
        return cursor.rowcount == 1

    # -- candidates ------------------------------------------------------------------------

    def get_candidate(self, job_name: str, candidate_name: str) -> dict | None:
        row = (
            self._read()
            .execute("SELECT * FROM candidates WHERE job_name_key = ? AND name = ?", (job_name.lower(), candidate_name))
            .fetchone()
        )
        return None if row is None else _candidate_from_row(row)

    def candidates_page(self, job_name: str, query: ListQuery, candidate_name_equals: str | None = None) -> Page:
        where, params = ["job_name_key = ?"], [job_name.lower()]
        if candidate_name_equals is not None:
            where.append("name = ?")
            params.append(candidate_name_equals)
        return fetch_page(
            self._database,
            "candidates",
            CANDIDATE_SORT_COLUMNS[query.sort_by],
            query,
            _candidate_from_row,
            tuple(where),
            tuple(params),
        )
