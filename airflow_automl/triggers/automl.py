"""AutoMLJobTrigger: waits in the triggerer for one AutoML job to end, without holding a worker."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_automl.hooks.automl import AutoMLApiError, AutoMLHook
from airflow_automl.triggers.poller import JobProgress, watch_job
from airflow_automl.utils.job_view import AutoMLJobView

# Event statuses, one per way the wait can end.
SUCCESS = "success"
FAILED = "failed"
STOPPED = "stopped"
TIMEOUT = "timeout"
ERROR = "error"


class AutoMLJobTrigger(BaseTrigger):
    """
    Poll an AutoML job until it ends and fire exactly one event.

    The event payload is ``{"status", "job_name", "message", "summary"}`` where status is
    ``success`` (Completed), ``failed``, ``stopped``, ``timeout`` (``deadline`` passed) or ``error``
    (SageMaker refused the describe call for a reason retrying cannot fix). Throttling and transient
    errors never end the wait: the shared poller backs off and tries again.

    The job is watched by the triggerer's shared poller for this connection, region and endpoint
    (``airflow_automl.triggers.poller``): one ListAutoMLJobs look per interval for all waiting jobs,
    and a Describe only when a job ends (plus a slow safety sweep).

    :param job_name: the AutoML job to watch.
    :param aws_conn_id: Airflow AWS connection (its ``endpoint_url`` extra may point at the local service).
    :param region_name: AWS region; defaults to the connection's.
    :param poll_interval: seconds between the shared poller's looks (the smallest among its triggers).
    :param api_version: 1 or 2: which Describe operation to call (default 2, which answers for both).
    :param deadline: Unix time after which the trigger gives up with a ``timeout`` event.
    :param stop_job_on_kill: when the deferred task is killed by a user, stop the job.
    :param verify: TLS verification for the client, as in the AWS hooks.
    :param botocore_config: botocore client configuration, as in the AWS hooks.

    ``serialize()`` holds all of the above: a restarted triggerer resumes the wait from it. The event's
    ``summary`` is the job's :class:`~airflow_automl.utils.job_view.JobSummary` (``None`` when there is
    no description, as for ``error``).
    """

    def __init__(
        self,
        job_name: str,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        poll_interval: float = 30,
        api_version: int | None = None,
        deadline: float | None = None,
        stop_job_on_kill: bool = True,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ):
        super().__init__()  # type: ignore[no-untyped-call]  # Airflow's BaseTrigger.__init__ is unannotated
        self.job_name = job_name
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.poll_interval = poll_interval
        self.api_version = api_version
        self.deadline = deadline
        self.stop_job_on_kill = stop_job_on_kill
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_name": self.job_name,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "poll_interval": self.poll_interval,
                "api_version": self.api_version,
                "deadline": self.deadline,
                "stop_job_on_kill": self.stop_job_on_kill,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    @property
    def hook(self) -> AutoMLHook:
        return AutoMLHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        yield await self.wait_for_end()

    async def wait_for_end(self) -> TriggerEvent:
        """Register the job with the shared poller of this connection and wait for its one outcome.

        Every trigger of the triggerer that uses the same connection, region and endpoint shares one
        client and one ListAutoMLJobs look per interval (see ``airflow_automl.triggers.poller``);
        this trigger only logs its job's progress and turns the outcome into its event.
        """
        watch = await watch_job(
            self.job_name,
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            botocore_config=self.botocore_config,
            api_version=self.api_version,
            poll_interval=self.poll_interval,
        )
        try:
            while True:
                try:
                    update = await watch.next_update(self.deadline)
                except AutoMLApiError as error:
                    return self._event(ERROR, str(error))
                if update is None:
                    message = (
                        f"AutoML job {self.job_name} was still running at the deadline "
                        f"({time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(self.deadline))})"
                    )
                    if watch.last_error is not None:
                        message += f"; SageMaker could not be reached: {watch.last_error}"
                    return self._event(TIMEOUT, message)
                if isinstance(update, JobProgress):
                    self.log.info("%s", update.describe_progress())
                    continue
                return self._terminal_event(update)
        finally:
            # Fired, failed or cancelled: leave the poller (the last one out closes it).
            watch.close()

    def _terminal_event(self, view: AutoMLJobView) -> TriggerEvent:
        if view.status == "Completed":
            message = f"AutoML job {view.job_name} completed ({view.secondary_status})"
            return self._event(SUCCESS, message, view)
        status = FAILED if view.status == "Failed" else STOPPED
        return self._event(status, view.failure_message(), view)

    def _event(self, status: str, message: str, view: AutoMLJobView | None = None) -> TriggerEvent:
        return TriggerEvent(  # type: ignore[no-untyped-call]  # Airflow's TriggerEvent.__init__ is unannotated
            {
                "status": status,
                "job_name": self.job_name,
                "message": message,
                "summary": view.to_summary() if view else None,
            }
        )

    async def on_kill(self) -> None:
        """The deferred task was marked failed/cleared by a user: stop the job so no cost leaks."""
        if not self.stop_job_on_kill:
            return
        hook = self.hook
        async with await hook.get_async_conn() as client:
            if await hook.async_stop_job(client, self.job_name, self.api_version):
                self.log.info("Stopped AutoML job %s because its task was killed", self.job_name)
