"""SQLite persistence of AutoML jobs, their candidates and tags.

One database file under the data dir, in WAL mode so readers (the API) never wait for the
writer (a training worker). Every thread and every process opens its own connection.
Writes made on behalf of a training run are fenced by the run's id: once a job has ended
(or the service marked it Failed after a restart) a late write from an old worker changes
nothing, so a leftover writer can never corrupt a finished job.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ACTIVE_STATUSES = ("InProgress", "Stopping")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
    name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE,
    api_version INTEGER NOT NULL,             -- 1: CreateAutoMLJob, 2: CreateAutoMLJobV2
    request_json TEXT NOT NULL,               -- the create request as received
    spec_json TEXT NOT NULL,                  -- JobSpec.to_dict()
    status TEXT NOT NULL,
    secondary_status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL,
    end_time REAL,
    failure_reason TEXT,
    partial_failure_reasons_json TEXT,
    best_candidate_name TEXT,
    artifacts_json TEXT,
    resolved_attributes_json TEXT,
    deploy_result_json TEXT,
    run_id TEXT,                              -- set when a worker starts; fences the worker's writes
    worker_pid INTEGER,
    started_time REAL,
    stop_requested_time REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
CREATE INDEX IF NOT EXISTS jobs_by_creation ON jobs (creation_time, seq);
CREATE TABLE IF NOT EXISTS candidates (
    job_name_key TEXT NOT NULL REFERENCES jobs (name_key),
    seq INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    metric_value REAL,
    creation_time REAL NOT NULL,
    end_time REAL,
    last_modified_time REAL NOT NULL,
    candidate_json TEXT NOT NULL,
    PRIMARY KEY (job_name_key, name)
);
CREATE TABLE IF NOT EXISTS tags (
    arn TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (arn, key)
);
CREATE TABLE IF NOT EXISTS endpoints (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
    name TEXT NOT NULL,
    arn TEXT NOT NULL,
    job_name TEXT NOT NULL,                   -- the AutoML job whose best model it serves
    candidate_name TEXT NOT NULL,
    status TEXT NOT NULL,                     -- Creating | InService | Failed
    failure_reason TEXT,
    creation_time REAL NOT NULL,
    last_modified_time REAL NOT NULL
);
"""

# Sort columns a list may be ordered by; each is paired with seq so the order is total and
# a page token can name the exact row to continue after.
JOB_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}
CANDIDATE_SORT_COLUMNS = {
    "CreationTime": "creation_time",
    "Status": "status",
    # Candidates without a metric value sort as the lowest value.
    "FinalObjectiveMetricValue": "COALESCE(metric_value, -1e308)",
}
ENDPOINT_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}
_CANDIDATE_TIME_MEMBERS = ("CreationTime", "EndTime", "LastModifiedTime")


class StoreError(Exception):
    """Base of the conditions the store reports to its callers."""


class JobNameInUse(StoreError):
    pass


class TooManyActiveJobs(StoreError):
    pass


class RunFenced(StoreError):
    """A worker wrote for a run that no longer owns its job (the job ended or was taken over)."""


class InvalidPageToken(StoreError):
    pass


class EndpointNameInUse(StoreError):
    pass


@dataclass(frozen=True)
class JobRecord:
    seq: int
    name: str
    arn: str
    api_version: int
    request: dict
    spec: dict
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


@dataclass(frozen=True)
class Page:
    rows: list
    next_token: str | None


def _loads(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _job_from_row(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        seq=row["seq"],
        name=row["name"],
        arn=row["arn"],
        api_version=row["api_version"],
        request=json.loads(row["request_json"]),
        spec=json.loads(row["spec_json"]),
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


def encode_page_token(scope: str, sort_value: Any, seq: int) -> str:
    """A token naming the last row returned (its sort value and seq), not an offset, so rows
    added or changed between pages neither repeat nor vanish from the pages still to come."""
    raw = json.dumps({"scope": scope, "after": [sort_value, seq]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, scope: str) -> tuple[Any, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort_value, seq = payload["after"]
        token_scope = payload["scope"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidPageToken(f"NextToken: not a token this service issued ({error})") from error
    if isinstance(sort_value, bool) or not isinstance(sort_value, (str, int, float)) or type(seq) is not int:
        raise InvalidPageToken("NextToken: not a token this service issued (malformed position)")
    if token_scope != scope:
        raise InvalidPageToken(
            "NextToken: the token was issued for a different request; repeat the request with "
            "the same filters and sort order as the one that returned it"
        )
    return sort_value, seq


class Store:
    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._local = threading.local()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        connection = self._connection()
        connection.execute("PRAGMA journal_mode=WAL")
        connection.executescript(_SCHEMA)

    # -- connections and transactions -------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit mode: transactions are opened explicitly by _write().
            connection = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA busy_timeout=30000")
            # NORMAL is durable across process crashes in WAL mode; only power loss can drop
            # the last transactions.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        connection = self._connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def integrity_check(self) -> str:
        return self._connection().execute("PRAGMA integrity_check").fetchone()[0]

    # -- jobs: API side ----------------------------------------------------------------------

    def create_job(
        self,
        *,
        name: str,
        arn: str,
        api_version: int,
        request: dict,
        spec: dict,
        max_active_jobs: int,
    ) -> JobRecord:
        now = time.time()
        with self._write() as db:
            if db.execute("SELECT 1 FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone():
                raise JobNameInUse(name)
            active = db.execute(
                "SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)", ACTIVE_STATUSES
            ).fetchone()[0]
            if active >= max_active_jobs:
                raise TooManyActiveJobs(active)
            db.execute(
                "INSERT INTO jobs (name_key, name, arn, api_version, request_json, spec_json, status,"
                " secondary_status, creation_time, last_modified_time)"
                " VALUES (?, ?, ?, ?, ?, ?, 'InProgress', 'Starting', ?, ?)",
                (name.lower(), name, arn, api_version, json.dumps(request), json.dumps(spec), now, now),
            )
            for tag in request.get("Tags") or ():
                self._put_tag(db, arn, tag["Key"], tag.get("Value", ""))
        job = self.get_job(name)
        assert job is not None
        return job

    def get_job(self, name: str) -> JobRecord | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else _job_from_row(row)

    def get_job_by_arn(self, arn: str) -> JobRecord | None:
        row = self._connection().execute("SELECT * FROM jobs WHERE arn = ?", (arn,)).fetchone()
        return None if row is None else _job_from_row(row)

    def list_jobs(
        self,
        *,
        creation_time_after: float | None = None,
        creation_time_before: float | None = None,
        last_modified_time_after: float | None = None,
        last_modified_time_before: float | None = None,
        name_contains: str | None = None,
        status_equals: str | None = None,
        sort_by: str = "Name",
        descending: bool = True,
        limit: int = 10,
        page_token: str | None = None,
        token_scope: str = "",
    ) -> Page:
        sort_column = JOB_SORT_COLUMNS[sort_by]
        where, params = [], []
        for clause, value in (
            ("creation_time > ?", creation_time_after),
            ("creation_time < ?", creation_time_before),
            ("last_modified_time > ?", last_modified_time_after),
            ("last_modified_time < ?", last_modified_time_before),
            ("instr(name_key, ?) > 0", name_contains.lower() if name_contains else None),
            ("status = ?", status_equals),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self._page(
            "jobs", sort_column, where, params, descending, limit, page_token, token_scope
        )
        jobs = [_job_from_row(row) for row in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_page_token(token_scope, last["sort_value"], last["seq"])
        return Page(jobs, next_token)

    def _page(
        self,
        table: str,
        sort_expression: str,
        where: list[str],
        params: list,
        descending: bool,
        limit: int,
        page_token: str | None,
        token_scope: str,
    ) -> list[sqlite3.Row]:
        """One page (plus one row, to know whether another page follows) in a total order."""
        where, params = list(where), list(params)
        if page_token:
            after_value, after_seq = decode_page_token(page_token, token_scope)
            where.append(f"({sort_expression}, seq) {'<' if descending else '>'} (?, ?)")
            params += [after_value, after_seq]
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT *, {sort_expression} AS sort_value FROM {table}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += f" ORDER BY sort_value {direction}, seq {direction} LIMIT ?"
        return self._connection().execute(sql, (*params, limit + 1)).fetchall()

    def request_stop(self, name: str) -> JobRecord | None:
        """Move an InProgress job to Stopping; a job no worker has picked up yet stops at once."""
        now = time.time()
        with self._write() as db:
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
        return self.get_job(name)

    # -- jobs: supervisor side ---------------------------------------------------------------

    def queued_jobs(self, limit: int) -> list[JobRecord]:
        rows = self._connection().execute(
            "SELECT * FROM jobs WHERE status = 'InProgress' AND run_id IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        ).fetchall()
        return [_job_from_row(row) for row in rows]

    def running_jobs(self) -> list[JobRecord]:
        rows = self._connection().execute(
            "SELECT * FROM jobs WHERE status IN (?, ?) AND run_id IS NOT NULL ORDER BY seq", ACTIVE_STATUSES
        ).fetchall()
        return [_job_from_row(row) for row in rows]

    def claim_job(self, name: str, run_id: str) -> bool:
        """Give a queued job to a new run; False if it was stopped or claimed meanwhile."""
        now = time.time()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET run_id = ?, started_time = ?, last_modified_time = ?"
                " WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (run_id, now, now, name.lower()),
            )
        return cursor.rowcount == 1

    def set_worker_pid(self, name: str, run_id: str, pid: int) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET worker_pid = ? WHERE name_key = ? AND run_id = ?", (pid, name.lower(), run_id)
            )

    def fail_interrupted_jobs(self, reason: str) -> list[str]:
        """End every job a previous service process left InProgress or Stopping."""
        now = time.time()
        with self._write() as db:
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

    # -- jobs: worker side (fenced by run id) ------------------------------------------------

    def _update_run(self, db: sqlite3.Connection, name: str, run_id: str, assignments: str, params: Sequence) -> None:
        cursor = db.execute(
            f"UPDATE jobs SET {assignments}, last_modified_time = ?"
            " WHERE name_key = ? AND run_id = ? AND status IN (?, ?)",
            (*params, time.time(), name.lower(), run_id, *ACTIVE_STATUSES),
        )
        if cursor.rowcount != 1:
            raise RunFenced(f"job {name!r} is no longer run by {run_id}")

    def job_status(self, name: str) -> str | None:
        row = self._connection().execute("SELECT status FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else row["status"]

    def set_secondary_status(self, name: str, run_id: str, secondary_status: str) -> None:
        with self._write() as db:
            # While Stopping the secondary status stays Stopping, as SageMaker shows it.
            status = db.execute("SELECT status FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
            if status is not None and status["status"] == "Stopping":
                return
            self._update_run(db, name, run_id, "secondary_status = ?", (secondary_status,))

    def set_resolved_attributes(self, name: str, run_id: str, resolved: dict) -> None:
        with self._write() as db:
            self._update_run(db, name, run_id, "resolved_attributes_json = ?", (json.dumps(resolved),))

    def set_artifacts(self, name: str, run_id: str, artifacts: dict) -> None:
        with self._write() as db:
            self._update_run(db, name, run_id, "artifacts_json = ?", (json.dumps(artifacts),))

    def set_deploy_result(self, name: str, run_id: str, deploy_result: dict) -> None:
        with self._write() as db:
            self._update_run(db, name, run_id, "deploy_result_json = ?", (json.dumps(deploy_result),))

    def add_partial_failure(self, name: str, run_id: str, message: str) -> None:
        with self._write() as db:
            row = db.execute(
                "SELECT partial_failure_reasons_json FROM jobs WHERE name_key = ?", (name.lower(),)
            ).fetchone()
            reasons = (_loads(row["partial_failure_reasons_json"]) if row else None) or []
            reasons.append({"PartialFailureMessage": message})
            self._update_run(db, name, run_id, "partial_failure_reasons_json = ?", (json.dumps(reasons),))

    def set_best_candidate(self, name: str, run_id: str, candidate_name: str) -> None:
        with self._write() as db:
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
        with self._write() as db:
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

    def finish_job(
        self, name: str, run_id: str, status: str, secondary_status: str, failure_reason: str | None = None
    ) -> bool:
        """End a run's job; False if the run no longer owns it (already ended)."""
        now = time.time()
        with self._write() as db:
            cursor = db.execute(
                "UPDATE jobs SET status = ?, secondary_status = ?, failure_reason = COALESCE(?, failure_reason),"
                " end_time = ?, last_modified_time = ?"
                " WHERE name_key = ? AND run_id = ? AND status IN (?, ?)",
                (status, secondary_status, failure_reason, now, now, name.lower(), run_id, *ACTIVE_STATUSES),
            )
        return cursor.rowcount == 1

    # -- candidates --------------------------------------------------------------------------

    def get_candidate(self, job_name: str, candidate_name: str) -> dict | None:
        row = self._connection().execute(
            "SELECT * FROM candidates WHERE job_name_key = ? AND name = ?", (job_name.lower(), candidate_name)
        ).fetchone()
        return None if row is None else _candidate_from_row(row)

    def list_candidates(
        self,
        job_name: str,
        *,
        status_equals: str | None = None,
        candidate_name_equals: str | None = None,
        sort_by: str = "CreationTime",
        descending: bool = False,
        limit: int = 10,
        page_token: str | None = None,
        token_scope: str = "",
    ) -> Page:
        where, params = ["job_name_key = ?"], [job_name.lower()]
        if status_equals is not None:
            where.append("status = ?")
            params.append(status_equals)
        if candidate_name_equals is not None:
            where.append("name = ?")
            params.append(candidate_name_equals)
        rows = self._page(
            "candidates", CANDIDATE_SORT_COLUMNS[sort_by], where, params, descending, limit, page_token, token_scope
        )
        candidates = [_candidate_from_row(row) for row in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_page_token(token_scope, last["sort_value"], last["seq"])
        return Page(candidates, next_token)

    # -- tags --------------------------------------------------------------------------------

    @staticmethod
    def _put_tag(db: sqlite3.Connection, arn: str, key: str, value: str) -> None:
        existing = db.execute("SELECT seq FROM tags WHERE arn = ? AND key = ?", (arn, key)).fetchone()
        if existing:
            db.execute("UPDATE tags SET value = ? WHERE arn = ? AND key = ?", (value, arn, key))
            return
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM tags WHERE arn = ?", (arn,)).fetchone()[0]
        db.execute("INSERT INTO tags (arn, key, value, seq) VALUES (?, ?, ?, ?)", (arn, key, value, seq))

    def count_tags_after_adding(self, arn: str, keys: Sequence[str]) -> int:
        existing = {
            row["key"] for row in self._connection().execute("SELECT key FROM tags WHERE arn = ?", (arn,))
        }
        return len(existing | set(keys))

    def add_tags(self, arn: str, tags: Sequence[dict]) -> None:
        with self._write() as db:
            for tag in tags:
                self._put_tag(db, arn, tag["Key"], tag.get("Value", ""))

    def delete_tags(self, arn: str, keys: Sequence[str]) -> None:
        with self._write() as db:
            db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys])

    def list_tags(self, arn: str, *, limit: int, page_token: str | None, token_scope: str) -> Page:
        rows = self._page("tags", "seq", ["arn = ?"], [arn], False, limit, page_token, token_scope)
        tags = [{"Key": row["key"], "Value": row["value"]} for row in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_page_token(token_scope, last["sort_value"], last["seq"])
        return Page(tags, next_token)

    # -- endpoints ---------------------------------------------------------------------------

    @staticmethod
    def _endpoint_from_row(row: sqlite3.Row) -> EndpointRecord:
        return EndpointRecord(
            name=row["name"],
            arn=row["arn"],
            job_name=row["job_name"],
            candidate_name=row["candidate_name"],
            status=row["status"],
            failure_reason=row["failure_reason"],
            creation_time=row["creation_time"],
            last_modified_time=row["last_modified_time"],
        )

    def create_endpoint(self, *, name: str, arn: str, job_name: str, candidate_name: str) -> EndpointRecord:
        """A new endpoint in status Creating; EndpointNameInUse if the name is taken."""
        now = time.time()
        with self._write() as db:
            if db.execute("SELECT 1 FROM endpoints WHERE name_key = ?", (name.lower(),)).fetchone():
                raise EndpointNameInUse(name)
            db.execute(
                "INSERT INTO endpoints (name_key, name, arn, job_name, candidate_name, status,"
                " creation_time, last_modified_time) VALUES (?, ?, ?, ?, ?, 'Creating', ?, ?)",
                (name.lower(), name, arn, job_name, candidate_name, now, now),
            )
        endpoint = self.get_endpoint(name)
        assert endpoint is not None
        return endpoint

    def set_endpoint_status(self, name: str, status: str, failure_reason: str | None = None) -> None:
        with self._write() as db:
            db.execute(
                "UPDATE endpoints SET status = ?, failure_reason = ?, last_modified_time = ? WHERE name_key = ?",
                (status, failure_reason, time.time(), name.lower()),
            )

    def fail_creating_endpoints(self, reason: str) -> list[str]:
        """End every endpoint a previous service process left Creating (its worker died with it)."""
        with self._write() as db:
            names = [row["name"] for row in db.execute("SELECT name FROM endpoints WHERE status = 'Creating'")]
            db.execute(
                "UPDATE endpoints SET status = 'Failed', failure_reason = ?, last_modified_time = ?"
                " WHERE status = 'Creating'",
                (reason, time.time()),
            )
        return names

    def get_endpoint(self, name: str) -> EndpointRecord | None:
        row = self._connection().execute("SELECT * FROM endpoints WHERE name_key = ?", (name.lower(),)).fetchone()
        return None if row is None else self._endpoint_from_row(row)

    def delete_endpoint(self, name: str) -> bool:
        with self._write() as db:
            cursor = db.execute("DELETE FROM endpoints WHERE name_key = ?", (name.lower(),))
        return cursor.rowcount == 1

    def list_endpoints(
        self,
        *,
        name_contains: str | None = None,
        status_equals: str | None = None,
        creation_time_after: float | None = None,
        creation_time_before: float | None = None,
        last_modified_time_after: float | None = None,
        last_modified_time_before: float | None = None,
        sort_by: str = "CreationTime",
        descending: bool = True,
        limit: int = 10,
        page_token: str | None = None,
        token_scope: str = "",
    ) -> Page:
        where, params = [], []
        for clause, value in (
            ("instr(name_key, ?) > 0", name_contains.lower() if name_contains else None),
            ("status = ?", status_equals),
            ("creation_time > ?", creation_time_after),
            ("creation_time < ?", creation_time_before),
            ("last_modified_time > ?", last_modified_time_after),
            ("last_modified_time < ?", last_modified_time_before),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        sort_column = ENDPOINT_SORT_COLUMNS[sort_by]
        rows = self._page("endpoints", sort_column, where, params, descending, limit, page_token, token_scope)
        endpoints = [self._endpoint_from_row(row) for row in rows[:limit]]
        next_token = None
        if len(rows) > limit:
            last = rows[limit - 1]
            next_token = encode_page_token(token_scope, last["sort_value"], last["seq"])
        return Page(endpoints, next_token)
