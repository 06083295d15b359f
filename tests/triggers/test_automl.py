"""AutoMLJobTrigger: one event per wait, whatever happens between polls."""

import asyncio
import os
import time
from unittest import mock

import pytest

from airflow_automl.hooks import automl as hook_module
from airflow_automl.triggers.automl import AutoMLJobTrigger
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.provider_responder import SageMakerResponder, candidate, describe_answer, error


@pytest.fixture
def responder():
    server = SageMakerResponder()
    with (
        mock.patch.dict(os.environ, aws_connection_env("automl_trigger", server.endpoint_url)),
        # Keep the hook's backoff short so throttling tests take milliseconds.
        mock.patch.object(hook_module.RetryPolicy, "delay", lambda self, attempt: 0.01),
    ):
        yield server
    server.close()


def make_trigger(**kwargs):
    return AutoMLJobTrigger(job_name="job-1", aws_conn_id="automl_trigger", poll_interval=0.01, **kwargs)


async def all_events(trigger):
    return [event async for event in trigger.run()]


def test_serialize_holds_everything_needed_to_rebuild():
    trigger = make_trigger(api_version=1, deadline=123.5, stop_job_on_kill=False, region_name="eu-west-1")
    classpath, kwargs = trigger.serialize()
    assert classpath == "airflow_automl.triggers.automl.AutoMLJobTrigger"
    rebuilt = AutoMLJobTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["job_name"] == "job-1" and kwargs["deadline"] == 123.5 and kwargs["api_version"] == 1


def test_completed_job_gives_one_success_event_with_the_summary(responder):
    best = candidate("c-best", 0.91)
    responder.on(
        "DescribeAutoMLJobV2",
        [
            describe_answer("job-1", "InProgress", "AnalyzingData"),
            error("ThrottlingException", "Rate exceeded"),
            describe_answer("job-1", "InProgress", "TrainingModels"),
            error("InternalFailure", "oops", status=500),
            describe_answer("job-1", "Completed", "Completed", best=best),
        ],
    )
    events = asyncio.run(all_events(make_trigger()))
    assert len(events) == 1
    payload = events[0].payload
    assert payload["status"] == "success"
    assert payload["summary"]["best_candidate_name"] == "c-best"
    assert payload["summary"]["objective_metric_value"] == pytest.approx(0.91)


@pytest.mark.parametrize(("status", "expected"), [("Failed", "failed"), ("Stopped", "stopped")])
def test_failed_and_stopped_jobs_carry_sagemakers_reason(responder, status, expected):
    responder.on(
        "DescribeAutoMLJobV2",
        [
            describe_answer("job-1", "InProgress"),
            describe_answer("job-1", status, status, failure_reason="Target column 'y' is missing in data.csv"),
        ],
    )
    (event,) = asyncio.run(all_events(make_trigger()))
    assert event.payload["status"] == expected
    assert "Target column 'y' is missing in data.csv" in event.payload["message"]


def test_transient_errors_that_outlast_retries_do_not_end_the_wait(responder):
    answers = [error("ServiceUnavailable", "down", status=503)] * 12 + [
        describe_answer("job-1", "Completed", "Completed")
    ]
    responder.on("DescribeAutoMLJobV2", answers)
    (event,) = asyncio.run(all_events(make_trigger()))
    assert event.payload["status"] == "success"
    # 12 failed describes and the one that answered (the shared poller also tries ListAutoMLJobs once)
    assert responder.operations().count("DescribeAutoMLJobV2") == 13


def test_deadline_gives_a_timeout_event(responder):
    responder.on("DescribeAutoMLJobV2", describe_answer("job-1", "InProgress"))
    (event,) = asyncio.run(all_events(make_trigger(deadline=time.time() + 0.2)))
    assert event.payload["status"] == "timeout"
    assert "still running at the deadline" in event.payload["message"]


def test_missing_job_ends_the_wait_with_an_error_event(responder):
    responder.on("DescribeAutoMLJobV2", error("ResourceNotFound", "Job job-1 does not exist"))
    (event,) = asyncio.run(all_events(make_trigger()))
    assert event.payload["status"] == "error"
    assert "does not exist" in event.payload["message"]


def test_polling_never_blocks_the_event_loop(responder):
    responder.on(
        "DescribeAutoMLJobV2",
        [describe_answer("job-1", "InProgress")] * 20 + [describe_answer("job-1", "Completed", "Completed")],
    )

    async def watch_while_ticking():
        ticks = 0

        async def ticker():
            nonlocal ticks
            while True:
                await asyncio.sleep(0.005)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        events = await all_events(make_trigger())
        tick_task.cancel()
        return events, ticks

    events, ticks = asyncio.run(watch_while_ticking())
    assert events[0].payload["status"] == "success"
    assert ticks > 5


def test_on_kill_stops_a_running_job_and_leaves_ended_ones(responder):
    responder.on("DescribeAutoMLJobV2", describe_answer("job-1", "InProgress"))
    responder.on("StopAutoMLJob", (200, {}))
    asyncio.run(make_trigger().on_kill())
    assert responder.operations() == ["DescribeAutoMLJobV2", "StopAutoMLJob"]

    responder.calls.clear()
    responder.on("DescribeAutoMLJobV2", describe_answer("job-1", "Completed", "Completed"))
    asyncio.run(make_trigger().on_kill())
    asyncio.run(make_trigger(stop_job_on_kill=False).on_kill())
    assert responder.operations() == ["DescribeAutoMLJobV2"]
