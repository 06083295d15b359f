"""Objective metrics: names per problem type, defaults, directions and the ranking of candidates."""

import pytest

from airflow_automl.sagemaker import metrics
from airflow_automl.sagemaker.shapes import sagemaker_model


def test_metric_direction():
    for metric in (
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
    ):
        assert metrics.greater_is_better(metric), metric
    for metric in ("MSE", "RMSE", "MAE", "MAPE", "MASE", "WAPE", "AverageWeightedQuantileLoss", "LogLoss"):
        assert not metrics.greater_is_better(metric), metric
    with pytest.raises(ValueError, match="Kappa"):
        metrics.greater_is_better("Kappa")
    for metric in sagemaker_model().shape_for("AutoMLMetricExtendedEnum").enum:
        metrics.greater_is_better(metric)  # every metric a candidate may report has a direction


def test_metric_constants_agree_with_botocore():
    model = sagemaker_model()
    botocore_metrics = set(model.shape_for("AutoMLMetricEnum").enum)
    for problem_type, names in metrics.OBJECTIVES.items():
        assert set(names) <= botocore_metrics
        assert metrics.DEFAULT_OBJECTIVE[problem_type] in names
        for metric in names:
            metrics.greater_is_better(metric)
    assert set(metrics.OBJECTIVES) == set(model.shape_for("ProblemType").enum)
    assert metrics.DEFAULT_OBJECTIVE == {
        "Regression": "MSE",
        "BinaryClassification": "F1",
        "MulticlassClassification": "Accuracy",
    }


def test_objective_type_outranks_the_name_and_an_unknown_name_is_an_error():
    assert metrics.greater_is_better("MSE", "Maximize")
    assert not metrics.greater_is_better("Kappa", "Minimize")
    with pytest.raises(ValueError, match="unknown objective metric None"):
        metrics.greater_is_better(None)
    assert metrics.objective_type("AUC") == "Maximize" and metrics.objective_type("RMSE") == "Minimize"
    assert metrics.is_better("MSE", 1.0, 2.0) and not metrics.is_better("AUC", 0.5, 0.7)
    assert metrics.is_better("AUC", 0.1, None)


def candidate(name, value, metric="AUC", objective_type=None):
    objective = {"MetricName": metric}
    if value is not None:
        objective["Value"] = value
    if objective_type:
        objective["Type"] = objective_type
    return {"CandidateName": name, "FinalAutoMLJobObjectiveMetric": objective}


def test_ranking_puts_the_best_first_in_the_metric_direction_and_unscored_last():
    pending, low, high = candidate("pending", None), candidate("low", 0.6), candidate("high", 0.9)
    assert [c["CandidateName"] for c in metrics.rank_candidates([pending, low, high])] == ["high", "low", "pending"]
    low_mse, high_mse = candidate("low", 1.0, "MSE"), candidate("high", 4.0, "MSE")
    assert [c["CandidateName"] for c in metrics.rank_candidates([high_mse, low_mse], "MSE")] == ["low", "high"]
    # SageMaker's Type decides when the ranking is not told the metric.
    flipped = [candidate("a", 1.0, "Custom", "Minimize"), candidate("b", 0.5, "Custom", "Minimize")]
    assert [c["CandidateName"] for c in metrics.rank_candidates(flipped)] == ["b", "a"]


def test_ties_keep_their_order_unless_one_is_preferred():
    first, second = candidate("first", 0.8), candidate("second", 0.8)
    assert [c["CandidateName"] for c in metrics.rank_candidates([first, second])] == ["first", "second"]
    assert [c["CandidateName"] for c in metrics.rank_candidates([first, second], prefer="second")] == [
        "second",
        "first",
    ]
    assert metrics.best_candidate([first, second])["CandidateName"] == "first"
    assert metrics.best_candidate([candidate("pending", None)]) is None
    assert metrics.best_candidate([]) is None
