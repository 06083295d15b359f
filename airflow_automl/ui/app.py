"""The plugin's FastAPI app, mounted on Airflow's api-server under ``/automl``.

Authentication and access are Airflow's: every route resolves the user from the api-server's JWT
(the UI's ``_token`` cookie, or an ``Authorization: Bearer`` header) and asks Airflow's auth manager
whether that user may read the DAG; the jobs page lists only jobs of DAGs the user may read.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.core_api.security import GetUserDep, requires_access_dag
from airflow.configuration import conf
from airflow.providers.common.compat.sdk import AirflowException
from airflow.utils.session import create_session
from botocore.exceptions import BotoCoreError
from fastapi import Depends, FastAPI, HTTPException, Query
from fastapi.responses import HTMLResponse

from airflow_automl.operators.automl import TAG_DAG_ID, TAG_MAP_INDEX, TAG_RUN_ID, TAG_TASK_ID
from airflow_automl.presentation import leaderboard
from airflow_automl.presentation.charts import RunValue, trend_chart
from airflow_automl.presentation.formatting import format_duration, format_number, format_time
from airflow_automl.presentation.job import JobPresentation
from airflow_automl.presentation.objective import Objective, best_candidate
from airflow_automl.presentation.templating import environment
from airflow_automl.sagemaker.job_status import TERMINAL_STATUSES
from airflow_automl.sagemaker.metrics import objective_value
from airflow_automl.ui import records, views
from airflow_automl.ui.sagemaker import ConnectionRef, SageMakerReader

URL_PREFIX = "/automl"
HISTORY_RUNS = 25
JOB_STATUSES = ("Completed", "InProgress", "Failed", "Stopped", "Stopping")
# What can go wrong reading a job: SageMaker's answer (AutoMLApiError), a missing connection
# (AirflowNotFoundException), or botocore before any answer (no credentials, bad endpoint).
READ_ERRORS = (AirflowException, BotoCoreError)
# The pages are framed by the Airflow UI (same origin) and run no scripts.
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "form-action 'self'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
}

# The plugin's own pages (templates/), on the shared layout, stylesheet and macros.
PAGES = environment(Path(__file__).parent / "templates")

reader = SageMakerReader(ttl=conf.getfloat("automl", "ui_cache_seconds", fallback=10.0))
REFRESH_SECONDS = conf.getint("automl", "ui_refresh_seconds", fallback=10)

app = FastAPI(
    title="AutoML (SageMaker Autopilot) in Airflow",
    description="Pages of the airflow-automl UI plugin: the AutoML job of a task, a DAG's retraining history, "
    "recent jobs.",
)


def _airflow_path(path: str) -> str:
    """A path of the Airflow UI, under the api-server's base URL (which may have a path)."""
    base = urlsplit(conf.get("api", "base_url", fallback="") or "").path.rstrip("/")
    return f"{base}{path}"


def task_href(dag_id: str, run_id: str, task_id: str, map_index: int, tab: str = "plugin/automl-job") -> str:
    path = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    if map_index >= 0:
        path += f"/mapped/{map_index}"
    return _airflow_path(f"{path}/{tab}" if tab else path)


MAX_MAP_INDEX = 2**31 - 1


def _map_index(value: str | None) -> int:
    """The ``map_index`` query parameter. The UI fills {MAP_INDEX} only on mapped task instances;
    elsewhere the placeholder stays, and means what an absent one means: not mapped (-1)."""
    if value in (None, "", "{MAP_INDEX}"):
        return -1
    try:
        index = int(value)
    except ValueError:
        raise HTTPException(422, f"map_index: {value!r} is not an integer (a mapped task's index, or -1)") from None
    # Airflow keeps map indexes in a 32-bit integer column: a larger one names no task instance,
    # and the database must never be asked with it (SQLite raises OverflowError past 64 bits).
    if not -1 <= index <= MAX_MAP_INDEX:
        raise HTTPException(
            422, f"map_index: {value!r} is out of range (a mapped task's index, 0 to {MAX_MAP_INDEX}, or -1)"
        )
    return index


def _tagged_map_index(tags: dict[str, str]) -> int | None:
    """The map index the operator tagged the job with; None when it did not (or not as a number)."""
    try:
        return int(tags[TAG_MAP_INDEX])
    except (KeyError, ValueError):
        return None


def _page(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("refresh_seconds", None)
    html = PAGES.get_template(f"{name}.html").render(**context)
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


def _presigner(connection: ConnectionRef):
    """Pre-signs S3 locations with the task's connection (signing is local: no call to S3).
    The S3 client is made on first use: jobs on the local service link its pages instead."""
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    hooks: list[AwsBaseHook] = []

    def presign(uri: str) -> str:
        if not hooks:
            hooks.append(
                AwsBaseHook(aws_conn_id=connection.aws_conn_id, region_name=connection.region_name, client_type="s3")
            )
        return views.s3_console_or_presigned(hooks[0].conn, hooks[0].conn_region_name, uri)

    return presign


# -- task instance tab: "AutoML job" -----------------------------------------------------------------


@app.get(
    "/tasks/{dag_id}/{task_id}/{run_id:path}",
    response_class=HTMLResponse,
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.TASK_INSTANCE))],
)
def task_tab(
    dag_id: str,
    task_id: str,
    run_id: str,
    map_index: Annotated[str | None, Query(description="the mapped task's index; absent or -1 when not mapped")] = None,
    sort: Annotated[str, Query()] = "rank",
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
) -> HTMLResponse:
    index = _map_index(map_index)
    with create_session() as session:
        task = records.task_job(session, dag_id, run_id, task_id, index)
    if task is None:
        return _page(
            "error",
            404,
            title="No such task instance",
            message=f"DAG {dag_id!r} has no task instance {task_id!r} (map index {index}) in run {run_id!r}.",
        )
    if task.operator == records.DRIFT_CHECK:
        with create_session() as session:
            summary = records.drift_summary(session, dag_id, run_id, task_id, index)
        return _page("drift", task=task, summary=summary)
    if not task.is_automl_task or task.job_name is None:
        running = task.is_automl_task and task.state not in ("success", "failed", "skipped", "upstream_failed")
        return _page("task", task=task, job=None, refresh_seconds=REFRESH_SECONDS if running else None)
    try:
        snapshot = reader.job(task.connection, task.job_name)
        job = JobPresentation.of(snapshot.describe, snapshot.candidates)
        endpoint_url = reader.hook(task.connection).endpoint_url
        # Pre-signing reads the connection's credentials: a failure is the connection's, shown as such.
        artifacts = views.artifact_links(job.artifacts, job.name, endpoint_url, _presigner(task.connection))
    except READ_ERRORS as error:
        return _page(
            "error",
            502,
            title=f"AutoML job {task.job_name}",
            message=f"Could not read AutoML job {task.job_name} through connection "
            f"{task.connection.aws_conn_id!r}: {error}",
            refresh_seconds=REFRESH_SECONDS,
        )
    limit, used = views.max_runtime_seconds(snapshot.describe), views.elapsed_seconds(snapshot.describe)
    return _page(
        "task",
        task=task,
        job=job,
        budget={
            "used": format_duration(used),
            "limit": format_duration(limit) if limit else None,
            "percent": min(100, round(100 * used / limit)) if limit and used is not None else 0,
        },
        timeline=views.timeline(snapshot),
        rows=leaderboard.sorted_rows(job.rows, sort, descending=order == "desc"),
        sort_links=_sort_links(index, sort, order),
        artifacts=artifacts,
        refresh_seconds=None if job.status in TERMINAL_STATUSES else REFRESH_SECONDS,
    )


def _sort_links(map_index: int, sort: str, order: str) -> dict[str, dict[str, str]]:
    links = {}
    for key in leaderboard.SORTS:
        next_order = "desc" if key == sort and order == "asc" else "asc"
        query = {"sort": key, "order": next_order}
        if map_index >= 0:
            query["map_index"] = str(map_index)
        links[key] = {"href": f"?{urlencode(query)}", "mark": (" ▲" if order == "asc" else " ▼") if key == sort else ""}
    return links


# -- DAG tab: "AutoML history" ------------------------------------------------------------------------


@app.get(
    "/dags/{dag_id}/history",
    response_class=HTMLResponse,
    dependencies=[Depends(requires_access_dag("GET", DagAccessEntity.RUN))],
)
def history_tab(dag_id: str) -> HTMLResponse:
    with create_session() as session:
        history = records.dag_history(session, dag_id, limit=HISTORY_RUNS)
    rows, objectives, running = [], [], False
    for run in history:
        task = run.task
        row: dict[str, Any] = {
            "run_id": task.run_id,
            # A scheduled run is known by its logical date; a manual one by when it ran.
            "run_date": format_time(run.logical_date or run.run_after)[:16],
            "job_name": task.job_name,
            "task_href": task_href(task.dag_id, task.run_id, task.task_id, task.map_index),
            "threshold": run.threshold,
            "shown_threshold": format_number(run.threshold),
            "verdict": run.verdict,
            "trigger": run.trigger,
            "value": None,
            "shown_value": "",
            "status": None,
            "best_name": None,
            "best_label": None,
            "candidates": None,
            "training_time": "",
            "error": None,
        }
        if task.job_name is None:
            # The provider's links always name the job: this one was written by something else.
            row["error"] = "its task recorded no job name"
            rows.append(row)
            continue
        try:
            snapshot = reader.job(task.connection, task.job_name)
        except READ_ERRORS as error:
            row["error"] = f"could not read the job: {error}"
            rows.append(row)
            continue
        describe = snapshot.describe
        objective = Objective.of(describe, snapshot.candidates)
        objectives.append(objective)
        best, _ = best_candidate(describe, snapshot.candidates, objective)
        value = objective_value(best) if best else None
        running = running or describe.get("AutoMLJobStatus") not in TERMINAL_STATUSES
        row.update(
            value=value,
            shown_value=format_number(value),
            status=describe.get("AutoMLJobStatus"),
            best_name=(best or {}).get("CandidateName"),
            best_label=((best or {}).get("CandidateName") or "").removeprefix(f"{task.job_name}-"),
            candidates=len(snapshot.candidates),
            training_time=format_duration(views.elapsed_seconds(describe)),
        )
        rows.append(row)
    chronological = [
        RunValue(
            run_id=row["run_id"],
            value=row["value"],
            threshold=row["threshold"],
            label=f"{row['run_id']} ({row['job_name']})",
            short=row["run_date"][5:10],
        )
        for row in reversed(rows)
    ]
    metric = objectives[0].metric if objectives else None
    return _page(
        "history",
        dag_id=dag_id,
        rows=rows,
        metric=metric,
        greater_is_better=objectives[0].greater_is_better if objectives else None,
        chart=trend_chart(chronological),
        refresh_seconds=REFRESH_SECONDS if running else None,
    )


# -- nav page: "AutoML jobs" -------------------------------------------------------------------------


@app.get("/jobs", response_class=HTMLResponse)
def jobs_page(
    user: GetUserDep,
    status: Annotated[str | None, Query(description="only jobs with this status")] = None,
    dag: Annotated[str | None, Query(description="only jobs this DAG created")] = None,
    name: Annotated[str | None, Query(description="only jobs whose name contains this")] = None,
) -> HTMLResponse:
    auth_manager = get_auth_manager()
    with create_session() as session:
        readable = auth_manager.get_authorized_dag_ids(user=user, method="GET", session=session)
        connections = records.connections_in_use(session)
    # Jobs no DAG created belong to no DAG: shown to those who may read every DAG.
    reads_all_dags = auth_manager.is_authorized_dag(method="GET", user=user)
    status = status if status in JOB_STATUSES else None
    listed, errors = [], []
    for connection in connections:
        try:
            summaries = reader.recent_jobs(connection, status=status, name_contains=name or None)
            for summary in summaries:
                listed.append((connection, summary, reader.tags(connection, summary["AutoMLJobArn"])))
        except READ_ERRORS as error:
            errors.append(f"Could not list the jobs of connection {connection.aws_conn_id!r}: {error}")
    jobs = []
    for connection, summary, tags in listed:
        dag_id = tags.get(TAG_DAG_ID)
        if (dag_id is None and not reads_all_dags) or (dag_id is not None and dag_id not in readable):
            continue
        if dag and dag_id != dag:
            continue
        jobs.append(_job_row(connection, summary, tags))
    created_by_airflow = [j for j in jobs if j["dag_id"] and j["run_id"] and j["task_id"]]
    with create_session() as session:
        states = records.run_states(session, [(j["dag_id"], j["run_id"]) for j in created_by_airflow])
        untagged = [
            (j["dag_id"], j["run_id"], j["task_id"], j["name"]) for j in created_by_airflow if j["map_index"] is None
        ]
        map_indexes = records.map_indexes_of_jobs(session, untagged)
    for job in jobs:
        job["run_state"] = states.get((job["dag_id"], job["run_id"]))
        if job["dag_id"] and job["run_id"] and job["task_id"]:
            if job["map_index"] is None:
                job["map_index"] = map_indexes.get(job["name"], -1)
            job["task_href"] = task_href(job["dag_id"], job["run_id"], job["task_id"], job["map_index"])
    jobs.sort(
        key=lambda job: job["created_at"].timestamp() if isinstance(job["created_at"], datetime) else 0, reverse=True
    )
    return _page(
        "jobs",
        jobs=jobs,
        errors=errors,
        statuses=JOB_STATUSES,
        dag_options=sorted(readable),
        filters={"status": status, "dag": dag, "name": name},
        limit=100,
    )


def _job_row(connection: ConnectionRef, summary: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    dag_id, run_id, task_id = tags.get(TAG_DAG_ID), tags.get(TAG_RUN_ID), tags.get(TAG_TASK_ID)
    # Without the tag (jobs made before the operator set it) the task's own records tell.
    map_index = _tagged_map_index(tags)
    return {
        "name": summary.get("AutoMLJobName"),
        "status": summary.get("AutoMLJobStatus"),
        "secondary_status": summary.get("AutoMLJobSecondaryStatus"),
        "failure_reason": summary.get("FailureReason"),
        "created": format_time(summary.get("CreationTime")),
        "created_at": summary.get("CreationTime"),
        "ended": format_time(summary.get("EndTime")),
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "task_href": None,
        "connection": connection.aws_conn_id,
    }
