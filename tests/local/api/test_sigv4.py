"""A service started with its own credentials accepts only requests signed (SigV4) with them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import botocore.auth
import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

KEY, SECRET = "AKIDLOCALSERVICE", "local-service-secret"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(
        tmp_path_factory.mktemp("auth"), engine=SCRIPTED_ENGINE, access_key_id=KEY, secret_access_key=SECRET
    )
    yield service
    service.stop()


def client_with(service, key: str, secret: str):
    return boto3.client(
        "sagemaker",
        endpoint_url=service.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def error_code(call) -> tuple[int, str]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response["ResponseMetadata"]["HTTPStatusCode"], raised.value.response["Error"]["Code"]


def signed_post(service, signed_at: datetime, monkeypatch) -> requests.Response:
    """A request signed by botocore's signer as if its clock read signed_at."""
    request = AWSRequest(
        method="POST",
        url=service.endpoint_url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "SageMaker.ListAutoMLJobs", "Content-Type": "application/x-amz-json-1.1"},
    )
    with monkeypatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", lambda: signed_at)
        SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1").add_auth(request)
    return requests.post(request.url, data=request.body, headers=dict(request.headers.items()), timeout=10)


def test_requests_signed_with_the_service_credentials_are_served(service):
    client = client_with(service, KEY, SECRET)
    assert client.list_auto_ml_jobs()["AutoMLJobSummaries"] == []
    assert requests.get(service.endpoint_url + "/health", timeout=5).status_code == 200


def test_a_wrong_secret_is_an_invalid_signature(service):
    assert error_code(client_with(service, KEY, "not-the-secret").list_auto_ml_jobs) == (
        403,
        "InvalidSignatureException",
    )


def test_an_unknown_access_key_is_unrecognized(service):
    assert error_code(client_with(service, "AKIDSOMEONEELSE", SECRET).list_auto_ml_jobs) == (
        403,
        "UnrecognizedClientException",
    )


def test_an_unsigned_request_is_refused(service):
    response = requests.post(
        service.endpoint_url + "/",
        data="{}",
        timeout=10,
        headers={"X-Amz-Target": "SageMaker.ListAutoMLJobs", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert response.status_code == 403
    assert response.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_tampered_body_is_an_invalid_signature(service, monkeypatch):
    good = signed_post(service, datetime.now(UTC), monkeypatch)
    assert good.status_code == 200, good.text
    request = AWSRequest(
        method="POST",
        url=service.endpoint_url + "/",
        data=b"{}",
        headers={"X-Amz-Target": "SageMaker.ListAutoMLJobs", "Content-Type": "application/x-amz-json-1.1"},
    )
    SigV4Auth(Credentials(KEY, SECRET), "sagemaker", "us-east-1").add_auth(request)
    headers = dict(request.headers.items())
    tampered = requests.post(request.url, data=json.dumps({"MaxResults": 1}), headers=headers, timeout=10)
    assert tampered.status_code == 403
    assert tampered.json()["__type"] == "InvalidSignatureException"


@pytest.mark.parametrize("offset", [timedelta(minutes=-6), timedelta(minutes=6)])
def test_a_signature_outside_the_clock_skew_is_refused(service, offset, monkeypatch):
    response = signed_post(service, datetime.now(UTC) + offset, monkeypatch)
    assert response.status_code == 403
    assert response.json()["__type"] == "InvalidSignatureException"
    assert "Signature" in response.json()["message"]


def test_a_signature_within_the_clock_skew_is_accepted(service, monkeypatch):
    assert signed_post(service, datetime.now(UTC) - timedelta(minutes=4), monkeypatch).status_code == 200
