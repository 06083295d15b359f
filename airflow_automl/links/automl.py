"""Operator extra link to an AutoML job: the SageMaker console, or the local service's job page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote, urlsplit

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey
    from airflow.sdk import BaseOperator, Context

_CONSOLE_DOMAINS = {"aws": "aws.amazon.com", "aws-cn": "amazonaws.cn", "aws-us-gov": "amazonaws-us-gov.com"}


def _partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def is_aws_endpoint(endpoint_url: str | None) -> bool:
    """True for SageMaker's own endpoints (or none set); False for the local service or another stand-in."""
    if not endpoint_url:
        return True
    host = urlsplit(endpoint_url).hostname or ""
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def automl_job_url(job_name: str, region_name: str | None, endpoint_url: str | None = None) -> str:
    """Where a person looks at the job: the local service's page, or the region's SageMaker console."""
    name = quote(job_name, safe="")
    if endpoint_url and not is_aws_endpoint(endpoint_url):
        return f"{endpoint_url.rstrip('/')}/jobs/{name}"
    region = region_name or "us-east-1"
    domain = _CONSOLE_DOMAINS[_partition(region)]
    return f"https://{region}.console.{domain}/sagemaker/home?region={region}#/automl-jobs/{name}/details"


class AutoMLJobLink(BaseOperatorLink):
    """
    "AutoML Job": link from the task to its AutoML job.

    The operator stores the job's name, region and endpoint in the task's XCom (key
    ``automl_job_link``) when it submits or reattaches, so the link works while the job runs and per map
    index. It opens the SageMaker console for jobs on AWS, and ``<endpoint_url>/jobs/<name>`` for jobs on
    the local service.
    """

    name = "AutoML Job"
    key: ClassVar[str] = "automl_job_link"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        stored: dict[str, Any] | None = XCom.get_value(key=self.key, ti_key=ti_key)
        if not stored:
            return ""
        return automl_job_url(stored["job_name"], stored.get("region_name"), stored.get("endpoint_url"))

    @classmethod
    def persist(
        cls,
        context: Context,
        job_name: str,
        region_name: str | None,
        endpoint_url: str | None,
        aws_conn_id: str | None = None,
    ) -> None:
        # The connection id lets the UI plugin read the job the way the task does.
        context["ti"].xcom_push(
            key=cls.key,
            value={
                "job_name": job_name,
                "region_name": region_name,
                "endpoint_url": endpoint_url,
                "aws_conn_id": aws_conn_id,
            },
        )
        # Airflow resolves extra links when the task finishes; pushing the URL now lets the UI
        # show it while the task is deferred, which is when people want to look at the job.
        context["ti"].xcom_push(key=cls().xcom_key, value=automl_job_url(job_name, region_name, endpoint_url))
