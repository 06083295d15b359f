"""Persistence of endpoint configs (CreateEndpointConfig): the request as received."""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page

ENDPOINT_CONFIG_SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time"}


class EndpointConfigNameInUse(Exception):
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


def _config_from_row(row: sqlite3.Row) -> EndpointConfigRecord:
    return EndpointConfigRecord(
        name=row["name"], arn=row["arn"], request=json.loads(row["request_json"]), creation_time=row["creation_time"]
    )


class EndpointConfigStore:
    """The endpoint_configs table."""

    def __init__(self, database: Database):
        self._database = database

    def create(self, *, name: str, arn: str, request: dict) -> EndpointConfigRecord:
        """A new endpoint config; EndpointConfigNameInUse if the name is taken."""
        now = time.time()
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM endpoint_configs WHERE name_key = ?", (name.lower(),)).fetchone():
                raise EndpointConfigNameInUse(name)
            db.execute(
                "INSERT INTO endpoint_configs (name_key, name, arn, request_json, creation_time, last_modified_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name.lower(), name, arn, json.dumps(request), now, now),
            )
        config = self.get(name)
        assert config is not None
        return config

    def get(self, name: str) -> EndpointConfigRecord | None:
        row = (
            self._database.connection()
            .execute("SELECT * FROM endpoint_configs WHERE name_key = ?", (name.lower(),))
            .fetchone()
        )
        return None if row is None else _config_from_row(row)

    def delete(self, name: str) -> bool:
        with self._database.write() as db:
            cursor = db.execute("DELETE FROM endpoint_configs WHERE name_key = ?", (name.lower(),))
        return cursor.rowcount == 1

    def page(self, query: ListQuery) -> Page:
        return fetch_page(
            self._database,
            "endpoint_configs",
            ENDPOINT_CONFIG_SORT_COLUMNS[query.sort_by],
            query,
            _config_from_row,
        )
