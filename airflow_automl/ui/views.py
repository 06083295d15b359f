"""What only the plugin's pages show of a job, beside the shared presentation (``airflow_automl.presentation``):
progress against the time budget, the statuses seen while it ran, and where its reports open (pre-signed
on AWS, the local service's artifact pages locally)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from airflow_automl.links.automl import is_aws_endpoint
from airflow_automl.presentation import artifacts
from airflow_automl.presentation.formatting import as_datetime, format_time, number
from airflow_automl.sagemaker.job_status import TERMINAL_STATUSES
from airflow_automl.ui.sagemaker import JobSnapshot


def max_runtime_seconds(describe: dict[str, Any]) -> float | None:
    """MaxAutoMLJobRuntimeInSeconds, wherever the API version put it."""
    problem_config = describe.get("AutoMLProblemTypeConfig") or {}
    places = [describe.get("AutoMLJobConfig") or {}] + [
        value for value in problem_config.values() if isinstance(value, dict)
    ]
    for place in places:
        value = number((place.get("CompletionCriteria") or {}).get("MaxAutoMLJobRuntimeInSeconds"))
        if value:
            return value
    return None


def elapsed_seconds(describe: dict[str, Any], now: datetime | None = None) -> float | None:
    start = as_datetime(describe.get("CreationTime"))
    if start is None:
        return None
    end = as_datetime(describe.get("EndTime")) or now or datetime.now(UTC)
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


def artifact_links(
    found: list[artifacts.Artifact], job_name: str, endpoint_url: str | None, presign: Callable[[str], str]
) -> list[artifacts.ArtifactLink]:
    """The job's reports, notebooks and models: pre-signed on AWS, the service's artifact pages locally."""
    if endpoint_url is None or is_aws_endpoint(endpoint_url):
        return artifacts.links(found, presign)
    base = endpoint_url.rstrip("/")
    return artifacts.links(found, lambda uri: base + artifacts.service_artifact_path(job_name, uri))


def s3_console_or_presigned(s3_client: Any, region: str | None, uri: str, expires: int = 3600) -> str:
    """A pre-signed GET for an object; the S3 console for a prefix (a "folder" cannot be signed)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3":
        return uri
    bucket, key = parts.netloc, parts.path.lstrip("/")
    if not key or key.endswith("/"):
        console = f"https://s3.console.aws.amazon.com/s3/buckets/{quote(bucket)}"
        return f"{console}?region={region or 'us-east-1'}&prefix={quote(key)}"
    return s3_client.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires)
