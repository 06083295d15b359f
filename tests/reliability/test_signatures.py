"""A signature authorizes only what it covers: the operation (X-Amz-Target), the content type,
every x-amz-* header and the body must be signed, and the credential scope must name the
service's own region and service. Requests are signed with botocore's signer, then tampered."""

from __future__ import annotations

import json

import pytest
import requests
from botocore.auth import UNSIGNED_PAYLOAD, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

KEY, SECRET = "AKIDHARDENING", "hardening-secret"
CONTENT_TYPE = "application/x-amz-json-1.1"


class _SignOnly(SigV4Auth):
    """botocore's signer restricted to some headers, as a careless or hostile client might sign."""

    def __init__(self, credentials, service, region, only: tuple[str, ...] | None):
        super().__init__(credentials, service, region)
        self.only = only

    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        if self.only is not None:
            for name in list(headers.keys()):
                if name not in self.only:
                    del headers[name]
        return headers


def signed(
    service, operation: str, body: dict, *, only=None, region="us-east-1", signing_name="sagemaker", extra_headers=None
) -> dict:
    request = AWSRequest(
        method="POST",
        url=service.endpoint_url + "/",
        data=json.dumps(body).encode(),
        headers={"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": CONTENT_TYPE, **(extra_headers or {})},
    )
    _SignOnly(Credentials(KEY, SECRET), signing_name, region, only).add_auth(request)
    return dict(request.headers.items())


def send(service, headers: dict, body: dict) -> requests.Response:
    return requests.post(service.endpoint_url + "/", data=json.dumps(body).encode(), headers=headers, timeout=30)


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(
        tmp_path_factory.mktemp("signatures"), engine=SCRIPTED_ENGINE, access_key_id=KEY, secret_access_key=SECRET
    )
    client = service.client()
    client.create_auto_ml_job_v2(
        AutoMLJobName="slow-signed",
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": "s3://b/out"},
        RoleArn="arn:aws:iam::123456789012:role/automl",
        AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
    )
    yield service
    client.stop_auto_ml_job(AutoMLJobName="slow-signed")
    service.stop()


def _status(service) -> str:
    return service.client().describe_auto_ml_job_v2(AutoMLJobName="slow-signed")["AutoMLJobStatus"]


def test_a_correctly_signed_request_is_served(service):
    body = {"AutoMLJobName": "slow-signed"}
    response = send(service, signed(service, "DescribeAutoMLJobV2", body), body)
    assert response.status_code == 200, response.text


def test_a_describe_signature_replayed_as_a_stop_is_refused_and_stops_nothing(service):
    body = {"AutoMLJobName": "slow-signed"}
    # Signed over host and x-amz-date only: the operation is not covered.
    headers = signed(service, "DescribeAutoMLJobV2", body, only=("host", "x-amz-date"))
    headers["X-Amz-Target"] = "SageMaker.StopAutoMLJob"
    response = send(service, headers, body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == "IncompleteSignatureException"
    assert "x-amz-target" in response.json()["message"] and "content-type" in response.json()["message"]
    # Signed over the target too: changing it breaks the signature.
    headers = signed(service, "DescribeAutoMLJobV2", body)
    headers["X-Amz-Target"] = "SageMaker.StopAutoMLJob"
    response = send(service, headers, body)
    assert response.status_code == 403, response.text
    assert response.json()["__type"] == "InvalidSignatureException"
    assert _status(service) == "InProgress"


def test_an_unsigned_payload_cannot_carry_a_swapped_body(service):
    body = {"MaxResults": 1}
    headers = signed(service, "ListAutoMLJobs", body, extra_headers={"X-Amz-Content-SHA256": UNSIGNED_PAYLOAD})
    assert "x-amz-content-sha256" in headers["Authorization"]
    response = send(service, headers, {"MaxResults": 2})
    assert response.status_code == 403, response.text
    assert response.json()["__type"] == "InvalidSignatureException"
    assert UNSIGNED_PAYLOAD in response.json()["message"]
    # Even the body it was signed with: the payload hash must be the body's own.
    assert send(service, headers, body).status_code == 403


def test_every_x_amz_header_sent_must_be_signed(service):
    body = {"MaxResults": 1}
    headers = signed(
        service,
        "ListAutoMLJobs",
        body,
        extra_headers={"X-Amz-Security-Token": "token"},
        only=("host", "x-amz-date", "x-amz-target", "content-type"),
    )
    response = send(service, headers, body)
    assert response.status_code == 400, response.text
    assert "x-amz-security-token" in response.json()["message"]


@pytest.mark.parametrize(
    "region, signing_name, words",
    [
        ("eu-west-1", "sagemaker", ("region", "us-east-1", "eu-west-1")),
        ("us-east-1", "s3", ("service", "sagemaker", "s3")),
    ],
)
def test_the_credential_scope_must_name_this_region_and_service(service, region, signing_name, words):
    body = {"AutoMLJobName": "slow-signed"}
    headers = signed(service, "StopAutoMLJob", body, region=region, signing_name=signing_name)
    response = send(service, headers, body)
    assert response.status_code == 403, response.text
    assert response.json()["__type"] == "InvalidSignatureException"
    for word in words:
        assert word in response.json()["message"]
    assert _status(service) == "InProgress"
