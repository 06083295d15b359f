"""Train with the CreateAutoMLJobV2 API, let Autopilot deploy the best model to an endpoint, call it.

Run it by hand (no schedule). It writes the training data to the storage location (param
``storage_uri``, else the Variable ``automl_storage_uri``), runs a V2 AutoML job whose
``ModelDeployConfig`` names the endpoint after the run, then sends customers the model has not
seen to the endpoint (SageMaker Runtime ``InvokeEndpoint``, CSV without the target column) and
reports how many predictions were right. Delete the endpoint when done: on AWS it is billed by the hour.
"""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, task

from airflow_automl.examples.storage import storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator

AWS_CONN_ID = "aws_default"
TARGET = "churned"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))


with DAG(
    dag_id="automl_deploy_endpoint",
    description="AutoML V2 job that deploys its best model to an endpoint, then calls the endpoint",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    params={
        "storage_uri": Param("", type="string", description="s3://bucket/prefix or file:///path"),
        "max_runtime_seconds": Param(3600, type="integer", minimum=10),
        # A job deploys only when it ends by itself or at MaxCandidates, not when its runtime runs out.
        "max_candidates": Param(10, type="integer", minimum=1),
        "holdout_rows": Param(200, type="integer", minimum=1, maximum=1000),
    },
    tags=["automl", "example"],
) as dag:

    @task
    def write_training_data(params: dict[str, Any], run_id: str) -> dict[str, Any]:
        """Training data for the job, and a holdout the endpoint is tested on."""
        from airflow_automl.examples.datasets import churn_for_interval

        end = datetime.now(UTC).date()
        frame = churn_for_interval(end - timedelta(days=1), end).drop(columns=["customer_id"])
        holdout = frame.sample(n=int(params["holdout_rows"]), random_state=7)
        train = frame.drop(index=holdout.index)
        storage = storage_uri(params.get("storage_uri", ""))
        train_uri = f"{storage}/endpoint-example/{end:%Y-%m-%d}/train.csv"
        buffer = io.StringIO()
        train.to_csv(buffer, index=False)
        write_bytes(train_uri, buffer.getvalue().encode(), aws_conn_id=AWS_CONN_ID)
        return {
            "storage_uri": storage,
            "train_uri": train_uri,
            # The rows as InvokeEndpoint takes them: CSV, no header, no target column.
            "holdout_csv": holdout.drop(columns=[TARGET]).to_csv(index=False, header=False),
            "holdout_labels": holdout[TARGET].tolist(),
        }

    data = write_training_data()

    train_and_deploy = AutoMLJobOperator(
        task_id="train_and_deploy",
        job_name="{{ automl_job_name('churn-ep') }}",
        config={
            "AutoMLJobInputDataConfig": [
                {
                    "ChannelType": "training",
                    "ContentType": "text/csv;header=present",
                    "CompressionType": "None",
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "{{ ti.xcom_pull(task_ids='write_training_data')['train_uri'] }}",
                        }
                    },
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": (
                    "{{ ti.xcom_pull(task_ids='write_training_data')['storage_uri'] }}/endpoint-example/models"
                )
            },
            "AutoMLProblemTypeConfig": {
                "TabularJobConfig": {
                    "TargetAttributeName": TARGET,
                    "ProblemType": "BinaryClassification",
                    "Mode": "ENSEMBLING",
                    "CompletionCriteria": {
                        "MaxCandidates": "{{ params.max_candidates }}",
                        "MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}",
                    },
                }
            },
            "AutoMLJobObjective": {"MetricName": "F1"},
            "DataSplitConfig": {"ValidationFraction": 0.2},
            "ModelDeployConfig": {
                "AutoGenerateEndpointName": False,
                "EndpointName": "{{ automl_job_name('churn-ep') }}",
            },
            "RoleArn": "{{ var.value.get('automl_role_arn', '" + DEFAULT_ROLE_ARN + "') }}",
        },
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )

    @task
    def invoke_endpoint(data: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
        """Score the holdout on the deployed endpoint and count correct predictions."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        from airflow_automl.hooks.automl import AutoMLHook

        described = AutoMLHook(aws_conn_id=AWS_CONN_ID).conn.describe_auto_ml_job_v2(AutoMLJobName=job["job_name"])
        endpoint = (described.get("ModelDeployResult") or {}).get("EndpointName")
        if not endpoint:
            raise ValueError(f"AutoML job {job['job_name']}: ModelDeployResult has no EndpointName; was it deployed?")
        runtime = AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type="sagemaker-runtime").get_conn()
        response = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=data["holdout_csv"].encode()
        )
        # The Autopilot tabular container answers one predicted label per line (first column).
        predicted = [row[0] for row in csv.reader(io.StringIO(response["Body"].read().decode())) if row]
        labels = data["holdout_labels"]
        if len(predicted) != len(labels):
            raise ValueError(f"endpoint {endpoint}: answered {len(predicted)} predictions for {len(labels)} rows")
        correct = sum(p == y for p, y in zip(predicted, labels, strict=True))
        print(f"endpoint {endpoint}: {correct}/{len(labels)} holdout customers predicted correctly")
        return {"endpoint_name": endpoint, "rows": len(labels), "correct": correct, "accuracy": correct / len(labels)}

    data >> train_and_deploy
    invoke_endpoint(data, train_and_deploy.output)
