"""Human-readable job pages of the local service: what the Airflow operator's link opens.

``GET /`` lists the recent jobs. ``GET /jobs/{name}`` shows the job's status, its leaderboard as a
table, a chart of the candidates by objective metric (bars from zero), links to its reports, and
the Airflow task that created it (from the job's ``airflow:*`` tags; a link when the environment
variable ``AIRFLOW_AUTOML_AIRFLOW_URL`` names the Airflow UI). ``GET /jobs/{name}/artifacts?uri=...``
serves one of those reports; it only serves locations the job itself reports, never an arbitrary URI.
Everything that comes from a request or a job is escaped by Jinja2's autoescape.
"""

from __future__ import annotations

import csv
import io
import mimetypes
import os
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from airflow_automl.local.errors import ResourceNotFound
from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.presentation import artifacts
from airflow_automl.presentation.formatting import format_time, number
from airflow_automl.presentation.job import JobPresentation
from airflow_automl.presentation.templating import environment

router = APIRouter()
PAGES = environment(Path(__file__).parent / "templates")

# ListCandidatesForAutoMLJob answers at most this many per page.
_CANDIDATE_PAGE_SIZE = 100
# A running job's page reloads itself this often (seconds).
_REFRESH_SECONDS = 10
# Jobs the index at the root URL lists, newest first.
_INDEX_SIZE = 100
# Where the Airflow UI is, for links from a job to the task that created it (none: ids only).
_AIRFLOW_URL_VARIABLE = "AIRFLOW_AUTOML_AIRFLOW_URL"
_AIRFLOW_TAGS = ("airflow:dag_id", "airflow:run_id", "airflow:task_id", "airflow:map_index")
# Artifacts shown inline as text; anything else is downloaded.
_TEXT_TYPES = ("text/", "application/json")
# An HTML report runs in a sandbox: no scripts, its own origin, no access to this service.
_REPORT_SECURITY_HEADERS = {
    "Content-Security-Policy": "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}
_PAGE_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}


@router.get("/", response_class=HTMLResponse)
async def job_index(request: Request) -> HTMLResponse:
    jobs = await run_in_threadpool(_load_index, request)
    return HTMLResponse(
        PAGES.get_template("index.html").render(jobs=jobs, size=_INDEX_SIZE), headers=_PAGE_SECURITY_HEADERS
    )


@router.get("/jobs/{name}", response_class=HTMLResponse)
async def job_page(name: str, request: Request) -> HTMLResponse:
    job, candidates = await run_in_threadpool(_load_job, request, name)
    fit_seconds = await run_in_threadpool(_fit_seconds, request, job)
    airflow = _airflow_task(await run_in_threadpool(_tags, request, job["AutoMLJobArn"]))
    shown = JobPresentation.of(job, candidates)
    html = PAGES.get_template("job.html").render(
        job=shown,
        airflow=airflow,
        endpoint=(job.get("ModelDeployResult") or {}).get("EndpointName"),
        seconds={candidate.get("CandidateName"): _seconds(candidate, fit_seconds) for candidate in candidates},
        reports=artifacts.links(shown.artifacts, lambda uri: artifacts.service_artifact_path(name, uri)),
        refresh_seconds=_REFRESH_SECONDS if shown.status in ("InProgress", "Stopping") else None,
    )
    return HTMLResponse(html, headers=_PAGE_SECURITY_HEADERS)


@router.get("/jobs/{name}/artifacts")
async def job_artifact(
    name: str, request: Request, uri: str = Query(..., description="a location the job reports")
) -> Response:
    job, candidates = await run_in_threadpool(_load_job, request, name)
    allowed = [artifact.uri for artifact in artifacts.job_artifacts(job, candidates)]
    if not any(_is_within(uri, location) for location in allowed):
        raise HTTPException(
            status_code=403,
            detail=f"uri: {uri!r} is not one of the locations job {name!r} reports; only those are served",
        )
    storage = _storage(request)

    def href(location: str) -> str:
        return artifacts.service_artifact_path(name, location)

    try:
        objects = await run_in_threadpool(partial(storage.list_objects, uri, skip_outside_roots=True))
        if objects and objects != [uri]:
            # A prefix ("folder"): list what is in it.
            listing = PAGES.get_template("listing.html").render(
                name=name, uri=uri, objects=artifacts.links([artifacts.Artifact(o, o) for o in objects], href)
            )
            return HTMLResponse(listing, headers=_PAGE_SECURITY_HEADERS)
        data = await run_in_threadpool(storage.read_bytes, uri)
    except StorageAccessError as error:
        raise HTTPException(status_code=404, detail=str(error)) from error
    media_type = mimetypes.guess_type(uri)[0] or "application/octet-stream"
    headers = dict(_REPORT_SECURITY_HEADERS)
    if not (media_type.startswith(_TEXT_TYPES) or media_type.startswith("image/")):
        file_name = uri.rstrip("/").rsplit("/", 1)[-1] or "artifact"
        headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(file_name)}"
    return Response(content=data, media_type=media_type, headers=headers)


# -- reading the job through the service's own operations -----------------------------------------


def _load_job(request: Request, name: str) -> tuple[dict, list[dict]]:
    service = request.app.state.service
    try:
        job = service.describe_auto_ml_job_v2({"AutoMLJobName": name})
    except ResourceNotFound as error:
        raise HTTPException(status_code=404, detail=f"AutoML job {name!r} does not exist") from error
    candidates: list[dict] = []
    token = None
    while True:
        page_request: dict[str, Any] = {"AutoMLJobName": name, "MaxResults": _CANDIDATE_PAGE_SIZE}
        if token:
            page_request["NextToken"] = token
        page = service.list_candidates_for_auto_ml_job(page_request)
        candidates.extend(page.get("Candidates") or [])
        token = page.get("NextToken")
        if not token:
            return job, candidates


def _tags(request: Request, arn: str) -> dict[str, str]:
    service = request.app.state.service
    tags: dict[str, str] = {}
    token = None
    while True:
        page = service.list_tags({"ResourceArn": arn, **({"NextToken": token} if token else {})})
        tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags") or []})
        token = page.get("NextToken")
        if not token:
            return tags


def _load_index(request: Request) -> list[dict]:
    service = request.app.state.service
    page = service.list_auto_ml_jobs({"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": _INDEX_SIZE})
    jobs = []
    for summary in page.get("AutoMLJobSummaries") or []:
        jobs.append(
            {
                "name": summary["AutoMLJobName"],
                "href": f"/jobs/{quote(summary['AutoMLJobName'], safe='')}",
                "status": summary.get("AutoMLJobStatus"),
                "secondary_status": summary.get("AutoMLJobSecondaryStatus"),
                "created": format_time(summary.get("CreationTime")),
                "ended": format_time(summary.get("EndTime")),
                "airflow": _airflow_task(_tags(request, summary["AutoMLJobArn"])),
            }
        )
    return jobs


def _fit_seconds(request: Request, job: dict) -> dict[str, float]:
    """Candidate name -> training seconds from the job's leaderboard.csv (the engine's fit times).

    ListCandidatesForAutoMLJob dates every candidate of the local engine alike, so its times say
    nothing about how long one candidate trained. Empty while the job runs (no file yet)."""
    output = (job.get("OutputDataConfig") or {}).get("S3OutputPath")
    if not output:
        return {}
    uri = f"{output.rstrip('/')}/{job['AutoMLJobName']}/leaderboard.csv"
    try:
        text = _storage(request).read_bytes(uri).decode("utf-8", errors="replace")
    except StorageAccessError:
        return {}  # not written yet, or the job failed before writing it
    seconds: dict[str, float] = {}
    for row in csv.DictReader(io.StringIO(text)):
        try:
            seconds[row["CandidateName"]] = float(row["FitTimeSeconds"])
        except (KeyError, TypeError, ValueError):
            continue  # a leaderboard without fit times (the tuning engine's) or an empty cell
    return seconds


def _airflow_task(tags: dict[str, str]) -> dict | None:
    """The Airflow task instance that created the job, from the operator's tags; None for other jobs."""
    dag_id, run_id, task_id, map_index = (tags.get(key) for key in _AIRFLOW_TAGS)
    if not (dag_id and run_id and task_id):
        return None
    path = f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}/tasks/{quote(task_id, safe='')}"
    if map_index not in (None, "", "-1"):
        path += f"/mapped/{quote(map_index, safe='')}"
    base = os.environ.get(_AIRFLOW_URL_VARIABLE, "").rstrip("/")
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index if map_index not in (None, "", "-1") else None,
        "href": f"{base}{path}" if base.startswith(("http://", "https://")) else None,
    }


def _storage(request: Request) -> Storage:
    config = request.app.state.config
    return Storage(list(config.file_roots), s3_endpoint_url=config.s3_endpoint_url)


# -- which locations the artifact route serves; training times --------------------------------------


def _is_within(uri: str, location: str) -> bool:
    # Storage percent-decodes file:// paths, so '%2e%2e' is '..' too: check the decoded form.
    if ".." in uri.split("/") or ".." in unquote(uri).split("/"):
        return False
    return uri == location or uri.startswith(location.rstrip("/") + "/")


def _seconds(candidate: dict, fit_seconds: dict[str, float]) -> str | None:
    """Training seconds: the leaderboard's fit time, else the candidate's own dates when they differ."""
    name = candidate.get("CandidateName")
    if name in fit_seconds:
        return f"{fit_seconds[name]:.1f}"
    start, end = number(candidate.get("CreationTime")), number(candidate.get("EndTime"))
    if start is not None and end is not None and end > start:
        return f"{end - start:.1f}"
    return None
