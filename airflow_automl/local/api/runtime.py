"""SageMaker Runtime's InvokeEndpoint, served at /endpoints/<name>/invocations (rest-json).

The body is the payload and the answer the model's predictions, both in the media types the
request names. Errors travel as the runtime's rest-json shape: ``{"message": ...}`` and the
error's members in the body, the code in the ``x-amzn-ErrorType`` header; the table below says
which code and HTTP status each error of errors.py answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from airflow_automl.local.api.request_body import BodyTooLarge, connection_headers
from airflow_automl.local.errors import InvocationError, ModelError, ValidationError
from airflow_automl.local.operations.endpoints import payload_too_large
from airflow_automl.local.operations.service import SageMakerService

# SageMaker Runtime's error code and HTTP status for each InvokeEndpoint error.
RUNTIME_ERRORS: dict[type[InvocationError], tuple[str, int]] = {
    ValidationError: ("ValidationError", 400),
    # A model that refused or failed the request: its own status travels as OriginalStatusCode.
    ModelError: ("ModelError", 424),
}


def runtime_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **members: Any
) -> JSONResponse:
    """The rest-json error shape of SageMaker Runtime: the code travels in a header."""
    return JSONResponse(
        {"message": message, **members}, status_code=status, headers={"x-amzn-ErrorType": code, **(headers or {})}
    )


def invocation_error(error: InvocationError) -> JSONResponse:
    code, status = RUNTIME_ERRORS[type(error)]
    return runtime_error(status, code, error.message, **error.members)


def payload_over_limit(error: BodyTooLarge) -> JSONResponse:
    too_large = payload_too_large(error.size)
    code, status = RUNTIME_ERRORS[type(too_large)]
    return runtime_error(status, code, too_large.message, connection_headers(error.drained))


def internal_failure() -> JSONResponse:
    return runtime_error(500, "InternalFailure", "InvokeEndpoint: the local service failed; see its log")


def media_type(header: str | None) -> str | None:
    """The first media type a Content-Type or Accept header names, without parameters."""
    first = (header or "").split(",")[0].split(";")[0].strip().lower()
    return first or None


async def invoke(service: SageMakerService, endpoint_name: str, headers: Mapping[str, str], body: bytes) -> Response:
    """The predictions of the endpoint's model for the payload; raises InvocationError when refused.
    Loading and predicting block: they run in the thread pool."""
    payload, content_type, variant = await run_in_threadpool(
        service.endpoints.invoke,
        endpoint_name,
        body,
        media_type(headers.get("content-type")),
        media_type(headers.get("accept")),
        headers.get("x-amzn-sagemaker-target-variant"),
        headers.get("x-amzn-sagemaker-inference-id"),
        headers.get("content-type"),
    )
    # Content-Type exactly as the model answered (no charset added), like SageMaker passes it through.
    return Response(payload, headers={"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant})
