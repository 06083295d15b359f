"""The metric a job optimises, its direction, and the job's best candidate, from a Describe answer and
its candidates. Ranking itself is the SageMaker facts' (``airflow_automl.sagemaker.metrics``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from airflow_automl.sagemaker import metrics

Candidate = Mapping[str, Any]


@dataclass(frozen=True)
class Objective:
    metric: str | None
    greater_is_better: bool

    @property
    def direction(self) -> str:
        return "higher is better" if self.greater_is_better else "lower is better"

    @classmethod
    def of(cls, describe: Mapping[str, Any], candidates: Sequence[Candidate]) -> Objective:
        """What the best candidate reports, else the job's resolved, else its requested objective,
        else what its candidates report; the direction from SageMaker's Maximize/Minimize when given."""
        resolved = (describe.get("ResolvedAttributes") or {}).get("AutoMLJobObjective") or {}
        requested = describe.get("AutoMLJobObjective") or {}
        best = (describe.get("BestCandidate") or {}).get("FinalAutoMLJobObjectiveMetric") or {}
        reported = [c.get("FinalAutoMLJobObjectiveMetric") or {} for c in candidates]
        metric = (
            best.get("MetricName")
            or resolved.get("MetricName")
            or requested.get("MetricName")
            or next((r.get("MetricName") for r in reported if r.get("MetricName")), None)
        )
        objective_type = best.get("Type") or next((r.get("Type") for r in reported if r.get("Type")), None)
        try:
            greater = metrics.greater_is_better(metric, objective_type)
        except ValueError:  # no metric yet, or one this package does not know: SageMaker's default direction
            greater = True
        return cls(metric, greater)

    @property
    def is_known(self) -> bool:
        return self.metric in metrics.GREATER_IS_BETTER | metrics.LOWER_IS_BETTER


def ranked(candidates: Sequence[Candidate], objective: Objective, prefer: str | None = None) -> list[Candidate]:
    """Best first, unscored last in SageMaker's order; among equal values ``prefer`` (the job's best) leads.

    By the job's metric when this package knows it; otherwise by the Maximize/Minimize the candidates
    report with their values."""
    return metrics.rank_candidates(candidates, objective.metric if objective.is_known else None, prefer)


def best_candidate(
    describe: Mapping[str, Any], candidates: Sequence[Candidate], objective: Objective
) -> tuple[Candidate | None, bool]:
    """(the best candidate, whether SageMaker named it): its BestCandidate once it names one; while the
    job runs, the best scored so far."""
    if describe.get("BestCandidate"):
        return describe["BestCandidate"], True
    order = ranked(candidates, objective)
    return (order[0], False) if order and metrics.objective_value(order[0]) is not None else (None, False)
