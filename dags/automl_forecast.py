"""Weekly retraining of a demand forecast over many products with SageMaker AutoML (Autopilot's
time-series forecasting, CreateAutoMLJobV2 TimeSeriesForecastingJobConfig).

Each run (Mondays, covering the week before):
  1. prepares the sales history up to the run's data interval end: daily unit sales per product
     (here generated: trend, weekly and yearly seasonality, public holidays, promotions as an
     extra column) written as CSV to ``<storage>/demand/<date>/history/``;
  2. trains a weekly forecast of the next ``HORIZON_WEEKS`` weeks (AutoMLJobOperator, deferred
     while it trains): the job sums the days into weeks (Aggregation), backtests its candidates
     over rolling windows and picks the best by WAPE;
  3. gates on the best candidate's WAPE (AutoMLBestCandidateSensor, ``wape_threshold``);
  4. writes the best candidate's quantile forecast (p10, p50, p90 per product and week) next to
     the data, as ``<storage>/demand/<date>/forecast.csv``.

Step 4 reads the forecast from the best candidate's model archive (``model.tar.gz`` holds
``forecast.csv``), which is what the local service writes. On AWS, Autopilot's model archive
holds the model rather than a forecast: there, step 4 is a batch transform of the history with
the best candidate's model (CreateTransformJob); the local service does not yet serve
forecasting models through endpoints or batch transform.

The same configuration as ``automl_retrain`` decides where it runs: the ``aws_default``
connection, the ``storage_uri`` param or the Variable ``automl_storage_uri``, the Variable
``automl_role_arn``.
"""

from __future__ import annotations

import io
import os
import tarfile
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_automl.example_storage import read_bytes, storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

AWS_CONN_ID = "aws_default"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))
HORIZON_WEEKS = 8
QUANTILES = ["p10", "p50", "p90"]


with DAG(
    dag_id="automl_forecast",
    description="Retrain the weekly demand forecast with SageMaker AutoML and publish the next weeks' forecast",
    # Mondays at 06:00 UTC, each run covering the week before.
    schedule=CronDataIntervalTimetable("0 6 * * 1", timezone="UTC"),
    start_date=datetime(2026, 1, 5, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "storage_uri": Param(
            "", type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
        "items": Param(50, type="integer", minimum=1, description="products to forecast"),
        "history_weeks": Param(104, type="integer", minimum=4 * HORIZON_WEEKS,
                               description="weeks of daily sales history the job learns from"),
        "wape_threshold": Param(0.3, type="number", description="the best candidate's WAPE must be at most this"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")), type="integer", minimum=10,
            description="training budget of the job",
        ),
    },
    tags=["automl", "forecasting", "example"],
) as dag:

    @task
    def prepare_demand_history(params: dict[str, Any], data_interval_end=None) -> dict[str, Any]:
        """Extract the daily sales history up to the interval's end (here: generated) as CSV."""
        from airflow_automl.datasets import store_demand

        context = get_current_context()
        end = (data_interval_end or context["dag_run"].run_after).date()
        # Whole weeks ending the day before ``end``, so the job's weeks start on end's weekday.
        start = end - timedelta(weeks=int(params["history_weeks"]))
        frame = store_demand(int(params["items"]), start, end)
        storage = storage_uri(params.get("storage_uri", ""))
        folder = f"{storage}/demand/{end:%Y-%m-%d}"
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        write_bytes(f"{folder}/history/sales.csv", buffer.getvalue().encode(), aws_conn_id=AWS_CONN_ID)
        return {
            "storage_uri": storage,
            "folder": folder,
            "history_uri": f"{folder}/history/",
            "rows": len(frame),
            "items": int(frame["sku"].nunique()),
            "first_day": str(frame["date"].min()),
            "last_day": str(frame["date"].max()),
        }

    history = prepare_demand_history()

    train = AutoMLJobOperator(
        task_id="train_forecaster",
        job_name="{{ automl_job_name('demand') }}",
        config={
            "AutoMLJobInputDataConfig": [{
                "DataSource": {"S3DataSource": {
                    "S3DataType": "S3Prefix",
                    "S3Uri": "{{ ti.xcom_pull(task_ids='prepare_demand_history')['history_uri'] }}",
                }},
                "ContentType": "text/csv;header=present",
            }],
            "OutputDataConfig": {
                "S3OutputPath": "{{ ti.xcom_pull(task_ids='prepare_demand_history')['storage_uri'] }}/forecast-models"
            },
            "AutoMLJobObjective": {"MetricName": "WAPE"},
            "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": {
                "ForecastFrequency": "W",
                "ForecastHorizon": HORIZON_WEEKS,
                "ForecastQuantiles": QUANTILES,
                "TimeSeriesConfig": {
                    "TargetAttributeName": "units",
                    "TimestampAttributeName": "date",
                    "ItemIdentifierAttributeName": "sku",
                },
                # Days are summed into weeks; a day without a row sold nothing.
                "Transformations": {
                    "Aggregation": {"units": "sum"},
                    "Filling": {"units": {"middlefill": "zero", "backfill": "zero"}},
                },
                "HolidayConfig": [{"CountryCode": "US"}],
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}"},
            }},
            "RoleArn": "{{ var.value.get('automl_role_arn', '" + DEFAULT_ROLE_ARN + "') }}",
        },
        tags={"project": "demand"},
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        leaderboard_size=10,
    )

    check_accuracy = AutoMLBestCandidateSensor(
        task_id="check_forecast_accuracy",
        job_name="{{ ti.xcom_pull(task_ids='train_forecaster')['job_name'] }}",
        metric_threshold="{{ params.wape_threshold }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=POLL_INTERVAL,
    )

    @task
    def publish_forecast(candidate: dict[str, Any], prepared: dict[str, Any]) -> dict[str, Any]:
        """Write the best candidate's forecast of the next weeks next to the data."""
        import pandas as pd

        model_uri = candidate["model_artifacts"][0]
        archive = read_bytes(model_uri, aws_conn_id=AWS_CONN_ID)
        if archive is None:
            raise FileNotFoundError(f"the best candidate's model archive {model_uri} does not exist")
        with tarfile.open(fileobj=io.BytesIO(archive)) as model:
            names = model.getnames()
            if "forecast.csv" not in names:
                raise ValueError(
                    f"{model_uri} holds no forecast.csv (it has {', '.join(names)}): produce the forecast with a "
                    "batch transform of the best candidate's model instead")
            forecast = pd.read_csv(model.extractfile("forecast.csv"))
        uri = f"{prepared['folder']}/forecast.csv"
        buffer = io.StringIO()
        forecast.to_csv(buffer, index=False)
        write_bytes(uri, buffer.getvalue().encode(), aws_conn_id=AWS_CONN_ID)
        print(f"Forecast of {forecast['sku'].nunique()} products for the weeks of {forecast['date'].min()} "
              f"to {forecast['date'].max()} written to {uri}")
        return {
            "forecast_uri": uri,
            "job_name": candidate["job_name"],
            "candidate_name": candidate["best_candidate_name"],
            "wape": candidate["objective_metric_value"],
            "items": int(forecast["sku"].nunique()),
            "weeks": sorted(forecast["date"].unique().tolist()),
            "total_units_p50": round(float(forecast["p50"].sum()), 1),
        }

    history >> train >> check_accuracy
    publish_forecast(check_accuracy.output, history)
