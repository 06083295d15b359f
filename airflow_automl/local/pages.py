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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response

from airflow_automl.local.errors import ResourceNotFound
from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.presentation.templating import HTML
from airflow_automl.sagemaker import metrics
from airflow_automl.sagemaker.api_versions import V2

router = APIRouter()

# ListCandidatesForAutoMLJob answers at most this many per page.
_CANDIDATE_PAGE_SIZE = 100
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


@dataclass(frozen=True)
class Bar:
    label: str  # the candidate's name without the job-name prefix they all share
    name: str
    value: float
    x: float
    y: int
    width: float
    best: bool


@router.get("/", response_class=HTMLResponse)
async def job_index(request: Request) -> HTMLResponse:
    jobs = await run_in_threadpool(_load_index, request)
    return HTMLResponse(_INDEX.render(jobs=jobs, size=_INDEX_SIZE), headers=_PAGE_SECURITY_HEADERS)


@router.get("/jobs/{name}", response_class=HTMLResponse)
async def job_page(name: str, request: Request) -> HTMLResponse:
    job, candidates = await run_in_threadpool(_load_job, request, name)
    fit_seconds = await run_in_threadpool(_fit_seconds, request, job)
    airflow = _airflow_task(await run_in_threadpool(_tags, request, job["AutoMLJobArn"]))
    metric = _objective_metric_name(job, candidates)
    # No metric yet (nothing requested, resolved or reported): no candidate has a value to rank.
    greater_is_better = metrics.greater_is_better(metric) if metric else True
    ranked = metrics.rank_candidates(candidates, metric)
    # SageMaker names the best candidate when the job ends; until then, the best scored so far.
    final_best = (job.get("BestCandidate") or {}).get("CandidateName")
    best_so_far = next((c.get("CandidateName") for c in ranked if metrics.objective_value(c) is not None), None)
    best_name = final_best or best_so_far
    status = job.get("AutoMLJobStatus")
    secondary_status = job.get("AutoMLJobSecondaryStatus")
    html = _PAGE.render(
        job=job,
        name=job["AutoMLJobName"],
        status=status,
        # The local engine ends with the secondary status "Completed" too: say it once.
        secondary_status=secondary_status if secondary_status != status else None,
        best_is_final=final_best is not None,
        airflow=airflow,
        failure_reason=job.get("FailureReason"),
        created=_time(job.get("CreationTime")),
        ended=_time(job.get("EndTime")),
        problem_type=V2.problem_type(job),
        metric=metric,
        direction="higher is better" if greater_is_better else "lower is better",
        best_name=best_name,
        rows=[_row(candidate, best_name, fit_seconds) for candidate in ranked],
        chart=_chart(ranked, best_name, job["AutoMLJobName"]),
        reports=[(label, uri, _artifact_href(name, uri)) for label, uri in _job_reports(job, candidates)],
        refresh=job.get("AutoMLJobStatus") in ("InProgress", "Stopping"),
    )
    return HTMLResponse(html, headers=_PAGE_SECURITY_HEADERS)


@router.get("/jobs/{name}/artifacts")
async def job_artifact(
    name: str, request: Request, uri: str = Query(..., description="a location the job reports")
) -> Response:
    job, candidates = await run_in_threadpool(_load_job, request, name)
    allowed = [location for _, location in _job_reports(job, candidates)]
    if not any(_is_within(uri, location) for location in allowed):
        raise HTTPException(
            status_code=403,
            detail=f"uri: {uri!r} is not one of the locations job {name!r} reports; only those are served",
        )
    storage = _storage(request)
    try:
        objects = await run_in_threadpool(storage.list_objects, uri)
        if objects and objects != [uri]:
            # A prefix ("folder"): list what is in it.
            listing = _LISTING.render(name=name, uri=uri, objects=[(o, _artifact_href(name, o)) for o in objects])
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
                "created": _time(summary.get("CreationTime")),
                "ended": _time(summary.get("EndTime")),
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


# -- turning the job into what the page shows --------------------------------------------------


def _objective_metric_name(job: dict, candidates: list[dict]) -> str | None:
    """The metric the job optimises: resolved, else requested, else what its candidates report."""
    resolved = (job.get("ResolvedAttributes") or {}).get("AutoMLJobObjective") or {}
    requested = job.get("AutoMLJobObjective") or {}
    reported = [(c.get("FinalAutoMLJobObjectiveMetric") or {}).get("MetricName") for c in candidates]
    return resolved.get("MetricName") or requested.get("MetricName") or next(filter(None, reported), None)


def _row(candidate: dict, best_name: str | None, fit_seconds: dict[str, float]) -> dict:
    final = candidate.get("FinalAutoMLJobObjectiveMetric") or {}
    steps = candidate.get("CandidateSteps") or []
    containers = candidate.get("InferenceContainers") or []
    return {
        "name": candidate.get("CandidateName"),
        "best": candidate.get("CandidateName") == best_name,
        "value": _format_number(metrics.objective_value(candidate)),
        "metric": final.get("MetricName"),
        "status": candidate.get("CandidateStatus"),
        "objective_status": candidate.get("ObjectiveStatus"),
        "steps": len(steps),
        "model": containers[0].get("ModelDataUrl") if containers else None,
        "seconds": _seconds(candidate, fit_seconds),
        "failure": candidate.get("FailureReason"),
    }


_CHART_WIDTH = 560
_CHART_LABEL_WIDTH = 220
_BAR_HEIGHT = 18
_BAR_GAP = 6


def _chart(ranked: list[dict], best_name: str | None, job_name: str) -> dict | None:
    """Horizontal bars, one per scored candidate, drawn from zero: a bar's length is its value."""
    scored = [
        (c.get("CandidateName") or "", metrics.objective_value(c))
        for c in ranked
        if metrics.objective_value(c) is not None
    ]
    if not scored:
        return None
    values = [value for _, value in scored]
    low, high = min(0.0, *values), max(0.0, *values)  # negative values (R2) extend left of zero
    span = (high - low) or 1.0
    plot_width = _CHART_WIDTH - _CHART_LABEL_WIDTH - 70
    zero_x = _CHART_LABEL_WIDTH + (0.0 - low) / span * plot_width
    bars = []
    for index, (label, value) in enumerate(scored):
        end_x = _CHART_LABEL_WIDTH + (value - low) / span * plot_width
        bars.append(
            Bar(
                label=label.removeprefix(f"{job_name}-") or label,
                name=label,
                value=value,
                x=round(min(zero_x, end_x), 1),
                y=index * (_BAR_HEIGHT + _BAR_GAP),
                width=round(abs(end_x - zero_x), 1),
                best=label == best_name,
            )
        )
    return {
        "bars": bars,
        "width": _CHART_WIDTH,
        "height": len(bars) * (_BAR_HEIGHT + _BAR_GAP) + 16,
        "zero_x": round(zero_x, 1),
        "label_width": _CHART_LABEL_WIDTH,
        "bar_height": _BAR_HEIGHT,
        "format": _format_number,
    }


def _job_reports(job: dict, candidates: list[dict]) -> list[tuple[str, str]]:
    """(label, URI) of every report and artifact location the job and its candidates name."""
    reports: list[tuple[str, str]] = []
    artifacts = job.get("AutoMLJobArtifacts") or {}
    for key, label in (
        ("DataExplorationNotebookLocation", "Data exploration notebook"),
        ("CandidateDefinitionNotebookLocation", "Candidate definition notebook"),
    ):
        if artifacts.get(key):
            reports.append((label, artifacts[key]))
    output = job.get("OutputDataConfig") or {}
    if output.get("S3OutputPath"):
        reports.append(("Job output", f"{output['S3OutputPath'].rstrip('/')}/{job['AutoMLJobName']}/"))
    for candidate in candidates:
        name = candidate.get("CandidateName") or ""
        locations = (candidate.get("CandidateProperties") or {}).get("CandidateArtifactLocations") or {}
        for key, uri in sorted(locations.items()):
            if isinstance(uri, str) and uri:
                reports.append((f"{name}: {key}", uri))
        for container in candidate.get("InferenceContainers") or []:
            if container.get("ModelDataUrl"):
                reports.append((f"{name}: model", container["ModelDataUrl"]))
    return reports


def _is_within(uri: str, location: str) -> bool:
    # Storage percent-decodes file:// paths, so '%2e%2e' is '..' too: check the decoded form.
    if ".." in uri.split("/") or ".." in unquote(uri).split("/"):
        return False
    return uri == location or uri.startswith(location.rstrip("/") + "/")


def _artifact_href(job_name: str, uri: str) -> str:
    return f"/jobs/{quote(job_name, safe='')}/artifacts?uri={quote(uri, safe='')}"


def _time(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(value, tz=UTC)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return str(value)


def _seconds(candidate: dict, fit_seconds: dict[str, float]) -> str | None:
    """Training seconds: the leaderboard's fit time, else the candidate's own dates when they differ."""
    name = candidate.get("CandidateName")
    if name in fit_seconds:
        return f"{fit_seconds[name]:.1f}"
    start, end = candidate.get("CreationTime"), candidate.get("EndTime")
    if isinstance(start, (int, float)) and isinstance(end, (int, float)) and end > start:
        return f"{end - start:.1f}"
    return None


def _format_number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d2330; max-width: 72rem; }
h1 { font-size: 1.4rem; word-break: break-all; }
.status { display: inline-block; padding: .1rem .6rem; border-radius: 1rem; background: #e8eaf0; }
.status.Completed { background: #d5f0dc; } .status.Failed { background: #f8d7da; }
.status.InProgress { background: #fff2c6; } .status.Stopped, .status.Stopping { background: #e2e3e5; }
table { border-collapse: collapse; margin: 1rem 0; font-size: .9rem; }
th, td { border-bottom: 1px solid #dde; padding: .3rem .7rem; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.best td { font-weight: 600; background: #f1f8f3; }
dl { display: grid; grid-template-columns: max-content auto; gap: .2rem 1rem; }
dt { color: #5a6275; } dd { margin: 0; }
.error { color: #9b1c23; white-space: pre-wrap; }
.note { color: #5a6275; font-size: .85rem; }
svg text { font-size: 12px; }
"""

_PAGE = HTML.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
{% if refresh %}<meta http-equiv="refresh" content="10">{% endif %}
<title>AutoML job {{ name }}</title>
<style>"""
    + _STYLE
    + """</style></head>
<body>
<h1>AutoML job <span id="job-name">{{ name }}</span></h1>
<p><a href="/">All jobs</a></p>
<p><span id="job-status" class="status {{ status }}">{{ status }}</span>
  {% if secondary_status %}<span id="job-secondary-status">{{ secondary_status }}</span>{% endif %}</p>
{% if failure_reason %}<p id="failure-reason" class="error">{{ failure_reason }}</p>{% endif %}
<dl>
  <dt>ARN</dt><dd>{{ job.AutoMLJobArn }}</dd>
  <dt>Problem type</dt><dd id="problem-type">{{ problem_type or "inferred from the data" }}</dd>
  <dt>Objective metric</dt><dd id="objective-metric">{{ metric or "default for the problem type" }}{% if metric %} ({{ direction }}){% endif %}</dd>
  <dt>{% if best_name and not best_is_final %}Best so far{% else %}Best candidate{% endif %}</dt><dd id="best-candidate">{{ best_name or "none yet" }}</dd>
  {% if airflow %}<dt>Airflow task</dt><dd id="airflow-task">{% if airflow.href %}<a href="{{ airflow.href }}">{% endif %}{{ airflow.dag_id }} / {{ airflow.run_id }} / {{ airflow.task_id }}{% if airflow.map_index %} [{{ airflow.map_index }}]{% endif %}{% if airflow.href %}</a>{% endif %}</dd>{% endif %}
  {% if job.ModelDeployResult and job.ModelDeployResult.EndpointName %}<dt>Endpoint</dt><dd id="endpoint">{{ job.ModelDeployResult.EndpointName }}</dd>{% endif %}
  <dt>Created</dt><dd>{{ created }}</dd>
  <dt>Ended</dt><dd>{{ ended or "running" }}</dd>
</dl>

<h2>Candidates by {{ metric or "objective metric" }}</h2>
{% if chart %}
<svg id="candidate-chart" role="img" aria-label="Candidates by {{ metric }}" xmlns="http://www.w3.org/2000/svg"
     width="{{ chart.width }}" height="{{ chart.height }}" viewBox="0 0 {{ chart.width }} {{ chart.height }}">
{% for bar in chart.bars %}
  <g class="bar{% if bar.best %} best{% endif %}" data-candidate="{{ bar.name }}" data-value="{{ bar.value }}">
    <title>{{ bar.name }}: {{ chart.format(bar.value) }}</title>
    <text x="{{ chart.label_width - 6 }}" y="{{ bar.y + chart.bar_height - 5 }}" text-anchor="end">{{ bar.label|truncate(28, True) }}</text>
    <rect x="{{ bar.x }}" y="{{ bar.y }}" width="{{ bar.width }}" height="{{ chart.bar_height }}"
          fill="{% if bar.best %}#2f855a{% else %}#7f9cf5{% endif %}"></rect>
    <text x="{{ bar.x + bar.width + 6 }}" y="{{ bar.y + chart.bar_height - 5 }}">{{ chart.format(bar.value) }}</text>
  </g>
{% endfor %}
  <line class="zero" x1="{{ chart.zero_x }}" x2="{{ chart.zero_x }}" y1="0" y2="{{ chart.height - 14 }}" stroke="#9aa1b2"></line>
  <text x="{{ chart.zero_x }}" y="{{ chart.height - 2 }}" text-anchor="middle">0</text>
</svg>
{% else %}
<p id="no-chart">No candidate has an objective metric value yet.</p>
{% endif %}

<h2>Leaderboard</h2>
<table id="leaderboard">
<thead><tr><th>#</th><th>Candidate</th><th>{{ metric or "Objective" }}</th><th>Status</th><th>Objective status</th><th>Steps</th><th>Seconds</th><th>Model</th></tr></thead>
<tbody>
{% for row in rows %}
<tr class="{% if row.best %}best{% endif %}" data-candidate="{{ row.name }}">
  <td class="num">{{ loop.index }}</td><td>{{ row.name }}{% if row.best %} (best){% endif %}</td>
  <td class="num metric">{{ row.value }}</td><td>{{ row.status }}</td><td>{{ row.objective_status }}</td>
  <td class="num">{{ row.steps }}</td><td class="num seconds">{{ row.seconds or "" }}</td><td>{{ row.model or "" }}</td>
</tr>
{% if row.failure %}<tr><td></td><td colspan="7" class="error">{{ row.failure }}</td></tr>{% endif %}
{% else %}
<tr><td colspan="8">No candidates yet.</td></tr>
{% endfor %}
</tbody></table>

<h2>Reports and artifacts</h2>
<ul id="reports">
{% for label, uri, href in reports %}<li><a href="{{ href }}">{{ label }}</a> <code>{{ uri }}</code></li>
{% else %}<li>None yet.</li>{% endfor %}
</ul>
</body></html>
"""
)

_INDEX = HTML.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>AutoML jobs</title><style>"""
    + _STYLE
    + """</style></head>
<body><h1>AutoML jobs</h1>
<table id="jobs">
<thead><tr><th>Job</th><th>Status</th><th>Created</th><th>Ended</th><th>Airflow task</th></tr></thead>
<tbody>
{% for job in jobs %}
<tr data-job="{{ job.name }}">
  <td><a href="{{ job.href }}">{{ job.name }}</a></td>
  <td><span class="status {{ job.status }}">{{ job.status }}</span>{% if job.secondary_status and job.secondary_status != job.status %} {{ job.secondary_status }}{% endif %}</td>
  <td>{{ job.created }}</td><td>{{ job.ended or "" }}</td>
  <td>{% if job.airflow %}{% if job.airflow.href %}<a href="{{ job.airflow.href }}">{% endif %}{{ job.airflow.dag_id }} / {{ job.airflow.run_id }} / {{ job.airflow.task_id }}{% if job.airflow.map_index %} [{{ job.airflow.map_index }}]{% endif %}{% if job.airflow.href %}</a>{% endif %}{% endif %}</td>
</tr>
{% else %}
<tr><td colspan="5" id="no-jobs">No jobs yet.</td></tr>
{% endfor %}
</tbody></table>
<p class="note">The {{ size }} most recent jobs, newest first.</p>
</body></html>
"""
)

_LISTING = HTML.from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ uri }}</title><style>"""
    + _STYLE
    + """</style></head>
<body><h1>{{ uri }}</h1><p><a href="/jobs/{{ name|urlencode }}">Back to job {{ name }}</a></p>
<ul id="objects">{% for uri, href in objects %}<li><a href="{{ href }}">{{ uri }}</a></li>{% endfor %}</ul>
</body></html>
"""
)
