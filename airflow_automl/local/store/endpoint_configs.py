"""Persistence of endpoint configs (CreateEndpointConfig): the request as received."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_automl.local.store.resources import NameInUse, ResourceStore

ENDPOINT_CONFIG_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time"}


class EndpointConfigNameInUse(NameInUse):
    pass


@dataclass(frozen=True)
class EndpointConfigRecord:
    name: str
    arn: str
    request: dict
    creation_time: float

    @property
    def variants(self) -> list[dict]:
        return self.request["ProductionVariants"]


class EndpointConfigStore(ResourceStore[EndpointConfigRecord]):
    """The endpoint_configs table."""

    table = "endpoint_configs"
    record = EndpointConfigRecord
    sort_columns = ENDPOINT_CONFIG_SORT_COLUMNS
    name_in_use = EndpointConfigNameInUse

    def create(self, *, name: str, arn: str, request: dict, tags: Sequence[dict] = ()) -> EndpointConfigRecord:
        """A new endpoint config with its tags; EndpointConfigNameInUse if the name is taken, TooManyTags."""
        with self._database.write() as db:
            row = self._insert(db, name=name, arn=arn, tags=tags, request_json=json.dumps(request))
        return self._record(row)
