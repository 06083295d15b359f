"""AutoMLDriftCheckOperator on file:// storage: the champion's training data as a baseline in Model
Monitor's schema, an interval's captured requests (written in SageMaker's capture format) checked
against it. A shifted feature is flagged and named; traffic drawn like the training data is not."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException

from airflow_automl.examples.datasets import customer_churn
from airflow_automl.operators.drift import AutoMLDriftCheckOperator
from tests.monitoring.capture_files import write_capture

START = datetime(2026, 3, 2, tzinfo=UTC)
END = datetime(2026, 3, 3, tzinfo=UTC)
ENDPOINT = "churn-serving"


@pytest.fixture
def storage(tmp_path):
    training = customer_churn(2000, seed=11).drop(columns=["customer_id"])
    (tmp_path / "train").mkdir()
    training.to_csv(tmp_path / "train" / "train.csv", index=False)
    return tmp_path


def features(rows: int, seed: int):
    return customer_churn(rows, seed=seed).drop(columns=["customer_id", "churned"])


def run(storage, **kwargs):
    operator = AutoMLDriftCheckOperator(
        task_id="check_drift",
        endpoint_name=ENDPOINT,
        capture_uri=(storage / "capture").as_uri(),
        baseline_data_uri=(storage / "train").as_uri() + "/",
        target_attribute_name="churned",
        output_uri=(storage / "drift").as_uri(),
        **kwargs,
    )
    return operator.execute({"data_interval_start": START, "data_interval_end": END})


def test_a_shifted_feature_is_flagged_and_named(storage):
    shifted = features(450, seed=12)
    shifted["monthly_charges"] = shifted["monthly_charges"] * 1.3
    write_capture(storage / "capture", ENDPOINT, shifted.iloc[:300], datetime(2026, 3, 2, 9, 15, tzinfo=UTC))
    write_capture(storage / "capture", ENDPOINT, shifted.iloc[300:], datetime(2026, 3, 2, 17, 40, tzinfo=UTC), 5)
    # Outside the interval: not read.
    write_capture(storage / "capture", ENDPOINT, features(50, seed=13), datetime(2026, 3, 3, 0, 5, tzinfo=UTC))

    summary = run(storage)

    assert summary["drift"] is True
    assert summary["drifted_features"] == ["monthly_charges"]
    assert summary["record_count"] == 450
    assert summary["baseline_record_count"] == 2000
    assert summary["distances"]["monthly_charges"] > 0.1
    violations = json.loads((storage / "drift" / "constraint_violations.json").read_text())["violations"]
    assert [(v["feature_name"], v["constraint_check_type"]) for v in violations] == [
        ("monthly_charges", "baseline_drift_check")
    ]
    assert "monthly_charges" in (storage / "drift" / "report.md").read_text()
    # The baseline in Model Monitor's schema, so it can be handed to Model Monitor later.
    statistics = json.loads((storage / "drift" / "baseline" / "statistics.json").read_text())
    constraints = json.loads((storage / "drift" / "baseline" / "constraints.json").read_text())
    assert statistics["dataset"]["item_count"] == 2000
    by_name = {feature["name"]: feature for feature in statistics["features"]}
    assert "churned" not in by_name
    assert by_name["monthly_charges"]["inferred_type"] == "Fractional"
    kll = by_name["monthly_charges"]["numerical_statistics"]["distribution"]["kll"]
    assert len(kll["buckets"]) == 10 and sum(b["count"] for b in kll["buckets"]) == 2000
    assert by_name["contract"]["string_statistics"]["distinct_count"] == 3
    contract = next(f for f in constraints["features"] if f["name"] == "contract")
    assert contract["string_constraints"]["domains"] == ["month-to-month", "one-year", "two-year"]
    assert constraints["monitoring_config"]["distribution_constraints"]["comparison_threshold"] == 0.1


def test_traffic_drawn_like_the_training_data_is_quiet(storage):
    write_capture(storage / "capture", ENDPOINT, features(400, seed=21), datetime(2026, 3, 2, 12, tzinfo=UTC), 4)

    summary = run(storage)

    assert summary["drift"] is False
    assert summary["violation_count"] == 0
    assert summary["record_count"] == 400
    assert set(summary["distances"]) == set(features(1, seed=0).columns)


def test_unknown_categories_and_missing_columns_are_violations(storage):
    data = features(300, seed=31)
    data["contract"] = "weekly"
    data = data.drop(columns=["products"])
    data.to_csv(storage / "current.csv", index=False)

    summary = run(storage, data_uri=(storage / "current.csv").as_uri())

    assert {"categorical_values_check", "missing_column_check"} <= set(summary["violation_types"])
    assert "contract" in summary["drifted_features"]


def test_too_few_records_skip_and_a_broken_record_names_its_file(storage):
    write_capture(storage / "capture", ENDPOINT, features(20, seed=41), datetime(2026, 3, 2, 8, tzinfo=UTC))
    with pytest.raises(AirflowSkipException, match="20 records, fewer than min_records=100"):
        run(storage)
    broken = storage / "capture" / ENDPOINT / "AllTraffic" / "2026/03/02/09" / "broken.jsonl"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"not": "a capture record"}\n')
    with pytest.raises(AirflowException, match="broken.jsonl: not a data capture record"):
        run(storage)


def test_a_threshold_from_a_rendered_template_is_a_number_and_a_bad_one_is_named(storage):
    write_capture(storage / "capture", ENDPOINT, features(150, seed=51), datetime(2026, 3, 2, 8, tzinfo=UTC))
    summary = run(storage, monitoring_config={"distribution_constraints": {"comparison_threshold": "0.5"}})
    assert {feature["threshold"] for feature in summary["features"] if feature["baseline_type"] != "String"} == {0.5}
    with pytest.raises(
        ValueError, match=r"distribution_constraints.comparison_threshold: must be a number from 0 to 1"
    ):
        run(storage, monitoring_config={"distribution_constraints": {"comparison_threshold": "lots"}})
