"""Persistence of the model registry: model package groups and the model packages in them.

A versioned package belongs to a group and is numbered within it (1, 2, ...; a number is never
given twice, even after a delete, as on SageMaker); an unversioned package has its own name.
Both kinds live in one table keyed by ``group/version`` or by the name.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page

SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time"}


class GroupNameInUse(Exception):
    pass


class GroupNotFound(Exception):
    pass


class PackageNameInUse(Exception):
    pass


@dataclass(frozen=True)
class ModelPackageGroupRecord:
    name: str
    arn: str
    request: dict
    creation_time: float


@dataclass(frozen=True)
class ModelPackageRecord:
    name: str  # the group's name for a versioned package
    arn: str
    group_name: str | None
    version: int | None
    request: dict
    approval_status: str | None
    approval_description: str | None
    customer_metadata: dict | None
    creation_time: float
    last_modified_time: float

    @property
    def key(self) -> str:
        return package_key(self.name, self.version)


def _group_from_row(row: sqlite3.Row) -> ModelPackageGroupRecord:
    return ModelPackageGroupRecord(
        name=row["name"], arn=row["arn"], request=json.loads(row["request_json"]), creation_time=row["creation_time"]
    )


def _package_from_row(row: sqlite3.Row) -> ModelPackageRecord:
    metadata = row["customer_metadata_json"]
    return ModelPackageRecord(
        name=row["name"],
        arn=row["arn"],
        group_name=row["group_name"],
        version=row["version"],
        request=json.loads(row["request_json"]),
        approval_status=row["approval_status"],
        approval_description=row["approval_description"],
        customer_metadata=json.loads(metadata) if metadata is not None else None,
        creation_time=row["creation_time"],
        last_modified_time=row["last_modified_time"],
    )


def package_key(name: str, version: int | None = None) -> str:
    return name.lower() if version is None else f"{name.lower()}/{version}"


class ModelRegistryStore:
    """The model_package_groups and model_packages tables."""

    def __init__(self, database: Database):
        self._database = database

    # -- groups ----------------------------------------------------------------------------

    def create_group(self, *, name: str, arn: str, request: dict) -> ModelPackageGroupRecord:
        now = time.time()
        with self._database.write() as db:
            if db.execute("SELECT 1 FROM model_package_groups WHERE name_key = ?", (name.lower(),)).fetchone():
                raise GroupNameInUse(name)
            db.execute(
                "INSERT INTO model_package_groups (name_key, name, arn, request_json, creation_time, last_modified_time)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (name.lower(), name, arn, json.dumps(request), now, now),
            )
        group = self.group(name)
        assert group is not None
        return group

    def group(self, name: str) -> ModelPackageGroupRecord | None:
        row = (
            self._database.connection()
            .execute("SELECT * FROM model_package_groups WHERE name_key = ?", (name.lower(),))
            .fetchone()
        )
        return None if row is None else _group_from_row(row)

    def delete_group(self, name: str) -> int:
        """Delete an empty group; returns how many packages it still holds (then nothing is deleted)."""
        with self._database.write() as db:
            held = db.execute(
                "SELECT COUNT(*) FROM model_packages WHERE group_name_key = ?", (name.lower(),)
            ).fetchone()[0]
            if held == 0:
                db.execute("DELETE FROM model_package_groups WHERE name_key = ?", (name.lower(),))
        return held

    def group_page(self, query: ListQuery) -> Page:
        return fetch_page(self._database, "model_package_groups", SORT_COLUMNS[query.sort_by], query, _group_from_row)

    # -- packages --------------------------------------------------------------------------

    def create_package(
        self,
        *,
        name: str,
        group_name: str | None,
        arn_of: Callable[[str], str],
        request: dict,
        approval_status: str | None,
        client_token: str | None,
    ) -> ModelPackageRecord:
        """A new package: the next version of group_name's, or the unversioned package ``name``.
        arn_of(key) gives the ARN from the package's key. With a client_token already used, the
        package made then is returned (a retried request makes nothing new)."""
        now = time.time()
        with self._database.write() as db:
            if client_token:
                row = db.execute("SELECT * FROM model_packages WHERE client_token = ?", (client_token,)).fetchone()
                if row is not None:
                    return _package_from_row(row)
            version = None
            if group_name is not None:
                row = db.execute(
                    "SELECT next_version FROM model_package_groups WHERE name_key = ?", (group_name.lower(),)
                ).fetchone()
                if row is None:
                    raise GroupNotFound(group_name)
                version = row["next_version"]
                db.execute(
                    "UPDATE model_package_groups SET next_version = ?, last_modified_time = ? WHERE name_key = ?",
                    (version + 1, now, group_name.lower()),
                )
            key = package_key(name, version)
            if db.execute("SELECT 1 FROM model_packages WHERE key = ?", (key,)).fetchone():
                raise PackageNameInUse(name)
            metadata = request.get("CustomerMetadataProperties")
            db.execute(
                "INSERT INTO model_packages (key, name_key, name, group_name_key, group_name, version, arn,"
                " request_json, approval_status, customer_metadata_json, client_token, creation_time,"
                " last_modified_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    name.lower(),
                    name,
                    group_name.lower() if group_name else None,
                    group_name,
                    version,
                    arn_of(key),
                    json.dumps(request),
                    approval_status,
                    json.dumps(metadata) if metadata is not None else None,
                    client_token,
                    now,
                    now,
                ),
            )
            return _package_from_row(db.execute("SELECT * FROM model_packages WHERE key = ?", (key,)).fetchone())

    def package(self, key: str) -> ModelPackageRecord | None:
        row = (
            self._database.connection().execute("SELECT * FROM model_packages WHERE key = ?", (key.lower(),)).fetchone()
        )
        return None if row is None else _package_from_row(row)

    def update_package(
        self,
        key: str,
        *,
        approval_status: str | None,
        approval_description: str | None,
        metadata_to_add: dict | None,
        metadata_to_remove: list[str],
    ) -> ModelPackageRecord | None:
        """Change a package's approval and customer metadata; None if it does not exist."""
        with self._database.write() as db:
            row = db.execute("SELECT * FROM model_packages WHERE key = ?", (key.lower(),)).fetchone()
            if row is None:
                return None
            record = _package_from_row(row)
            metadata = dict(record.customer_metadata or {})
            metadata.update(metadata_to_add or {})
            for removed in metadata_to_remove:
                metadata.pop(removed, None)
            db.execute(
                "UPDATE model_packages SET approval_status = ?, approval_description = ?,"
                " customer_metadata_json = ?, last_modified_time = ? WHERE key = ?",
                (
                    approval_status or record.approval_status,
                    approval_description if approval_description is not None else record.approval_description,
                    json.dumps(metadata) if metadata else None,
                    time.time(),
                    key.lower(),
                ),
            )
            return _package_from_row(
                db.execute("SELECT * FROM model_packages WHERE key = ?", (key.lower(),)).fetchone()
            )

    def delete_package(self, key: str) -> bool:
        with self._database.write() as db:
            cursor = db.execute("DELETE FROM model_packages WHERE key = ?", (key.lower(),))
        return cursor.rowcount == 1

    def package_page(
        self, query: ListQuery, *, group_name: str | None, versioned: bool | None, approval_status: str | None
    ) -> Page:
        """A page of packages: of one group, or of one kind (versioned True/False, None: both)."""
        where: list[str] = []
        params: list = []
        if group_name is not None:
            where.append("group_name_key = ?")
            params.append(group_name.lower())
        elif versioned is not None:
            where.append("version IS NOT NULL" if versioned else "version IS NULL")
        if approval_status is not None:
            where.append("approval_status = ?")
            params.append(approval_status)
        return fetch_page(
            self._database,
            "model_packages",
            SORT_COLUMNS[query.sort_by],
            query,
            _package_from_row,
            tuple(where),
            tuple(params),
        )
