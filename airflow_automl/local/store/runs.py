"""What every kind of job shares in the store: the run lifecycle, written once.

A job is created InProgress and queued; the supervisor claims it for a run (a new run id, its
start time) and starts the run's worker; the worker writes for that run only (writes are fenced
by the run id: once the job has ended, or a restarted service ended it, a late write from an
old worker changes nothing and raises RunFenced). A stop request moves the job to Stopping (a job
no worker has claimed yet stops at once), and the job ends:

- when its worker ends it (``finish``): with the worker's outcome, except that a job asked to
  stop ends Stopped unless it failed;
- when its worker is gone without ending it (``end_orphaned``: the worker died; and
  ``end_interrupted``: the service restarted, and every worker died with the previous one):
  Stopped if it was asked to stop, otherwise Failed with the reason.

That is SageMaker's documented stop, whoever ends the job: "When Amazon SageMaker receives a
StopTransformJob request, the status of the job changes to Stopping. After Amazon SageMaker stops
the job, the status is set to Stopped."
(https://docs.aws.amazon.com/sagemaker/latest/dg/API_StopTransformJob.html; StopTrainingJob says
the same of training jobs, https://docs.aws.amazon.com/sagemaker/latest/dg/API_StopTrainingJob.html,
and StopAutoMLJob, "A method for forcing a running job to shut down", documents no other outcome,
https://docs.aws.amazon.com/sagemaker/latest/dg/API_StopAutoMLJob.html). A stop that was asked
for is never reported as a failure.

A job kind subclasses RunStore with its table and record (a RunRecord); the columns whose names
differ between tables are mapped by the record's fields (records.column).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from airflow_automl.local.store.records import column_name
from airflow_automl.local.store.resources import ResourceStore

ACTIVE_STATUSES = ("InProgress", "Stopping")
_STOPPED, _STOPPING = "'Stopped'", "'Stopping'"  # as SQL literals

R = TypeVar("R", bound="RunRecord")


class RunFenced(Exception):
    """A worker wrote for a run that no longer owns its job (the job ended or was taken over)."""


@dataclass(frozen=True)
class RunRecord:
    """The fields every kind of job has."""

    seq: int
    name: str
    arn: str
    request: dict
    status: str
    failure_reason: str | None
    creation_time: float
    last_modified_time: float
    start_time: float | None  # when a worker took it
    end_time: float | None
    run_id: str | None  # set when a worker starts; fences the worker's writes
    worker_pid: int | None
    stop_requested_time: float | None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class RunStore(ResourceStore[R]):
    """A table of jobs run by worker processes."""

    # A kind whose table also keeps a secondary status (AutoML jobs): it follows the status
    # whenever the store stops or ends a job.
    secondary_status_column: ClassVar[str | None] = None

    def _key(self, name: str) -> str:
        return name.lower()

    def _status_set_to(self, expression: str) -> str:
        """SQL assignments of expression to the status, and to the secondary status where the kind keeps one."""
        columns = ["status"] if self.secondary_status_column is None else ["status", self.secondary_status_column]
        return ", ".join(f"{name} = {expression}" for name in columns)

    # -- API side --------------------------------------------------------------------------

    def request_stop(self, name: str) -> R | None:
        """Move an InProgress job to Stopping; a job no worker has picked up yet stops at once."""
        now = time.time()
        with self._database.write() as db:
            db.execute(
                f"UPDATE {self.table} SET {self._status_set_to(_STOPPED)},"
                " end_time = ?, last_modified_time = ?, stop_requested_time = ?"
                " WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (now, now, now, self._key(name)),
            )
            db.execute(
                f"UPDATE {self.table} SET {self._status_set_to(_STOPPING)},"
                " last_modified_time = ?, stop_requested_time = ? WHERE name_key = ? AND status = 'InProgress'",
                (now, now, self._key(name)),
            )
        return self.get(name)

    def status(self, name: str) -> str | None:
        row = self._read().execute(f"SELECT status FROM {self.table} WHERE name_key = ?", (self._key(name),)).fetchone()
        return None if row is None else row["status"]

    # -- supervisor side -------------------------------------------------------------------

    def queued(self, limit: int) -> list[R]:
        """Jobs waiting for a worker, oldest first."""
        rows = self._read().execute(
            f"SELECT * FROM {self.table} WHERE status = 'InProgress' AND run_id IS NULL ORDER BY seq LIMIT ?",
            (limit,),
        )
        return [self._record(row) for row in rows]

    def running(self) -> list[R]:
        """Jobs a run has claimed that have not ended."""
        rows = self._read().execute(
            f"SELECT * FROM {self.table} WHERE status IN (?, ?) AND run_id IS NOT NULL ORDER BY seq",
            ACTIVE_STATUSES,
        )
        return [self._record(row) for row in rows]

    def active(self) -> list[R]:
        """Jobs that have not ended, claimed or not."""
        rows = self._read().execute(f"SELECT * FROM {self.table} WHERE status IN (?, ?) ORDER BY seq", ACTIVE_STATUSES)
        return [self._record(row) for row in rows]

    def claim(self, name: str, run_id: str) -> bool:
        """Give a queued job to a new run, starting its clock; False if it was stopped or claimed meanwhile."""
        now = time.time()
        with self._database.write() as db:
            cursor = db.execute(
                f"UPDATE {self.table} SET run_id = ?, {column_name(self.record, 'start_time')} = ?,"
                " last_modified_time = ? WHERE name_key = ? AND status = 'InProgress' AND run_id IS NULL",
                (run_id, now, now, self._key(name)),
            )
        return cursor.rowcount == 1

    def set_worker_pid(self, name: str, run_id: str, pid: int) -> None:
        with self._database.write() as db:
            db.execute(
                f"UPDATE {self.table} SET worker_pid = ? WHERE name_key = ? AND run_id = ?",
                (pid, self._key(name), run_id),
            )

    def end_orphaned(self, name: str, run_id: str, reason: str) -> str | None:
        """End a run's job whose worker is gone without ending it: Stopped if it was asked to stop,
        else Failed with reason. The status it ended with; None if the run no longer owns it."""
        with self._database.write() as db:
            ended = self._end_without_worker(db, reason, " AND name_key = ? AND run_id = ?", (self._key(name), run_id))
        return ended[0][1] if ended else None

    def end_interrupted(self, reason: str) -> list[tuple[str, str]]:
        """End every job a previous service process left unended (its workers died with it):
        Stopping ones Stopped, InProgress ones (queued or running) Failed with reason.
        (name, status it ended with) of each, oldest first."""
        with self._database.write() as db:
            return self._end_without_worker(db, reason)

    def _end_without_worker(
        self, db: sqlite3.Connection, reason: str, where: str = "", params: Sequence[Any] = ()
    ) -> list[tuple[str, str]]:
        """End the unended jobs that where (' AND <condition>') picks, as their workers are gone."""
        ending = db.execute(
            f"SELECT name, status FROM {self.table} WHERE status IN (?, ?){where} ORDER BY seq",
            (*ACTIVE_STATUSES, *params),
        ).fetchall()
        now = time.time()
        ended = "CASE status WHEN 'Stopping' THEN 'Stopped' ELSE 'Failed' END"
        db.execute(
            f"UPDATE {self.table} SET {self._status_set_to(ended)},"
            " failure_reason = CASE status WHEN 'Stopping' THEN failure_reason ELSE ? END,"
            f" end_time = ?, last_modified_time = ? WHERE status IN (?, ?){where}",
            (reason, now, now, *ACTIVE_STATUSES, *params),
        )
        return [(row["name"], "Stopped" if row["status"] == "Stopping" else "Failed") for row in ending]

    # -- worker side (fenced by run id) ----------------------------------------------------

    def finish(
        self,
        name: str,
        run_id: str,
        status: str,
        failure_reason: str | None = None,
        *,
        secondary_status: str | None = None,
    ) -> bool:
        """End a run's job with status (and secondary_status, default the status, where the
        kind keeps one); False if the run no longer owns it (already ended). A job asked to stop
        ends Stopped, unless it failed."""
        # Both read the status before the update (SQL evaluates every assignment on the old row).
        stopped = "CASE WHEN status = 'Stopping' AND :status != 'Failed' THEN 'Stopped' ELSE {} END"
        assignments = f"status = {stopped.format(':status')}"
        if self.secondary_status_column is not None:
            assignments += f", {self.secondary_status_column} = {stopped.format(':secondary_status')}"
        now = time.time()
        with self._database.write() as db:
            cursor = db.execute(
                f"UPDATE {self.table} SET {assignments}, failure_reason = COALESCE(:reason, failure_reason),"
                " end_time = :now, last_modified_time = :now"
                " WHERE name_key = :key AND run_id = :run_id AND status IN ('InProgress', 'Stopping')",
                {
                    "status": status,
                    "secondary_status": secondary_status or status,
                    "reason": failure_reason,
                    "now": now,
                    "key": self._key(name),
                    "run_id": run_id,
                },
            )
        return cursor.rowcount == 1

    def _write_for_run(
        self, db: sqlite3.Connection, name: str, run_id: str, assignments: str, params: Sequence[Any]
    ) -> None:
        """An update of a run's job inside the caller's transaction; RunFenced unless the run owns the job."""
        cursor = db.execute(
            f"UPDATE {self.table} SET {assignments}, last_modified_time = ?"
            " WHERE name_key = ? AND run_id = ? AND status IN (?, ?)",
            (*params, time.time(), self._key(name), run_id, *ACTIVE_STATUSES),
        )
        if cursor.rowcount != 1:
            raise RunFenced(f"{name!r} is no longer run by {run_id}: it has ended, or a restarted service ended it")
