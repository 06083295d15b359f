"""The local service as an ASGI application: the SageMaker API, InvokeEndpoint and the job pages.

This package alone speaks HTTP: status codes, content types and error shapes (protocol.py for
the SageMaker API, runtime.py for InvokeEndpoint); the operations raise the errors of errors.py.
"""

from __future__ import annotations

import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from airflow_automl.local.api import routes
from airflow_automl.local.api.auth import SignatureCheck, require_page_credentials, requires_credentials
from airflow_automl.local.api.lock import DataDirLock
from airflow_automl.local.api.protocol import ProtocolHandler
from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.operations.service import SageMakerService
from airflow_automl.local.runs.supervisor import Supervisor
from airflow_automl.local.store import Store


def create_app(config: ServiceConfig) -> FastAPI:
    """The service on ``config.data_dir``, which it locks at once (RuntimeError if another holds it)."""
    lock = DataDirLock(config)
    lock.acquire()
    store = Store(config.db_path)
    supervisor = Supervisor(config, store)
    service = SageMakerService(config, store, on_job_change=supervisor.wake)
    app = FastAPI(
        title="airflow-automl local SageMaker service",
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
        # With credentials, nothing but /health answers without them: no OpenAPI schema either.
        openapi_url=None if requires_credentials(config) else "/openapi.json",
    )
    app.state.config = config
    app.state.lock = lock
    app.state.store = store
    app.state.service = service
    app.state.supervisor = supervisor
    app.state.protocol = ProtocolHandler(service)
    app.state.signatures = SignatureCheck.for_config(config)
    app.include_router(routes.router)
    _include_job_pages(app, config)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    supervisor: Supervisor = app.state.supervisor
    service: SageMakerService = app.state.service
    supervisor.start()  # first ends what a previous service process left unfinished
    try:
        yield
    finally:
        try:
            service.endpoints.capture.close()  # the captured invocations not written yet
        finally:
            supervisor.shutdown()
            app.state.lock.release()


def _include_job_pages(app: FastAPI, config: ServiceConfig) -> None:
    # Job pages live in their own module; the service runs without it.
    if importlib.util.find_spec("airflow_automl.local.pages") is None:
        return
    from airflow_automl.local import pages

    dependencies = [Depends(require_page_credentials)] if requires_credentials(config) else []
    app.include_router(pages.router, dependencies=dependencies)
