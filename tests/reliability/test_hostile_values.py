"""Hostile values get a 400 naming the field, never a 500: timestamps no date can hold, numbers
of hundreds of digits, forged or edited NextTokens, and file:// URIs with over-long path
segments (in a create request and on a job's artifact page)."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

CONTENT_TYPE = "application/x-amz-json-1.1"
LONG_SEGMENT = "a" * 300


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("hostile"), engine=SCRIPTED_ENGINE)
    yield service
    service.stop()


def call(service, operation: str, body: str | dict) -> requests.Response:
    data = body if isinstance(body, str) else json.dumps(body)
    return requests.post(
        service.endpoint_url + "/",
        data=data.encode(),
        timeout=30,
        headers={"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": CONTENT_TYPE},
    )


def assert_names(response: requests.Response, field: str) -> None:
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert body["__type"] == "ValidationException", body
    assert field in body["message"].split(":", 1)[0], body


def _create_request(name: str, uri: str, output: str, **extra) -> dict:
    return {
        "AutoMLJobName": name,
        "AutoMLJobInputDataConfig": [
            {"ChannelType": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": uri}}}
        ],
        "OutputDataConfig": {"S3OutputPath": output},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "label"}},
        **extra,
    }


@pytest.mark.parametrize("raw", ['"inf"', '"-inf"', '"nan"', '"1e400"', "1e20", "-1e20", "1" + "0" * 400, "Infinity"])
@pytest.mark.parametrize(
    "operation, field",
    [
        ("ListAutoMLJobs", "CreationTimeAfter"),
        ("ListAutoMLJobs", "LastModifiedTimeBefore"),
        ("ListEndpoints", "CreationTimeBefore"),
    ],
)
def test_timestamps_no_date_can_hold_are_refused_naming_the_field(service, operation, field, raw):
    assert_names(call(service, operation, f'{{"{field}": {raw}}}'), field)


@pytest.mark.parametrize("raw", ["1" + "0" * 400, "1e400", "Infinity", "-Infinity"])
def test_a_validation_fraction_of_hundreds_of_digits_is_refused_naming_it(service, raw):
    request = json.dumps(_create_request("huge-fraction", "s3://b/in/", "s3://b/out"))
    request = request[:-1] + f', "DataSplitConfig": {{"ValidationFraction": {raw}}}}}'
    assert_names(call(service, "CreateAutoMLJobV2", request), "ValidationFraction")


@pytest.mark.parametrize("raw", [str(2**31), str(2**70), "1" + "0" * 400])
def test_integers_past_their_wire_type_are_refused_naming_the_field(service, raw):
    assert_names(call(service, "ListAutoMLJobs", f'{{"MaxResults": {raw}}}'), "MaxResults")


def _forged(scope: str, after: list) -> str:
    raw = json.dumps({"scope": scope, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_page_tokens_cannot_be_forged_or_edited(service):
    client = service.client()
    for index in range(3):
        client.create_auto_ml_job_v2(**_create_request(f"paged-{index}", "s3://b/in/", "s3://b/out"))
    first = client.list_auto_ml_jobs(MaxResults=1, SortBy="Name", SortOrder="Ascending")
    token = first["NextToken"]
    second = client.list_auto_ml_jobs(MaxResults=1, SortBy="Name", SortOrder="Ascending", NextToken=token)
    assert second["AutoMLJobSummaries"][0]["AutoMLJobName"] != first["AutoMLJobSummaries"][0]["AutoMLJobName"]

    payload, _, mac = token.partition(".")
    document = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    forged = [
        _forged(document["scope"], [2**70, 1]),  # the 70-bit integer, in the old unsigned form
        _forged(document["scope"], ["paged-0", 2**70]) + "." + mac,
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # an edited signature
        "not a token",
        "x" * 2000 + "." + "y" * 20,
    ]
    for value in forged:
        response = call(
            service, "ListAutoMLJobs", {"MaxResults": 1, "SortBy": "Name", "SortOrder": "Ascending", "NextToken": value}
        )
        assert_names(response, "NextToken")


def test_a_file_uri_with_an_over_long_segment_is_refused_at_create(service):
    long_uri = service.file_uri(f"{LONG_SEGMENT}/train.csv")
    response = call(service, "CreateAutoMLJobV2", _create_request("long-segment", long_uri, service.file_uri("out")))
    assert_names(response, "S3Uri")
    assert "300 bytes" in response.json()["message"]
    response = call(
        service,
        "CreateAutoMLJobV2",
        _create_request("long-output", service.file_uri("in/"), service.file_uri(f"out/{LONG_SEGMENT}")),
    )
    assert_names(response, "S3OutputPath")


def test_an_artifact_page_uri_with_an_over_long_segment_is_a_404_naming_it(service):
    client = service.client()
    client.create_auto_ml_job_v2(**_create_request("artifact-long", service.file_uri("in/"), service.file_uri("out")))
    service.wait_for_status("artifact-long", timeout=180)
    uri = service.file_uri(f"out/artifact-long/{LONG_SEGMENT}")
    response = requests.get(f"{service.endpoint_url}/jobs/artifact-long/artifacts", params={"uri": uri}, timeout=30)
    assert response.status_code == 404, response.text[:300]
    assert "segment of 300 bytes" in response.text
