"""The Amazon provider's SageMakerTransformOperator, unchanged, batch-scores a holdout with an
AutoMLJobOperator's best model on the local service under dag.test(): once waiting in the
worker with the model in the operator's own ``Model`` config, once deferred to the triggerer
with a model made by SageMakerModelOperator. Data lives in an S3-compatible endpoint (moto),
which the provider's S3 checks and the service both reach through the connection."""

from __future__ import annotations

import json
import os
from unittest import mock

import boto3
import pytest

from tests.fixtures.airflow import task_states, xcom_value
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
BUCKET = "transform-dag"


@pytest.fixture(scope="module")
def stack(tmp_path_factory, s3_endpoint):
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/train.csv", Body=b"x,label\n1,1\n-2,0\n")
    # A holdout as scoring reads it: an id, the feature, the true label; no header.
    s3.put_object(Bucket=BUCKET, Key="holdout/day-1.csv", Body=b"a,3,1\nb,-1,0\nc,2,0\n")
    service = start_service(
        tmp_path_factory.mktemp("transform-dag"), engine=SCRIPTED_ENGINE, s3_endpoint_url=s3_endpoint
    )
    # SageMaker calls go to the service, S3 calls to the S3 endpoint: service_config per client.
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {
            "region_name": "us-east-1",
            "service_config": {
                "sagemaker": {"endpoint_url": service.endpoint_url},
                "s3": {"endpoint_url": s3_endpoint},
            },
        },
    }
    with mock.patch.dict(os.environ, {"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection)}):
        yield service, s3
    service.stop()


def test_transform_operator_scores_a_holdout_sync_and_deferred(stack, dag_file):
    service, s3 = stack
    module = dag_file(
        "transform_dag",
        f"""
        from datetime import datetime, timezone
        from airflow.sdk import DAG
        from airflow.providers.amazon.aws.operators.sagemaker import (
            SageMakerModelOperator, SageMakerTransformOperator,
        )
        from airflow_automl.operators.automl import AutoMLJobOperator

        def model(name):
            return {{"ModelName": name, "ExecutionRoleArn": {ROLE!r},
                     "Containers": "{{{{ ti.xcom_pull(task_ids='train')['inference_containers'] }}}}"}}

        def transform(job_name, model_name, output):
            return {{
                "TransformJobName": job_name, "ModelName": model_name,
                "TransformInput": {{"DataSource": {{"S3DataSource": {{
                    "S3DataType": "S3Prefix", "S3Uri": "s3://{BUCKET}/holdout/"}}}},
                    "ContentType": "text/csv", "SplitType": "Line"}},
                "TransformOutput": {{"S3OutputPath": "s3://{BUCKET}/" + output, "AssembleWith": "Line",
                                    "Accept": "text/csv"}},
                "TransformResources": {{"InstanceType": "ml.m5.large", "InstanceCount": 1}},
                "BatchStrategy": "MultiRecord", "MaxPayloadInMB": 6,
                # The feature in, then id, true label and prediction out.
                "DataProcessing": {{"InputFilter": "$[1]", "JoinSource": "Input", "OutputFilter": "$[0,2:]"}},
            }}

        dag = DAG("transform_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
                  render_template_as_native_obj=True)
        with dag:
            train = AutoMLJobOperator(
                task_id="train", job_name="transform-dag-job", deferrable=False, poll_interval=0.3,
                input_uri="s3://{BUCKET}/train/", target_attribute="label",
                output_path="s3://{BUCKET}/models", role_arn={ROLE!r},
            )
            score_sync = SageMakerTransformOperator(
                task_id="score_sync", wait_for_completion=True, check_interval=1,
                config={{"Model": model("champion"), "Transform": transform("score-sync", "champion", "sync")}},
            )
            create_model = SageMakerModelOperator(task_id="create_model", config=model("challenger"))
            score_deferred = SageMakerTransformOperator(
                task_id="score_deferred", deferrable=True, check_interval=1,
                config=transform("score-deferred", "challenger", "deferred"),
            )
            train >> score_sync
            train >> create_model >> score_deferred
        """,
    )
    run = module.dag.test()
    assert set(task_states(run).values()) == {"success"}, task_states(run)

    for task_id, output in (("score_sync", "sync"), ("score_deferred", "deferred")):
        result = xcom_value(run, task_id)
        assert result["Transform"]["TransformJobStatus"] == "Completed"
        assert result["Model"]["ModelName"] in ("champion", "challenger")
        body = s3.get_object(Bucket=BUCKET, Key=f"{output}/day-1.csv.out")["Body"].read().decode()
        assert body == "a,1,1\nb,0,0\nc,0,1\n"
    assert xcom_value(run, "score_deferred")["Transform"]["TransformJobName"] == "score-deferred"
