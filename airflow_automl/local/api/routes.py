"""The service's HTTP routes: health, the SageMaker API (AWS JSON 1.1) and InvokeEndpoint.

Each request's steps, in order: the signature's headers (before any body is read), the body within
its limit, the signature over the body, then the protocol. What a route needs (the protocol
handler, the service, the signature check) is built once by create_app and kept on app.state.
"""

from __future__ import annotations

import logging
from typing import Annotated

from botocore.model import OperationModel
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from airflow_automl.local.api import runtime
from airflow_automl.local.api.auth import SignatureCheck
from airflow_automl.local.api.protocol import (
    MAX_BODY_BYTES,
    ProtocolHandler,
    body_too_large,
    error_response,
    is_read_only,
    refuse_content_type,
)
from airflow_automl.local.api.request_body import BodyTooLarge, read_body
from airflow_automl.local.errors import InvocationError
from airflow_automl.local.operations.endpoints import MAX_PAYLOAD_BYTES
from airflow_automl.local.operations.service import SageMakerService

log = logging.getLogger(__name__)

router = APIRouter()


# The dependencies are coroutines so that FastAPI calls them on the event loop: a plain function
# would cost each request a hop to the thread pool.
async def _protocol(request: Request) -> ProtocolHandler:
    handler: ProtocolHandler = request.app.state.protocol
    return handler


async def _service(request: Request) -> SageMakerService:
    service: SageMakerService = request.app.state.service
    return service


async def _signatures(request: Request) -> SignatureCheck:
    check: SignatureCheck = request.app.state.signatures
    return check


ProtocolDep = Annotated[ProtocolHandler, Depends(_protocol)]
ServiceDep = Annotated[SageMakerService, Depends(_service)]
SignaturesDep = Annotated[SignatureCheck, Depends(_signatures)]


@router.get("/health")
def health(protocol: ProtocolDep, service: ServiceDep) -> dict:
    # dataCapture: the endpoint data capture writer's counts (records written, failed, dropped).
    return {
        "status": "ok",
        "operations": protocol.implemented_operations(),
        "dataCapture": service.endpoints.capture.stats(),
    }


@router.post("/")
async def aws_json(request: Request, protocol: ProtocolDep, signatures: SignaturesDep) -> Response:
    """A SageMaker operation: X-Amz-Target names it, the body is its request."""
    if (refused := await signatures.refuse_headers(request)) is not None:
        return refused
    try:
        body = await read_body(request, MAX_BODY_BYTES)
    except BodyTooLarge as error:
        return body_too_large(error)
    if (refused := signatures.refuse_body(request, body)) is not None:
        return refused
    operation = protocol.operation(request.headers.get("x-amz-target"))
    if isinstance(operation, Response):
        return operation
    if (refused := refuse_content_type(request.headers.get("content-type"))) is not None:
        return refused
    return await _call(protocol, operation, body)


async def _call(protocol: ProtocolHandler, operation: OperationModel, body: bytes) -> Response:
    try:
        if is_read_only(operation):
            # Reads take a fraction of a millisecond and never wait for a writer (WAL): run
            # them on the event loop. A hop to the thread pool costs more than that, and
            # pool threads contending for the GIL stretch the tail latency under load.
            return protocol.handle(operation, body)
        # Writes may wait for a training worker's transaction: keep them off the event loop.
        return await run_in_threadpool(protocol.handle, operation, body)
    except Exception:
        # A bug, not bad input: answer like AWS does and keep the traceback in the log.
        log.exception("internal failure in %s", operation.name)
        return error_response(500, "InternalFailure", f"{operation.name}: the local service failed; see its log")


@router.post("/endpoints/{endpoint_name}/invocations")
async def invoke_endpoint(
    endpoint_name: str, request: Request, service: ServiceDep, signatures: SignaturesDep
) -> Response:
    """sagemaker-runtime InvokeEndpoint (rest-json): the body is the payload, the answer the predictions."""
    if (refused := await signatures.refuse_headers(request)) is not None:
        return refused
    try:
        try:
            body = await read_body(request, MAX_PAYLOAD_BYTES)
        except BodyTooLarge as error:
            return runtime.payload_over_limit(error)
        if (refused := signatures.refuse_body(request, body)) is not None:
            return refused
        return await runtime.invoke(service, endpoint_name, request.headers, body)
    except InvocationError as error:
        return runtime.invocation_error(error)
    except Exception:
        log.exception("internal failure in InvokeEndpoint %s", endpoint_name)
        return runtime.internal_failure()
