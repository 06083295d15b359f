"""The champion/challenger verdict and the holdout metric from a batch transform's JSON output."""

from __future__ import annotations

import json

import pytest

from airflow_automl.examples.promotion import decide, holdout_metric, parse_predictions


def test_no_champion_promotes_the_challenger():
    verdict = decide("AUC", 0.71, None, margin=0.01)
    assert verdict.promoted is True and verdict.champion_metric is None and "no champion" in verdict.reason


def test_the_challenger_must_beat_the_champion_by_the_margin_in_the_metrics_direction():
    assert decide("AUC", 0.83, 0.80, margin=0.02).promoted is True
    short = decide("AUC", 0.81, 0.80, margin=0.02)
    assert short.promoted is False and "does not beat the champion's 0.8000 by the margin 0.02" in short.reason
    # Equal is not better, even with no margin.
    assert decide("AUC", 0.80, 0.80, margin=0.0).promoted is False
    # For an error metric lower is better.
    assert decide("MSE", 3.0, 4.0, margin=0.5).promoted is True
    assert decide("MSE", 5.0, 4.0, margin=0.0).promoted is False


def test_metric_from_transform_output_batches():
    def batch(rows):
        return json.dumps(
            {
                "predictions": [
                    {"predicted_label": label, "probability": max(p), "probabilities": p, "labels": ["no", "yes"]}
                    for label, p in rows
                ]
            }
        )

    output = "\n".join([batch([("yes", [0.2, 0.8]), ("no", [0.9, 0.1])]), batch([("yes", [0.4, 0.6])])]) + "\n"
    rows = parse_predictions(output.encode(), "out")
    assert len(rows) == 3
    assert holdout_metric("AUC", ["yes", "no", "no"], rows, "out") == pytest.approx(1.0)
    assert holdout_metric("Accuracy", ["yes", "no", "no"], rows, "out") == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="out: 3 predictions for 2 held-out rows"):
        holdout_metric("AUC", ["yes", "no"], rows, "out")
    with pytest.raises(ValueError, match="out, line 1: not JSON"):
        parse_predictions(b"yes\nno\n", "out")
