"""Champion against challenger: both models' objective metric on the same held-out rows, and
whether the challenger replaces the champion.

The predictions are a batch transform's output for the held-out features with
``Accept: application/jsonlines``: one JSON object per row (Autopilot's inference answer;
classification rows carry ``predicted_label``, ``probabilities`` and ``labels``, regression rows
``score``), or with ``application/json`` one ``{"predictions": [...]}`` document per mini-batch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from airflow_automl.sagemaker.metrics import BINARY, MULTICLASS, REGRESSION, greater_is_better


def parse_predictions(output: bytes, source: str) -> list[dict]:
    """The prediction rows of a transform output file, in input order."""
    rows: list[dict] = []
    for number, line in enumerate(output.decode().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(
                f"{source}, line {number}: not JSON ({error}); score with Accept application/jsonlines"
            ) from error
        if isinstance(document, dict) and "predictions" in document:
            rows.extend(document["predictions"])
        elif isinstance(document, dict):
            rows.append(document)
        else:
            raise ValueError(f"{source}, line {number}: expected a JSON object with predictions")
    return rows


def holdout_metric(metric_name: str, truth: list, predictions: list[dict], source: str) -> float:
    """The objective metric of predictions against the true values of the same rows."""
    from airflow_automl.sagemaker.metric_values import compute_metrics

    if len(predictions) != len(truth):
        raise ValueError(f"{source}: {len(predictions)} predictions for {len(truth)} held-out rows")
    if predictions and "labels" in predictions[0]:
        classes = [str(label) for label in predictions[0]["labels"]]
        problem_type = BINARY if len(classes) == 2 else MULTICLASS
        predicted = np.array([str(row["predicted_label"]) for row in predictions])
        probabilities = np.array([row["probabilities"] for row in predictions], dtype=float)
        values = compute_metrics(
            problem_type, np.array([str(v) for v in truth]), predicted, probabilities, classes=np.array(classes)
        )
    else:
        values = compute_metrics(
            REGRESSION, np.array(truth, dtype=float), np.array([row["score"] for row in predictions], dtype=float)
        )
    if metric_name not in values:
        raise ValueError(f"{source}: {metric_name} cannot be computed on the held-out rows (got {sorted(values)})")
    return values[metric_name]


@dataclass(frozen=True)
class Verdict:
    promoted: bool
    challenger_metric: float
    champion_metric: float | None
    margin: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def close_call(self, metric_name: str, approval_margin: float) -> bool:
        """A win over a champion by less than ``approval_margin``: a person should decide."""
        if not self.promoted or self.champion_metric is None:
            return False
        gain = self.challenger_metric - self.champion_metric
        return (gain if greater_is_better(metric_name) else -gain) < approval_margin


def decide(metric_name: str, challenger: float, champion: float | None, margin: float) -> Verdict:
    """Promote the challenger if there is no champion, or if it beats the champion's metric on the
    same rows by at least ``margin`` (in the metric's direction) and by more than nothing."""
    if champion is None:
        return Verdict(
            True, challenger, None, margin, f"no champion yet: {metric_name} {challenger:.4f} on the holdout"
        )
    gain = (challenger - champion) if greater_is_better(metric_name) else (champion - challenger)
    if gain > 0 and gain >= margin:
        reason = f"{metric_name} {challenger:.4f} beats the champion's {champion:.4f} by {gain:.4f} (margin {margin:g})"
        return Verdict(True, challenger, champion, margin, reason)
    reason = (
        f"{metric_name} {challenger:.4f} does not beat the champion's {champion:.4f} by the margin {margin:g} "
        f"(difference {gain:+.4f})"
    )
    return Verdict(False, challenger, champion, margin, reason)


def approval_body(metric_name: str, verdict: Verdict, drift: dict[str, Any], metrics_uri: str, package_arn: str) -> str:
    """The Markdown a reviewer reads before approving a close call."""
    lines = [
        "The challenger beats the champion on the same held-out rows, by less than the approval margin.",
        "",
        f"| model | holdout {metric_name} |",
        "|---|---|",
        f"| challenger | {verdict.challenger_metric:.4f} |",
        f"| champion | {verdict.champion_metric:.4f} |"
        if verdict.champion_metric is not None
        else "| champion | none |",
        "",
        f"Rule: {verdict.reason}.",
        "",
    ]
    if drift.get("drifted_features"):
        distances = drift.get("distances", {})
        features = ", ".join(f"{name} ({distances.get(name, 0):.3f})" for name in drift["drifted_features"])
        lines += [
            f"Drifted features in the latest drift check: {features}.",
            f"Report: {drift.get('report', 'n/a')}; violations: {drift.get('constraint_violations', 'n/a')}.",
        ]
    else:
        lines.append("The latest drift check found no drift (or none has run).")
    lines += ["", f"Holdout metrics: {metrics_uri}", f"Model package: {package_arn}"]
    return "\n".join(lines)
