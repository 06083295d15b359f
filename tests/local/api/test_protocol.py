"""The wire protocol: AWS JSON 1.1 as botocore, raw HTTP clients and the AWS CLI speak it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import requests

import airflow_automl
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
AMZ_JSON = "application/x-amz-json-1.1"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("protocol"), engine=SCRIPTED_ENGINE)
    yield service
    service.stop()


def post(service, target: str | None, body: bytes | str, content_type: str = AMZ_JSON) -> requests.Response:
    headers = {"Content-Type": content_type}
    if target is not None:
        headers["X-Amz-Target"] = target
    return requests.post(service.endpoint_url + "/", data=body, headers=headers, timeout=10)


def test_health_answers_200(service):
    response = requests.get(service.endpoint_url + "/health", timeout=5)
    assert response.status_code == 200
    assert "CreateAutoMLJob" in response.json()["operations"]
    assert response.json()["version"] == airflow_automl.__version__  # the wheel's and the provider's


def test_unknown_operation_is_a_400_naming_it(service):
    response = post(service, "SageMaker.FlyToTheMoon", "{}")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert "FlyToTheMoon" in response.json()["message"]


def test_operation_of_another_service_is_a_400(service):
    response = post(service, "DynamoDB_20120810.ListTables", "{}")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"


def test_missing_target_is_a_400(service):
    response = post(service, None, "{}")
    assert response.status_code == 400
    assert "X-Amz-Target" in response.json()["message"]


def test_sagemaker_operation_not_implemented_is_a_clear_client_error(service):
    client = service.client()
    with pytest.raises(client.exceptions.ClientError) as raised:
        client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName="anything")
    error = raised.value.response["Error"]
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Code"] == "UnknownOperationException"
    assert "DescribeHyperParameterTuningJob is not implemented" in error["Message"]


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"', b'{"a":' * 5000, b'{"MaxResults": ' + b"9" * 5000 + b"}"],
)
def test_malformed_json_is_a_400_serialization_exception(service, body):
    response = post(service, "SageMaker.ListAutoMLJobs", body)
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"


def test_wrong_content_type_is_a_400(service):
    response = post(service, "SageMaker.ListAutoMLJobs", "{}", content_type="text/plain")
    assert response.status_code == 400
    assert "Content-Type" in response.json()["message"]


def test_huge_body_is_a_413(service):
    body = json.dumps({"NameContains": "x" * (5 * 1024 * 1024)})
    response = post(service, "SageMaker.ListAutoMLJobs", body)
    assert response.status_code == 413


def test_empty_body_means_no_parameters(service):
    response = post(service, "SageMaker.ListAutoMLJobs", "")
    assert response.status_code == 200
    assert "AutoMLJobSummaries" in response.json()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"MaxResults": 0}, "MaxResults"),
        ({"MaxResults": "ten"}, "MaxResults"),
        ({"SortBy": "Size"}, "SortBy"),
        ({"NameContains": "no spaces allowed"}, "NameContains"),
        ({"Surprise": 1}, "Surprise"),
    ],
)
def test_shape_violations_are_validation_exceptions_naming_the_member(service, body, field):
    response = post(service, "SageMaker.ListAutoMLJobs", json.dumps(body))
    assert response.status_code == 400
    assert response.json()["__type"] == "ValidationException"
    assert field in response.json()["message"]


def test_output_timestamps_are_epoch_seconds_and_nulls_are_dropped(service):
    request = {
        "AutoMLJobName": "wire-format",
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train.csv")}},
                "TargetAttributeName": "y",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("out")},
    }
    assert post(service, "SageMaker.CreateAutoMLJob", json.dumps(request)).status_code == 200
    response = post(service, "SageMaker.DescribeAutoMLJob", json.dumps({"AutoMLJobName": "wire-format"}))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(AMZ_JSON)
    job = response.json()
    assert isinstance(job["CreationTime"], float)
    assert all(value is not None for value in job.values())
    assert "Tags" not in job  # not a member of DescribeAutoMLJobResponse


def test_aws_cli_creates_and_describes_a_job(service, tmp_path: Path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    aws = [
        str(Path(sys.executable).parent / "aws"),
        "--endpoint-url",
        service.endpoint_url,
        "--output",
        "json",
        "sagemaker",
    ]
    created = subprocess.run(
        [
            *aws,
            "create-auto-ml-job",
            "--auto-ml-job-name",
            "from-the-cli",
            "--role-arn",
            ROLE,
            "--input-data-config",
            json.dumps(
                [
                    {
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("t.csv")}},
                        "TargetAttributeName": "label",
                    }
                ]
            ),
            "--output-data-config",
            json.dumps({"S3OutputPath": service.file_uri("out")}),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["AutoMLJobArn"].endswith(":automl-job/from-the-cli")
    described = subprocess.run(
        [*aws, "describe-auto-ml-job", "--auto-ml-job-name", "FROM-THE-CLI"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert described.returncode == 0, described.stderr
    job = json.loads(described.stdout)
    assert job["AutoMLJobName"] == "from-the-cli"
    assert job["InputDataConfig"][0]["TargetAttributeName"] == "label"
    missing = subprocess.run(
        [*aws, "describe-auto-ml-job", "--auto-ml-job-name", "never-created"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode != 0
    assert "ResourceNotFound" in missing.stderr


def test_a_bug_answers_internal_failure_500_and_is_logged(tmp_path, caplog):
    from fastapi.testclient import TestClient

    from airflow_automl.local.api.app import create_app
    from airflow_automl.local.config import ServiceConfig

    app = create_app(ServiceConfig(data_dir=tmp_path / "data", engine=SCRIPTED_ENGINE))

    def broken(request):
        raise RuntimeError("a bug in the service")

    app.state.service.describe_auto_ml_job = broken
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post(
            "/",
            content=json.dumps({"AutoMLJobName": "any"}),
            headers={"X-Amz-Target": "SageMaker.DescribeAutoMLJob", "Content-Type": AMZ_JSON},
        )
    assert response.status_code == 500
    assert response.json()["__type"] == "InternalFailure"
    assert "DescribeAutoMLJob" in response.json()["message"]
    assert any("a bug in the service" in str(record.exc_info[1]) for record in caplog.records if record.exc_info)
