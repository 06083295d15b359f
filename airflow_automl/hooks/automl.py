"""AutoMLHook: SageMaker AutoML jobs through an Airflow AWS connection, sync (boto3) and async (aiobotocore).

The connection decides where requests go: real SageMaker, or the local service when its extra holds
``endpoint_url``. The hook owns retries: botocore's own retry layer is switched off so that one
policy (exponential backoff with jitter on throttling, 5xx and connection errors) applies to
both clients, and every other error surfaces as ``AutoMLApiError`` carrying SageMaker's message.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.sdk.exceptions import AirflowException

from airflow_automl.summary import AutoMLJobView, leaderboard_entry

T = TypeVar("T")

# Error codes SageMaker (and AWS JSON services generally) use for "try again later".
RETRYABLE_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "RequestLimitExceeded",
        "SlowDown",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServerError",
        "InternalError",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)
_NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_CREATE_OPERATION = {1: "create_auto_ml_job", 2: "create_auto_ml_job_v2"}
_DESCRIBE_OPERATION = {1: "describe_auto_ml_job", 2: "describe_auto_ml_job_v2"}


class AutoMLApiError(AirflowException):
    """A SageMaker call failed for a reason retrying cannot fix (or retries ran out)."""

    def __init__(self, operation: str, code: str, message: str):
        self.operation = operation
        self.code = code
        self.message = message
        super().__init__(f"SageMaker {operation} failed: {code}: {message}")


class AutoMLJobNotFound(AutoMLApiError):
    pass


class AutoMLJobAlreadyExists(AutoMLApiError):
    pass


def error_code(error: BaseException) -> str | None:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code")
    return None


def is_retryable(error: BaseException) -> bool:
    """Throttling, server-side (5xx) failures and broken connections are worth another try."""
    if isinstance(error, BotocoreConnectionError | HTTPClientError):
        return True
    if isinstance(error, ClientError):
        if error_code(error) in RETRYABLE_ERROR_CODES:
            return True
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return status == 429 or status >= 500
    return False


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits between half and all of min(cap, base * 2**(n-1))."""

    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 20.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


def _as_api_error(operation: str, error: Exception) -> AutoMLApiError:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or "Unknown"
        message = details.get("Message") or str(error)
        if code in _NOT_FOUND_CODES:
            return AutoMLJobNotFound(operation, code, message)
        if code == "ResourceInUse":
            return AutoMLJobAlreadyExists(operation, code, message)
        return AutoMLApiError(operation, code, message)
    return AutoMLApiError(operation, type(error).__name__, str(error))


def call_with_retries(
    operation: str,
    call: Callable[[], T],
    policy: RetryPolicy,
    log: Any,
    sleep: Callable[[float], None] | None = None,
) -> T:
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return call()
        except (ClientError, BotocoreConnectionError, HTTPClientError) as error:
            if not is_retryable(error) or attempt == policy.max_attempts:
                raise _as_api_error(operation, error) from error
            delay = policy.delay(attempt)
            log.warning("SageMaker %s: %s; retry %d in %.1fs", operation, error, attempt, delay)
            (sleep or time.sleep)(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


async def async_call_with_retries(
    operation: str,
    call: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    log: Any,
) -> T:
    for attempt in range(1, policy.max_attempts + 1):
        try:
            return await call()
        except (ClientError, BotocoreConnectionError, HTTPClientError) as error:
            if not is_retryable(error) or attempt == policy.max_attempts:
                raise _as_api_error(operation, error) from error
            delay = policy.delay(attempt)
            log.warning("SageMaker %s: %s; retry %d in %.1fs", operation, error, attempt, delay)
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: the last attempt returns or raises")


def metric_greater_is_better(metric_name: str | None, objective_type: str | None = None) -> bool:
    """Direction of an objective: SageMaker's Maximize/Minimize when known, else the metric's nature."""
    if objective_type in ("Maximize", "Minimize"):
        return objective_type == "Maximize"
    from airflow_automl.spec import metric_greater_is_better as by_name

    return by_name(metric_name or "")


class AutoMLHook(AwsBaseHook):
    """
    Interact with SageMaker AutoML jobs (V1 and V2 APIs).

    Additional arguments (such as ``aws_conn_id``, ``region_name``, ``verify``, ``config``) are
    passed to :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.

    :param retry_policy: backoff for throttling and transient errors (both clients).
    """

    def __init__(self, *args: Any, retry_policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)
        self.retry_policy = retry_policy or RetryPolicy()

    def _get_config(self, config: Config | None = None) -> Config:
        # One retry layer (ours) instead of botocore's multiplied by ours.
        return super()._get_config(config).merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))

    @property
    def endpoint_url(self) -> str | None:
        return self.conn_config.get_service_endpoint_url(service_name="sagemaker")

    def _call(self, method: str, **params: Any) -> Any:
        client = self.conn
        return call_with_retries(
            method, lambda: getattr(client, method)(**params), self.retry_policy, self.log
        )

    # --- sync ------------------------------------------------------------------------------

    def create_job(
        self, job_name: str, request: dict[str, Any], *, api_version: int, tags: dict[str, str] | None = None
    ) -> str:
        """Create the job; return its ARN. Raises AutoMLJobAlreadyExists when the name is taken."""
        body = {**request, "AutoMLJobName": job_name}
        if tags:
            existing = [tag for tag in body.get("Tags", []) if tag["Key"] not in tags]
            body["Tags"] = existing + [{"Key": key, "Value": value} for key, value in tags.items()]
        response = self._call(_CREATE_OPERATION[api_version], **body)
        return response["AutoMLJobArn"]

    def describe_job(self, job_name: str, api_version: int | None = None) -> AutoMLJobView:
        """One normalized view of the job. DescribeAutoMLJobV2 answers for jobs of either version."""
        version = api_version or 2
        response = self._call(_DESCRIBE_OPERATION[version], AutoMLJobName=job_name)
        return AutoMLJobView.from_describe(response, version)

    def find_job(self, job_name: str, api_version: int | None = None) -> AutoMLJobView | None:
        """The job's view, or None when no job has this name."""
        try:
            return self.describe_job(job_name, api_version)
        except AutoMLJobNotFound:
            return None

    def list_candidates(
        self,
        job_name: str,
        *,
        sort_by: str = "FinalObjectiveMetricValue",
        sort_order: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Candidates of the job, following NextToken through all pages (or until ``limit``)."""
        params: dict[str, Any] = {"AutoMLJobName": job_name, "SortBy": sort_by}
        if sort_order:
            params["SortOrder"] = sort_order
        if status:
            params["StatusEquals"] = status
        candidates: list[dict[str, Any]] = []
        while True:
            if limit is not None:
                params["MaxResults"] = max(1, min(100, limit - len(candidates)))
            page = self._call("list_candidates_for_auto_ml_job", **params)
            candidates.extend(page.get("Candidates", []))
            token = page.get("NextToken")
            if not token or (limit is not None and len(candidates) >= limit):
                return candidates[:limit] if limit is not None else candidates
            params["NextToken"] = token

    def leaderboard(self, view: AutoMLJobView, size: int) -> list[dict[str, Any]]:
        """The ``size`` best candidates by the objective, best first."""
        if size <= 0:
            return []
        greater = metric_greater_is_better(view.objective_metric_name, view.best_metric.get("Type"))
        candidates = self.list_candidates(
            view.job_name, sort_order="Descending" if greater else "Ascending", limit=size
        )
        return [leaderboard_entry(candidate) for candidate in candidates]

    def count_candidates(self, job_name: str) -> int:
        return len(self.list_candidates(job_name, sort_by="CreationTime"))

    def stop_job(self, job_name: str) -> bool:
        """Ask SageMaker to stop the job; False when it had already ended."""
        view = self.describe_job(job_name)
        if view.is_terminal or view.status == "Stopping":
            self.log.info("AutoML job %s is already %s; nothing to stop", job_name, view.status)
            return False
        self._call("stop_auto_ml_job", AutoMLJobName=job_name)
        self.log.info("Asked SageMaker to stop AutoML job %s", job_name)
        return True

    def get_tags(self, resource_arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        params: dict[str, Any] = {"ResourceArn": resource_arn}
        while True:
            page = self._call("list_tags", **params)
            tags.update({tag["Key"]: tag["Value"] for tag in page.get("Tags", [])})
            token = page.get("NextToken")
            if not token:
                return tags
            params["NextToken"] = token

    def list_jobs(self, name_contains: str | None = None) -> list[dict[str, Any]]:
        """Job summaries (ListAutoMLJobs, all pages), optionally filtered by name."""
        params: dict[str, Any] = {}
        if name_contains:
            params["NameContains"] = name_contains
        jobs: list[dict[str, Any]] = []
        while True:
            page = self._call("list_auto_ml_jobs", **params)
            jobs.extend(page.get("AutoMLJobSummaries", []))
            token = page.get("NextToken")
            if not token:
                return jobs
            params["NextToken"] = token

    # --- async (triggers) ------------------------------------------------------------------

    async def async_describe_job(self, client: Any, job_name: str, api_version: int | None = None) -> AutoMLJobView:
        """Describe through an aiobotocore client from ``get_async_conn()``; retried like the sync call."""
        version = api_version or 2
        method = getattr(client, _DESCRIBE_OPERATION[version])
        response = await async_call_with_retries(
            _DESCRIBE_OPERATION[version],
            lambda: method(AutoMLJobName=job_name),
            self.retry_policy,
            self.log,
        )
        return AutoMLJobView.from_describe(response, version)

    async def async_stop_job(self, client: Any, job_name: str) -> None:
        await async_call_with_retries(
            "stop_auto_ml_job",
            lambda: client.stop_auto_ml_job(AutoMLJobName=job_name),
            self.retry_policy,
            self.log,
        )
