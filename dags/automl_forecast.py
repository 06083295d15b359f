"""Weekly retraining of a demand forecast over many products with SageMaker AutoML (Autopilot's
time-series forecasting, CreateAutoMLJobV2 TimeSeriesForecastingJobConfig).

Each run (Mondays, covering the week before):
  1. prepares the sales history up to the run's data interval end: daily unit sales per product
     (here generated: trend, weekly and yearly seasonality, public holidays, promotions as an
     extra column), followed by the next ``HORIZON_WEEKS`` weeks' planned promotions with the
     units empty (future rows), written as CSV to ``<storage>/demand/<date>/history/``;
  2. trains a weekly forecast of the next ``HORIZON_WEEKS`` weeks (AutoMLJobOperator, deferred
     while it trains): the job sums the days into weeks (Aggregation), uses the promotions as a
     related time series (the share of promoted days in each week; CNN-QR, ARIMA and Prophet
     forecast with it), backtests its candidates over rolling windows and picks the best by WAPE;
  3. gates on the best candidate's WAPE (AutoMLBestCandidateSensor, ``wape_threshold``);
  4. forecasts the next weeks with a batch transform of the history file by the best candidate
     (CreateModel from its InferenceContainers, then CreateTransformJob with SplitType None: the
     whole file is one request, deferred while it runs), and copies the transform's output, the
     quantile forecast (p10, p50, p90 and the mean per product and week, from each product's last
     week), next to the data as ``<storage>/demand/<date>/forecast.csv``.

The same configuration as ``automl_retrain`` decides where it runs: the ``aws_default``
connection, the ``storage_uri`` param or the Variable ``automl_storage_uri``, the Variable
``automl_role_arn``.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_automl.examples.storage import read_bytes, storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.operators.transform import FileOrS3TransformOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

AWS_CONN_ID = "aws_default"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))
HORIZON_WEEKS = 8
QUANTILES = ["p10", "p50", "p90"]
HISTORY_FILE = "sales.csv"
INSTANCE_TYPE = "ml.m5.large"


with DAG(
    dag_id="automl_forecast",
    description="Retrain the weekly demand forecast with SageMaker AutoML and publish the next weeks' forecast",
    # Mondays at 06:00 UTC, each run covering the week before.
    schedule=CronDataIntervalTimetable("0 6 * * 1", timezone="UTC"),
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "storage_uri": Param(
            "",
            type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
        "items": Param(50, type="integer", minimum=1, description="products to forecast"),
        "history_weeks": Param(
            104,
            type="integer",
            minimum=4 * HORIZON_WEEKS,
            description="weeks of daily sales history the job learns from",
        ),
        "wape_threshold": Param(0.3, type="number", description="the best candidate's WAPE must be at most this"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")),
            type="integer",
            minimum=10,
            description="training budget of the job",
        ),
    },
    tags=["automl", "forecasting", "example"],
) as dag:

    @task
    def prepare_demand_history(params: dict[str, Any], data_interval_end=None) -> dict[str, Any]:
        """Extract the daily sales history up to the interval's end and the promotions planned for
        the forecast's weeks (here: generated) as CSV."""
        from airflow_automl.examples.datasets import store_demand

        context = get_current_context()
        end = (data_interval_end or context["dag_run"].run_after).date()
        # Whole weeks ending the day before ``end``, so the job's weeks start on end's weekday.
        start = end - timedelta(weeks=int(params["history_weeks"]))
        frame = store_demand(int(params["items"]), start, end, future_days=HORIZON_WEEKS * 7)
        sold = frame["units"].notna()
        storage = storage_uri(params.get("storage_uri", ""))
        folder = f"{storage}/demand/{end:%Y-%m-%d}"
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        write_bytes(f"{folder}/history/{HISTORY_FILE}", buffer.getvalue().encode(), aws_conn_id=AWS_CONN_ID)
        return {
            "storage_uri": storage,
            "folder": folder,
            "history_uri": f"{folder}/history/",
            "rows": int(sold.sum()),
            "future_rows": int((~sold).sum()),
            "items": int(frame["sku"].nunique()),
            "first_day": str(frame["date"].min()),
            "last_day": str(frame.loc[sold, "date"].max()),
        }

    history = prepare_demand_history()

    train = AutoMLJobOperator(
        task_id="train_forecaster",
        job_name="{{ automl_job_name('demand') }}",
        config={
            "AutoMLJobInputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "{{ ti.xcom_pull(task_ids='prepare_demand_history')['history_uri'] }}",
                        }
                    },
                    "ContentType": "text/csv;header=present",
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": "{{ ti.xcom_pull(task_ids='prepare_demand_history')['storage_uri'] }}/forecast-models"
            },
            "AutoMLJobObjective": {"MetricName": "WAPE"},
            "AutoMLProblemTypeConfig": {
                "TimeSeriesForecastingJobConfig": {
                    "ForecastFrequency": "W",
                    "ForecastHorizon": HORIZON_WEEKS,
                    "ForecastQuantiles": QUANTILES,
                    "TimeSeriesConfig": {
                        "TargetAttributeName": "units",
                        "TimestampAttributeName": "date",
                        "ItemIdentifierAttributeName": "sku",
                    },
                    # Days are summed into weeks (a related column such as promotion is averaged);
                    # a day without a row sold nothing and had no promotion.
                    "Transformations": {
                        "Aggregation": {"units": "sum"},
                        "Filling": {
                            "units": {"middlefill": "zero", "backfill": "zero"},
                            "promotion": {"middlefill": "zero", "backfill": "zero", "futurefill": "zero"},
                        },
                    },
                    "HolidayConfig": [{"CountryCode": "US"}],
                    "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}"},
                }
            },
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
    def plan_batch_forecast(candidate: dict[str, Any], prepared: dict[str, Any]) -> dict[str, Any]:
        """The model of the best candidate and a batch transform of the history with it: the whole
        file is one request (SplitType None), as Autopilot's time-series models read it, and the
        forecast lands in ``forecast-output/<file>.out`` next to the data."""
        from airflow.sdk import Variable

        job_name = candidate["job_name"]
        return {
            "Model": {
                "ModelName": f"{job_name}-forecaster",
                "ExecutionRoleArn": Variable.get("automl_role_arn", default=DEFAULT_ROLE_ARN),
                "Containers": candidate["inference_containers"],
            },
            "Transform": {
                "TransformJobName": f"{job_name}-forecast",
                "ModelName": f"{job_name}-forecaster",
                "BatchStrategy": "SingleRecord",
                # The largest request SageMaker allows: the whole history file is one.
                "MaxPayloadInMB": 100,
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": prepared["history_uri"]}},
                    "ContentType": "text/csv",
                    "SplitType": "None",
                },
                "TransformOutput": {"S3OutputPath": f"{prepared['folder']}/forecast-output/", "Accept": "text/csv"},
                "TransformResources": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1},
            },
        }

    # Deferred while the transform runs (the provider's SageMakerTransformOperator, which creates
    # the model first; airflow_automl's subclass lets it take file:// input too).
    batch_forecast = FileOrS3TransformOperator(
        task_id="batch_forecast",
        config=plan_batch_forecast(check_accuracy.output, history),
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        deferrable=True,
        check_interval=max(1, int(POLL_INTERVAL)),
    )

    @task
    def publish_forecast(
        candidate: dict[str, Any], prepared: dict[str, Any], transform: dict[str, Any]
    ) -> dict[str, Any]:
        """Copy the transform's forecast of the next weeks next to the data, as forecast.csv."""
        import pandas as pd

        output = transform["Transform"]["TransformOutput"]["S3OutputPath"].rstrip("/")
        uri = f"{output}/{HISTORY_FILE}.out"  # batch transform's name for the input's output
        raw = read_bytes(uri, aws_conn_id=AWS_CONN_ID)
        if raw is None:
            raise FileNotFoundError(f"{uri}: the batch forecast wrote no output")
        forecast = pd.read_csv(io.BytesIO(raw))
        published = f"{prepared['folder']}/forecast.csv"
        write_bytes(published, raw, aws_conn_id=AWS_CONN_ID)
        print(
            f"Forecast of {forecast['sku'].nunique()} products for the weeks of {forecast['date'].min()} "
            f"to {forecast['date'].max()} written to {published}"
        )
        return {
            "forecast_uri": published,
            "job_name": candidate["job_name"],
            "candidate_name": candidate["best_candidate_name"],
            "transform_job_name": transform["Transform"]["TransformJobName"],
            "wape": candidate["objective_metric_value"],
            "items": int(forecast["sku"].nunique()),
            "weeks": sorted(forecast["date"].unique().tolist()),
            "total_units_p50": round(float(forecast["p50"].sum()), 1),
        }

    history >> train >> check_accuracy
    publish_forecast(check_accuracy.output, history, batch_forecast.output)
