"""Turning a job (as SageMaker describes it) into what the plugin's pages show: progress against
the time budget, a sortable leaderboard, charts drawn from zero, links to reports and models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_automl.links.automl import is_aws_endpoint
from airflow_automl.sagemaker.metrics import greater_is_better
from airflow_automl.ui.sagemaker import JobSnapshot
from airflow_automl.utils.job_view import TERMINAL_STATUSES

LEADERBOARD_SORTS = ("rank", "name", "metric", "status")


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def format_time(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return "" if value is None else str(value)


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"


def candidate_value(candidate: dict[str, Any]) -> float | None:
    return _number((candidate.get("FinalAutoMLJobObjectiveMetric") or {}).get("Value"))


@dataclass(frozen=True)
class Objective:
    metric: str | None
    greater_is_better: bool

    @property
    def direction(self) -> str:
        return "higher is better" if self.greater_is_better else "lower is better"

    @classmethod
    def of(cls, describe: dict[str, Any], candidates: list[dict[str, Any]]) -> Objective:
        resolved = (describe.get("ResolvedAttributes") or {}).get("AutoMLJobObjective") or {}
        requested = describe.get("AutoMLJobObjective") or {}
        best = (describe.get("BestCandidate") or {}).get("FinalAutoMLJobObjectiveMetric") or {}
        reported = [(c.get("FinalAutoMLJobObjectiveMetric") or {}) for c in candidates]
        metric = (
            best.get("MetricName")
            or resolved.get("MetricName")
            or requested.get("MetricName")
            or next((r.get("MetricName") for r in reported if r.get("MetricName")), None)
        )
        objective_type = best.get("Type") or next((r.get("Type") for r in reported if r.get("Type")), None)
        try:
            greater = greater_is_better(metric, objective_type)
        except ValueError:  # a metric this package does not know: SageMaker's default direction
            greater = True
        return cls(metric, greater)


def ranked(candidates: list[dict[str, Any]], objective: Objective) -> list[dict[str, Any]]:
    """Best first; candidates without a value last, in the order SageMaker listed them."""
    scored = [c for c in candidates if candidate_value(c) is not None]
    unscored = [c for c in candidates if candidate_value(c) is None]
    scored.sort(key=candidate_value, reverse=objective.greater_is_better)
    return scored + unscored


def best_so_far(describe: dict[str, Any], candidates: list[dict[str, Any]], objective: Objective) -> dict | None:
    """SageMaker's best candidate once it names one; while the job runs, the best scored one so far."""
    if describe.get("BestCandidate"):
        return describe["BestCandidate"]
    order = ranked(candidates, objective)
    return order[0] if order and candidate_value(order[0]) is not None else None


def max_runtime_seconds(describe: dict[str, Any]) -> float | None:
    """MaxAutoMLJobRuntimeInSeconds, wherever the API version put it."""
    problem_config = describe.get("AutoMLProblemTypeConfig") or {}
    places = [describe.get("AutoMLJobConfig") or {}] + [
        value for value in problem_config.values() if isinstance(value, dict)
    ]
    for place in places:
        value = _number((place.get("CompletionCriteria") or {}).get("MaxAutoMLJobRuntimeInSeconds"))
        if value:
            return value
    return None


def elapsed_seconds(describe: dict[str, Any], now: datetime | None = None) -> float | None:
    start = describe.get("CreationTime")
    if not isinstance(start, datetime):
        return None
    end = describe.get("EndTime") if isinstance(describe.get("EndTime"), datetime) else now or datetime.now(UTC)
    return max(0.0, (end - start).total_seconds())


def timeline(snapshot: JobSnapshot) -> list[tuple[str, str]]:
    """(time, event): what Describe dates, and each status this page has seen, in order."""
    describe = snapshot.describe
    events: list[tuple[datetime, str]] = []
    if isinstance(describe.get("CreationTime"), datetime):
        events.append((describe["CreationTime"], "Created"))
    # Statuses this page saw while the job ran; the end is dated by SageMaker itself.
    for status, seen in snapshot.observed:
        if status.split(" / ")[0] not in TERMINAL_STATUSES:
            events.append((seen, f"{status} (first seen here)"))
    if isinstance(describe.get("EndTime"), datetime):
        events.append((describe["EndTime"], f"Ended {describe.get('AutoMLJobStatus')}"))
    events.sort(key=lambda event: event[0])
    return [(format_time(when), what) for when, what in events]


def leaderboard_rows(
    candidates: list[dict[str, Any]], objective: Objective, best_name: str | None, sort: str, descending: bool
) -> list[dict[str, Any]]:
    rows = []
    for rank, candidate in enumerate(ranked(candidates, objective), start=1):
        value = candidate_value(candidate)
        rows.append(
            {
                "rank": rank,
                "name": candidate.get("CandidateName") or "",
                "value": value,
                "shown_value": format_number(value),
                "status": candidate.get("CandidateStatus") or "",
                "objective_status": candidate.get("ObjectiveStatus") or "",
                "steps": len(candidate.get("CandidateSteps") or []),
                "best": candidate.get("CandidateName") == best_name,
                "failure": candidate.get("FailureReason"),
            }
        )
    if sort not in LEADERBOARD_SORTS:
        sort = "rank"
    if sort == "metric":  # unscored candidates stay last whichever the order
        scored = sorted((r for r in rows if r["value"] is not None), key=lambda r: r["value"], reverse=descending)
        return scored + [r for r in rows if r["value"] is None]
    return sorted(rows, key=lambda r: r[sort], reverse=descending)


@dataclass(frozen=True)
class Bar:
    name: str
    label: str
    value: float
    x: float
    y: float
    width: float
    best: bool


def bar_chart(rows: list[dict[str, Any]], job_name: str, width: int = 640) -> dict[str, Any] | None:
    """Horizontal bars from zero, one per scored candidate (in the leaderboard's order)."""
    scored = [row for row in rows if row["value"] is not None]
    if not scored:
        return None
    label_width, value_width, bar_height, gap = 230, 70, 18, 6
    low = min(0.0, *(row["value"] for row in scored))
    high = max(0.0, *(row["value"] for row in scored))
    span = (high - low) or 1.0
    plot = width - label_width - value_width
    zero_x = label_width + (0.0 - low) / span * plot
    bars = []
    for index, row in enumerate(scored):
        end_x = label_width + (row["value"] - low) / span * plot
        bars.append(
            Bar(
                name=row["name"],
                label=row["name"].removeprefix(f"{job_name}-") or row["name"],
                value=row["value"],
                x=round(min(zero_x, end_x), 1),
                y=index * (bar_height + gap),
                width=round(abs(end_x - zero_x), 1),
                best=row["best"],
            )
        )
    return {
        "bars": bars,
        "width": width,
        "height": len(bars) * (bar_height + gap) + 16,
        "label_width": label_width,
        "bar_height": bar_height,
        "zero_x": round(zero_x, 1),
    }


@dataclass(frozen=True)
class Point:
    run_id: str
    x: float
    y: float
    value: float
    label: str
    short: str


def trend_chart(runs: list[dict[str, Any]], width: int = 720, height: int = 240) -> dict[str, Any] | None:
    """The objective over runs (oldest left), one point per run with a value, the threshold dashed.

    A trend is read by its changes, so the value axis spans the values (padded), with ticks.
    """
    valued = [run for run in runs if run["value"] is not None]
    if not valued:
        return None
    left, right, top, bottom = 60, 30, 16, 44
    thresholds = [run["threshold"] for run in runs if run["threshold"] is not None]
    numbers = [run["value"] for run in valued] + thresholds
    low, high = min(numbers), max(numbers)
    pad = (high - low) * 0.15 or abs(high) * 0.05 or 1.0
    low, high = low - pad, high + pad
    plot_w, plot_h = width - left - right, height - top - bottom

    def y_of(value: float) -> float:
        return round(top + (high - value) / (high - low) * plot_h, 1)

    def x_of(index: int) -> float:  # a margin inside the axes, so the first point is not on the axis
        inner = plot_w - 40
        return round(left + 20 + (index * inner / max(len(runs) - 1, 1) if len(runs) > 1 else inner / 2), 1)

    points = [
        Point(run["run_id"], x_of(index), y_of(run["value"]), run["value"], run["label"], run.get("short", ""))
        for index, run in enumerate(runs)
        if run["value"] is not None
    ]
    threshold_path = " ".join(
        f"{'M' if i == 0 else 'L'}{x_of(index)},{y_of(run['threshold'])}"
        for i, (index, run) in enumerate((index, run) for index, run in enumerate(runs) if run["threshold"] is not None)
    )
    if threshold_path and len(thresholds) == 1:  # one run: a line across the plot still reads as a bar
        only = thresholds[0]
        threshold_path = f"M{left},{y_of(only)} L{left + plot_w},{y_of(only)}"
    ticks = [(y_of(low + (high - low) * i / 4), format_number(low + (high - low) * i / 4)) for i in range(5)]
    return {
        "width": width,
        "height": height,
        "left": left,
        "top": top,
        "plot_w": plot_w,
        "plot_h": plot_h,
        "points": points,
        "line": " ".join(f"{p.x},{p.y}" for p in points),
        "threshold_path": threshold_path,
        "ticks": ticks,
    }


def artifact_links(snapshot: JobSnapshot, endpoint_url: str | None, presign: Any) -> list[dict[str, str]]:
    """Reports, notebooks and model artifacts: pre-signed on AWS, the service's artifact pages locally."""
    describe = snapshot.describe
    job_name = describe.get("AutoMLJobName") or ""
    found: list[tuple[str, str]] = []
    artifacts = describe.get("AutoMLJobArtifacts") or {}
    for key, label in (
        ("DataExplorationNotebookLocation", "Data exploration notebook"),
        ("CandidateDefinitionNotebookLocation", "Candidate definition notebook"),
    ):
        if artifacts.get(key):
            found.append((label, artifacts[key]))
    output = (describe.get("OutputDataConfig") or {}).get("S3OutputPath")
    if output:
        found.append(("Job output", f"{output.rstrip('/')}/{job_name}/"))
    best = describe.get("BestCandidate") or {}
    for candidate in [best] + [c for c in snapshot.candidates if c.get("CandidateName") != best.get("CandidateName")]:
        name = candidate.get("CandidateName")
        if not name:
            continue
        locations = (candidate.get("CandidateProperties") or {}).get("CandidateArtifactLocations") or {}
        for key, uri in sorted(locations.items()):
            if isinstance(uri, str) and uri:
                found.append((f"{name}: {key}", uri))
        for container in candidate.get("InferenceContainers") or []:
            if container.get("ModelDataUrl"):
                found.append((f"{name}: model", container["ModelDataUrl"]))
                break  # every container of a candidate shares its model
    local = not is_aws_endpoint(endpoint_url)
    links = []
    for label, uri in found:
        if local:
            href = f"{endpoint_url.rstrip('/')}/jobs/{quote(job_name, safe='')}/artifacts?uri={quote(uri, safe='')}"
        else:
            href = presign(uri)
        links.append({"label": label, "uri": uri, "href": href})
    return links


def s3_console_or_presigned(s3_client: Any, region: str | None, uri: str, expires: int = 3600) -> str:
    """A pre-signed GET for an object; the S3 console for a prefix (a "folder" cannot be signed)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3":
        return uri
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not key or key.endswith("/"):
        return f"https://s3.console.aws.amazon.com/s3/buckets/{quote(bucket)}?region={region or 'us-east-1'}&prefix={quote(key)}"
    return s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
