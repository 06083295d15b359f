"""AutoMLJobTriggers sharing one poller against the real local service: real jobs, real listings.

Jobs run the scripted engine (no training): ``ok-*`` complete with candidates, ``fail-*`` fail with a
reason, ``slow-*`` run until StopAutoMLJob. The triggerer is an event loop in this process; a
"restart" is a second loop with triggers rebuilt from ``serialize()``.
"""

from __future__ import annotations

import asyncio
import os
from unittest import mock

import pytest

from airflow_automl.triggers.automl import AutoMLJobTrigger
from airflow_automl.triggers.poller import active_pollers
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

# The local service runs as a process of its own.
pytestmark = pytest.mark.integration

CONN_ID = "automl_scale"
ROLE = "arn:aws:iam::123456789012:role/automl"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("trigger-scale"), engine=SCRIPTED_ENGINE, max_concurrent_jobs=3)
    try:
        with mock.patch.dict(os.environ, aws_connection_env(CONN_ID, service.endpoint_url)):
            yield service
    finally:
        service.stop()


def create_job(service, name: str) -> None:
    service.client().create_auto_ml_job_v2(
        AutoMLJobName=name,
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "ContentType": "text/csv;header=present",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("data/train.csv")}},
            }
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("output")},
        AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
    )


def trigger(name: str) -> AutoMLJobTrigger:
    return AutoMLJobTrigger(job_name=name, aws_conn_id=CONN_ID, poll_interval=0.2)


async def events_of(trig: AutoMLJobTrigger) -> list[dict]:
    return [event.payload async for event in trig.run()]


async def wait_until(condition, timeout: float = 120.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def test_one_poller_follows_real_jobs_to_one_event_each(service):
    names = ["ok-a1", "ok-a2", "ok-a3", "fail-a1", "slow-a1", "slow-a2"]
    for name in names:
        create_job(service, name)
    client = service.client()

    async def scenario():
        tasks = {name: asyncio.create_task(events_of(trigger(name))) for name in names}
        await wait_until(lambda: sum(p.watched_jobs() for p in active_pollers()) >= 1)
        (poller,) = active_pollers()
        # Stop the slow jobs once they are training (the listing has shown them InProgress).
        for name in ("slow-a1", "slow-a2"):
            await asyncio.to_thread(service.wait_for_status, name, ("InProgress",))
            await wait_until(
                lambda n=name: (
                    client.describe_auto_ml_job_v2(AutoMLJobName=n)["AutoMLJobSecondaryStatus"] == "TrainingModels"
                )
            )
            await asyncio.to_thread(client.stop_auto_ml_job, AutoMLJobName=name)
        async with asyncio.timeout(120):
            events = {name: await task for name, task in tasks.items()}
        await wait_until(lambda: not active_pollers())
        return events, poller

    events, poller = asyncio.run(scenario())
    assert all(len(batch) == 1 for batch in events.values()), events
    statuses = {name: batch[0]["status"] for name, batch in events.items()}
    assert statuses == {
        "ok-a1": "success",
        "ok-a2": "success",
        "ok-a3": "success",
        "fail-a1": "failed",
        "slow-a1": "stopped",
        "slow-a2": "stopped",
    }
    assert events["ok-a1"][0]["summary"]["best_candidate_name"] == "scripted-candidate-003"
    assert "scripted failure of job fail-a1" in events["fail-a1"][0]["message"]
    # One describe per job when it registers and one when the listing shows it ended, at most; the
    # sweep's and the repeats after a race with the listing come on top, as the machine's speed decides.
    assert poller.describe_calls - poller.sweep_describes - poller.repeated_describes <= 2 * len(names)
    assert poller.list_calls >= 2


def test_a_restarted_triggerer_gets_the_jobs_that_ended_while_it_was_down(service):
    names = ["ok-b1", "ok-b2", "slow-b1", "slow-b2"]
    for name in names:
        create_job(service, name)
    serialized = [trigger(name).serialize() for name in names]
    client = service.client()

    async def before_the_restart():
        tasks = [asyncio.create_task(events_of(AutoMLJobTrigger(**kwargs))) for _, kwargs in serialized]
        await wait_until(lambda: sum(p.watched_jobs() for p in active_pollers()) == len(names))
        # It goes away once its poller has looked at the jobs (the slow ones keep it polling).
        await wait_until(lambda: any(p.list_calls for p in active_pollers()))
        for task in tasks:  # the triggerer goes away, whatever each trigger was doing
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return [result for result in results if not isinstance(result, BaseException)]

    fired_before = asyncio.run(before_the_restart())
    # While no triggerer runs, every job ends.
    for name in ("slow-b1", "slow-b2"):
        service.wait_for_status(name, ("InProgress",))
        client.stop_auto_ml_job(AutoMLJobName=name)
    for name in names:
        service.wait_for_status(name)

    async def after_the_restart():
        rebuilt = [AutoMLJobTrigger(**kwargs) for _, kwargs in serialized]
        async with asyncio.timeout(60):
            batches = await asyncio.gather(*(events_of(t) for t in rebuilt))
        return {t.job_name: batch for t, batch in zip(rebuilt, batches, strict=True)}

    events = asyncio.run(after_the_restart())
    assert fired_before == [] or all(len(batch) == 1 for batch in fired_before)
    assert {name: [e["status"] for e in batch] for name, batch in events.items()} == {
        "ok-b1": ["success"],
        "ok-b2": ["success"],
        "slow-b1": ["stopped"],
        "slow-b2": ["stopped"],
    }
