"""What one page view of the UI plugin costs in SageMaker calls, counted on the wire: the plugin's
reader talks to the local service (scripted engine) through a real Airflow AWS connection, and
botocore's own events count every request the service answered."""

from __future__ import annotations

import os
from collections import Counter

import pytest

from airflow_automl.hooks.automl import AutoMLHook
from airflow_automl.ui.sagemaker import ConnectionRef, SageMakerReader
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("ui-cache"), engine=SCRIPTED_ENGINE)
    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_ui_cache", service.endpoint_url))
    try:
        yield service
    finally:
        os.environ.clear()
        os.environ.update(saved)
        service.stop()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def counted(service):
    """A reader with a clock the test moves, and a count of the SageMaker operations it sent."""
    calls: Counter = Counter()

    def count_answered(model, http_response, **_) -> None:
        # A read is a request the service answered. One that failed (a 5xx or a dropped connection on a
        # loaded machine) and that the hook sent again is not a second read, and would make the count
        # depend on the machine's speed.
        if http_response.status_code < 300:
            calls.update([model.name])

    def hook_factory(connection: ConnectionRef) -> AutoMLHook:
        hook = AutoMLHook(aws_conn_id=connection.aws_conn_id, region_name=connection.region_name)
        hook.conn.meta.events.register("after-call.sagemaker.*", count_answered)
        return hook

    clock = Clock()
    return SageMakerReader(ttl=10.0, hook_factory=hook_factory, clock=clock), calls, clock


def _create(service, name: str, max_candidates: int | None = None) -> None:
    criteria = {"MaxCandidates": max_candidates} if max_candidates else {"MaxAutoMLJobRuntimeInSeconds": 600}
    service.client().create_auto_ml_job(
        AutoMLJobName=name,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("data/")}},
                "TargetAttributeName": "label",
            }
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("output")},
        ProblemType="BinaryClassification",
        AutoMLJobObjective={"MetricName": "F1"},
        AutoMLJobConfig={"CompletionCriteria": criteria},
        RoleArn="arn:aws:iam::123456789012:role/AutoMLExecutionRole",
    )


def test_a_finished_job_is_read_once(service, counted):
    reader, calls, clock = counted
    _create(service, "cache-finished", max_candidates=3)
    service.wait_for_status("cache-finished")
    connection = ConnectionRef("aws_ui_cache")

    first = reader.job(connection, "cache-finished")
    assert first.describe["AutoMLJobStatus"] == "Completed" and len(first.candidates) == 3
    assert calls == {"DescribeAutoMLJobV2": 1, "ListCandidatesForAutoMLJob": 1}
    clock.now += 3600
    assert reader.job(connection, "cache-finished") is first
    assert calls == {"DescribeAutoMLJobV2": 1, "ListCandidatesForAutoMLJob": 1}  # an ended job does not change

    arn = first.describe["AutoMLJobArn"]
    assert reader.tags(connection, arn) == reader.tags(connection, arn)
    assert calls["ListTags"] == 1


def test_a_running_job_is_read_at_most_once_per_ttl(service, counted):
    reader, calls, clock = counted
    _create(service, "slow-cache-running")
    connection = ConnectionRef("aws_ui_cache")
    try:
        service.wait_for_status("slow-cache-running", statuses=("InProgress",))
        pages = lambda snapshot: max(1, -(-len(snapshot.candidates) // 100))  # noqa: E731  (100 a call)
        first = reader.job(connection, "slow-cache-running")
        for _ in range(4):  # more page views within the cache's time: no more calls
            clock.now += 2
            assert reader.job(connection, "slow-cache-running") is first
        assert calls == {"DescribeAutoMLJobV2": 1, "ListCandidatesForAutoMLJob": pages(first)}
        clock.now += 10
        second = reader.job(connection, "slow-cache-running")
        assert calls == {"DescribeAutoMLJobV2": 2, "ListCandidatesForAutoMLJob": pages(first) + pages(second)}
        assert second.observed[0][0].startswith("InProgress")

        reader.recent_jobs(connection)
        clock.now += 5
        reader.recent_jobs(connection)
        assert calls["ListAutoMLJobs"] == 1
        clock.now += 10
        reader.recent_jobs(connection)
        assert calls["ListAutoMLJobs"] == 2
    finally:
        service.client().stop_auto_ml_job(AutoMLJobName="slow-cache-running")
