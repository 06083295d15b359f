"""A job as its pages show it, from a Describe answer and its candidates: what the local service's job
page and the Airflow plugin's task tab have in common (status, objective, best candidate, leaderboard,
candidate chart, reports and artifacts). Each page adds what only it knows."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_automl.presentation.artifacts import Artifact, job_artifacts
from airflow_automl.presentation.charts import CandidateChart, candidate_chart
from airflow_automl.presentation.formatting import format_number, format_time
from airflow_automl.presentation.leaderboard import Row, leaderboard_rows
from airflow_automl.presentation.objective import Candidate, Objective, best_candidate, ranked
from airflow_automl.sagemaker import metrics
from airflow_automl.sagemaker.api_versions import V2
from airflow_automl.sagemaker.job_status import TERMINAL_STATUSES


@dataclass(frozen=True)
class JobPresentation:
    describe: Mapping[str, Any]
    name: str
    arn: str | None
    status: str | None
    secondary_status: str | None  # None when it only repeats the status (the local engine ends "Completed" twice)
    failure_reason: str | None
    partial_failures: list[str]
    problem_type: str | None
    objective: Objective
    best: Candidate | None
    best_is_final: bool  # SageMaker named it; otherwise the best scored so far
    rows: list[Row]  # in rank order
    chart: CandidateChart | None
    artifacts: list[Artifact]
    created: str
    ended: str

    @property
    def best_name(self) -> str | None:
        return (self.best or {}).get("CandidateName")

    @property
    def best_value(self) -> str:
        return format_number(metrics.objective_value(self.best)) if self.best else ""

    @property
    def finished(self) -> bool:
        """The job has ended: what it lacks now (a best candidate, candidates) it will not get."""
        return self.status in TERMINAL_STATUSES

    @property
    def completed(self) -> int:
        return sum(1 for row in self.rows if row.status == "Completed")

    @property
    def failed(self) -> int:
        return sum(1 for row in self.rows if row.status == "Failed")

    @classmethod
    def of(cls, describe: Mapping[str, Any], candidates: Sequence[Candidate]) -> JobPresentation:
        """From DescribeAutoMLJobV2's answer (datetimes or epoch seconds) and ListCandidatesForAutoMLJob's."""
        name = describe.get("AutoMLJobName") or ""
        objective = Objective.of(describe, candidates)
        best, best_is_final = best_candidate(describe, candidates, objective)
        best_name = (best or {}).get("CandidateName")
        rows = leaderboard_rows(ranked(candidates, objective, prefer=best_name), best_name)
        status, secondary = describe.get("AutoMLJobStatus"), describe.get("AutoMLJobSecondaryStatus")
        return cls(
            describe=describe,
            name=name,
            arn=describe.get("AutoMLJobArn"),
            status=status,
            secondary_status=secondary if secondary != status else None,
            failure_reason=describe.get("FailureReason"),
            partial_failures=[
                reason["PartialFailureMessage"]
                for reason in describe.get("PartialFailureReasons") or []
                if reason.get("PartialFailureMessage")
            ],
            problem_type=V2.problem_type(describe),
            objective=objective,
            best=best,
            best_is_final=best_is_final,
            rows=rows,
            chart=candidate_chart(rows, name),
            artifacts=job_artifacts(describe, candidates),
            created=format_time(describe.get("CreationTime")),
            ended=format_time(describe.get("EndTime")),
        )
