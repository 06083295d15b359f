"""Where the routes run an operation: reads (Describe, List) on the event loop, where they answer
fastest, and writes in the thread pool, since a write may wait for a training worker's transaction
and must not hold up every other request meanwhile."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

from airflow_automl.local.api.app import create_app
from airflow_automl.local.config import ServiceConfig
from tests.fixtures.service import SCRIPTED_ENGINE

AMZ_JSON = "application/x-amz-json-1.1"


def _on_the_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False  # a thread of the pool: no loop runs there
    return True


@pytest.mark.parametrize(
    ("operation", "method", "on_the_loop"),
    [
        ("DescribeAutoMLJob", "describe_auto_ml_job", True),
        ("ListAutoMLJobs", "list_auto_ml_jobs", True),
        ("StopAutoMLJob", "stop_auto_ml_job", False),
    ],
)
def test_reads_run_on_the_event_loop_and_writes_in_the_thread_pool(tmp_path, operation, method, on_the_loop):
    app = create_app(ServiceConfig(data_dir=tmp_path / "data", engine=SCRIPTED_ENGINE))
    seen: list[bool] = []

    def record(request: dict) -> dict:
        seen.append(_on_the_event_loop())
        return {}

    setattr(app.state.service, method, record)
    body = {} if operation == "ListAutoMLJobs" else {"AutoMLJobName": "any"}
    with TestClient(app) as client:
        response = client.post(
            "/", content=json.dumps(body), headers={"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": AMZ_JSON}
        )
    assert response.status_code == 200, response.text
    assert seen == [on_the_loop]
