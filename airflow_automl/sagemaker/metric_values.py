"""The values of SageMaker's objective metrics, computed with scikit-learn the way Autopilot
defines them, and the CandidateMetrics entries that report them.

Used by the local engine (validation metrics of every candidate) and by the example DAGs'
promotion step (holdout metrics of champion and challenger). It imports scikit-learn, so the
provider (operators, sensors, hooks) never imports it; names, defaults and directions live in
metrics.py, which needs nothing beyond the standard library.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm

from airflow_automl.sagemaker.metrics import BINARY, MULTICLASS, OBJECTIVES, REGRESSION

# Extra metrics SageMaker reports in CandidateMetrics besides the objective ones.
EXTRA_METRICS = {REGRESSION: (), BINARY: ("LogLoss",), MULTICLASS: ("LogLoss",)}


def metric_names(problem_type: str) -> tuple[str, ...]:
    """Every metric reported for a candidate of this problem type."""
    return OBJECTIVES[problem_type] + EXTRA_METRICS[problem_type]


def compute_metrics(
    problem_type: str,
    y_true: np.ndarray,
    prediction: np.ndarray,
    probabilities: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
    classes: np.ndarray | None = None,
) -> dict[str, float]:
    """All standard metrics of the problem type. For classification, y_true and prediction are
    class labels; probabilities has one column per entry of `classes` (binary: positive class
    last, as `classes[1]`). Metrics that cannot be computed (e.g. AUC with one class present in
    validation) are left out rather than invented."""
    w = sample_weight
    if problem_type == REGRESSION:
        y = np.asarray(y_true, dtype=float)
        p = np.asarray(prediction, dtype=float)
        mse = float(skm.mean_squared_error(y, p, sample_weight=w))
        return {
            "MSE": mse,
            "RMSE": float(np.sqrt(mse)),
            "MAE": float(skm.mean_absolute_error(y, p, sample_weight=w)),
            "R2": float(skm.r2_score(y, p, sample_weight=w)),
        }

    values = {
        "Accuracy": float(skm.accuracy_score(y_true, prediction, sample_weight=w)),
        "BalancedAccuracy": float(skm.balanced_accuracy_score(y_true, prediction, sample_weight=w)),
    }
    if problem_type == BINARY:
        if classes is None:
            raise ValueError("compute_metrics: classes is required for BinaryClassification (classes[1] is positive)")
        positive = classes[1]
        kwargs = dict(pos_label=positive, sample_weight=w, zero_division=0)
        values["F1"] = float(skm.f1_score(y_true, prediction, **kwargs))
        values["Precision"] = float(skm.precision_score(y_true, prediction, **kwargs))
        values["Recall"] = float(skm.recall_score(y_true, prediction, **kwargs))
        if probabilities is not None and len(np.unique(y_true)) == 2:
            positive_probability = probabilities[:, 1] if probabilities.ndim == 2 else probabilities
            values["AUC"] = float(
                skm.roc_auc_score(np.asarray(y_true) == positive, positive_probability, sample_weight=w)
            )
    else:
        kwargs = dict(average="macro", sample_weight=w, zero_division=0)
        values["F1macro"] = float(skm.f1_score(y_true, prediction, **kwargs))
        values["PrecisionMacro"] = float(skm.precision_score(y_true, prediction, **kwargs))
        values["RecallMacro"] = float(skm.recall_score(y_true, prediction, **kwargs))
    if probabilities is not None:
        proba = probabilities
        if proba.ndim == 1:
            proba = np.column_stack([1 - proba, proba])
        proba = np.clip(proba, 1e-15, 1)
        proba = proba / proba.sum(axis=1, keepdims=True)  # float32 outputs drift from summing to one
        values["LogLoss"] = float(skm.log_loss(y_true, proba, labels=classes, sample_weight=w))
    return values


def candidate_metrics(values: dict[str, float], metric_set: str = "Validation") -> list[dict[str, Any]]:
    """CandidateProperties.CandidateMetrics entries (MetricDatum shape)."""
    data = []
    for name, value in values.items():
        datum: dict[str, Any] = {"StandardMetricName": name, "Value": value, "Set": metric_set}
        if name != "LogLoss":  # MetricDatum.MetricName only takes AutoMLMetricEnum values
            datum["MetricName"] = name
        data.append(datum)
    return data
