"""Request bodies on the wire: an oversized body gets its 413 (or InvokeEndpoint's 400) with the
error body even from a client that writes the whole body before reading; an unauthenticated
request is refused from its headers, before its body is kept; how much of an unwanted body the
service reads is bounded; with credentials, nothing but /health answers without them."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from airflow_automl.local.api.request_body import DISCARD_MAX_BYTES
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

MB = 1024 * 1024
KEY, SECRET = "AKIDBODIES", "bodies-secret"


def write_all_then_read(port: int, path: str, headers: dict, body_size: int) -> tuple[int, dict, bytes]:
    """A raw HTTP/1.1 client that sends the whole body before it reads a byte of the answer."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {body_size}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(head.encode())
        block = b"x" * MB
        sent = 0
        while sent < body_size:
            chunk = block[: min(MB, body_size - sent)]
            conn.sendall(chunk)
            sent += len(chunk)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _content_length(answer):
            data = conn.recv(65536)
            if not data:
                break
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    header_block, _, payload = rest.partition(b"\r\n\r\n")
    answer_headers = {}
    for line in header_block.split(b"\r\n"):
        name, _, value = line.decode("latin-1").partition(":")
        answer_headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), answer_headers, payload


def _content_length(answer: bytes) -> int:
    for line in answer.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return 0


@pytest.fixture(scope="module")
def open_service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("bodies-open"), engine=SCRIPTED_ENGINE)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def signed_service(tmp_path_factory):
    service = start_service(
        tmp_path_factory.mktemp("bodies-signed"), engine=SCRIPTED_ENGINE, access_key_id=KEY, secret_access_key=SECRET
    )
    yield service
    service.stop()


API_HEADERS = {"X-Amz-Target": "SageMaker.ListAutoMLJobs", "Content-Type": "application/x-amz-json-1.1"}


def test_a_12_mb_body_written_before_reading_gets_the_413_and_its_error_body(open_service):
    status, headers, payload = write_all_then_read(open_service.port, "/", API_HEADERS, 12 * MB)
    assert status == 413, payload[:300]
    error = json.loads(payload)
    assert error["__type"] == "RequestEntityTooLargeException" and "request body" in error["message"], error
    assert headers.get("x-amzn-errortype") == "RequestEntityTooLargeException"
    # Nothing was lost: the service answers the next request.
    assert open_service.client().list_auto_ml_jobs()["AutoMLJobSummaries"] == []


def test_an_invocation_over_6_mb_written_before_reading_gets_its_400(open_service):
    status, _, payload = write_all_then_read(
        open_service.port, "/endpoints/anything/invocations", {"Content-Type": "text/csv"}, 8 * MB
    )
    assert status == 400, payload[:300]
    assert "6 MB" in json.loads(payload)["message"]


def test_an_endless_body_is_cut_off_after_a_bounded_read(open_service):
    """Past the limit plus DISCARD_MAX_BYTES, the service stops reading and closes the connection."""
    total = DISCARD_MAX_BYTES * 4
    head = (
        f"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {total}\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in API_HEADERS.items())
        + "\r\n"
    )
    sent = 0
    try:
        with socket.create_connection(("127.0.0.1", open_service.port), timeout=60) as conn:
            conn.sendall(head.encode())
            block = b"x" * MB
            while sent < total:
                conn.sendall(block)
                sent += len(block)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the service closed the connection: what this test expects
    assert sent < total, "the service read the whole endless body"
    assert open_service.client().list_auto_ml_jobs()["AutoMLJobSummaries"] == []


def test_an_unsigned_oversized_invocation_is_refused_as_unauthenticated(signed_service):
    status, _, payload = write_all_then_read(
        signed_service.port, "/endpoints/anything/invocations", {"Content-Type": "text/csv"}, 8 * MB
    )
    assert status == 403, payload[:300]
    assert json.loads(payload)["__type"] == "MissingAuthenticationTokenException"
    status, _, payload = write_all_then_read(signed_service.port, "/", API_HEADERS, 12 * MB)
    assert status == 403, payload[:300]
    assert json.loads(payload)["__type"] == "MissingAuthenticationTokenException"


@pytest.mark.parametrize(
    "path", ["/openapi.json", "/docs", "/redoc", "/jobs/anything", "/jobs/x/artifacts?uri=s3://b/k"]
)
def test_with_credentials_nothing_but_health_answers_without_them(signed_service, path):
    response = requests.get(signed_service.endpoint_url + path, timeout=10)
    assert response.status_code in (401, 403, 404), (path, response.status_code, response.text[:200])
    assert "openapi" not in response.text and "paths" not in response.text
    assert requests.get(signed_service.endpoint_url + "/health", timeout=10).status_code == 200


def test_without_credentials_the_schema_is_still_served(open_service):
    assert requests.get(open_service.endpoint_url + "/openapi.json", timeout=10).status_code == 200
