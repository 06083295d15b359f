"""One shared poller per connection, region and endpoint: many waiting AutoML jobs for the cost of a listing.

A trigger that describes its own job every interval costs one API call per job per interval, which
with thousands of waiting jobs exceeds SageMaker's rate limits. Here every trigger of one event loop
that uses the same connection, region and endpoint registers its job with one ``SharedJobPoller``,
which keeps one aiobotocore client and one background task:

- each interval it asks ListAutoMLJobs for the jobs modified since its previous look, all pages,
  sorted by creation time (a key that never changes, so no job slips between pages while the walk
  is in progress). "Since its previous look" is on SageMaker's clock, never this machine's: the
  previous walk's first page tells when SageMaker ran it at the earliest (the largest
  LastModifiedTime it shows, and the response's Date less the call's round trip), less an allowance
  for the listing's lag behind changes. Clock skew therefore costs nothing, and a burst of changes
  (thousands of jobs created at once) stops being listed again once the allowance has passed;
- it describes a job only when the listing shows it in a terminal status, so the event carries the
  full description; progress (status, secondary status) comes from the listing for free;
- every newly registered job is described once, because it may have ended before the poller's
  first look (a job that finished while the triggerer was down, say);
- a slow sweep describes each watched job now and then, spread out and on a fixed call budget,
  so a job missing from a listing for any reason is still found;
- when ListAutoMLJobs is refused (an IAM policy without ``sagemaker:ListAutoMLJobs``), the poller
  falls back to describing each watched job every interval, and logs why.

Each registration (``JobWatch``) receives progress updates and exactly one outcome: the terminal
description, or the error that makes waiting pointless (the job does not exist). Throttling and
other transient failures slow the poller down (exponential backoff with jitter) and never end a
wait; only the trigger's own deadline does. The poller and its client go away when the last
registration leaves.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import json
import logging
import random
import time
import weakref
from collections import deque
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from botocore.exceptions import BotoCoreError

from airflow_automl.hooks.automl import (
    JOB_REFUSED_CODES,
    AutoMLApiError,
    AutoMLHook,
    RetryPolicy,
    async_call_with_retries,
    is_retryable,
)
from airflow_automl.sagemaker.api_versions import API_VERSIONS
from airflow_automl.sagemaker.job_status import TERMINAL_STATUSES
from airflow_automl.utils.job_view import AutoMLJobView, progress_line

log = logging.getLogger(__name__)

T = TypeVar("T")


class PollerClock:
    """The time a poller reads and waits by: this machine's (SageMaker's comes from its answers).

    ``time()`` is Unix time (the first listing's bound, trigger deadlines); ``monotonic()`` paces
    the looks, the sweep and round trips; ``sleep()`` and ``wait_for()`` wait on it. Another clock
    (one that runs faster than real time, say) changes when things happen, never what happens.
    """

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def wait_for(self, awaitable: Awaitable[T], seconds: float) -> T:
        """``awaitable``'s result, or TimeoutError after ``seconds``."""
        return await asyncio.wait_for(awaitable, seconds)


REAL_TIME = PollerClock()


@dataclass(frozen=True)
class PollerSettings:
    """How a shared poller paces itself. The defaults suit real SageMaker."""

    # The first listing, before SageMaker's clock is known, covers this much before the poller
    # started on the local clock: it absorbs clock skew up to this much, less the listing lag.
    overlap_seconds: float = 60.0
    # Later listings start this long before the previous one began (on SageMaker's clock): how late
    # a change may show in ListAutoMLJobs after DescribeAutoMLJob shows it (5 s, with a second to
    # spare). Each look re-lists the jobs modified within it, so it is also the price of safety:
    # kept under the interval, a burst of arrivals is listed by one look and at most one more.
    listing_lag_seconds: float = 6.0
    # The sweep describes each watched job at most this often...
    sweep_period_seconds: float = 300.0
    # ...and never more than this many sweep calls a second: with many jobs the period stretches
    # (2,000 jobs: one sweep describe each about 67 minutes).
    sweep_calls_per_second: float = 0.5
    # Describe calls in flight at once (new registrations, terminal jobs, the sweep).
    describe_concurrency: int = 8
    list_page_size: int = 100
    # Backoff after a failed look: between half and all of min(max, interval * 2**failures).
    max_backoff_seconds: float = 300.0
    # After ListAutoMLJobs is refused, describe every job each interval and ask again this much later.
    list_retry_after_refusal_seconds: float = 900.0
    # Each call's own retries (throttling, 5xx) before the look counts as failed.
    retry_policy: RetryPolicy = RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=5.0)
    # What the intervals and allowances above, and trigger deadlines, are measured by.
    clock: PollerClock = REAL_TIME


DEFAULT_SETTINGS = PollerSettings()


@dataclass(frozen=True)
class JobProgress:
    """A watched job's status changed without ending."""

    job_name: str
    status: str
    secondary_status: str | None

    def describe_progress(self) -> str:
        return progress_line(self.job_name, self.status, self.secondary_status)


@dataclass(frozen=True)
class PollerKey:
    """What makes two triggers share a client: same credentials (connection), region and endpoint."""

    aws_conn_id: str | None
    region_name: str | None
    endpoint_url: str | None
    verify: bool | str | None
    botocore_config: str  # canonical JSON, so the key is hashable


class JobWatch:
    """One trigger's registration: progress updates, then exactly one outcome.

    ``next_update`` returns a ``JobProgress``, the terminal ``AutoMLJobView``, or ``None`` once the
    deadline has passed (but never before the job has been looked at once); it raises the
    ``AutoMLApiError`` that makes waiting pointless. ``close()`` leaves the poller; call it when done
    or cancelled.
    """

    __slots__ = (
        "job_name",
        "key",
        "api_version",
        "poll_interval",
        "looked",
        "last_progress",
        "_poller",
        "_updates",
        "_closed",
    )

    def __init__(self, poller: SharedJobPoller, job_name: str, api_version: int, poll_interval: float) -> None:
        self.job_name = job_name
        self.key = job_name.lower()  # SageMaker job names are unique regardless of case
        self.api_version = api_version
        self.poll_interval = poll_interval
        self.looked = False
        self.last_progress: tuple[str, str | None] | None = None
        self._poller = poller
        self._updates: asyncio.Queue[JobProgress | AutoMLJobView | BaseException] = asyncio.Queue()
        self._closed = False

    async def next_update(self, deadline: float | None = None) -> JobProgress | AutoMLJobView | None:
        clock = self._poller.settings.clock
        while True:
            if deadline is None:
                return self._unwrap(await self._updates.get())
            if not self._updates.empty():
                # Handed over as it is: waiting for it with no time left would cancel the wait
                # before it could take the update, again and again.
                return self._unwrap(self._updates.get_nowait())
            remaining = deadline - clock.time()
            if remaining <= 0 and self.looked:
                return None
            # Until the first look, a passed deadline still waits for it, one interval at a time.
            timeout = max(remaining, 0.0) if self.looked else max(remaining, self.poll_interval)
            try:
                return self._unwrap(await clock.wait_for(self._updates.get(), timeout))
            except TimeoutError:
                continue

    @staticmethod
    def _unwrap(item: JobProgress | AutoMLJobView | BaseException) -> JobProgress | AutoMLJobView:
        if isinstance(item, BaseException):
            raise item
        return item

    @property
    def last_error(self) -> BaseException | None:
        """The poller's latest failure to reach SageMaker, if its last attempt failed (for timeout messages)."""
        return self._poller.last_error

    def put(self, item: JobProgress | AutoMLJobView | BaseException) -> None:
        self._updates.put_nowait(item)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._poller.unwatch(self)


class SharedJobPoller:
    """Watches many jobs through one client and one listing per interval (see the module docstring)."""

    def __init__(self, key: PollerKey, hook: AutoMLHook, settings: PollerSettings = DEFAULT_SETTINGS) -> None:
        self.key = key
        self.settings = settings
        self._clock = settings.clock
        self._hook = hook
        self._watches: dict[str, list[JobWatch]] = {}
        # Jobs to describe (by lowercase name), each queued at most once.
        self._describe_queue: deque[str] = deque()
        self._queued: set[str] = set()
        # Jobs being described right now, and those asked for again meanwhile (described once more after).
        self._in_flight: set[str] = set()
        self._again: set[str] = set()
        # Jobs whose describe failed (throttled, 5xx): the next look asks again, since neither the
        # listing (its window moves on) nor the sweep (too slow) is sure to bring them back soon.
        self._retry: set[str] = set()
        # The sweep: a heap of (due, job) and each job's current due time (monotonic); heap entries
        # whose time no longer matches are stale and dropped when they surface.
        self._sweep_heap: list[tuple[float, str]] = []
        self._next_sweep: dict[str, float] = {}
        self._sweep_allowance = 0.0
        self._last_look = 0.0
        self._describe_ready = asyncio.Event()
        self._client: Any = None
        self._client_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._failures = 0  # consecutive failed looks, for the backoff
        self._describe_failures = 0  # describes failed (throttled, 5xx) since the last one that answered
        self._list_refused_until = 0.0
        # Only changes after this instant (SageMaker's clock) may still be unseen. Until the first
        # listing shows SageMaker's clock, the local one less the overlap stands in for it.
        self._listed_since = self._clock.time() - settings.overlap_seconds
        self.last_error: BaseException | None = None
        # Figures for benchmarks and logs.
        self.list_calls = 0
        self.describe_calls = 0
        # Of the describes queued, those the sweep asked for, and those asked again because a change
        # arrived while a describe of the job was in flight (both depend on timing, not on the jobs).
        self.sweep_describes = 0
        self.repeated_describes = 0

    # -- registrations ---------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed

    def watch(self, job_name: str, api_version: int, poll_interval: float) -> JobWatch:
        if self._closed:
            raise RuntimeError(f"poller for {self.key} is closed; register with watch_job()")
        watch = JobWatch(self, job_name, api_version, poll_interval)
        self._watches.setdefault(watch.key, []).append(watch)
        if watch.key not in self._next_sweep:
            # The describe just below is its first look. Its first sweep falls anywhere in the next
            # period, so jobs registered together (a triggerer restart) are swept spread out.
            due = self._clock.monotonic() + random.uniform(0, self.settings.sweep_period_seconds)
            self._next_sweep[watch.key] = due
            heapq.heappush(self._sweep_heap, (due, watch.key))
        # It may have ended before our first look: describe it once, soon.
        self._enqueue(watch.key)
        if not self._tasks:
            self._start()
        return watch

    def unwatch(self, watch: JobWatch) -> None:
        watches = self._watches.get(watch.key)
        if watches and watch in watches:
            watches.remove(watch)
            if not watches:
                del self._watches[watch.key]
        if not self._watches:
            self.close()

    def watched_jobs(self) -> int:
        return len(self._watches)

    def close(self) -> None:
        """Leave the registry and stop; the client is closed by the task that opened it."""
        if self._closed:
            return
        self._closed = True
        _forget(self)
        for task in self._tasks:
            task.cancel()

    # -- tasks -----------------------------------------------------------------------------------

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        # A fresh context: the poller serves every trigger, so it must not log into the task log
        # of whichever trigger happened to start it.
        coroutines = [self._run_looks()] + [self._run_describer() for _ in range(self.settings.describe_concurrency)]
        for coroutine in coroutines:
            task = loop.create_task(coroutine, context=contextvars.Context())
            task.add_done_callback(self._on_task_done)
            self._tasks.append(task)

    def _on_task_done(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or self._closed:
            return
        error = task.exception()
        if error is None:
            return
        # A bug, or a client that cannot be built: waiting would hang, so every watcher gets it.
        log.error("AutoML job poller for %s stopped: %r", self.key, error)
        self.close()
        for watches in list(self._watches.values()):
            for watch in watches:
                watch.put(error)
        self._watches.clear()

    async def _run_looks(self) -> None:
        async with await self._hook.get_async_conn() as client:
            self._client = client
            self._client_ready.set()
            while True:
                started = self._clock.monotonic()
                ok = await self._look()
                if ok and not self._describe_failures:
                    self._failures = 0
                    delay = self._interval() - (self._clock.monotonic() - started)
                else:
                    self._failures += 1
                    delay = self._backoff()
                    log.info(
                        "AutoML job poller for %s backs off %.1f s after %d troubled looks",
                        self.key.endpoint_url or self.key.region_name,
                        delay,
                        self._failures,
                    )
                await self._clock.sleep(max(0.0, delay))

    def _interval(self) -> float:
        return min((w.poll_interval for ws in self._watches.values() for w in ws), default=30.0)

    def _backoff(self) -> float:
        interval = self._interval()
        ceiling = min(self.settings.max_backoff_seconds, interval * 2**self._failures)
        return max(interval, random.uniform(ceiling / 2, ceiling))

    # -- one look --------------------------------------------------------------------------------

    async def _look(self) -> bool:
        """List what changed, queue describes for what ended and for the sweep. False when the look failed."""
        now = self._clock.monotonic()
        ok = True
        retry, self._retry = self._retry, set()
        for key in retry:
            self._enqueue(key)
        if now >= self._list_refused_until:
            ok = await self._list_changes()
        if now < self._list_refused_until:
            # No listing to rely on: every watched job gets a describe each interval.
            for key in list(self._watches):
                self._enqueue(key)
            return ok
        self._sweep(now)
        return ok

    def _sweep(self, now: float) -> None:
        """Queue the most overdue jobs, as many as the sweep's call budget allows since the last look."""
        rate = self.settings.sweep_calls_per_second
        elapsed = now - self._last_look if self._last_look else 0.0
        self._last_look = now
        # Unused allowance does not pile up into a burst: at most one interval's worth, and one call.
        self._sweep_allowance = min(self._sweep_allowance + rate * elapsed, max(1.0, rate * self._interval()))
        heap = self._sweep_heap
        while heap and self._sweep_allowance >= 1.0:
            due, key = heap[0]
            if key not in self._watches or self._next_sweep.get(key) != due:
                heapq.heappop(heap)
                if key not in self._watches and self._next_sweep.get(key) == due:
                    del self._next_sweep[key]
                continue
            if due > now:
                break
            next_due = now + self.settings.sweep_period_seconds
            heapq.heapreplace(heap, (next_due, key))
            self._next_sweep[key] = next_due
            self._sweep_allowance -= 1.0
            self.sweep_describes += 1
            self._enqueue(key)

    async def _list_changes(self) -> bool:
        params: dict[str, Any] = {
            "LastModifiedTimeAfter": datetime.fromtimestamp(self._listed_since, tz=UTC),
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
            "PaginationConfig": {"PageSize": self.settings.list_page_size},
        }
        walk_started_at: float | None = None  # SageMaker's clock, at the earliest, when it ran the first page

        async def listing() -> list[dict[str, Any]]:
            # A walk that fails part-way is retried whole, like the hook's listings.
            nonlocal walk_started_at
            walk_started_at = None
            attempt_started = self._clock.monotonic()
            summaries: list[dict[str, Any]] = []
            first_page = True
            async for page in self._client.get_paginator("list_auto_ml_jobs").paginate(**params):
                self.list_calls += 1
                if first_page:  # later pages ran later: only the first one bounds the whole walk
                    round_trip = self._clock.monotonic() - attempt_started
                    walk_started_at = sagemaker_time_at_request(page, round_trip=round_trip)
                    first_page = False
                summaries.extend(page.get("AutoMLJobSummaries", []))
            return summaries

        try:
            summaries = await async_call_with_retries("list_auto_ml_jobs", listing, self.settings.retry_policy, log)
        except (AutoMLApiError, BotoCoreError) as error:
            self.last_error = error
            if isinstance(error, AutoMLApiError) and not _transient(error):
                self._list_refused_until = self._clock.monotonic() + self.settings.list_retry_after_refusal_seconds
                log.warning(
                    "ListAutoMLJobs refused (%s); describing each of %d watched AutoML jobs every interval "
                    "instead, and asking again in %.0f s",
                    error,
                    len(self._watches),
                    self.settings.list_retry_after_refusal_seconds,
                )
                return True
            log.warning("Listing AutoML jobs failed, the next look covers the gap: %s", error)
            return False
        # Everything modified before the walk's first page ran, less the listing's lag, has now
        # been seen: the next walk starts there. Without a reading of SageMaker's clock (no Date
        # header, an empty first page) the bound stays where it is, which is safe.
        if walk_started_at is not None:
            self._listed_since = max(self._listed_since, walk_started_at - self.settings.listing_lag_seconds)
        self.last_error = None
        for summary in summaries:
            key = summary["AutoMLJobName"].lower()
            if key not in self._watches:
                continue
            status = summary["AutoMLJobStatus"]
            if status in TERMINAL_STATUSES:
                self._enqueue(key, first=True)
            else:
                self._progress(key, summary["AutoMLJobName"], status, summary.get("AutoMLJobSecondaryStatus"))
        return True

    async def _describe_call(self, operation: str, name: str) -> dict[str, Any]:
        method = getattr(self._client, operation)
        self.describe_calls += 1
        return await async_call_with_retries(
            operation, lambda: method(AutoMLJobName=name), self.settings.retry_policy, log
        )

    # -- describes -------------------------------------------------------------------------------

    def _enqueue(self, key: str, first: bool = False) -> None:
        """Queue a describe of ``key``; ``first`` puts it ahead of the others: a job the listing
        shows ended must not wait behind thousands of new registrations' first describes."""
        if key in self._in_flight:
            # The answer in flight may predate the change that asks for this describe.
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            if first:
                self._describe_queue.appendleft(key)
            else:
                self._describe_queue.append(key)
            self._describe_ready.set()
        elif first:
            self._describe_queue.remove(key)
            self._describe_queue.appendleft(key)

    async def _run_describer(self) -> None:
        await self._client_ready.wait()
        while True:
            while not self._describe_queue:
                self._describe_ready.clear()
                await self._describe_ready.wait()
            key = self._describe_queue.popleft()
            self._queued.discard(key)
            self._in_flight.add(key)
            try:
                await self._describe(key)
            finally:
                self._in_flight.discard(key)
            if key in self._again:
                self._again.discard(key)
                self.repeated_describes += 1
                self._enqueue(key, first=True)

    async def _describe(self, key: str) -> None:
        watches = self._watches.get(key)
        if not watches:
            return  # delivered or cancelled while queued
        for version in sorted({watch.api_version for watch in watches}):
            name = next(watch.job_name for watch in watches if watch.api_version == version)
            operation = API_VERSIONS[version].describe_method
            try:
                response = await self._describe_call(operation, name)
            except (AutoMLApiError, BotoCoreError) as error:
                if isinstance(error, AutoMLApiError) and error.code in JOB_REFUSED_CODES:
                    self._describe_failures = 0
                    self._deliver(key, version, error)
                    continue
                # Throttled or down: the job stays watched, a later look asks again, and until a
                # describe gets through the looks back off.
                self._describe_failures += 1
                self._retry.add(key)
                self.last_error = error
                self._mark_looked(key, version)
                log.warning("Describing AutoML job %s failed, will ask again: %s", name, error)
                continue
            self._describe_failures = 0
            self.last_error = None
            view = AutoMLJobView.from_describe(response, version)
            if view.is_terminal:
                self._deliver(key, version, view)
            else:
                self._mark_looked(key, version)
                self._progress(key, view.job_name, view.status, view.secondary_status)

    def _mark_looked(self, key: str, version: int) -> None:
        for watch in self._watches.get(key, ()):
            if watch.api_version == version:
                watch.looked = True

    def _progress(self, key: str, name: str, status: str, secondary: str | None) -> None:
        for watch in self._watches.get(key, ()):
            if watch.last_progress != (status, secondary):
                watch.last_progress = (status, secondary)
                watch.put(JobProgress(name, status, secondary))

    def _deliver(self, key: str, version: int, outcome: AutoMLJobView | AutoMLApiError) -> None:
        """The outcome goes to each watcher of this job and version once: they leave the poller here."""
        watches = self._watches.get(key, [])
        for watch in [watch for watch in watches if watch.api_version == version]:
            watches.remove(watch)
            watch.looked = True
            watch.put(outcome)
        if key in self._watches and not watches:
            del self._watches[key]


def sagemaker_time_at_request(page: dict[str, Any], round_trip: float) -> float | None:
    """A time (epoch seconds, SageMaker's clock) that SageMaker had certainly reached when it ran
    the query behind ``page``, or None when the page tells nothing about its clock.

    Two readings, the later wins: a change it shows cannot postdate the query, so the largest
    LastModifiedTime is one; and the response's Date header (whole seconds, rounded down) was
    written after the query, which began at most ``round_trip`` (measured here, retries included)
    before the response, so Date less the round trip is another.
    """
    readings = [
        summary["LastModifiedTime"].timestamp()
        for summary in page.get("AutoMLJobSummaries", [])
        if isinstance(summary.get("LastModifiedTime"), datetime)
    ]
    date = page.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    if date:
        try:
            readings.append(parsedate_to_datetime(date).timestamp() - round_trip)
        except (TypeError, ValueError):
            log.warning("Ignoring ListAutoMLJobs' unreadable Date header %r", date)
    return max(readings, default=None)


def _transient(error: AutoMLApiError) -> bool:
    cause = error.__cause__
    return cause is not None and is_retryable(cause)


# -- the registry: one poller per key and event loop ------------------------------------------------

_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[PollerKey, SharedJobPoller]] = (
    weakref.WeakKeyDictionary()
)


def _forget(poller: SharedJobPoller) -> None:
    for pollers in _registry.values():
        if pollers.get(poller.key) is poller:
            del pollers[poller.key]


def active_pollers() -> list[SharedJobPoller]:
    """The pollers of the running event loop (for tests, benchmarks and diagnostics)."""
    return list(_registry.get(asyncio.get_running_loop(), {}).values())


def _resolve(
    aws_conn_id: str | None, region_name: str | None, verify: bool | str | None, botocore_config: dict[str, Any] | None
) -> tuple[PollerKey, AutoMLHook]:
    """Read the connection (a blocking lookup: run it in a thread) to learn its region and endpoint."""
    hook = AutoMLHook(aws_conn_id=aws_conn_id, region_name=region_name, verify=verify, config=botocore_config)
    key = PollerKey(
        aws_conn_id=aws_conn_id,
        region_name=hook.region_name,
        endpoint_url=hook.endpoint_url,
        verify=verify,
        botocore_config=json.dumps(botocore_config or {}, sort_keys=True, default=str),
    )
    return key, hook


async def watch_job(
    job_name: str,
    *,
    aws_conn_id: str | None = "aws_default",
    region_name: str | None = None,
    verify: bool | str | None = None,
    botocore_config: dict[str, Any] | None = None,
    api_version: int | None = None,
    poll_interval: float = 30,
    settings: PollerSettings | None = None,
) -> JobWatch:
    """Register ``job_name`` with the shared poller for its connection, creating the poller if needed."""
    key, hook = await sync_to_async(_resolve)(aws_conn_id, region_name, verify, botocore_config)
    pollers = _registry.setdefault(asyncio.get_running_loop(), {})
    poller = pollers.get(key)
    if poller is None or poller.closed:
        poller = SharedJobPoller(key, hook, settings or DEFAULT_SETTINGS)
        pollers[key] = poller
    return poller.watch(job_name, api_version or 2, poll_interval)
