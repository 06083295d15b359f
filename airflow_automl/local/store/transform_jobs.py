"""Persistence of batch transform jobs (CreateTransformJob).

The run lifecycle (queue, claim, stop, finish, restart recovery) is every job kind's (runs.py);
a transform job adds the AutoML job and candidate whose kept model it runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_automl.local.store.resources import NameInUse
from airflow_automl.local.store.runs import RunRecord, RunStore

TRANSFORM_JOB_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}


class TransformJobNameInUse(NameInUse):
    pass


@dataclass(frozen=True)
class TransformJobRecord(RunRecord):
    model_job_name: str  # the AutoML job whose kept model the job's model serves
    model_candidate_name: str | None  # the candidate of that job (None: made before, its best)


class TransformJobStore(RunStore[TransformJobRecord]):
    """The transform_jobs table."""

    table = "transform_jobs"
    record = TransformJobRecord
    sort_columns = TRANSFORM_JOB_SORT_COLUMNS
    name_in_use = TransformJobNameInUse

    def create(
        self,
        *,
        name: str,
        arn: str,
        request: dict,
        model_job_name: str,
        model_candidate_name: str | None = None,
        tags: Sequence[dict] = (),
    ) -> TransformJobRecord:
        """A new job InProgress, queued for a worker, with the request's tags; TransformJobNameInUse, TooManyTags."""
        with self._database.write() as db:
            row = self._insert(
                db,
                name=name,
                arn=arn,
                tags=tags,
                request_json=json.dumps(request),
                model_job_name=model_job_name,
                model_candidate_name=model_candidate_name,
                status="InProgress",
            )
        return self._record(row)
