"""dags/automl_forecast.py end to end on the local service: a weekly demand forecast trained by a
real time-series job, gated on WAPE, and its forecast of the next weeks made by a batch transform
of the history with the best candidate and written next to the data."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_weekly_forecast_trains_gates_and_publishes(local_service, airflow_db):
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    # dag.test() runs the DAG as the dags folder's bundle holds it: put the example there.
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    dag_path = dags_folder / "automl_forecast.py"
    shutil.copyfile(REPO_ROOT / "dags" / "automl_forecast.py", dag_path)
    storage = local_service.file_root / "forecast-dag"

    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_default", local_service.endpoint_url))
    os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = "1"
    try:
        dag = DagBag(dag_folder=str(dag_path)).dags["automl_forecast"]
        run = dag.test(
            run_conf={
                "storage_uri": storage.as_uri(),
                "items": 4,
                "history_weeks": 40,
                "max_runtime_seconds": 180,
                "wape_threshold": 0.3,
            }
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)

    assert task_states(run) == {
        "prepare_demand_history": "success",
        "train_forecaster": "success",
        "check_forecast_accuracy": "success",
        "plan_batch_forecast": "success",
        "batch_forecast": "success",
        "publish_forecast": "success",
    }
    prepared = xcom_value(run, "prepare_demand_history")
    trained = xcom_value(run, "train_forecaster")
    published = xcom_value(run, "publish_forecast")
    assert prepared["items"] == 4 and prepared["rows"] == 4 * 40 * 7
    # The next eight weeks' planned promotions follow the history, units empty.
    assert prepared["future_rows"] == 4 * 8 * 7
    assert trained["problem_type"] == "TimeSeriesForecasting"
    assert trained["objective_metric_name"] == "WAPE" and trained["objective_metric_value"] <= 0.3
    assert len(trained["leaderboard"]) >= 2
    # The promotions are a related time series: CNN-QR, ARIMA and Prophet use them, ETS does not.
    descriptions = [
        json.loads(path.read_text())
        for path in (storage / "forecast-models" / trained["job_name"]).glob("explainability/*/candidate.json")
    ]
    used = {d["algorithm"]: d["related_time_series"] for d in descriptions}
    assert used["cnn-qr"] == used["arima"] == used["prophet"] == ["promotion"] and used["ets"] == []

    folder = Path(prepared["folder"].removeprefix("file://"))
    forecast = pd.read_csv(folder / "forecast.csv")
    assert published["forecast_uri"] == f"{prepared['folder']}/forecast.csv"
    # The forecast is the batch transform's output: the best candidate forecasting the history file.
    transform = local_service.client().describe_transform_job(TransformJobName=published["transform_job_name"])
    assert transform["TransformJobStatus"] == "Completed"
    assert transform["TransformInput"]["SplitType"] == "None"
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == prepared["history_uri"]
    assert (folder / "forecast.csv").read_bytes() == (folder / "forecast-output" / "sales.csv.out").read_bytes()
    assert list(forecast.columns) == ["sku", "date", "p10", "p50", "p90", "mean"]
    assert len(forecast) == 4 * 8 and not forecast.duplicated(["sku", "date"]).any()
    # Eight weeks after the history for each product, each week starting on the history's first weekday.
    first_day = pd.Timestamp(prepared["first_day"])
    weeks = pd.to_datetime(pd.Series(sorted(forecast["date"].unique())))
    assert len(weeks) == 8 and weeks.iloc[0] == pd.Timestamp(prepared["last_day"]) + pd.Timedelta(days=1)
    assert (weeks.dt.dayofweek == first_day.dayofweek).all()
    assert sorted(forecast["sku"].unique()) == [f"sku-{n:04d}" for n in range(1, 5)]
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()
    # A week of a product sells on the order of a hundred units (about 20 a day).
    assert 20 < forecast["p50"].median() < 2000
