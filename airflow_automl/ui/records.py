"""What Airflow's metadata database says about AutoML tasks: which job a task instance submitted
or watched, through which connection, and per DAG run the sensor's threshold and the promotion verdict.

The operator and the sensor record their job in the XCom ``automl_job_link`` when they start
(job name, region, endpoint and connection id), so a running task already has it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow.models.dagrun import DagRun
from airflow.models.renderedtifields import RenderedTaskInstanceFields
from airflow.models.taskinstance import TaskInstance
from airflow.models.xcom import XComModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from airflow_automl.links.automl import AutoMLJobLink
from airflow_automl.ui.sagemaker import ConnectionRef

OPERATOR = "AutoMLJobOperator"
SENSOR = "AutoMLBestCandidateSensor"
AUTOML_TASK_TYPES = frozenset({OPERATOR, SENSOR})
DRIFT_CHECK = "AutoMLDriftCheckOperator"


@dataclass(frozen=True)
class TaskJob:
    """One AutoML task instance and the job it submitted or watched (None before it started)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    operator: str | None
    state: str | None
    job_name: str | None
    connection: ConnectionRef
    endpoint_url: str | None

    @property
    def is_automl_task(self) -> bool:
        return self.operator in AUTOML_TASK_TYPES or self.job_name is not None


@dataclass(frozen=True)
class RunJob:
    """One run of a DAG and the job its training task submitted."""

    task: TaskJob
    run_after: datetime | None
    logical_date: datetime | None
    run_state: str | None
    threshold: float | None
    verdict: dict[str, Any] | None
    # What started the run: "drift" (an asset event, from the drift monitor), "schedule" or "manual".
    trigger: str | None = None


def run_trigger(run_type: Any) -> str | None:
    kind = str(run_type.value if hasattr(run_type, "value") else run_type) if run_type is not None else None
    return {"asset_triggered": "drift", "scheduled": "schedule"}.get(kind or "", kind)


def _link_value(row: XComModel) -> dict[str, Any]:
    value = XComModel.deserialize_value(row)
    return value if isinstance(value, dict) else {}


def _task_job(ti_row: Any, link: dict[str, Any] | None) -> TaskJob:
    link = link or {}
    return TaskJob(
        dag_id=ti_row.dag_id,
        run_id=ti_row.run_id,
        task_id=ti_row.task_id,
        map_index=ti_row.map_index,
        operator=ti_row.operator,
        state=str(ti_row.state) if ti_row.state else None,
        job_name=link.get("job_name"),
        # Links recorded before the connection id was part of them name none: the operator's default.
        connection=ConnectionRef(link.get("aws_conn_id") or "aws_default", link.get("region_name")),
        endpoint_url=link.get("endpoint_url"),
    )


# What a task instance row tells about an AutoML task (_task_job reads these).
_TASK_COLUMNS = (
    TaskInstance.dag_id,
    TaskInstance.run_id,
    TaskInstance.task_id,
    TaskInstance.map_index,
    TaskInstance.operator,
    TaskInstance.state,
)


def task_job(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> TaskJob | None:
    """The task instance and its job; None when there is no such task instance."""
    ti_row = session.execute(
        select(*_TASK_COLUMNS).where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskInstance.map_index == map_index,
        )
    ).first()
    if ti_row is None:
        return None
    link_row = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == task_id,
            XComModel.map_index == map_index,
            XComModel.key == AutoMLJobLink.key,
        )
    ).first()
    return _task_job(ti_row, _link_value(link_row) if link_row is not None else None)


def drift_summary(session: Session, dag_id: str, run_id: str, task_id: str, map_index: int) -> dict[str, Any] | None:
    """A drift check's return value (its features and distances), or None before it has one."""
    row = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_id,
            XComModel.run_id == run_id,
            XComModel.task_id == task_id,
            XComModel.map_index == map_index,
            XComModel.key == "return_value",
        )
    ).first()
    value = XComModel.deserialize_value(row) if row is not None else None
    return value if isinstance(value, dict) and "features" in value else None


def dag_history(session: Session, dag_id: str, limit: int = 25) -> list[RunJob]:
    """The latest ``limit`` runs of the DAG that ran an AutoML task, newest first, one row per job."""
    runs = session.execute(
        select(DagRun.id, DagRun.run_id, DagRun.run_after, DagRun.logical_date, DagRun.state, DagRun.run_type)
        .where(
            DagRun.dag_id == dag_id,
            DagRun.id.in_(
                select(XComModel.dag_run_id).where(XComModel.dag_id == dag_id, XComModel.key == AutoMLJobLink.key)
            ),
        )
        .order_by(DagRun.run_after.desc())
        .limit(limit)
    ).all()
    if not runs:
        return []
    run_ids = [run.run_id for run in runs]
    links = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_id, XComModel.run_id.in_(run_ids), XComModel.key == AutoMLJobLink.key
        )
    ).all()
    tis = {
        (row.run_id, row.task_id, row.map_index): row
        for row in session.execute(
            select(*_TASK_COLUMNS).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id.in_(run_ids))
        )
    }
    jobs = [
        _task_job(tis[key], _link_value(link))
        for link in links
        if (key := (link.run_id, link.task_id, link.map_index)) in tis
    ]
    thresholds = _sensor_thresholds(session, dag_id, run_ids, [ti for ti in tis.values() if ti.operator == SENSOR])
    verdicts = _promotion_verdicts(session, dag_id, run_ids)
    history: list[RunJob] = []
    for run in runs:
        in_run = _one_per_job([job for job in jobs if job.run_id == run.run_id])
        for job in in_run:
            history.append(
                RunJob(
                    task=job,
                    run_after=run.run_after,
                    logical_date=run.logical_date,
                    run_state=str(run.state) if run.state else None,
                    threshold=thresholds.get((run.run_id, job.job_name), thresholds.get((run.run_id, None))),
                    verdict=verdicts.get(run.run_id),
                    trigger=run_trigger(run.run_type),
                )
            )
    return history


def _one_per_job(jobs: list[TaskJob]) -> list[TaskJob]:
    """A sensor watching the operator's job is the same job: keep the operator's task for it."""
    jobs = sorted(jobs, key=lambda job: (job.operator != OPERATOR, job.task_id, job.map_index))
    seen: set[str | None] = set()
    kept = []
    for job in jobs:
        if job.job_name not in seen:
            seen.add(job.job_name)
            kept.append(job)
    return kept


def _sensor_thresholds(
    session: Session, dag_id: str, run_ids: list[str], sensors: Iterable[Any]
) -> dict[tuple[str, str | None], float]:
    """(run id, job name) -> the threshold the run's sensor rendered; (run id, None) for any job of the run."""
    sensor_task_ids = {sensor.task_id for sensor in sensors}
    if not sensor_task_ids:
        return {}
    thresholds: dict[tuple[str, str | None], float] = {}
    rows = session.scalars(
        select(RenderedTaskInstanceFields).where(
            RenderedTaskInstanceFields.dag_id == dag_id,
            RenderedTaskInstanceFields.run_id.in_(run_ids),
            RenderedTaskInstanceFields.task_id.in_(sensor_task_ids),
        )
    ).all()
    for row in rows:
        fields = row.rendered_fields or {}
        rendered = fields.get("metric_threshold")
        if rendered is None:
            continue  # no threshold set
        try:
            threshold = float(rendered)
        except (TypeError, ValueError):
            continue  # one the sensor itself would refuse
        thresholds[(row.run_id, fields.get("job_name"))] = threshold
        thresholds.setdefault((row.run_id, None), threshold)
    return thresholds


def _promotion_verdicts(session: Session, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    """run id -> the return value of a task of the run that says whether it ``promoted`` a model;
    the final one (which says who ``decided_by``) over a provisional one."""
    verdicts: dict[str, dict[str, Any]] = {}
    rows = session.scalars(
        select(XComModel).where(
            XComModel.dag_id == dag_id, XComModel.run_id.in_(run_ids), XComModel.key == "return_value"
        )
    ).all()
    for row in rows:
        value = XComModel.deserialize_value(row)
        if not (isinstance(value, dict) and isinstance(value.get("promoted"), bool)):
            continue
        if "decided_by" in value or "decided_by" not in verdicts.get(row.run_id, {}):
            verdicts[row.run_id] = value
    return verdicts


def connections_in_use(session: Session, limit: int = 500) -> list[ConnectionRef]:
    """The connections (and regions) recent AutoML tasks used; ``aws_default`` when there are none."""
    rows = session.scalars(
        select(XComModel).where(XComModel.key == AutoMLJobLink.key).order_by(XComModel.timestamp.desc()).limit(limit)
    ).all()
    found: list[ConnectionRef] = []
    for row in rows:
        link = _link_value(row)
        connection = ConnectionRef(link.get("aws_conn_id") or "aws_default", link.get("region_name"))
        if connection not in found:
            found.append(connection)
    return found or [ConnectionRef()]


def map_indexes_of_jobs(session: Session, jobs: Iterable[tuple[str, str, str, str]]) -> dict[str, int]:
    """job name -> map index of the task instance that recorded it, for (dag, run, task, job) tuples.

    For jobs whose tags name no map index (made before the operator tagged it)."""
    jobs = list(jobs)
    if not jobs:
        return {}
    wanted: dict[tuple[str, str, str], set[str]] = {
        (dag_id, run_id, task_id): set() for dag_id, run_id, task_id, _ in jobs
    }
    for dag_id, run_id, task_id, job_name in jobs:
        wanted[(dag_id, run_id, task_id)].add(job_name)
    rows = session.scalars(
        select(XComModel).where(
            XComModel.key == AutoMLJobLink.key,
            XComModel.dag_id.in_({dag_id for dag_id, _, _ in wanted}),
            XComModel.run_id.in_({run_id for _, run_id, _ in wanted}),
        )
    ).all()
    found: dict[str, int] = {}
    for row in rows:
        names = wanted.get((row.dag_id, row.run_id, row.task_id), set())
        linked_name = _link_value(row).get("job_name")
        if isinstance(linked_name, str) and linked_name in names:
            found[linked_name] = row.map_index
    return found


def run_states(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(dag id, run id) -> the run's state, for the runs that exist."""
    pairs = set(pairs)
    if not pairs:
        return {}
    dag_ids = {dag_id for dag_id, _ in pairs}
    run_ids = {run_id for _, run_id in pairs}
    rows = session.execute(
        select(DagRun.dag_id, DagRun.run_id, DagRun.state).where(DagRun.dag_id.in_(dag_ids), DagRun.run_id.in_(run_ids))
    )
    return {(row.dag_id, row.run_id): str(row.state) for row in rows if (row.dag_id, row.run_id) in pairs}
