"""What the UI pages read from SageMaker, through the task's own Airflow connection, behind a cache.

One page view costs a bounded number of calls (the README states them):
- a job's description and candidates: one DescribeAutoMLJobV2 and one ListCandidatesForAutoMLJob per
  100 candidates, at most once per ``ttl`` seconds while the job runs, never again once it has ended;
- a job's tags: one ListTags per job, ever (the operator sets them when it creates the job);
- the recent jobs of a connection: one ListAutoMLJobs (100 jobs) per filter per ``ttl`` seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache

from airflow_automl.hooks.automl import AutoMLHook, RetryPolicy
from airflow_automl.sagemaker.job_status import TERMINAL_STATUSES

# A page should answer in seconds: a few quick retries, not the operator's patient backoff.
PAGE_RETRY_POLICY = RetryPolicy(max_attempts=3, base_delay=0.2, max_delay=1.0)
DEFAULT_TTL_SECONDS = 10.0
_RECENT_JOBS = 100


@dataclass(frozen=True)
class ConnectionRef:
    """Where a job lives: the Airflow AWS connection (and region) of the task that made it."""

    aws_conn_id: str = "aws_default"
    region_name: str | None = None


@dataclass
class JobSnapshot:
    """A job as SageMaker described it, its candidates, and the statuses seen so far."""

    describe: dict[str, Any]
    candidates: list[dict[str, Any]]
    fetched_at: float
    # (status / secondary status, first time this process saw it): Describe keeps no history.
    observed: list[tuple[str, datetime]] = field(default_factory=list)

    @property
    def is_terminal(self) -> bool:
        return self.describe.get("AutoMLJobStatus") in TERMINAL_STATUSES


@dataclass
class _Entry:
    value: Any
    fetched_at: float


class SageMakerReader:
    """Cached reads of AutoML jobs; safe to share between the api-server's request threads."""

    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        max_jobs: int = 1024,
        hook_factory: Callable[[ConnectionRef], AutoMLHook] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._hook_factory = hook_factory or _hook
        self._lock = threading.Lock()
        self._hooks: dict[ConnectionRef, AutoMLHook] = {}
        self._jobs: LRUCache = LRUCache(maxsize=max_jobs)
        self._tags: LRUCache = LRUCache(maxsize=max_jobs)
        self._listings: LRUCache = LRUCache(maxsize=64)

    def hook(self, connection: ConnectionRef) -> AutoMLHook:
        with self._lock:
            if connection not in self._hooks:
                self._hooks[connection] = self._hook_factory(connection)
            return self._hooks[connection]

    def job(self, connection: ConnectionRef, job_name: str) -> JobSnapshot:
        key = (connection, job_name)
        with self._lock:
            cached: JobSnapshot | None = self._jobs.get(key)
        if cached is not None and (cached.is_terminal or self._clock() - cached.fetched_at < self.ttl):
            return cached
        hook = self.hook(connection)
        # The whole answer (budget, artifacts, timestamps), not the hook's summary view of it.
        describe = hook._call("describe_auto_ml_job_v2", AutoMLJobName=job_name)
        candidates = hook.list_candidates(job_name, sort_by="CreationTime")
        snapshot = JobSnapshot(describe, candidates, self._clock(), list(cached.observed) if cached else [])
        status = " / ".join(filter(None, (describe.get("AutoMLJobStatus"), describe.get("AutoMLJobSecondaryStatus"))))
        if not snapshot.observed or snapshot.observed[-1][0] != status:
            snapshot.observed.append((status, datetime.now(UTC)))
        with self._lock:
            self._jobs[key] = snapshot
        return snapshot

    def tags(self, connection: ConnectionRef, job_arn: str) -> dict[str, str]:
        key = (connection, job_arn)
        with self._lock:
            if key in self._tags:
                return self._tags[key]
        tags = self.hook(connection).get_tags(job_arn)
        with self._lock:
            self._tags[key] = tags
        return tags

    def recent_jobs(
        self, connection: ConnectionRef, status: str | None = None, name_contains: str | None = None
    ) -> list[dict[str, Any]]:
        """The newest jobs of the connection (one ListAutoMLJobs page), optionally filtered by SageMaker."""
        key = (connection, status, name_contains)
        with self._lock:
            entry: _Entry | None = self._listings.get(key)
        if entry is not None and self._clock() - entry.fetched_at < self.ttl:
            return entry.value
        params: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending", "MaxResults": _RECENT_JOBS}
        if status:
            params["StatusEquals"] = status
        if name_contains:
            params["NameContains"] = name_contains
        # One page on purpose (the hook's list_jobs follows every page): the page shows recent jobs.
        jobs = self.hook(connection)._call("list_auto_ml_jobs", **params).get("AutoMLJobSummaries", [])
        with self._lock:
            self._listings[key] = _Entry(jobs, self._clock())
        return jobs


def _hook(connection: ConnectionRef) -> AutoMLHook:
    return AutoMLHook(
        aws_conn_id=connection.aws_conn_id, region_name=connection.region_name, retry_policy=PAGE_RETRY_POLICY
    )
