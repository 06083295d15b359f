"""Persistence of models (CreateModel): the request as received and the AutoML job model it serves."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_automl.local.store.resources import NameInUse, ResourceStore

MODEL_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time"}


class ModelNameInUse(NameInUse):
    pass


@dataclass(frozen=True)
class ModelRecord:
    name: str
    arn: str
    request: dict
    job_name: str
    candidate_name: str
    creation_time: float


class ModelStore(ResourceStore[ModelRecord]):
    """The models table."""

    table = "models"
    record = ModelRecord
    sort_columns = MODEL_SORT_COLUMNS
    name_in_use = ModelNameInUse

    def create(
        self, *, name: str, arn: str, request: dict, job_name: str, candidate_name: str, tags: Sequence[dict] = ()
    ) -> ModelRecord:
        """A new model with its tags; ModelNameInUse if the name is taken, TooManyTags."""
        with self._database.write() as db:
            row = self._insert(
                db,
                name=name,
                arn=arn,
                tags=tags,
                request_json=json.dumps(request),
                job_name=job_name,
                candidate_name=candidate_name,
            )
        return self._record(row)
