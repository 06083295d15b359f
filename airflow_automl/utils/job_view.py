"""One view of an AutoML job, whichever API version created or described it.

DescribeAutoMLJob (V1) and DescribeAutoMLJobV2 answer with different shapes for the same facts
(problem type, objective, best candidate). Operators, triggers and sensors only need the facts, so
they read this view, and its ``to_summary()`` is the JSON-safe dict the tasks return as XCom.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypedDict

from airflow_automl.sagemaker.api_versions import API_VERSIONS, get_path
from airflow_automl.sagemaker.job_status import TERMINAL_STATUSES


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _json_safe(value: Any) -> Any:
    """Describe answers hold datetimes; XCom and trigger events must be plain JSON."""
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def progress_line(job_name: str, status: str, secondary_status: str | None) -> str:
    """ "AutoML job <name>: <status> / <secondary status>", the line logged on each change."""
    line = f"AutoML job {job_name}: {status}"
    if secondary_status:
        line += f" / {secondary_status}"
    return line


class LeaderboardEntry(TypedDict):
    """One candidate in a summary's leaderboard: the few fields a reader compares."""

    candidate_name: str | None
    objective_metric_name: str | None
    objective_metric_value: float | None
    candidate_status: str | None
    model_artifacts: list[str]


class JobSummary(TypedDict):
    """What the operator and the sensor return as XCom (and a trigger event's ``summary``): plain JSON."""

    job_name: str
    job_arn: str | None
    api_version: int
    status: str
    secondary_status: str | None
    failure_reason: str | None
    problem_type: str | None
    best_candidate_name: str | None
    objective_metric_name: str | None
    objective_metric_value: float | None
    objective_type: str | None  # Maximize or Minimize, as SageMaker reports it
    model_artifacts: list[str]
    inference_containers: list[dict[str, Any]]  # the best candidate's, as SageMaker describes them
    artifacts: dict[str, Any]  # AutoMLJobArtifacts
    output_path: str | None
    creation_time: str | None
    end_time: str | None
    leaderboard: list[LeaderboardEntry]  # best first; empty unless asked for


@dataclass(frozen=True)
class AutoMLJobView:
    job_name: str
    job_arn: str | None
    api_version: int
    status: str
    secondary_status: str | None
    failure_reason: str | None
    problem_type: str | None
    objective_metric_name: str | None
    best_candidate: dict[str, Any] | None
    artifacts: dict[str, Any]
    output_path: str | None
    creation_time: str | None
    end_time: str | None
    # The data the job reads (its channels' S3Uri, training first) and its Mode: its lineage.
    input_uris: tuple[str, ...] = ()
    mode: str | None = None

    @classmethod
    def from_describe(cls, response: dict[str, Any], api_version: int) -> AutoMLJobView:
        resolved = response.get("ResolvedAttributes") or {}
        objective = resolved.get("AutoMLJobObjective") or response.get("AutoMLJobObjective") or {}
        best = response.get("BestCandidate")
        return cls(
            job_name=response["AutoMLJobName"],
            job_arn=response.get("AutoMLJobArn"),
            api_version=api_version,
            status=response["AutoMLJobStatus"],
            secondary_status=response.get("AutoMLJobSecondaryStatus"),
            failure_reason=response.get("FailureReason"),
            problem_type=API_VERSIONS[api_version].problem_type(response),
            objective_metric_name=objective.get("MetricName"),
            best_candidate=_json_safe(best) if best else None,
            artifacts=_json_safe(response.get("AutoMLJobArtifacts") or {}),
            output_path=(response.get("OutputDataConfig") or {}).get("S3OutputPath"),
            creation_time=_iso(response.get("CreationTime")),
            end_time=_iso(response.get("EndTime")),
            input_uris=tuple(
                dict.fromkeys(
                    uri
                    for channel in get_path(response, API_VERSIONS[api_version].path("channels")) or []
                    if (uri := get_path(channel, "DataSource.S3DataSource.S3Uri"))
                )
            ),
            mode=get_path(response, API_VERSIONS[api_version].path("mode")),
        )

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def can_be_stopped(self) -> bool:
        return not self.is_terminal and self.status != "Stopping"

    @property
    def best_candidate_name(self) -> str | None:
        return self.best_candidate.get("CandidateName") if self.best_candidate else None

    @property
    def best_metric(self) -> dict[str, Any]:
        return (self.best_candidate or {}).get("FinalAutoMLJobObjectiveMetric") or {}

    @property
    def objective_metric_value(self) -> float | None:
        value = self.best_metric.get("Value")
        return float(value) if value is not None else None

    @property
    def inference_containers(self) -> list[dict[str, Any]]:
        return list((self.best_candidate or {}).get("InferenceContainers") or [])

    @property
    def model_artifacts(self) -> list[str]:
        return [c["ModelDataUrl"] for c in self.inference_containers if c.get("ModelDataUrl")]

    def describe_progress(self) -> str:
        """The status part of the line logged on each change."""
        line = progress_line(self.job_name, self.status, self.secondary_status)
        if self.objective_metric_value is not None:
            line += f", best {self.best_metric.get('MetricName')} = {self.objective_metric_value:.4g}"
        return line

    def failure_message(self) -> str:
        reason = self.failure_reason or "no reason given"
        return f"AutoML job {self.job_name} ended {self.status} ({self.secondary_status}): {reason}"

    def to_summary(self, leaderboard: list[LeaderboardEntry] | None = None) -> JobSummary:
        metric = self.best_metric
        return {
            "job_name": self.job_name,
            "job_arn": self.job_arn,
            "api_version": self.api_version,
            "status": self.status,
            "secondary_status": self.secondary_status,
            "failure_reason": self.failure_reason,
            "problem_type": self.problem_type,
            "best_candidate_name": self.best_candidate_name,
            "objective_metric_name": metric.get("MetricName") or self.objective_metric_name,
            "objective_metric_value": self.objective_metric_value,
            "objective_type": metric.get("Type"),
            "model_artifacts": self.model_artifacts,
            "inference_containers": _json_safe(self.inference_containers),
            "artifacts": self.artifacts,
            "output_path": self.output_path,
            "creation_time": self.creation_time,
            "end_time": self.end_time,
            "leaderboard": leaderboard if leaderboard is not None else [],
        }


def leaderboard_entry(candidate: dict[str, Any]) -> LeaderboardEntry:
    """A leaderboard row of a ListCandidatesForAutoMLJob candidate."""
    metric = candidate.get("FinalAutoMLJobObjectiveMetric") or {}
    value = metric.get("Value")
    return {
        "candidate_name": candidate.get("CandidateName"),
        "objective_metric_name": metric.get("MetricName"),
        "objective_metric_value": float(value) if value is not None else None,
        "candidate_status": candidate.get("CandidateStatus"),
        "model_artifacts": [
            c["ModelDataUrl"] for c in candidate.get("InferenceContainers") or [] if c.get("ModelDataUrl")
        ],
    }
