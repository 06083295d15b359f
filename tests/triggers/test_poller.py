"""The shared poller under concurrency: many AutoMLJobTriggers on one event loop, one listing a look.

A loopback SageMaker responder (real HTTP, real aiobotocore) holds a table of jobs and answers
ListAutoMLJobs (LastModifiedTimeAfter, CreationTime order, NextToken pages) and DescribeAutoMLJobV2
from it, so tests can end jobs at chosen moments: between looks, in the middle of a listing's pages,
while the triggerer is down; and make the API throttle or fail on cue. It has its own clock (its
timestamps and Date headers), which may run ahead of or behind the triggerer's, and its listing
may show each change some seconds after Describe does.

Scenarios that play out over seconds of that lag run on a ``FastClock``, which the poller and the
responder share: their seconds pass ten times faster than real ones. The tests wait for the events
they are about (a listing, an event, a bound passing a change), each within a generous bound.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from types import SimpleNamespace
from typing import Any, TypeVar
from unittest import mock

import pytest

from airflow_automl.hooks.automl import RetryPolicy
from airflow_automl.triggers import poller as poller_module
from airflow_automl.triggers.automl import AutoMLJobTrigger
from airflow_automl.triggers.poller import (
    DEFAULT_SETTINGS,
    REAL_TIME,
    JobProgress,
    JobWatch,
    PollerClock,
    PollerSettings,
    active_pollers,
)
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.provider_responder import SageMakerResponder, describe_answer, error

T = TypeVar("T")

CONN_ID = "automl_poller"
INTERVAL = 0.05
# The fast clock's speed, and the poll interval of the triggers that run on it (its seconds).
SPEED = 10.0
FAST_CLOCK_INTERVAL = 0.2

FAST = PollerSettings(
    overlap_seconds=1.0,
    listing_lag_seconds=0.5,
    sweep_period_seconds=1e6,  # no sweep unless a test asks for one
    sweep_calls_per_second=0.5,
    describe_concurrency=4,
    list_page_size=100,
    max_backoff_seconds=0.2,
    list_retry_after_refusal_seconds=3600.0,
    retry_policy=RetryPolicy(max_attempts=2, base_delay=0.01, max_delay=0.02),
)


class FastClock(PollerClock):
    """Time that passes ``speed`` times faster than real time, from the moment the clock is made.

    Shared by the poller and the responder, it plays seconds of listing lag and the Date header's
    whole seconds out in a fraction. Real work (HTTP round trips, the event loop) takes ``speed``
    times longer on it, which only makes the poller's readings of SageMaker's clock more cautious.
    """

    def __init__(self, speed: float) -> None:
        self.speed = speed
        self._real_start = time.monotonic()
        self._unix_start = time.time()

    def _elapsed(self) -> float:
        return (time.monotonic() - self._real_start) * self.speed

    def time(self) -> float:
        return self._unix_start + self._elapsed()

    def monotonic(self) -> float:
        return self._real_start + self._elapsed()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(awaitable, seconds / self.speed)


class JobTable:
    """SageMaker's view of the account's AutoML jobs, served over the responder.

    ``clock`` is the time it keeps, ``clock_offset`` shifts it (timestamps and Date headers: clock
    skew); ``listing_lag()`` draws how much later than Describe the listing shows each change;
    ``failures[operation]`` is a list of error answers served before the real ones; ``after_page``
    runs after each ListAutoMLJobs page; ``rows_listed`` counts each page's rows; ``walks`` holds,
    for each listing's first page, when it ran (the server's clock) and its LastModifiedTimeAfter.
    """

    def __init__(self, responder: SageMakerResponder):
        self.responder = responder
        self.jobs: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self.clock: PollerClock = REAL_TIME
        self.clock_offset = 0.0
        self.listing_lag: Callable[[], float] = lambda: 0.0
        self.rows_listed: list[int] = []
        self.walks: list[tuple[float, float]] = []
        responder.clock = self.now
        self.failures: dict[str, list[tuple[int, dict]]] = {"ListAutoMLJobs": [], "DescribeAutoMLJobV2": []}
        self.after_page: Callable[[int], None] | None = None
        self.pages_served = 0
        self.hide_from_listing: set[str] = set()
        self.describe_delay = 0.0
        responder.on("ListAutoMLJobs", self._list)
        responder.on("DescribeAutoMLJobV2", self._describe)

    def now(self) -> float:
        return self.clock.time() + self.clock_offset

    def add(self, name: str, status: str = "InProgress", secondary: str = "TrainingModels") -> None:
        with self.lock:
            now = self.now()
            self.jobs[name] = {
                "status": status,
                "secondary": secondary,
                "created": now,
                "modified": now,
                "seq": len(self.jobs),
                "versions": [],
                "visible_at": now + self.listing_lag(),
            }

    def set(self, name: str, status: str, secondary: str | None = None) -> None:
        with self.lock:
            job = self.jobs[name]
            # The listing keeps showing the previous version until this one becomes visible to it.
            job["versions"].append({key: job[key] for key in ("status", "secondary", "modified", "visible_at")})
            now = self.now()
            job["status"], job["secondary"], job["modified"] = status, secondary or status, now
            job["visible_at"] = now + self.listing_lag()

    def _as_listed(self, job: dict[str, Any], now: float) -> dict[str, Any] | None:
        """The latest version of a job the listing shows by ``now`` (None: not listed yet)."""
        for version in [job, *reversed(job["versions"])]:
            if version["visible_at"] <= now:
                return {**job, **version}
        return None

    def all_listed(self) -> bool:
        """Whether the listing shows every job's latest version by now."""
        with self.lock:
            now = self.now()
            return all(job["visible_at"] <= now for job in self.jobs.values())

    def finish(self, *names: str, status: str = "Completed") -> None:
        for name in names:
            self.set(name, status)

    def calls(self, operation: str) -> int:
        return sum(1 for op in self.responder.operations() if op == operation)

    def _failure(self, operation: str) -> tuple[int, dict] | None:
        with self.lock:
            queue = self.failures[operation]
            return queue.pop(0) if queue else None

    def _list(self, body: dict) -> tuple[int, dict]:
        failure = self._failure("ListAutoMLJobs")
        if failure:
            return failure
        assert body.get("SortBy") == "CreationTime" and body.get("SortOrder") == "Ascending"
        after = body.get("LastModifiedTimeAfter")
        limit = body.get("MaxResults", 100)
        cursor = tuple(map(float, body["NextToken"].split(":"))) if body.get("NextToken") else None
        with self.lock:
            now = self.now()
            if cursor is None and after is not None:
                self.walks.append((now, float(after)))
            listed = {
                name: self._as_listed(job, now) for name, job in self.jobs.items() if name not in self.hide_from_listing
            }
            rows = sorted(
                (job["created"], job["seq"], name, job)
                for name, job in listed.items()
                if job is not None and (after is None or job["modified"] > after)
            )
        # Keyset pagination, as the local service does: the next page starts after the last row.
        if cursor is not None:
            rows = [row for row in rows if (row[0], row[1]) > cursor]
        page = rows[:limit]
        answer = {
            "AutoMLJobSummaries": [
                {
                    "AutoMLJobName": name,
                    "AutoMLJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:automl-job/{name}",
                    "AutoMLJobStatus": job["status"],
                    "AutoMLJobSecondaryStatus": job["secondary"],
                    "CreationTime": job["created"],
                    "LastModifiedTime": job["modified"],
                }
                for _, _, name, job in page
            ]
        }
        if len(rows) > limit:
            answer["NextToken"] = f"{page[-1][0]!r}:{page[-1][1]}"
        self.pages_served += 1
        self.rows_listed.append(len(page))
        if self.after_page:
            self.after_page(self.pages_served)
        return 200, answer

    def _describe(self, body: dict) -> tuple[int, dict]:
        failure = self._failure("DescribeAutoMLJobV2")
        if failure:
            return failure
        name = body["AutoMLJobName"]
        time.sleep(self.describe_delay)
        with self.lock:
            job = self.jobs.get(name)
            if job is None:
                return error("ResourceNotFound", f"Job {name} does not exist")
            status, secondary = job["status"], job["secondary"]
        reason = "Data error" if status == "Failed" else None
        return describe_answer(name, status, secondary, failure_reason=reason)


@pytest.fixture
def table():
    responder = SageMakerResponder()
    with (
        mock.patch.dict(os.environ, aws_connection_env(CONN_ID, responder.endpoint_url)),
        mock.patch.object(poller_module, "DEFAULT_SETTINGS", FAST),
    ):
        yield JobTable(responder)
    responder.close()


def trigger(name: str, poll_interval: float = INTERVAL, **kwargs: Any) -> AutoMLJobTrigger:
    return AutoMLJobTrigger(job_name=name, aws_conn_id=CONN_ID, poll_interval=poll_interval, **kwargs)


def fast_clock(table: JobTable, **overrides: Any) -> PollerSettings:
    """FAST settings (with ``overrides``) on a FastClock, which the table's responder keeps too."""
    clock = FastClock(SPEED)
    table.clock = clock
    return PollerSettings(**{**FAST.__dict__, **overrides, "clock": clock})


def run(scenario, timeout: float = 120.0):
    """asyncio.run with a bound: a lost event fails the test instead of hanging it."""
    return asyncio.run(asyncio.wait_for(scenario, timeout))


async def first_event(trig: AutoMLJobTrigger) -> dict:
    events = [event.payload async for event in trig.run()]
    assert len(events) == 1, f"{trig.job_name}: {len(events)} events"
    return events[0]


async def wait_until(condition: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


async def until_polled(table: JobTable, looks: int = 2) -> None:
    """Let the poller make ``looks`` more listings (so it has seen the current state)."""
    target = table.calls("ListAutoMLJobs") + looks
    await wait_until(lambda: table.calls("ListAutoMLJobs") >= target)


def watched() -> int:
    return sum(p.watched_jobs() for p in active_pollers())


def looked_at(name: str) -> bool:
    """The poller watches job ``name`` and has looked at it once."""
    watches = active_pollers()[0]._watches
    return name in watches and watches[name][0].looked


# -- tests -----------------------------------------------------------------------------------------


def test_many_triggers_share_one_poller_and_each_gets_its_own_event(table):
    names = [f"job-{i:03d}" for i in range(60)]
    for name in names:
        table.add(name)
    final = {name: ("Completed", "Failed", "Stopped")[i % 3] for i, name in enumerate(names)}

    async def scenario():
        tasks = {name: asyncio.create_task(first_event(trigger(name))) for name in names}
        await wait_until(lambda: watched() == len(names))
        assert len(active_pollers()) == 1
        await until_polled(table)
        # Jobs end in batches: several in the same look, some in consecutive ones. (No look is
        # awaited after the last batch: once it is delivered the poller closes and looks no more.)
        for batch_start in range(0, len(names), 15):
            if batch_start:
                await until_polled(table, 1)
            for name in names[batch_start : batch_start + 15]:
                table.finish(name, status=final[name])
        events = {name: await task for name, task in tasks.items()}
        await wait_until(lambda: not active_pollers())
        return events

    events = run(scenario())
    expected = {"Completed": "success", "Failed": "failed", "Stopped": "stopped"}
    assert {name: event["status"] for name, event in events.items()} == {n: expected[s] for n, s in final.items()}
    assert all(event["job_name"] == name for name, event in events.items())
    assert events["job-001"]["message"].endswith("Data error")
    # One describe per job to register it and one per ended job; no describe per job per look.
    assert table.calls("DescribeAutoMLJobV2") <= 2 * len(names)
    assert table.calls("ListAutoMLJobs") >= 5


def test_jobs_that_end_while_a_listing_is_paging_are_not_lost(table):
    names = [f"page-{i:02d}" for i in range(12)]
    for name in names:
        table.add(name, secondary="AnalyzingData")
    # No overlap: only the look's own bookkeeping can catch the job that ended behind the cursor.
    settings = PollerSettings(
        **{**FAST.__dict__, "list_page_size": 3, "overlap_seconds": 0.0, "listing_lag_seconds": 0.0}
    )
    changed_during_walk: list[str] = []

    def end_jobs_behind_and_ahead_of_the_cursor(pages_served: int) -> None:
        # Once everything is watched, in the middle of one walk: end a job on a page already read,
        # and one on a page still to come.
        if armed.is_set() and not changed_during_walk and pages_served % 4 == 2:
            table.finish("page-01", "page-10")
            changed_during_walk.extend(["page-01", "page-10"])

    armed = threading.Event()
    table.after_page = end_jobs_behind_and_ahead_of_the_cursor

    async def scenario():
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            tasks = {name: asyncio.create_task(first_event(trigger(name))) for name in names}
            await wait_until(lambda: watched() == len(names))
            # Every job changes once so listings hold all 12 (4 pages).
            for name in names:
                table.set(name, "InProgress", "TrainingModels")
            await until_polled(table)
            armed.set()
            await wait_until(lambda: len(changed_during_walk) == 2)
            done = {name: await tasks[name] for name in changed_during_walk}
            table.finish(*[name for name in names if name not in changed_during_walk])
            rest = {name: await task for name, task in tasks.items() if name not in done}
            return done | rest

    events = run(scenario())
    assert sorted(events) == sorted(names)
    assert all(event["status"] == "success" for event in events.values())


def test_a_cancelled_trigger_leaves_the_poller_and_the_last_one_closes_it(table):
    for name in ("keep-1", "keep-2", "cancel-me"):
        table.add(name)

    async def scenario():
        keep = [asyncio.create_task(first_event(trigger(name))) for name in ("keep-1", "keep-2")]
        cancelled = asyncio.create_task(first_event(trigger("cancel-me")))
        await wait_until(lambda: watched() == 3)
        poller = active_pollers()[0]
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert watched() == 2
        table.finish("keep-1", "keep-2", "cancel-me")
        events = [await task for task in keep]
        await wait_until(lambda: not active_pollers())
        await wait_until(lambda: all(task.done() for task in poller._tasks))
        return events, poller

    events, poller = run(scenario())
    assert [event["status"] for event in events] == ["success", "success"]
    assert poller.closed and poller.watched_jobs() == 0


def test_a_failing_listing_is_retried_and_the_job_that_ended_meanwhile_still_fires_once(table, caplog):
    table.add("outage-1")
    table.add("outage-2")

    async def scenario():
        tasks = [asyncio.create_task(first_event(trigger(name))) for name in ("outage-1", "outage-2")]
        await wait_until(lambda: watched() == 2)
        await until_polled(table)
        # The service fails every listing for a while (more than the per-call retries); a job ends meanwhile.
        table.failures["ListAutoMLJobs"] = [error("InternalFailure", "boom", status=500)] * 8
        await wait_until(lambda: len(table.failures["ListAutoMLJobs"]) < 6)
        table.finish("outage-1")
        await wait_until(lambda: not table.failures["ListAutoMLJobs"])
        first = await tasks[0]
        table.finish("outage-2", status="Failed")
        return first, await tasks[1]

    with caplog.at_level(logging.INFO, logger="airflow_automl.triggers.poller"):
        first, second = run(scenario())
    assert first["status"] == "success" and second["status"] == "failed"
    assert "backs off" in caplog.text


def test_an_update_waiting_when_the_deadline_has_passed_is_delivered_not_spun_on():
    # A progress update that lands just as the deadline passes: the watcher hands it over, then
    # reports the deadline, instead of waiting on it with no time left (which never gets it).
    watch = JobWatch(SimpleNamespace(settings=FAST), "late-update", api_version=2, poll_interval=INTERVAL)
    watch.looked = True
    progress = JobProgress("late-update", "InProgress", "TrainingModels")
    watch.put(progress)

    async def updates_after_the_deadline():
        deadline = time.time() - 1.0
        return [await asyncio.wait_for(watch.next_update(deadline), 10.0) for _ in range(2)]

    assert asyncio.run(updates_after_the_deadline()) == [progress, None]


def test_sagemaker_down_past_the_deadline_gives_a_timeout_not_a_failure(table):
    table.add("stuck")
    # Both calls down: with describes working, one could clear the listing's error just before the
    # deadline (the message reports the latest attempt), and the test would depend on timing.
    down = error("ServiceUnavailable", "down", status=503)
    table.failures["ListAutoMLJobs"] = [down] * 10_000
    table.failures["DescribeAutoMLJobV2"] = [down] * 10_000

    event = run(first_event(trigger("stuck", deadline=time.time() + 0.5)))
    assert event["status"] == "timeout"
    assert "still running at the deadline" in event["message"]
    assert "could not be reached" in event["message"] and "ServiceUnavailable" in event["message"]


def test_throttling_slows_the_poller_without_failing_any_wait(table, caplog):
    names = [f"throttled-{i}" for i in range(8)]
    for name in names:
        table.add(name)
    throttled = error("ThrottlingException", "Rate exceeded")
    table.failures["DescribeAutoMLJobV2"] = [throttled] * 6
    table.failures["ListAutoMLJobs"] = [throttled] * 6

    async def scenario():
        tasks = [asyncio.create_task(first_event(trigger(name))) for name in names]
        await wait_until(lambda: watched() == len(names))
        table.finish(*names[:4])
        await wait_until(lambda: not table.failures["ListAutoMLJobs"])
        table.failures["ListAutoMLJobs"] = [throttled] * 3
        table.failures["DescribeAutoMLJobV2"] = [throttled] * 3
        table.finish(*names[4:])
        return [await task for task in tasks]

    with caplog.at_level(logging.INFO, logger="airflow_automl.triggers.poller"):
        events = run(scenario())
    assert [event["status"] for event in events] == ["success"] * len(names)
    assert "backs off" in caplog.text


def test_a_job_that_ended_before_registration_is_found_even_if_its_first_describe_is_throttled(table):
    table.add("ended-early")
    table.finish("ended-early")
    # Ended long before the poller's window: only a describe can find it, and the first ones fail.
    table.jobs["ended-early"]["modified"] -= 10 * FAST.overlap_seconds
    table.failures["DescribeAutoMLJobV2"] = [error("ThrottlingException", "Rate exceeded")] * 5

    event = run(first_event(trigger("ended-early")))
    assert event["status"] == "success"
    assert table.calls("DescribeAutoMLJobV2") == 6


def test_a_restarted_triggerer_delivers_jobs_that_ended_while_it_was_down(table):
    names = [f"restart-{i}" for i in range(10)]
    for name in names:
        table.add(name)
    serialized = [trigger(name, deadline=time.time() + 600).serialize() for name in names]

    async def first_run():
        tasks = [asyncio.create_task(first_event(trigger(name))) for name in names]
        await wait_until(lambda: watched() == len(names))
        await until_polled(table)
        table.finish(names[0])
        first = await tasks[0]
        for task in tasks[1:]:  # the triggerer goes down
            task.cancel()
        await asyncio.gather(*tasks[1:], return_exceptions=True)
        return first

    assert run(first_run())["status"] == "success"
    # While it is down, half the jobs end; long enough ago that only describing them finds them.
    table.finish(*names[1:5], status="Stopped")
    table.clock_offset = -(FAST.overlap_seconds + 5)
    table.finish(names[5])  # stamped before the new poller's first look minus the overlap
    table.clock_offset = 0.0
    time.sleep(0.05)

    async def second_run():
        rebuilt = [AutoMLJobTrigger(**kwargs) for _, kwargs in serialized[1:]]
        tasks = {t.job_name: asyncio.create_task(first_event(t)) for t in rebuilt}
        await wait_until(lambda: sum(task.done() for task in tasks.values()) >= 5)
        table.finish(*names[6:])
        return {name: await task for name, task in tasks.items()}

    events = run(second_run())
    assert sorted(events) == names[1:]
    assert [events[name]["status"] for name in names[1:5]] == ["stopped"] * 4
    assert [events[name]["status"] for name in names[5:]] == ["success"] * 5


def test_the_sweep_finds_a_job_the_listing_never_shows(table):
    table.add("invisible")
    table.hide_from_listing.add("invisible")
    settings = PollerSettings(**{**FAST.__dict__, "sweep_period_seconds": 0.2, "sweep_calls_per_second": 50.0})

    async def scenario():
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            task = asyncio.create_task(first_event(trigger("invisible")))
            await wait_until(lambda: watched() == 1)
            await until_polled(table)
            table.finish("invisible")
            return await task

    assert run(scenario())["status"] == "success"


def test_the_sweep_keeps_to_its_call_budget(table):
    names = [f"budget-{i:02d}" for i in range(40)]
    for name in names:
        table.add(name)
    settings = PollerSettings(**{**FAST.__dict__, "sweep_period_seconds": 0.0, "sweep_calls_per_second": 20.0})

    async def scenario():
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            tasks = [asyncio.create_task(first_event(trigger(name))) for name in names]
            await wait_until(lambda: watched() == len(names))
            poller = active_pollers()[0]
            # Past the first describe of each new registration: from here on, only the sweep describes.
            await wait_until(lambda: all(w.looked for ws in poller._watches.values() for w in ws))
            await until_polled(table)
            clock = poller.settings.clock
            before, started = poller.describe_calls, clock.monotonic()
            await until_polled(table, 10)
            swept, elapsed = poller.describe_calls - before, clock.monotonic() - started
            table.finish(*names)
            await asyncio.gather(*tasks)
            return swept, elapsed

    swept, elapsed = run(scenario())
    # 40 due jobs, 20 calls a second allowed (one interval's worth of slack).
    assert 1 <= swept <= 20 * elapsed + 2


def test_when_listing_is_refused_each_job_is_described_every_interval(table, caplog):
    table.add("no-list-permission")
    table.failures["ListAutoMLJobs"] = [error("AccessDeniedException", "not authorized to ListAutoMLJobs")]

    async def scenario():
        task = asyncio.create_task(first_event(trigger("no-list-permission")))
        await wait_until(lambda: table.calls("DescribeAutoMLJobV2") >= 4)
        table.finish("no-list-permission")
        return await task

    with caplog.at_level(logging.WARNING, logger="airflow_automl.triggers.poller"):
        event = run(scenario())
    assert event["status"] == "success"
    assert table.calls("ListAutoMLJobs") == 1
    assert "ListAutoMLJobs refused" in caplog.text


def test_clock_skew_within_the_overlap_loses_nothing(table):
    table.add("skewed")
    table.clock_offset = -(FAST.overlap_seconds / 2)  # SageMaker's clock runs behind ours

    async def scenario():
        task = asyncio.create_task(first_event(trigger("skewed")))
        await wait_until(lambda: watched() == 1)
        await until_polled(table)
        table.finish("skewed")
        return await task

    assert run(scenario())["status"] == "success"
    # Found by the listing, not by a sweep: one describe to register, one for the end.
    assert table.calls("DescribeAutoMLJobV2") == 2


def listed_since(table: JobTable) -> float:
    """The LastModifiedTimeAfter of the poller's latest listing (epoch seconds; none yet: -inf)."""
    return table.walks[-1][1] if table.walks else float("-inf")


def assert_bounds_follow_sagemakers_clock(table: JobTable, allowance: float) -> None:
    """Each listing starts where the one before it ran on SageMaker's clock, less the allowance, and
    at most Date's whole second and that listing's round trip earlier still. The round trip lies
    between the listings either side of it. (For listings of one page each try, none failing.)"""
    walks = table.walks
    assert len(walks) >= 3
    for index in range(2, len(walks)):
        (ran_before, _), (ran_previous, _), (ran, bound) = walks[index - 2 : index + 1]
        trailing = ran_previous - bound
        assert allowance <= trailing <= allowance + 1.0 + (ran - ran_before), (ran_previous, bound)


@pytest.mark.parametrize("skew", [-30.0, 30.0], ids=["sagemaker-30s-behind", "sagemaker-30s-ahead"])
def test_no_end_is_missed_under_30s_of_clock_skew_with_a_listing_up_to_5s_late(table, skew):
    # Only the listing can find an end here: no sweep, and every job is described at registration
    # before it ends. The allowance is the shipped default; the skew is far beyond the overlap
    # that covers the first listing.
    settings = fast_clock(table, overlap_seconds=60.0, listing_lag_seconds=DEFAULT_SETTINGS.listing_lag_seconds)
    rng = random.Random(skew)
    table.clock_offset = skew
    # Each change shows in the listing up to 5 s after Describe shows it; one in three exactly 5 s.
    table.listing_lag = lambda: rng.choice([5.0, rng.uniform(0.0, 5.0), rng.uniform(0.0, 5.0)])
    names = [f"skew-{i:02d}" for i in range(24)]
    for name in names:
        table.add(name, secondary="AnalyzingData")
    ending = {name: ("Completed", "Failed", "Stopped")[i % 3] for i, name in enumerate(names[:12])}
    progressing, idle = names[12:18], names[18:]

    async def scenario():
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            tasks = {
                name: asyncio.create_task(first_event(trigger(name, poll_interval=FAST_CLOCK_INTERVAL)))
                for name in names
            }
            await wait_until(lambda: watched() == len(names))
            poller = active_pollers()[0]
            await wait_until(lambda: all(w.looked for ws in poller._watches.values() for w in ws))
            await until_polled(table)
            # Ends and progress at random moments over 3 s, interleaved with the looks.
            for name in rng.sample(list(ending) + progressing, len(ending) + len(progressing)):
                if name in ending:
                    table.finish(name, status=ending[name])
                else:
                    table.set(name, "InProgress", "TrainingModels")
                await settings.clock.sleep(rng.uniform(0.0, 0.25))
            events = {name: await tasks[name] for name in ending}
            # Once the listing shows every change, a few looks see it.
            await wait_until(table.all_listed)
            await until_polled(table, 3)
            not_ended_fired = [name for name in progressing + idle if tasks[name].done()]
            for name in progressing + idle:
                tasks[name].cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            return events, not_ended_fired

    events, not_ended_fired = run(scenario())
    expected = {"Completed": "success", "Failed": "failed", "Stopped": "stopped"}
    assert {name: event["status"] for name, event in events.items()} == {n: expected[s] for n, s in ending.items()}
    assert not_ended_fired == []
    # One describe to register each job and one per end: no spurious or repeated look at a job.
    assert table.calls("DescribeAutoMLJobV2") == len(names) + len(ending)
    # The listing's lower bound follows SageMaker's clock, the allowance (and Date's whole second) behind.
    assert_bounds_follow_sagemakers_clock(table, settings.listing_lag_seconds)


def test_an_allowance_shorter_than_the_listing_lag_would_miss_the_end(table):
    # The fake's lag is real: with an allowance below it, the listing's bound passes the change
    # before the listing shows it, and only the deadline ends the wait. (Allowance 0.5 s, lag 6 s:
    # any look from 2 s after the change until it shows sets the bound past it.)
    settings = fast_clock(table)
    table.listing_lag = lambda: 6.0
    # The deadline has to leave time for listings after the end shows, but the steps before the end
    # take real time, more on a loaded machine: a try whose deadline came too soon to show that is
    # made again with a job of its own and twice the time.
    allowances = (30.0, 60.0, 120.0, 240.0)
    names = [f"late-listed-{number}" for number in range(len(allowances))]
    for name in ("warm-up", *names):
        table.add(name)

    def listed_in_time(name: str, deadline: float) -> bool:
        """A listing ran after the end of job ``name`` showed in listings, and before ``deadline``."""
        return any(table.jobs[name]["visible_at"] < ran < deadline for ran, _ in table.walks)

    async def scenario():
        tries = []
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            # A first trigger brings the poller up (client, credentials: seconds on a loaded machine),
            # so the deadlines below count from a running poller, not from its start.
            warming = asyncio.create_task(first_event(trigger("warm-up", poll_interval=FAST_CLOCK_INTERVAL)))
            await wait_until(lambda: watched() == 1 and active_pollers()[0]._watches["warm-up"][0].looked)
            for name, allowance in zip(names, allowances, strict=True):
                deadline = settings.clock.time() + allowance
                task = asyncio.create_task(
                    first_event(trigger(name, poll_interval=FAST_CLOCK_INTERVAL, deadline=deadline))
                )
                await wait_until(partial(looked_at, name))
                await until_polled(table)
                table.finish(name)
                tries.append((name, await task, deadline))
                if listed_in_time(name, deadline):
                    break
            warming.cancel()
        return tries

    tries = run(scenario())
    # Every try ended at its deadline, none by the listing.
    assert [event["status"] for _, event, _ in tries] == ["timeout"] * len(tries)
    # Not for want of time: in the last try, listings ran after the end showed in them, before the deadline.
    name, _, deadline = tries[-1]
    assert listed_in_time(name, deadline), tries


def test_a_burst_of_new_jobs_stops_being_listed_once_past_the_allowance(table):
    # 300 jobs created at once, on a SageMaker clock 30 s ahead of ours: the listing pages
    # through them only until its bound, on SageMaker's clock, passes the burst.
    settings = fast_clock(table)
    table.clock_offset = 30.0
    names = [f"burst-{i:03d}" for i in range(300)]
    for name in names:
        table.add(name)
    burst_time = max(job["modified"] for job in table.jobs.values())

    async def scenario():
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            tasks = [
                asyncio.create_task(first_event(trigger(name, poll_interval=FAST_CLOCK_INTERVAL))) for name in names[:3]
            ]
            await wait_until(lambda: watched() == 3)
            await until_polled(table)
            burst_pages = list(table.rows_listed)
            # The allowance, plus the whole second a Date header may hide, after the burst.
            await wait_until(lambda: listed_since(table) > burst_time)
            before = len(table.rows_listed)
            await until_polled(table, 5)
            quiet_pages = table.rows_listed[before:]
            table.finish(*names[:3])
            events = [await task for task in tasks]
            return burst_pages, quiet_pages, events

    burst_pages, quiet_pages, events = run(scenario())
    assert max(burst_pages) == FAST.list_page_size  # the burst was listed, in full pages
    assert len(quiet_pages) >= 5 and sum(quiet_pages) == 0  # then each look is one empty page
    # The bound passed the burst as soon as SageMaker's clock was the allowance past it.
    assert_bounds_follow_sagemakers_clock(table, FAST.listing_lag_seconds)
    assert [event["status"] for event in events] == ["success"] * 3


def test_an_ended_job_is_described_ahead_of_a_backlog_of_registrations(table):
    # 120 triggers arrive at once and each job gets a first describe, one at a time, slowly; a
    # job registered last ends meanwhile: the listing shows it, and its describe jumps the queue.
    settings = PollerSettings(**{**FAST.__dict__, "describe_concurrency": 1})
    names = [f"backlog-{i:03d}" for i in range(120)]
    for name in names:
        table.add(name)
    table.describe_delay = 0.02

    async def scenario():
        with mock.patch.object(poller_module, "DEFAULT_SETTINGS", settings):
            tasks = {name: asyncio.create_task(first_event(trigger(name))) for name in names}
            await wait_until(lambda: watched() == len(names) and table.calls("DescribeAutoMLJobV2") >= 5)
            table.finish(names[-1])
            event = await tasks[names[-1]]
            described = table.calls("DescribeAutoMLJobV2")
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            return event, described

    event, described = run(scenario())
    assert event["status"] == "success"
    assert described < len(names) / 2  # most registrations were still waiting for their first describe


def test_two_triggers_on_one_job_each_fire_once_and_a_missing_job_errors(table):
    table.add("shared-job")

    async def scenario():
        twins = [asyncio.create_task(first_event(trigger("shared-job"))) for _ in range(2)]
        missing = asyncio.create_task(first_event(trigger("no-such-job")))
        await wait_until(lambda: missing.done())
        await wait_until(lambda: watched() == 1)
        table.finish("shared-job")
        return [await task for task in twins], await missing

    twins, missing = run(scenario())
    assert [event["status"] for event in twins] == ["success", "success"]
    assert missing["status"] == "error" and "does not exist" in missing["message"]


def test_progress_from_the_listing_is_logged_without_extra_describes(table, capfd):
    table.add("chatty", secondary="AnalyzingData")

    async def scenario():
        task = asyncio.create_task(first_event(trigger("chatty")))
        await wait_until(lambda: watched() == 1)
        await until_polled(table)
        for secondary in ("FeatureEngineering", "ModelTuning"):
            table.set("chatty", "InProgress", secondary)
            await until_polled(table)
        table.finish("chatty")
        return await task

    assert run(scenario())["status"] == "success"
    # The trigger logs through Airflow's structured logger, which writes to the console.
    logged = "".join(capfd.readouterr())
    for secondary in ("AnalyzingData", "FeatureEngineering", "ModelTuning"):
        assert f"AutoML job chatty: InProgress / {secondary}" in logged
    assert table.calls("DescribeAutoMLJobV2") == 2


def test_pollers_are_shared_per_connection_and_region_only(table):
    for name in ("a", "b", "c", "d"):
        table.add(name)
    other_conn = aws_connection_env("automl_poller_other", table.responder.endpoint_url)

    async def scenario():
        with mock.patch.dict(os.environ, other_conn):
            triggers = [
                trigger("a"),
                trigger("b"),  # same connection and region as "a": same poller
                AutoMLJobTrigger(job_name="c", aws_conn_id="automl_poller_other", poll_interval=INTERVAL),
                trigger("d", region_name="eu-west-1"),
            ]
            tasks = [asyncio.create_task(first_event(t)) for t in triggers]
            await wait_until(lambda: watched() == 4)
            keys = sorted((p.key.aws_conn_id, p.key.region_name, p.watched_jobs()) for p in active_pollers())
            table.finish("a", "b", "c", "d")
            await asyncio.gather(*tasks)
            return keys

    assert run(scenario()) == [
        ("automl_poller", "eu-west-1", 1),
        ("automl_poller", "us-east-1", 2),
        ("automl_poller_other", "us-east-1", 1),
    ]
