"""Daily retraining of one churn model per region, with dynamic task mapping.

Each run:
  1. prepares the interval's customers and writes one training file per region;
  2. trains one AutoML job per region: ``AutoMLJobOperator.partial(...).expand(config=...)``. Every
     map index gets its own job, named ``churn-<date>-<map index>-<hash>`` by
     ``{{ automl_job_name('churn') }}`` and tagged with ``airflow:map_index``, so a retry of one
     region's task reattaches to that region's job and to no other;
  3. gates each region on its own threshold (the sensor mapped over the trained jobs);
  4. reports the regions whose model passed.

The same DAG runs on the local service and on AWS; what changes is configuration only (see
``automl_retrain.py``): the connection ``aws_default``, the storage location (the ``storage_uri``
param or the Variable ``automl_storage_uri``) and the Variable ``automl_role_arn``.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_automl.examples.storage import storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

AWS_CONN_ID = "aws_default"
TARGET = "churned"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))
# The regions trained separately, each with the AUC its model must reach.
SEGMENTS = {"north": 0.7, "south": 0.7, "east": 0.65, "west": 0.65}


def training_request(segment: dict[str, Any]) -> dict[str, Any]:
    """One region's CreateAutoMLJob request (without its name, which the operator gives)."""
    return {
        "InputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": segment["train_uri"]}},
                "TargetAttributeName": TARGET,
                "ContentType": "text/csv;header=present",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": segment["output_uri"]},
        "ProblemType": "BinaryClassification",
        "AutoMLJobObjective": {"MetricName": "AUC"},
        "AutoMLJobConfig": {
            "Mode": "ENSEMBLING",
            "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": segment["max_runtime_seconds"]},
        },
        "RoleArn": segment["role_arn"],
        "Tags": [{"Key": "segment", "Value": segment["segment"]}],
    }


def gate_arguments(trained_and_prepared: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
    """The sensor's arguments for one region: its job (from the training XCom) and its threshold."""
    summary, segment = trained_and_prepared
    return {"job_name": summary["job_name"], "metric_threshold": segment["metric_threshold"]}


with DAG(
    dag_id="automl_retrain_segments",
    description="Retrain one churn model per region daily with SageMaker AutoML, gated per region",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "storage_uri": Param(
            "",
            type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
        "rows": Param(4000, type="integer", minimum=500, description="customers in the interval's data, all regions"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")),
            type="integer",
            minimum=10,
            description="training budget of each region's job",
        ),
    },
    tags=["automl", "example"],
) as dag:

    @task
    def prepare_segments(params: dict[str, Any], data_interval_end=None) -> list[dict[str, Any]]:
        """Write each region's customers of the interval as its own training file."""
        from airflow.sdk import Variable

        from airflow_automl.examples.datasets import churn_for_interval

        context = get_current_context()
        end = data_interval_end or context["dag_run"].run_after
        frame = churn_for_interval(end - timedelta(days=1), end, rows=int(params["rows"]))
        storage = storage_uri(params.get("storage_uri", ""))
        role_arn = Variable.get("automl_role_arn", default=DEFAULT_ROLE_ARN)
        segments = []
        for segment, threshold in SEGMENTS.items():
            rows = frame[frame["region"] == segment].drop(columns=["customer_id", "region"])
            prefix = f"{storage}/segments/{segment}/data/{end:%Y-%m-%d}/{context['run_id']}/"
            buffer = io.StringIO()
            rows.to_csv(buffer, index=False)
            write_bytes(f"{prefix}train.csv", buffer.getvalue().encode(), aws_conn_id=AWS_CONN_ID)
            segments.append(
                {
                    "segment": segment,
                    "rows": len(rows),
                    "train_uri": prefix,
                    "output_uri": f"{storage}/segments/{segment}/models",
                    "metric_threshold": threshold,
                    "max_runtime_seconds": int(params["max_runtime_seconds"]),
                    "role_arn": role_arn,
                }
            )
        return segments

    segments = prepare_segments()

    # [START howto_operator_automl_job_mapped]
    # One job per region. Values that come from XCom are not templates, so the requests are built
    # from the prepared segments by a plain function; the job name is the partial's template.
    train = AutoMLJobOperator.partial(
        task_id="train_segment",
        job_name="{{ automl_job_name('churn') }}",
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    ).expand(config=segments.map(training_request))

    gate = AutoMLBestCandidateSensor.partial(
        task_id="check_segment",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=POLL_INTERVAL,
        # A region that misses its threshold is skipped, not failed: the others still report.
        soft_fail=True,
    ).expand_kwargs(train.output.zip(segments).map(gate_arguments))
    # [END howto_operator_automl_job_mapped]

    @task(trigger_rule="all_done")
    def report(passed: list[dict[str, Any]]) -> dict[str, Any]:
        """Which regions' new models passed their gate, with their scores."""
        models = {
            summary["job_name"]: round(float(summary["objective_metric_value"]), 4) for summary in passed if summary
        }
        print(f"{len(models)} of {len(SEGMENTS)} regions passed: {models}")
        return {"passed": models, "regions": len(SEGMENTS)}

    report(gate.output)
