"""Persistence of endpoints: the endpoint config each serves, and the one an update is loading.

Endpoints made by CreateEndpoint and by an AutoML job's ModelDeployConfig are the same records.
An endpoint keeps the variants it serves with their models resolved (``variants``), so deleting
a model or endpoint config in use leaves it serving, as on SageMaker.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from airflow_automl.local.store.records import to_json
from airflow_automl.local.store.resources import NameInUse, ResourceStore

ENDPOINT_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time", "Status": "status"}


class EndpointNameInUse(NameInUse):
    pass


@dataclass(frozen=True)
class EndpointRecord:
    name: str
    arn: str
    job_name: str  # the job of its first variant's model
    candidate_name: str
    status: str  # Creating | InService | Updating | Failed
    failure_reason: str | None
    creation_time: float
    last_modified_time: float
    endpoint_config_name: str | None  # None: made before endpoint configs existed
    pending_config_name: str | None  # set while UpdateEndpoint loads it
    # Each: VariantName, ModelName, JobName, CandidateName, Weight, InstanceCount, InstanceType.
    variants: list[dict] | None
    pending_variants: list[dict] | None
    # The served config's DataCaptureConfig as requested (None: no capture), and the pending one's.
    data_capture: dict | None
    pending_data_capture: dict | None


class EndpointStore(ResourceStore[EndpointRecord]):
    """The endpoints table."""

    table = "endpoints"
    record = EndpointRecord
    sort_columns = ENDPOINT_SORT_COLUMNS
    name_in_use = EndpointNameInUse

    def create(
        self,
        *,
        name: str,
        arn: str,
        endpoint_config_name: str,
        variants: list[dict],
        tags: Sequence[dict] = (),
        data_capture: dict | None = None,
    ) -> EndpointRecord:
        """A new endpoint in status Creating, with its tags; EndpointNameInUse if the name is taken, TooManyTags."""
        with self._database.write() as db:
            row = self._insert(
                db,
                name=name,
                arn=arn,
                tags=tags,
                job_name=variants[0]["JobName"],
                candidate_name=variants[0]["CandidateName"],
                status="Creating",
                endpoint_config_name=endpoint_config_name,
                variants_json=json.dumps(variants),
                data_capture_json=to_json(data_capture),
            )
        return self._record(row)

    def set_status(self, name: str, status: str, failure_reason: str | None = None) -> None:
        with self._database.write() as db:
            db.execute(
                "UPDATE endpoints SET status = ?, failure_reason = ?, last_modified_time = ? WHERE name_key = ?",
                (status, failure_reason, time.time(), name.lower()),
            )

    def begin_update(self, name: str, config_name: str, variants: list[dict], data_capture: dict | None = None) -> bool:
        """InService -> Updating towards config_name; False if the endpoint is not InService."""
        with self._database.write() as db:
            cursor = db.execute(
                "UPDATE endpoints SET status = 'Updating', pending_config_name = ?, pending_variants_json = ?,"
                " pending_data_capture_json = ?, last_modified_time = ? WHERE name_key = ? AND status = 'InService'",
                (config_name, json.dumps(variants), to_json(data_capture), time.time(), name.lower()),
            )
        return cursor.rowcount == 1

    def finish_update(self, name: str, failure_reason: str | None = None) -> None:
        """Updating -> InService: on the pending config, or (failure_reason set) back on the old one."""
        switch = failure_reason is None
        with self._database.write() as db:
            if switch:
                db.execute(
                    "UPDATE endpoints SET endpoint_config_name = pending_config_name,"
                    " variants_json = pending_variants_json, data_capture_json = pending_data_capture_json"
                    " WHERE name_key = ? AND status = 'Updating'",
                    (name.lower(),),
                )
            db.execute(
                "UPDATE endpoints SET status = 'InService', failure_reason = ?, pending_config_name = NULL,"
                " pending_variants_json = NULL, pending_data_capture_json = NULL, last_modified_time = ?"
                " WHERE name_key = ? AND status = 'Updating'",
                (failure_reason, time.time(), name.lower()),
            )

    def roll_back_updating(self, reason: str) -> list[str]:
        """Endpoints a previous service process left Updating go back InService on their old config."""
        with self._database.write() as db:
            names = [row["name"] for row in db.execute("SELECT name FROM endpoints WHERE status = 'Updating'")]
            db.execute(
                "UPDATE endpoints SET status = 'InService', failure_reason = ?, pending_config_name = NULL,"
                " pending_variants_json = NULL, pending_data_capture_json = NULL, last_modified_time = ?"
                " WHERE status = 'Updating'",
                (reason, time.time()),
            )
        return names

    def fail_creating(self, reason: str) -> list[str]:
        """End every endpoint a previous service process left Creating (its loader died with it)."""
        with self._database.write() as db:
            names = [row["name"] for row in db.execute("SELECT name FROM endpoints WHERE status = 'Creating'")]
            db.execute(
                "UPDATE endpoints SET status = 'Failed', failure_reason = ?, last_modified_time = ?"
                " WHERE status = 'Creating'",
                (reason, time.time()),
            )
        return names
