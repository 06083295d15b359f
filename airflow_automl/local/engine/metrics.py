"""The engine's names for the objective metrics: AutoGluon's metric and problem type names.
What the metrics are and how their values are computed live in airflow_automl.sagemaker."""

from __future__ import annotations

from airflow_automl.sagemaker.metrics import BINARY, MULTICLASS, REGRESSION

AUTOGLUON_METRIC = {
    "Accuracy": "accuracy",
    "AUC": "roc_auc",
    "BalancedAccuracy": "balanced_accuracy",
    "F1": "f1",
    "Precision": "precision",
    "Recall": "recall",
    "F1macro": "f1_macro",
    "PrecisionMacro": "precision_macro",
    "RecallMacro": "recall_macro",
    "MSE": "mean_squared_error",
    "RMSE": "root_mean_squared_error",
    "MAE": "mean_absolute_error",
    "R2": "r2",
}

AUTOGLUON_PROBLEM_TYPE = {REGRESSION: "regression", BINARY: "binary", MULTICLASS: "multiclass"}
