"""Objective metrics: which ones each problem type takes, its default, each metric's direction,
and the ranking of candidates by their objective value.

One home for these facts, read by request validation, the training engine, the hook's
leaderboard, the sensor, the job pages, the worker's choice of a best candidate and the demo.
Plain Python only: computing the metrics (scikit-learn) is the local engine's business.

An unknown metric name is an error (``ValueError`` naming it) wherever a direction is asked
for; request validation refuses such a name before a job exists, so past it none occurs. A
``Maximize``/``Minimize`` objective type reported by SageMaker outranks the name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REGRESSION = "Regression"
BINARY = "BinaryClassification"
MULTICLASS = "MulticlassClassification"

# The reference's objective metrics per tabular problem type, and its defaults.
OBJECTIVES: dict[str, tuple[str, ...]] = {
    REGRESSION: ("MAE", "MSE", "R2", "RMSE"),
    BINARY: ("Accuracy", "AUC", "BalancedAccuracy", "F1", "Precision", "Recall"),
    MULTICLASS: ("Accuracy", "BalancedAccuracy", "F1macro", "PrecisionMacro", "RecallMacro"),
}
DEFAULT_OBJECTIVE: dict[str, str] = {REGRESSION: "MSE", BINARY: "F1", MULTICLASS: "Accuracy"}

# Objective metrics of the V2 problem types that are not tabular (text generation takes none),
# by the AutoMLProblemTypeConfig member that selects them.
CLASSIFICATION_OBJECTIVES: tuple[str, ...] = ("Accuracy",)
TIME_SERIES_OBJECTIVES: tuple[str, ...] = ("RMSE", "MASE", "MAPE", "WAPE", "AverageWeightedQuantileLoss")
NON_TABULAR_OBJECTIVES: dict[str, tuple[str, ...]] = {
    "ImageClassificationJobConfig": CLASSIFICATION_OBJECTIVES,
    "TextClassificationJobConfig": CLASSIFICATION_OBJECTIVES,
    "TimeSeriesForecastingJobConfig": TIME_SERIES_OBJECTIVES,
}
# Their defaults (the reference's): AverageWeightedQuantileLoss is "Average wQL"; the per-quantile
# wQL the reference also lists is no AutoMLMetricEnum value, so it is reported in the backtest
# results only.
NON_TABULAR_DEFAULT_OBJECTIVE: dict[str, str] = {
    "ImageClassificationJobConfig": "Accuracy",
    "TextClassificationJobConfig": "Accuracy",
    "TimeSeriesForecastingJobConfig": "AverageWeightedQuantileLoss",
}

# Direction of every metric a candidate can report (botocore's AutoMLMetricExtendedEnum).
GREATER_IS_BETTER = frozenset(
    {
        "AUC",
        "F1",
        "F1macro",
        "Accuracy",
        "BalancedAccuracy",
        "R2",
        "Recall",
        "RecallMacro",
        "Precision",
        "PrecisionMacro",
        "Rouge1",
        "Rouge2",
        "RougeL",
        "RougeLSum",
    }
)
LOWER_IS_BETTER = frozenset(
    {
        "MSE",
        "RMSE",
        "MAE",
        "MAPE",
        "MASE",
        "WAPE",
        "AverageWeightedQuantileLoss",
        "LogLoss",
        "InferenceLatency",
        "Perplexity",
        "ValidationLoss",
        "TrainingLoss",
    }
)


def greater_is_better(metric_name: str | None, objective_type: str | None = None) -> bool:
    """True when a larger value means a better model: SageMaker's Maximize/Minimize when given,
    else the metric's nature. Raises ValueError for a metric name it does not know."""
    if objective_type in ("Maximize", "Minimize"):
        return objective_type == "Maximize"
    if metric_name in GREATER_IS_BETTER:
        return True
    if metric_name in LOWER_IS_BETTER:
        return False
    known = ", ".join(sorted(GREATER_IS_BETTER | LOWER_IS_BETTER))
    raise ValueError(f"unknown objective metric {metric_name!r} (known: {known})")


def objective_type(metric_name: str) -> str:
    """FinalAutoMLJobObjectiveMetric.Type of a metric."""
    return "Maximize" if greater_is_better(metric_name) else "Minimize"


def is_better(metric_name: str, value: float, than: float | None) -> bool:
    """Whether ``value`` beats ``than`` (anything beats None) in the metric's direction."""
    if than is None:
        return True
    return value > than if greater_is_better(metric_name) else value < than


def objective_value(candidate: Mapping[str, Any]) -> float | None:
    """A candidate's FinalAutoMLJobObjectiveMetric value, or None while it has none."""
    value = (candidate.get("FinalAutoMLJobObjectiveMetric") or {}).get("Value")
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def rank_candidates(
    candidates: Iterable[Mapping[str, Any]], metric_name: str | None = None, prefer: str | None = None
) -> list[Mapping[str, Any]]:
    """Candidates best first by objective value; those without a value last, in their given order.

    The direction comes from ``metric_name``, else from the candidates' own objective (its Type,
    then its MetricName). Among equal values the candidate named ``prefer`` (the job's best) leads.
    """
    candidates = list(candidates)
    scored = [(value, c) for c in candidates if (value := objective_value(c)) is not None]
    unscored = [c for c in candidates if objective_value(c) is None]
    if not scored:
        return unscored
    if metric_name is not None:
        greater = greater_is_better(metric_name)
    else:
        objective = scored[0][1].get("FinalAutoMLJobObjectiveMetric") or {}
        greater = greater_is_better(objective.get("MetricName"), objective.get("Type"))
    sign = 1.0 if greater else -1.0
    scored.sort(key=lambda pair: (sign * pair[0], pair[1].get("CandidateName") == prefer), reverse=True)
    return [c for _, c in scored] + unscored


def best_candidate(candidates: Iterable[Mapping[str, Any]], metric_name: str | None = None) -> Mapping[str, Any] | None:
    """The candidate with the best objective value, or None when none has one."""
    ranked = rank_candidates(candidates, metric_name)
    return ranked[0] if ranked and objective_value(ranked[0]) is not None else None
