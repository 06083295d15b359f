"""Persistence of AutoML jobs and their candidates.

The run lifecycle (queue, claim, stop, finish, restart recovery) is every job kind's (runs.py);
this store adds what only AutoML jobs have: the limit on active jobs, the secondary status, the
candidates, the best candidate and what a worker reports as it trains, each write fenced by the
run's id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from airflow_automl.local.engine.job import CANDIDATE_NAME_RE
from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page
from airflow_automl.local.store.records import column, from_row, to_json
from airflow_automl.local.store.resources import NameInUse
from airflow_automl.local.store.runs import ACTIVE_STATUSES, RunRecord, RunStore
from airflow_automl.sagemaker.metrics import best_candidate

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
# Enough to rank every candidate a job can have (MaxCandidates is at most 750).
_MAX_RANKED_CANDIDATES = 1000
_AFTER_EVERY_SEQ = 2**62  # larger than any candidate's seq


class JobNameInUse(NameInUse):
    pass


class TooManyActiveJobs(Exception):
    """args[0]: how many jobs are active."""


@dataclass(frozen=True)
class JobRecord(RunRecord):
    start_time: float | None = field(metadata=column("started_time"))
    api_version: int
    spec: JobSpec = field(metadata=column(decode=JobSpec.from_dict))
    secondary_status: str
    partial_failure_reasons: list | None
    best_candidate_name: str | None
    artifacts: dict | None
    resolved_attributes: dict | None
    deploy_result: dict | None


@dataclass(frozen=True)
class CandidateRecord:
    name: str
    status: str
    creation_time: float
    end_time: float | None
    last_modified_time: float
    candidate: dict  # the AutoMLCandidate as the engine reported it, without the members above

    def described(self) -> dict:
        """The AutoMLCandidate shape."""
        candidate = {
            **self.candidate,
            "CandidateStatus": self.status,
            "CreationTime": self.creation_time,
            "LastModifiedTime": self.last_modified_time,
        }
        if self.end_time is not None:
            candidate["EndTime"] = self.end_time
        return candidate


def _candidate(row) -> dict:
    return from_row(CandidateRecord, row).described()


class AutoMLJobStore(RunStore[JobRecord]):
    """The jobs and candidates tables."""

    table = "jobs"
    record = JobRecord
    sort_columns = JOB_SORT_COLUMNS
    name_in_use = JobNameInUse
    secondary_status_column = "secondary_status"

    # -- API side --------------------------------------------------------------------------

    def create(
        self, *, spec: JobSpec, arn: str, request: dict, max_active_jobs: int, tags: Sequence[dict] = ()
    ) -> JobRecord:
        """A new job InProgress, queued for a worker, with the request's tags; JobNameInUse,
        TooManyActiveJobs, TooManyTags."""
        with self._database.write() as db:
            active = db.execute("SELECT COUNT(*) FROM jobs WHERE status IN (?, ?)", ACTIVE_STATUSES).fetchone()[0]
            # A taken name is refused as such (by _insert) before the limit is.
            if active >= max_active_jobs and self._row(db, spec.name) is None:
                raise TooManyActiveJobs(active)
            row = self._insert(
                db,
                name=spec.name,
                arn=arn,
                tags=tags,
                api_version=spec.api_version,
                request_json=json.dumps(request),
                spec_json=json.dumps(spec.to_dict()),
                status="InProgress",
                secondary_status="Starting",
            )
        return self._record(row)

    def get_by_arn(self, arn: str) -> JobRecord | None:
        row = self._read().execute("SELECT * FROM jobs WHERE arn = ?", (arn,)).fetchone()
        return None if row is None else self._record(row)

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

    # -- worker side (fenced by run id) ----------------------------------------------------

    def set_secondary_status(self, name: str, run_id: str, secondary_status: str) -> None:
        with self._database.write() as db:
            # While Stopping the secondary status stays Stopping, as SageMaker shows it.
            status = db.execute("SELECT status FROM jobs WHERE name_key = ?", (name.lower(),)).fetchone()
            if status is not None and status["status"] == "Stopping":
                return
            self._write_for_run(db, name, run_id, "secondary_status = ?", (secondary_status,))

    def set_resolved_attributes(self, name: str, run_id: str, resolved: dict) -> None:
        with self._database.write() as db:
            self._write_for_run(db, name, run_id, "resolved_attributes_json = ?", (json.dumps(resolved),))

    def set_artifacts(self, name: str, run_id: str, artifacts: dict) -> None:
        with self._database.write() as db:
            self._write_for_run(db, name, run_id, "artifacts_json = ?", (json.dumps(artifacts),))

    def set_deploy_result(self, name: str, run_id: str, deploy_result: dict) -> None:
        with self._database.write() as db:
            self._write_for_run(db, name, run_id, "deploy_result_json = ?", (json.dumps(deploy_result),))

    def add_partial_failure(self, name: str, run_id: str, message: str) -> None:
        with self._database.write() as db:
            row = db.execute(
                "SELECT partial_failure_reasons_json FROM jobs WHERE name_key = ?", (name.lower(),)
            ).fetchone()
            reasons = (json.loads(row["partial_failure_reasons_json"] or "null") if row else None) or []
            reasons.append({"PartialFailureMessage": message})
            self._write_for_run(db, name, run_id, "partial_failure_reasons_json = ?", (json.dumps(reasons),))

    def set_best_candidate(self, name: str, run_id: str, candidate_name: str) -> None:
        with self._database.write() as db:
            exists = db.execute(
                "SELECT 1 FROM candidates WHERE job_name_key = ? AND name = ?", (name.lower(), candidate_name)
            ).fetchone()
            if not exists:
                raise ValueError(f"best candidate {candidate_name!r} was never added to job {name!r}")
            self._write_for_run(db, name, run_id, "best_candidate_name = ?", (candidate_name,))

    def add_candidate(self, name: str, run_id: str, candidate: dict, training: dict | None = None) -> None:
        """Insert a candidate, or update it when a candidate of that name exists (keeping its
        CreationTime). Times the engine gives are kept; missing ones are filled in. training: what
        its training step did (engine/job.py's CandidateTraining), kept when an update has none."""
        now = time.time()
        body = {key: value for key, value in candidate.items() if key not in _CANDIDATE_TIME_MEMBERS}
        candidate_name = body["CandidateName"]
        status = body.pop("CandidateStatus", "Completed")
        metric = (body.get("FinalAutoMLJobObjectiveMetric") or {}).get("Value")
        end_time = candidate.get("EndTime")
        if end_time is None and status in ("Completed", "Failed", "Stopped"):
            end_time = now
        with self._database.write() as db:
            self._write_for_run(db, name, run_id, "seq = seq", ())
            existing = db.execute(
                "SELECT seq FROM candidates WHERE job_name_key = ? AND name = ?", (name.lower(), candidate_name)
            ).fetchone()
            if existing:
                db.execute(
                    "UPDATE candidates SET status = ?, metric_value = ?, end_time = ?, last_modified_time = ?,"
                    " candidate_json = ?, training_json = COALESCE(?, training_json)"
                    " WHERE job_name_key = ? AND name = ?",
                    (status, metric, end_time, now, json.dumps(body), to_json(training), name.lower(), candidate_name),
                )
                return
            seq = db.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM candidates WHERE job_name_key = ?", (name.lower(),)
            ).fetchone()[0]
            db.execute(
                "INSERT INTO candidates (job_name_key, seq, name, status, metric_value, creation_time, end_time,"
                " last_modified_time, candidate_json, training_json) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                    to_json(training),
                ),
            )

    def keep_best_candidate(self, name: str, run_id: str) -> str | None:
        """Make the Completed candidate with the best objective value the job's best, when the
        engine never named one (its worker died, or was killed after a stop); its name, or None
        if the job has no such candidate. RunFenced if the run no longer owns the job."""
        job = self.get(name)
        if job is None or job.best_candidate_name is not None:
            return None if job is None else job.best_candidate_name
        page = self.candidates_page(name, ListQuery(status_equals="Completed", limit=_MAX_RANKED_CANDIDATES))
        best = best_candidate(page.rows)
        if best is None:
            return None
        self.set_best_candidate(name, run_id, best["CandidateName"])
        return best["CandidateName"]

    # -- candidates ------------------------------------------------------------------------

    def get_candidate(self, job_name: str, candidate_name: str) -> dict | None:
        row = (
            self._read()
            .execute("SELECT * FROM candidates WHERE job_name_key = ? AND name = ?", (job_name.lower(), candidate_name))
            .fetchone()
        )
        return None if row is None else _candidate(row)

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
            _candidate,
            tuple(where),
            tuple(params),
            tiebreak=self._best_first(job_name, query) if query.sort_by == "FinalObjectiveMetricValue" else "seq",
        )

    def _best_first(self, job_name: str, query: ListQuery) -> str:
        """Among candidates of equal objective value the job's best comes first, whichever the
        order, so the first of a list sorted by value and BestCandidate agree: its tiebreak is
        below every seq ascending and above every seq descending (others keep their seq's order)."""
        job = self.get(job_name)
        best = job.best_candidate_name if job is not None else None
        if best is None:
            return "seq"
        if not CANDIDATE_NAME_RE.fullmatch(best):  # written into the SQL: only a CandidateName's characters
            raise ValueError(f"job {job_name}: best candidate name {best!r} is no CandidateName")
        return f"CASE WHEN name = '{best}' THEN {_AFTER_EVERY_SEQ if query.descending else 0} ELSE seq END"
