"""Tags: AddTags, ListTags, DeleteTags, on any resource the service keeps by ARN.

A create writes its request's Tags with the resource, in its own transaction (store/tags.py);
these operations change them afterwards.
"""

from __future__ import annotations

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import Operations, list_query, too_many_tags
from airflow_automl.local.store import ResourceStore, TooManyTags

DEFAULT_LIST_TAGS_MAX_RESULTS = 50


class TagOperations(Operations):
    def _tagged_arn(self, arn: str) -> str:
        """The ARN of the resource as stored: an AutoML job, model, endpoint config, endpoint,
        transform job, model package group or model package."""
        job = self.store.jobs.get_by_arn(arn.lower())
        if job is not None:
            return job.arn
        resource, _, name = arn.rpartition(":")[2].partition("/")
        stores: dict[str, ResourceStore] = {
            "model": self.store.models,
            "endpoint-config": self.store.endpoint_configs,
            "endpoint": self.store.endpoints,
            "transform-job": self.store.transform_jobs,
            "model-package-group": self.store.model_package_groups,
            "model-package": self.store.model_packages,
        }
        record = stores[resource].get(name) if resource in stores and name else None
        if record is not None and record.arn == arn.lower():
            return record.arn
        prefix = f"arn:aws:sagemaker:{self.config.region}:{self.config.account_id}"
        raise ValidationException(
            f"ResourceArn: no resource {arn!r} exists; the local service tags AutoML jobs, models, endpoint "
            f"configs, endpoints, transform jobs, model package groups and model packages ({prefix}:automl-job/<name>, "
            ":model/<name>, :endpoint-config/<name>, :endpoint/<name>, :transform-job/<name>, "
            ":model-package-group/<name>, :model-package/<group>/<version>)"
        )

    def add_tags(self, request: dict) -> dict:
        arn = self._tagged_arn(request["ResourceArn"])
        tags = request["Tags"]
        try:
            self.store.tags.add(arn, tags)
        except TooManyTags as error:
            raise too_many_tags(error) from error
        return {"Tags": tags}

    def list_tags(self, request: dict) -> dict:
        query = list_query(
            "ListTags",
            request,
            sort_by="CreationTime",
            sort_order="Ascending",
            max_results=DEFAULT_LIST_TAGS_MAX_RESULTS,
        )
        page = self.store.tags.page(self._tagged_arn(request["ResourceArn"]), query)
        return {"Tags": page.rows, "NextToken": page.next_token}

    def delete_tags(self, request: dict) -> dict:
        self.store.tags.delete(self._tagged_arn(request["ResourceArn"]), request["TagKeys"])
        return {}
