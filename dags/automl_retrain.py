"""Daily retraining of a customer-churn model with SageMaker AutoML (Autopilot).

Each run:
  1. prepares the training data for the run's data interval and writes it to the storage location;
  2. runs an AutoML job on it (AutoMLJobOperator, deferred to the triggerer while it trains),
     named per run so a retry finds its own job;
  3. gates on the best candidate's objective metric (AutoMLBestCandidateSensor);
  4. promotes the new best model only if it beats the one promoted before, recording the decision
     next to the data: ``<storage>/promoted/model.json`` is the model in use,
     ``<storage>/promoted/decisions/<job name>.json`` every run's verdict.

When the job completes, the training task updates the Airflow asset ``churn_model``: its event
names the job, the best candidate, its metric and the model's location, and
``automl_deploy_model`` (dags/automl_deploy_model.py) is scheduled on it.

The same DAG runs on the local service and on AWS; what changes is configuration only:
  - the Airflow connection ``aws_default`` (on the local service its extra holds ``endpoint_url``);
  - the storage location: the ``storage_uri`` param, else the Airflow Variable ``automl_storage_uri``
    (``s3://bucket/prefix`` on AWS or MinIO, ``file:///path`` on the local service);
  - the IAM role SageMaker assumes: the Variable ``automl_role_arn``.
"""

from __future__ import annotations

import io
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.sdk import DAG, Asset, Param, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_automl.example_storage import read_bytes, storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

AWS_CONN_ID = "aws_default"
TARGET = "churned"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
# Seconds between status checks of a running job. A real Autopilot job runs for an hour or more.
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))
# How long a failed task waits before its retry (a worker lost mid-task, a transient error).
RETRY_DELAY = timedelta(seconds=float(os.environ.get("AUTOML_RETRY_DELAY_SECONDS", "120")))
# Updated each time a training job completes; DAGs scheduled on it see the new model in the event's extra.
CHURN_MODEL = Asset(name="churn_model")


with DAG(
    dag_id="automl_retrain",
    description="Retrain the churn model daily with SageMaker AutoML and promote it if it is better",
    # Daily at midnight UTC, each run covering the previous day: its data interval.
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": RETRY_DELAY},
    params={
        "storage_uri": Param(
            "", type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
        "rows": Param(3000, type="integer", minimum=500, description="customers in the interval's data"),
        "objective_metric": Param("AUC", enum=["AUC", "F1", "Accuracy", "BalancedAccuracy", "Precision", "Recall"]),
        "metric_threshold": Param(0.7, type="number", description="best candidate must reach this to be promoted"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")), type="integer", minimum=10,
            description="training budget of the job",
        ),
    },
    tags=["automl", "example"],
) as dag:

    @task
    def prepare_training_data(params: dict[str, Any], data_interval_start=None, data_interval_end=None) -> dict[str, Any]:
        """Extract the interval's customers (here: generated) and write them as CSV for the job."""
        from airflow_automl.datasets import churn_for_interval

        context = get_current_context()
        # A manual run without a data interval takes the day before it was triggered.
        end = data_interval_end or context["dag_run"].run_after
        start = data_interval_start if data_interval_start and data_interval_start < end else end - timedelta(days=1)
        frame = churn_for_interval(start, end, rows=int(params["rows"]))
        # Identifiers carry no signal and would only be memorised.
        frame = frame.drop(columns=["customer_id"])
        storage = storage_uri(params.get("storage_uri", ""))
        prefix = f"{storage}/data/{end:%Y-%m-%d}/"
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False)
        write_bytes(f"{prefix}train.csv", buffer.getvalue().encode(), aws_conn_id=AWS_CONN_ID)
        return {
            "storage_uri": storage,
            "train_uri": prefix,
            "rows": len(frame),
            "positive_rate": round(float((frame[TARGET] == "yes").mean()), 4),
            "interval": [start.isoformat(), end.isoformat()],
        }

    data = prepare_training_data()

    train = AutoMLJobOperator(
        task_id="train_model",
        # Unique per DAG run and the same on each retry of it, so a retry reattaches to its job.
        job_name="{{ automl_job_name('churn') }}",
        config={
            "InputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "{{ ti.xcom_pull(task_ids='prepare_training_data')['train_uri'] }}",
                        }
                    },
                    "TargetAttributeName": TARGET,
                    "ContentType": "text/csv;header=present",
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": "{{ ti.xcom_pull(task_ids='prepare_training_data')['storage_uri'] }}/models"
            },
            "ProblemType": "BinaryClassification",
            "AutoMLJobObjective": {"MetricName": "{{ params.objective_metric }}"},
            "AutoMLJobConfig": {
                "Mode": "ENSEMBLING",
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}"},
            },
            "RoleArn": "{{ var.value.get('automl_role_arn', '" + DEFAULT_ROLE_ARN + "') }}",
        },
        tags={"project": "churn"},
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        leaderboard_size=10,
        outlets=[CHURN_MODEL],
    )

    check_best = AutoMLBestCandidateSensor(
        task_id="check_best_candidate",
        job_name="{{ ti.xcom_pull(task_ids='train_model')['job_name'] }}",
        metric_threshold="{{ params.metric_threshold }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=POLL_INTERVAL,
        leaderboard_size=10,
    )

    @task
    def promote_if_better(candidate: dict[str, Any], params: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """Make the new best model the promoted one if its objective metric beats the current one's."""
        from airflow_automl.metrics import is_better

        storage = storage_uri(params.get("storage_uri", ""))
        current_uri = f"{storage}/promoted/model.json"
        raw = read_bytes(current_uri, aws_conn_id=AWS_CONN_ID)
        current = json.loads(raw) if raw else None

        metric = candidate["objective_metric_name"]
        value = candidate["objective_metric_value"]
        if current is None:
            promote, reason = True, "no model was promoted before"
        elif current["objective_metric_name"] != metric:
            promote, reason = True, f"objective changed from {current['objective_metric_name']} to {metric}"
        elif is_better(metric, value, current["objective_metric_value"]):
            promote, reason = True, f"{metric} {value:.4f} beats {current['objective_metric_value']:.4f}"
        else:
            promote, reason = False, f"{metric} {value:.4f} does not beat {current['objective_metric_value']:.4f}"

        record = {
            "job_name": candidate["job_name"],
            "job_arn": candidate["job_arn"],
            "candidate_name": candidate["best_candidate_name"],
            "objective_metric_name": metric,
            "objective_metric_value": value,
            "model_artifacts": candidate.get("model_artifacts") or [],
            "inference_containers": candidate.get("inference_containers") or [],
            "dag_run_id": run_id,
            "promoted_at": datetime.now(timezone.utc).isoformat(),
        }
        decision = {
            "promoted": promote,
            "reason": reason,
            "candidate": record,
            "previous": current,
            "promoted_model_uri": current_uri,
        }
        write_bytes(
            f"{storage}/promoted/decisions/{candidate['job_name']}.json",
            json.dumps(decision, indent=2).encode(),
            aws_conn_id=AWS_CONN_ID,
        )
        if promote:
            write_bytes(current_uri, json.dumps(record, indent=2).encode(), aws_conn_id=AWS_CONN_ID)
        print(("PROMOTED " if promote else "KEPT PREVIOUS ") + reason)
        return decision

    data >> train >> check_best
    promote_if_better(check_best.output)
