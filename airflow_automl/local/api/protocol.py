"""The AWS JSON 1.1 protocol of the local service, driven by botocore's SageMaker model.

POST / with ``X-Amz-Target: SageMaker.<Operation>`` and a JSON body. The body is validated
against the operation's input shape (and the reference's rules, in airflow_automl.sagemaker.rules),
dispatched to the SageMakerService method named after the operation, and the result serialized
by the output shape: only the shape's members, no nulls, timestamps as epoch seconds.
Errors answer HTTP 400 with ``{"__type": code, "message": text}``, as botocore expects.

The operations raise the errors of errors.py; the table below says how each is answered.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, Shape
from botocore.utils import parse_timestamp
from fastapi.responses import JSONResponse, Response

from airflow_automl.local.api.request_body import BodyTooLarge, connection_headers
from airflow_automl.local.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ServiceError,
    ValidationException,
)
from airflow_automl.local.operations.service import SageMakerService
from airflow_automl.local.store import InvalidPageToken
from airflow_automl.sagemaker import rules as job_spec
from airflow_automl.sagemaker import shapes

CONTENT_TYPE = "application/x-amz-json-1.1"
ACCEPTED_CONTENT_TYPES = ("application/x-amz-json-1.1", "application/x-amz-json-1.0", "application/json")
MAX_BODY_BYTES = 4 * 1024 * 1024
READ_ONLY_PREFIXES = ("Describe", "List")
TARGET_PREFIX = shapes.sagemaker_model().metadata["targetPrefix"]

# The SageMaker API's error code for each error an operation raises; all answer HTTP 400.
SAGEMAKER_ERROR_CODES: dict[type[Exception], str] = {
    ValidationException: "ValidationException",
    ResourceNotFound: "ResourceNotFound",
    ResourceInUse: "ResourceInUse",
    ResourceLimitExceeded: "ResourceLimitExceeded",
    # A NextToken the store cannot continue from is a bad request member, whichever list it is.
    InvalidPageToken: "ValidationException",
}


def snake_case(operation: str) -> str:
    """CreateAutoMLJobV2 -> create_auto_ml_job_v2, as botocore names client methods."""
    return xform_name(operation)


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The AWS JSON 1.1 error shape: the code in the body's ``__type`` and in x-amzn-ErrorType."""
    return JSONResponse(
        {"__type": code, "message": message},
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-ErrorType": code, **(headers or {})},
    )


def body_too_large(error: BodyTooLarge) -> JSONResponse:
    return error_response(
        413,
        "RequestEntityTooLargeException",
        f"request body: {error.size} bytes is larger than the limit of {MAX_BODY_BYTES} bytes",
        connection_headers(error.drained),
    )


def refuse_content_type(header: str | None) -> JSONResponse | None:
    """None when the Content-Type (absent: this protocol's own) is one the protocol accepts."""
    content_type = (CONTENT_TYPE if header is None else header).split(";")[0].strip().lower()
    if content_type in ACCEPTED_CONTENT_TYPES:
        return None
    return error_response(
        400, "SerializationException", f"Content-Type: {content_type!r} is not accepted; send {CONTENT_TYPE}"
    )


def is_read_only(operation: OperationModel) -> bool:
    return operation.name.startswith(READ_ONLY_PREFIXES)


# -- shape-driven conversion -------------------------------------------------------------------


def parse_input(shape: Shape | None, value: Any) -> Any:
    """Timestamps (epoch numbers or ISO 8601 strings) -> epoch seconds floats; the rest as sent."""
    if shape is None or value is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        return {
            key: parse_input(shape.members[key], member) if key in shape.members else member
            for key, member in value.items()
        }
    if shape.type_name == "list" and isinstance(value, list):
        return [parse_input(shape.member, item) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {key: parse_input(shape.value, item) for key, item in value.items()}
    if shape.type_name == "timestamp":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            return parse_timestamp(value).timestamp()
        if isinstance(value, datetime):
            return value.timestamp()
    return value


def serialize_output(shape: Shape, value: Any) -> Any:
    """Keep the members the output shape defines, drop None, timestamps as epoch seconds."""
    if shape.type_name == "structure":
        return {
            name: serialize_output(member, value[name])
            for name, member in shape.members.items()
            if value.get(name) is not None
        }
    if shape.type_name == "list":
        return [serialize_output(shape.member, item) for item in value]
    if shape.type_name == "map":
        return {key: serialize_output(shape.value, item) for key, item in value.items()}
    if shape.type_name == "timestamp":
        if isinstance(value, datetime):
            return value.timestamp()
        return float(value)
    if shape.type_name in ("float", "double") and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# -- dispatch ----------------------------------------------------------------------------------


class ProtocolHandler:
    """AWS JSON 1.1 request -> service call -> response."""

    def __init__(self, service: SageMakerService):
        self.service = service
        self.model = shapes.sagemaker_model()

    def operation(self, target: str | None) -> OperationModel | JSONResponse:
        """The operation X-Amz-Target names, or the error answer when it names none implemented."""
        if not target:
            return error_response(
                400, "UnknownOperationException", "X-Amz-Target: header missing; expected SageMaker.<Operation>"
            )
        prefix, _, name = target.partition(".")
        if prefix != TARGET_PREFIX or name not in self.model.operation_names:
            return error_response(400, "UnknownOperationException", f"X-Amz-Target: unknown operation {target!r}")
        if not callable(getattr(self.service, snake_case(name), None)):
            return error_response(
                400,
                "UnknownOperationException",
                f"Operation {name} is not implemented by the local service; it implements "
                f"{', '.join(self.implemented_operations())}",
            )
        return self.model.operation_model(name)

    def implemented_operations(self) -> list[str]:
        return sorted(
            name for name in self.model.operation_names if callable(getattr(self.service, snake_case(name), None))
        )

    def handle(self, operation: OperationModel, body: bytes) -> Response:
        """Parse, validate, call the service, serialize. Blocking (SQLite): reads run it on the
        event loop, writes in the thread pool."""
        try:
            request = json.loads(body) if body.strip() else {}
        except (ValueError, RecursionError) as error:
            # ValueError covers malformed JSON and text, and integers too long to convert;
            # RecursionError, nesting too deep to parse.
            return error_response(
                400, "SerializationException", f"request body: not valid JSON ({type(error).__name__}: {error})"
            )
        if not isinstance(request, dict):
            return error_response(400, "SerializationException", "request body: must be a JSON object")
        try:
            job_spec.validate_request(operation.name, request)
        except shapes.RequestValidationError as error:
            return error_response(400, "ValidationException", str(error))
        request = parse_input(operation.input_shape, request)
        method = getattr(self.service, snake_case(operation.name))
        try:
            result = method(request)
        except (ServiceError, InvalidPageToken) as error:
            return error_response(400, SAGEMAKER_ERROR_CODES[type(error)], str(error))
        output = serialize_output(operation.output_shape, result) if operation.output_shape else {}
        return Response(json.dumps(output, separators=(",", ":")), media_type=CONTENT_TYPE)
