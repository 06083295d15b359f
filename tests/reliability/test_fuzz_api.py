"""Hostile input on the wire: every implemented operation fuzzed from botocore's input shapes.

Shape-valid requests must never cause a 5xx; requests broken at one member must be a
ValidationException whose message names that member. Raw protocol abuse (bad JSON, wrong
content types, huge bodies, unknown targets) must be a 4xx.
"""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_automl.sagemaker.shapes import sagemaker_model
from tests.fixtures.hypothesis import examples, full_length
from tests.fixtures.request_shapes import invalid_request, valid_structure
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

MODEL = sagemaker_model()
CONTENT_TYPE = "application/x-amz-json-1.1"
SENT: Counter = Counter()


@pytest.fixture(scope="module")
def fuzz_service(tmp_path_factory):
    service = start_service(
        tmp_path_factory.mktemp("fuzz"), engine=SCRIPTED_ENGINE, max_active_jobs=20, max_concurrent_jobs=1
    )
    yield service
    service.stop()
    print(f"\nfuzz requests sent: {sum(SENT.values())}")


@pytest.fixture(scope="module")
def operations(fuzz_service) -> list[str]:
    return requests.get(f"{fuzz_service.endpoint_url}/health", timeout=10).json()["operations"]


def post(service, target: str | None, body: bytes, content_type: str = CONTENT_TYPE, **headers) -> requests.Response:
    if target is not None:
        headers["X-Amz-Target"] = target
    headers["Content-Type"] = content_type
    SENT[(target or "<none>")[:60]] += 1
    return requests.post(f"{service.endpoint_url}/", data=body, headers=headers, timeout=30)


def call(service, operation: str, request: dict) -> requests.Response:
    return post(service, f"SageMaker.{operation}", json.dumps(request).encode())


def _error(response: requests.Response) -> tuple[str, str]:
    body = response.json()
    return body.get("__type", ""), body.get("message", "")


def _names_a_member(message: str, operation: str) -> bool:
    """A rejection of a shape-valid request (a reference rule, or a missing job) names a member
    of the operation's input, as the rule's field, before the colon."""
    field = message.split(":", 1)[0]
    root = re.split(r"[.\[]", field, maxsplit=1)[0].strip()
    return root in MODEL.operation_model(operation).input_shape.members


def test_the_fuzzed_operations_are_the_ones_the_service_implements(operations):
    assert {"CreateAutoMLJob", "CreateAutoMLJobV2", "DescribeAutoMLJob", "ListAutoMLJobs", "AddTags"} <= set(operations)


IMPLEMENTED = [
    "CreateAutoMLJob",
    "CreateAutoMLJobV2",
    "DescribeAutoMLJob",
    "DescribeAutoMLJobV2",
    "ListAutoMLJobs",
    "ListCandidatesForAutoMLJob",
    "StopAutoMLJob",
    "AddTags",
    "ListTags",
    "DeleteTags",
    "CreateModel",
    "DescribeModel",
    "ListModels",
    "DeleteModel",
    "CreateEndpointConfig",
    "DescribeEndpointConfig",
    "ListEndpointConfigs",
    "DeleteEndpointConfig",
    "CreateEndpoint",
    "UpdateEndpoint",
    "DescribeEndpoint",
    "ListEndpoints",
    "DeleteEndpoint",
    "CreateModelPackageGroup",
    "DescribeModelPackageGroup",
    "ListModelPackageGroups",
    "DeleteModelPackageGroup",
    "CreateModelPackage",
    "DescribeModelPackage",
    "ListModelPackages",
    "UpdateModelPackage",
    "DeleteModelPackage",
    "DescribeTrainingJob",
    "ListTrainingJobs",
    "CreateTrainingJob",
    "DescribeProcessingJob",
    "ListProcessingJobs",
    "CreateProcessingJob",
    "Search",
]
# Messages whose wording SageMaker fixes and clients parse, so they cannot lead with the member:
# the Amazon provider's hook recognises an existing group by this prefix.
FIXED_MESSAGES = ("Model Package Group already exists: ",)


@pytest.mark.parametrize("operation", IMPLEMENTED)
def test_shape_valid_requests_never_fail_the_service(fuzz_service, operations, operation):
    assert operation in operations, f"{operation} is no longer implemented; update IMPLEMENTED"
    shape = MODEL.operation_model(operation).input_shape

    @settings(max_examples=examples(12, 60))
    @given(valid_structure(shape))
    def check(request):
        response = call(fuzz_service, operation, request)
        assert response.status_code < 500, (request, response.text)
        if response.status_code >= 400:
            code, message = _error(response)
            assert 400 <= response.status_code < 500 and code, response.text
            if code == "ValidationException" and not message.startswith(FIXED_MESSAGES):
                assert _names_a_member(message, operation), (request, message)

    check()


@pytest.mark.parametrize("operation", IMPLEMENTED)
def test_requests_broken_at_one_member_are_rejected_naming_it(fuzz_service, operation):
    shape = MODEL.operation_model(operation).input_shape

    @settings(max_examples=examples(12, 60))
    @given(invalid_request(shape))
    def check(broken):
        request, mutation = broken
        response = call(fuzz_service, operation, request)
        assert response.status_code == 400, (mutation, request, response.text)
        code, message = _error(response)
        assert code == "ValidationException", (mutation, response.text)
        assert mutation.member in message.split(":", 1)[0], (mutation, message)

    check()


def test_unknown_and_missing_targets_are_4xx(fuzz_service):
    for target in (
        None,
        "",
        "SageMaker.",
        "SageMaker.NoSuchOperation",
        "Other.DescribeAutoMLJob",
        "SageMaker.CreateTrainingJob",
        "SageMaker.describe_auto_ml_job",
        "SageMaker.DescribeAutoMLJob\u00e9",
        "x" * 10_000,
    ):
        response = post(fuzz_service, target, b"{}")
        assert 400 <= response.status_code < 500, (target, response.text)
        assert _error(response)[0], response.text


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b"null",
        b"42",
        b'"text"',
        b"\xff\xfe\x00garbage",
        b'{"AutoMLJobName": }',
        b"[" * 100_000,
        b'{"a":' * 50_000,
        b'{"AutoMLJobName": 1e999999}',
        b'{"AutoMLJobName": ' + b"9" * 100_000 + b"}",
        b'{"AutoMLJobName": "\\ud800"}',
        b'{"AutoMLJobName": NaN}',
        b'{"AutoMLJobName": "a\\u0000b"}',
    ],
    ids=lambda body: repr(body[:20]),
)
def test_malformed_bodies_are_4xx(fuzz_service, body):
    response = post(fuzz_service, "SageMaker.DescribeAutoMLJob", body)
    assert 400 <= response.status_code < 500, response.text[:500]
    assert _error(response)[0]


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x", "", "\u00e9/x"]
)
def test_wrong_content_types_are_4xx(fuzz_service, content_type):
    response = post(
        fuzz_service, "SageMaker.ListAutoMLJobs", b"{}", content_type=content_type.encode("latin-1").decode("latin-1")
    )
    assert 400 <= response.status_code < 500, response.text


def test_huge_bodies_are_4xx(fuzz_service):
    body = json.dumps({"AutoMLJobName": "a" * (6 * 1024 * 1024)}).encode()
    response = post(fuzz_service, "SageMaker.DescribeAutoMLJob", body)
    assert response.status_code == 413, response.text[:300]
    # The service is still answering afterwards.
    assert call(fuzz_service, "ListAutoMLJobs", {}).status_code == 200


@given(
    st.dictionaries(
        st.text(max_size=30),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
            lambda children: (
                st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
            ),
            max_leaves=20,
        ),
        max_size=6,
    )
)
@settings(max_examples=examples(10, 80))
def test_arbitrary_json_objects_are_never_5xx(fuzz_service, request_body):
    for operation in ("CreateAutoMLJobV2", "ListAutoMLJobs", "ListCandidatesForAutoMLJob", "AddTags"):
        response = call(fuzz_service, operation, request_body)
        assert response.status_code < 500, (operation, request_body, response.text)


def test_a_full_run_sends_at_least_1000_requests(fuzz_service):
    # Runs last in this module: the fuzzing tests above have sent their requests by now.
    assert sum(SENT.values()) >= (1000 if full_length() else 200), dict(SENT)
