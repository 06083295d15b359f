"""AutoMLHook: SageMaker AutoML jobs through an Airflow AWS connection, sync (boto3) and async (aiobotocore).

The connection decides where requests go: real SageMaker, or the local service when its extra holds
``endpoint_url``. The hook owns retries: botocore's own retry layer is switched off so that one
policy (``RetryPolicy``: exponential backoff with jitter on throttling, 5xx and connection errors,
run by tenacity) applies to sync and async calls alike, and every other error surfaces as
``AutoMLApiError`` carrying SageMaker's message. Listings follow botocore's paginators.
"""

from __future__ import annotations

import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import tenacity
from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.common.compat.sdk import AirflowException
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

from airflow_automl.sagemaker.api_versions import API_VERSIONS
from airflow_automl.sagemaker.metrics import greater_is_better
from airflow_automl.utils.job_view import AutoMLJobView, LeaderboardEntry, leaderboard_entry

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
NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
# Items a listing asks for a page, not the APIs' default of 10: a job with hundreds of candidates is a
# few calls (ListCandidatesForAutoMLJob allows up to 300, ListTags at least 50).
_PAGE_SIZE = 100
# Errors that mean "this job cannot be waited for", as opposed to "try again later".
JOB_REFUSED_CODES = NOT_FOUND_CODES | {"ValidationException"}
# What a call may raise that is worth a look by is_retryable.
_CALL_ERRORS = (ClientError, BotocoreConnectionError, HTTPClientError)


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
        code = error.response.get("Error", {}).get("Code")
        return code if isinstance(code, str) else None
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
        ceiling: float = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    def retrying(self, operation: str, log: Any, *, asynchronous: bool = False) -> tenacity.BaseRetrying:
        """The one retry mechanism, for a sync call or (``asynchronous``) a coroutine function."""
        settings: dict[str, Any] = dict(
            retry=tenacity.retry_if_exception(is_retryable),
            stop=tenacity.stop_after_attempt(self.max_attempts),
            wait=lambda state: self.delay(state.attempt_number),
            before_sleep=lambda state: log.warning(
                "SageMaker %s: %s; retry %d in %.1fs",
                operation,
                state.outcome.exception(),
                state.attempt_number,
                state.upcoming_sleep,
            ),
            reraise=True,  # the last error itself, for _as_api_error
        )
        if asynchronous:
            return tenacity.AsyncRetrying(**settings)  # sleeps with asyncio.sleep
        return tenacity.Retrying(sleep=lambda seconds: time.sleep(seconds), **settings)


def _as_api_error(operation: str, error: Exception) -> AutoMLApiError:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        code = details.get("Code") or "Unknown"
        message = details.get("Message") or str(error)
        if code in NOT_FOUND_CODES:
            return AutoMLJobNotFound(operation, code, message)
        if code == "ResourceInUse":
            return AutoMLJobAlreadyExists(operation, code, message)
        return AutoMLApiError(operation, code, message)
    return AutoMLApiError(operation, type(error).__name__, str(error))


def call_with_retries(operation: str, call: Callable[[], T], policy: RetryPolicy, log: Any) -> T:
    try:
        return policy.retrying(operation, log)(call)
    except _CALL_ERRORS as error:
        raise _as_api_error(operation, error) from error


async def async_call_with_retries(operation: str, call: Callable[[], Awaitable[T]], policy: RetryPolicy, log: Any) -> T:
    async def attempt() -> T:
        return await call()

    try:
        return await policy.retrying(operation, log, asynchronous=True)(attempt)
    except _CALL_ERRORS as error:
        raise _as_api_error(operation, error) from error


class AutoMLHook(AwsBaseHook):
    """
    Interact with SageMaker AutoML jobs (V1 and V2 APIs).

    Additional arguments (such as ``aws_conn_id``, ``region_name``, ``verify``, ``config``) are
    passed to :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.

    :param retry_policy: backoff for throttling and transient errors (both clients); default
        ``RetryPolicy()``.

    Its ``endpoint_url`` comes from the connection (``service_config.sagemaker.endpoint_url`` or
    ``endpoint_url`` in its extra), which is how a DAG reaches the local service. Calls that SageMaker
    refuses raise :class:`AutoMLApiError` (``AutoMLJobNotFound``, ``AutoMLJobAlreadyExists`` for the
    cases a caller handles), after the retry policy's attempts for throttling and transient errors.
    """

    def __init__(self, *args: Any, retry_policy: RetryPolicy | None = None, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)
        self.retry_policy = retry_policy or RetryPolicy()

    def _get_config(self, config: Config | None = None) -> Config:
        # One retry layer (ours) instead of botocore's multiplied by ours.
        return super()._get_config(config).merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))

    async def get_async_conn(self) -> Any:
        """An aiobotocore SageMaker client (an async context manager), configured like the sync one."""
        # AwsBaseHook's method carries no annotations; this typed surface is what the triggers call.
        return await super().get_async_conn()  # type: ignore[no-untyped-call]

    @property
    def endpoint_url(self) -> str | None:
        return self.conn_config.get_service_endpoint_url(service_name="sagemaker")

    def _call(self, method: str, **params: Any) -> Any:
        client = self.conn
        return call_with_retries(method, lambda: getattr(client, method)(**params), self.retry_policy, self.log)

    # --- sync ------------------------------------------------------------------------------

    def create_job(
        self, job_name: str, request: dict[str, Any], *, api_version: int, tags: dict[str, str] | None = None
    ) -> str:
        """Create the job; return its ARN. Raises AutoMLJobAlreadyExists when the name is taken."""
        body = {**request, "AutoMLJobName": job_name}
        if tags:
            existing = [tag for tag in body.get("Tags", []) if tag["Key"] not in tags]
            body["Tags"] = existing + [{"Key": key, "Value": value} for key, value in tags.items()]
        response = self._call(API_VERSIONS[api_version].create_method, **body)
        arn: str = response["AutoMLJobArn"]
        return arn

    def describe_job(self, job_name: str, api_version: int | None = None) -> AutoMLJobView:
        """One normalized view of the job. DescribeAutoMLJobV2 answers for jobs of either version."""
        version = api_version or 2
        response = self._call(API_VERSIONS[version].describe_method, AutoMLJobName=job_name)
        return AutoMLJobView.from_describe(response, version)

    def find_job(self, job_name: str, api_version: int | None = None) -> AutoMLJobView | None:
        """The job's view, or None when no job has this name."""
        try:
            return self.describe_job(job_name, api_version)
        except AutoMLJobNotFound:
            return None

    def _paginate(self, method: str, result_key: str, max_items: int | None = None, **params: Any) -> list[Any]:
        """Every item of a listing through botocore's paginator (or the first ``max_items``).

        A listing that fails part-way is retried whole: page tokens are not worth keeping.
        """
        client = self.conn
        pagination = {"PageSize": min(_PAGE_SIZE, max_items or _PAGE_SIZE)}
        if max_items:
            pagination["MaxItems"] = max_items

        def listing() -> list[Any]:
            pages = client.get_paginator(method).paginate(**params, PaginationConfig=pagination)
            return [item for page in pages for item in page.get(result_key, [])]

        return call_with_retries(method, listing, self.retry_policy, self.log)

    def list_candidates(
        self,
        job_name: str,
        *,
        sort_by: str = "FinalObjectiveMetricValue",
        sort_order: str | None = None,
        status: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Candidates of the job, all pages (or the first ``limit``)."""
        params: dict[str, Any] = {"AutoMLJobName": job_name, "SortBy": sort_by}
        if sort_order:
            params["SortOrder"] = sort_order
        if status:
            params["StatusEquals"] = status
        return self._paginate("list_candidates_for_auto_ml_job", "Candidates", limit, **params)

    def leaderboard(self, view: AutoMLJobView, size: int) -> list[LeaderboardEntry]:
        """The ``size`` best candidates by the objective, best first."""
        if size <= 0:
            return []
        greater = greater_is_better(view.objective_metric_name, view.best_metric.get("Type"))
        candidates = self.list_candidates(
            view.job_name, sort_order="Descending" if greater else "Ascending", limit=size
        )
        return [leaderboard_entry(candidate) for candidate in candidates]

    def count_candidates(self, job_name: str) -> int:
        return len(self.list_candidates(job_name, sort_by="CreationTime"))

    def stop_job(self, job_name: str) -> bool:
        """Ask SageMaker to stop the job; False when it had already ended."""
        view = self.describe_job(job_name)
        if not view.can_be_stopped:
            self.log.info("AutoML job %s is already %s; nothing to stop", job_name, view.status)
            return False
        self._call("stop_auto_ml_job", AutoMLJobName=job_name)
        self.log.info("Asked SageMaker to stop AutoML job %s", job_name)
        return True

    def get_tags(self, resource_arn: str) -> dict[str, str]:
        return {tag["Key"]: tag["Value"] for tag in self._paginate("list_tags", "Tags", ResourceArn=resource_arn)}

    # --- async (triggers) ------------------------------------------------------------------

    async def async_describe_job(self, client: Any, job_name: str, api_version: int | None = None) -> AutoMLJobView:
        """Describe through an aiobotocore client from ``get_async_conn()``; retried like the sync call."""
        version = api_version or 2
        operation = API_VERSIONS[version].describe_method
        method = getattr(client, operation)
        response = await async_call_with_retries(
            operation,
            lambda: method(AutoMLJobName=job_name),
            self.retry_policy,
            self.log,
        )
        return AutoMLJobView.from_describe(response, version)

    async def async_stop_job(self, client: Any, job_name: str, api_version: int | None = None) -> bool:
        """Ask SageMaker to stop the job through an aiobotocore client; False when it had already ended."""
        view = await self.async_describe_job(client, job_name, api_version)
        if not view.can_be_stopped:
            return False
        await async_call_with_retries(
            "stop_auto_ml_job",
            lambda: client.stop_auto_ml_job(AutoMLJobName=job_name),
            self.retry_policy,
            self.log,
        )
        return True
