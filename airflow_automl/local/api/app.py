"""The AWS JSON 1.1 protocol of the local service, driven by botocore's SageMaker model.

POST / with ``X-Amz-Target: SageMaker.<Operation>`` and a JSON body. The body is validated
against the operation's input shape (and the reference's rules, in airflow_automl.sagemaker.rules),
dispatched to the SageMakerService method named after the operation, and the result serialized
by the output shape: only the shape's members, no nulls, timestamps as epoch seconds.
Errors answer HTTP 400 with ``{"__type": code, "message": text}``, as botocore expects.
SageMaker Runtime's InvokeEndpoint (rest-json) is served at /endpoints/<name>/invocations.

This module alone speaks HTTP: status codes, content types and error shapes. The operations
raise the errors of errors.py, and the tables below say how each is answered.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import math
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from botocore import xform_name
from botocore.model import OperationModel, Shape
from botocore.utils import parse_timestamp
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from airflow_automl.local.api.request_body import BodyTooLarge, connection_headers, discard_body, read_body
from airflow_automl.local.api.sigv4 import AuthenticationError, SignatureVerifier
from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.errors import (
    InvocationError,
    ModelError,
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ServiceError,
    ValidationError,
    ValidationException,
)
from airflow_automl.local.operations.endpoints import MAX_PAYLOAD_BYTES, payload_too_large
from airflow_automl.local.operations.service import SageMakerService
from airflow_automl.local.runs.supervisor import Supervisor
from airflow_automl.local.store import InvalidPageToken, Store
from airflow_automl.sagemaker import rules as job_spec
from airflow_automl.sagemaker import shapes

log = logging.getLogger(__name__)

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
# SageMaker Runtime's error code and HTTP status for each InvokeEndpoint error.
RUNTIME_ERRORS: dict[type[InvocationError], tuple[str, int]] = {
    ValidationError: ("ValidationError", 400),
    # A model that refused or failed the request: its own status travels as OriginalStatusCode.
    ModelError: ("ModelError", 424),
}


def snake_case(operation: str) -> str:
    """CreateAutoMLJobV2 -> create_auto_ml_job_v2, as botocore names client methods."""
    return xform_name(operation)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"__type": code, "message": message},
        status_code=status,
        media_type=CONTENT_TYPE,
        headers={"x-amzn-ErrorType": code, **(headers or {})},
    )


def _runtime_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None, **members
) -> JSONResponse:
    """The rest-json error shape of SageMaker Runtime: the code travels in a header."""
    return JSONResponse(
        {"message": message, **members}, status_code=status, headers={"x-amzn-ErrorType": code, **(headers or {})}
    )


def media_type(header: str | None) -> str | None:
    """The first media type a Content-Type or Accept header names, without parameters."""
    first = (header or "").split(",")[0].split(";")[0].strip().lower()
    return first or None


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


# -- the application ---------------------------------------------------------------------------


class DataDirLock:
    """One service per data dir: a second one would fail the first one's running jobs."""

    def __init__(self, config: ServiceConfig):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = config.data_dir / "service.lock"
        self._file = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.close()
            raise RuntimeError(
                f"--data-dir {self.path.parent}: another local service is already using it; "
                "stop it or choose another data dir"
            ) from error
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class ProtocolHandler:
    """AWS JSON 1.1 request -> service call -> response."""

    def __init__(self, service: SageMakerService):
        self.service = service
        self.model = shapes.sagemaker_model()

    def operation(self, target: str | None) -> OperationModel | ServiceError | JSONResponse:
        if not target:
            return _error(
                400, "UnknownOperationException", "X-Amz-Target: header missing; expected SageMaker.<Operation>"
            )
        prefix, _, name = target.partition(".")
        if prefix != TARGET_PREFIX or name not in self.model.operation_names:
            return _error(400, "UnknownOperationException", f"X-Amz-Target: unknown operation {target!r}")
        if not callable(getattr(self.service, snake_case(name), None)):
            return _error(
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
            return _error(
                400, "SerializationException", f"request body: not valid JSON ({type(error).__name__}: {error})"
            )
        if not isinstance(request, dict):
            return _error(400, "SerializationException", "request body: must be a JSON object")
        try:
            job_spec.validate_request(operation.name, request)
        except shapes.RequestValidationError as error:
            return _error(400, "ValidationException", str(error))
        request = parse_input(operation.input_shape, request)
        method = getattr(self.service, snake_case(operation.name))
        try:
            result = method(request)
        except (ServiceError, InvalidPageToken) as error:
            return _error(400, SAGEMAKER_ERROR_CODES[type(error)], str(error))
        output = serialize_output(operation.output_shape, result) if operation.output_shape else {}
        return Response(json.dumps(output, separators=(",", ":")), media_type=CONTENT_TYPE)


def _page_credentials_check(config: ServiceConfig):
    """With credentials, job pages and their artifacts (reports, models) need them too: a browser
    cannot sign SigV4, so it sends them as HTTP Basic (user: access key id, password: secret)."""
    basic = HTTPBasic(realm="airflow-automl", auto_error=False)

    def check(credentials: HTTPBasicCredentials | None = Depends(basic)) -> None:
        if credentials is not None and secrets.compare_digest(
            credentials.username.encode(), config.access_key_id.encode()
        ) & secrets.compare_digest(credentials.password.encode(), config.secret_access_key.encode()):
            return
        raise HTTPException(
            status_code=401,
            detail="job pages need the service's credentials: user = access key id, password = secret access key",
            headers={"WWW-Authenticate": 'Basic realm="airflow-automl"'},
        )

    return check


def _include_job_pages(app: FastAPI, config: ServiceConfig) -> None:
    # Job pages live in their own module; the service runs without it.
    if importlib.util.find_spec("airflow_automl.local.pages") is None:
        return
    from airflow_automl.local import pages

    dependencies = []
    if config.access_key_id and config.secret_access_key:
        dependencies.append(Depends(_page_credentials_check(config)))
    app.include_router(pages.router, dependencies=dependencies)


def create_app(config: ServiceConfig) -> FastAPI:
    lock = DataDirLock(config)
    lock.acquire()
    store = Store(config.db_path)
    supervisor = Supervisor(config, store)
    service = SageMakerService(config, store, on_job_change=supervisor.wake)
    handler = ProtocolHandler(service)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        supervisor.start()  # first ends what a previous service process left unfinished
        try:
            yield
        finally:
            supervisor.shutdown()
            lock.release()

    signed = bool(config.access_key_id and config.secret_access_key)
    # With credentials, nothing but /health answers without them: no OpenAPI schema either.
    app = FastAPI(
        title="airflow-automl local SageMaker service",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None if signed else "/openapi.json",
    )
    app.state.config = config
    app.state.store = store
    app.state.service = service
    app.state.supervisor = supervisor

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", "operations": handler.implemented_operations()}

    verifier = (
        SignatureVerifier(config.access_key_id, config.secret_access_key, config.region)
        if config.access_key_id and config.secret_access_key
        else None
    )

    async def refuse_unauthenticated(request: Request) -> Response | None:
        """Check the signature's headers before reading the body; a refused body is discarded."""
        if verifier is None:
            return None
        try:
            verifier.check_headers(request.headers)
        except AuthenticationError as error:
            drained = await discard_body(request)
            return _error(error.status_code, error.code, error.message, connection_headers(drained))
        return None

    @app.post("/")
    async def aws_json(request: Request) -> Response:
        refused = await refuse_unauthenticated(request)
        if refused is not None:
            return refused
        try:
            body = await read_body(request, MAX_BODY_BYTES)
        except BodyTooLarge as error:
            return _error(
                413,
                "RequestEntityTooLargeException",
                f"request body: {error.size} bytes is larger than the limit of {MAX_BODY_BYTES} bytes",
                connection_headers(error.drained),
            )
        if verifier is not None:
            try:
                verifier.verify(request.method, request.url.path, request.url.query, request.headers, body)
            except AuthenticationError as error:
                return _error(error.status_code, error.code, error.message)
        operation = handler.operation(request.headers.get("x-amz-target"))
        if isinstance(operation, Response):
            return operation
        content_type = request.headers.get("content-type", CONTENT_TYPE).split(";")[0].strip().lower()
        if content_type not in ACCEPTED_CONTENT_TYPES:
            return _error(
                400,
                "SerializationException",
                f"Content-Type: {content_type!r} is not accepted; send {CONTENT_TYPE}",
            )
        try:
            if operation.name.startswith(READ_ONLY_PREFIXES):
                # Reads take a fraction of a millisecond and never wait for a writer (WAL): run
                # them on the event loop. A hop to the thread pool costs more than that, and
                # pool threads contending for the GIL stretch the tail latency under load.
                return handler.handle(operation, body)
            # Writes may wait for a training worker's transaction: keep them off the event loop.
            return await run_in_threadpool(handler.handle, operation, body)
        except Exception:
            # A bug, not bad input: answer like AWS does and keep the traceback in the log.
            log.exception("internal failure in %s", operation.name)
            return _error(500, "InternalFailure", f"{operation.name}: the local service failed; see its log")

    @app.post("/endpoints/{endpoint_name}/invocations")
    async def invoke_endpoint(endpoint_name: str, request: Request) -> Response:
        """sagemaker-runtime InvokeEndpoint (rest-json): the body is the payload, the answer the predictions."""
        refused = await refuse_unauthenticated(request)
        if refused is not None:
            return refused
        try:
            try:
                body = await read_body(request, MAX_PAYLOAD_BYTES)
            except BodyTooLarge as error:
                too_large = payload_too_large(error.size)
                code, status = RUNTIME_ERRORS[type(too_large)]
                return _runtime_error(status, code, too_large.message, connection_headers(error.drained))
            if verifier is not None:
                try:
                    verifier.verify(request.method, request.url.path, request.url.query, request.headers, body)
                except AuthenticationError as error:
                    return _error(error.status_code, error.code, error.message)
            payload, content_type, variant = await run_in_threadpool(
                service.endpoints.invoke,
                endpoint_name,
                body,
                media_type(request.headers.get("content-type")),
                media_type(request.headers.get("accept")),
                request.headers.get("x-amzn-sagemaker-target-variant"),
            )
        except InvocationError as error:
            code, status = RUNTIME_ERRORS[type(error)]
            return _runtime_error(status, code, error.message, **error.members)
        except Exception:
            log.exception("internal failure in InvokeEndpoint %s", endpoint_name)
            return _runtime_error(500, "InternalFailure", "InvokeEndpoint: the local service failed; see its log")
        # Content-Type exactly as the model answered (no charset added), like SageMaker passes it through.
        return Response(payload, headers={"Content-Type": content_type, "x-Amzn-Invoked-Production-Variant": variant})

    _include_job_pages(app, config)
    return app
