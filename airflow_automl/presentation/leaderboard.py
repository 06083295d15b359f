"""A job's leaderboard: one row per candidate in rank order, and the orders a reader may sort it by."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from airflow_automl.presentation.formatting import format_number
from airflow_automl.presentation.objective import Candidate
from airflow_automl.sagemaker import metrics

# The columns a leaderboard sorts by (a query parameter of the plugin's task tab).
SORTS = ("rank", "name", "metric", "status")


@dataclass(frozen=True)
class Row:
    rank: int
    name: str
    value: float | None
    status: str
    objective_status: str
    steps: int
    best: bool
    failure: str | None
    model: str | None  # the first inference container's model artifact

    @property
    def shown_value(self) -> str:
        return format_number(self.value)


def leaderboard_rows(ranked: Iterable[Candidate], best_name: str | None) -> list[Row]:
    """Rows of candidates already in rank order (``objective.ranked``), rank 1 first."""
    rows = []
    for rank, candidate in enumerate(ranked, start=1):
        containers = candidate.get("InferenceContainers") or []
        rows.append(
            Row(
                rank=rank,
                name=candidate.get("CandidateName") or "",
                value=metrics.objective_value(candidate),
                status=candidate.get("CandidateStatus") or "",
                objective_status=candidate.get("ObjectiveStatus") or "",
                steps=len(candidate.get("CandidateSteps") or []),
                best=best_name is not None and candidate.get("CandidateName") == best_name,
                failure=candidate.get("FailureReason"),
                model=containers[0].get("ModelDataUrl") if containers else None,
            )
        )
    return rows


def sorted_rows(rows: list[Row], sort: str, descending: bool) -> list[Row]:
    """The rows by one of ``SORTS`` (an unknown one: by rank); unscored candidates stay last by metric."""
    if sort == "metric":
        scored = sorted((r for r in rows if r.value is not None), key=lambda r: r.value or 0.0, reverse=descending)
        return scored + [r for r in rows if r.value is None]
    if sort == "name":
        return sorted(rows, key=lambda r: r.name, reverse=descending)
    if sort == "status":
        return sorted(rows, key=lambda r: r.status, reverse=descending)
    return sorted(rows, key=lambda r: r.rank, reverse=descending)
