"""Tags: AddTags, ListTags, DeleteTags, on any resource the service keeps by ARN."""

from __future__ import annotations

from airflow_automl.local.errors import ResourceLimitExceeded, ValidationException
from airflow_automl.local.operations.base import Operations, list_query
from airflow_automl.local.store.tags import TooManyTags

MAX_TAGS_PER_RESOURCE = 50
DEFAULT_LIST_TAGS_MAX_RESULTS = 50


class TagOperations(Operations):
    def _tagged_arn(self, arn: str) -> str:
        """The ARN of the resource as stored; AutoML jobs are the resources that take tags today."""
        job = self.store.jobs.get_by_arn(arn.lower())
        if job is None:
            raise ValidationException(
                f"ResourceArn: no resource {arn!r} exists; the local service tags AutoML jobs "
                f"(arn:aws:sagemaker:{self.config.region}:{self.config.account_id}:automl-job/<name>)"
            )
        return job.arn

    def add_tags(self, request: dict) -> dict:
        arn = self._tagged_arn(request["ResourceArn"])
        tags = request["Tags"]
        try:
            self.store.tags.add(arn, tags, max_tags=MAX_TAGS_PER_RESOURCE)
        except TooManyTags as error:
            raise ResourceLimitExceeded(
                f"Tags: a resource can have at most {MAX_TAGS_PER_RESOURCE} tags (these would make "
                f"{error.args[0]}); delete some before adding more"
            ) from error
        return {"Tags": tags}

    def list_tags(self, request: dict) -> dict:
        query = list_query(
            "ListTags", request, sort_by="CreationTime", sort_order="Ascending", max_results=DEFAULT_LIST_TAGS_MAX_RESULTS
        )
        page = self.store.tags.page(self._tagged_arn(request["ResourceArn"]), query)
        return {"Tags": page.rows, "NextToken": page.next_token}

    def delete_tags(self, request: dict) -> dict:
        self.store.tags.delete(self._tagged_arn(request["ResourceArn"]), request["TagKeys"])
        return {}
