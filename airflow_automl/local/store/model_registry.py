"""Persistence of the model registry: model package groups and the model packages in them.

A versioned package belongs to a group and is numbered within it (1, 2, ...; a number is never
given twice, even after a delete, as on SageMaker); an unversioned package has its own name.
Both kinds live in one table keyed by ``group/version`` or by the name.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from airflow_automl.local.store.paging import ListQuery, Page
from airflow_automl.local.store.records import to_json
from airflow_automl.local.store.resources import NameInUse, ResourceStore

SORT_COLUMNS = {"Name": "name_key", "CreationTime": "creation_time"}


class GroupNameInUse(NameInUse):
    pass


class GroupNotFound(Exception):
    pass


class PackageNameInUse(NameInUse):
    pass


class ClientTokenReused(Exception):
    """A ClientToken that made a package came again with other parameters: args are that package
    and the request members that differ."""


@dataclass(frozen=True)
class ModelPackageGroupRecord:
    name: str
    arn: str
    request: dict
    status: str
    creation_time: float


@dataclass(frozen=True)
class ModelPackageRecord:
    name: str  # the group's name for a versioned package
    arn: str
    group_name: str | None
    version: int | None
    request: dict
    status: str
    approval_status: str | None
    approval_description: str | None
    customer_metadata: dict | None
    creation_time: float
    last_modified_time: float

    @property
    def key(self) -> str:
        return package_key(self.name, self.version)


def package_key(name: str, version: int | None = None) -> str:
    return name.lower() if version is None else f"{name.lower()}/{version}"


class ModelPackageGroupStore(ResourceStore[ModelPackageGroupRecord]):
    """The model_package_groups table."""

    table = "model_package_groups"
    record = ModelPackageGroupRecord
    sort_columns = SORT_COLUMNS
    name_in_use = GroupNameInUse

    def create(self, *, name: str, arn: str, request: dict, tags: Sequence[dict] = ()) -> ModelPackageGroupRecord:
        """A new group with its tags; GroupNameInUse if the name is taken, TooManyTags."""
        with self._database.write() as db:
            row = self._insert(db, name=name, arn=arn, tags=tags, request_json=json.dumps(request))
        return self._record(row)

    def delete_empty(self, name: str) -> int:
        """Delete a group (and its tags) that holds no package; how many packages it still holds
        (then nothing is deleted)."""
        with self._database.write() as db:
            held = db.execute(
                "SELECT COUNT(*) FROM model_packages WHERE group_name_key = ?", (name.lower(),)
            ).fetchone()[0]
            row = self._row(db, name)
            if held == 0 and row is not None:
                self._delete(db, row)
        return held


class ModelPackageStore(ResourceStore[ModelPackageRecord]):
    """The model_packages table, keyed by package_key."""

    table = "model_packages"
    record = ModelPackageRecord
    sort_columns = SORT_COLUMNS
    name_in_use = PackageNameInUse
    key_column = "key"

    def create(
        self,
        *,
        name: str,
        group_name: str | None,
        arn_of: Callable[[str], str],
        request: dict,
        approval_status: str | None,
        client_token: str | None,
        tags: Sequence[dict] = (),
    ) -> ModelPackageRecord:
        """A new package with its tags: the next version of group_name's, or the unversioned package
        ``name``. arn_of(key) gives the ARN from the package's key. With a client_token already used,
        the package made then is returned (a retried request makes nothing new), unless the request
        differs from that one's (ClientTokenReused). GroupNotFound, PackageNameInUse, TooManyTags."""
        with self._database.write() as db:
            if client_token:
                row = db.execute("SELECT * FROM model_packages WHERE client_token = ?", (client_token,)).fetchone()
                if row is not None:
                    made = self._record(row)
                    differing = sorted(
                        key for key in {*made.request, *request} if made.request.get(key) != request.get(key)
                    )
                    if differing:
                        raise ClientTokenReused(made, differing)
                    return made
            version = None if group_name is None else self._next_version(db, group_name)
            key = package_key(name, version)
            row = self._insert(
                db,
                name=name,
                arn=arn_of(key),
                tags=tags,
                key=key,
                group_name_key=group_name.lower() if group_name else None,
                group_name=group_name,
                version=version,
                request_json=json.dumps(request),
                approval_status=approval_status,
                customer_metadata_json=to_json(request.get("CustomerMetadataProperties")),
                client_token=client_token,
            )
        return self._record(row)

    @staticmethod
    def _next_version(db: sqlite3.Connection, group_name: str) -> int:
        """The group's next version number, taken (never given again); GroupNotFound."""
        row = db.execute(
            "SELECT next_version FROM model_package_groups WHERE name_key = ?", (group_name.lower(),)
        ).fetchone()
        if row is None:
            raise GroupNotFound(group_name)
        version = row["next_version"]
        db.execute(
            "UPDATE model_package_groups SET next_version = ?, last_modified_time = ? WHERE name_key = ?",
            (version + 1, time.time(), group_name.lower()),
        )
        return version

    def update(
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
            row = self._row(db, key)
            if row is None:
                return None
            record = self._record(row)
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
                    to_json(metadata or None),
                    time.time(),
                    key.lower(),
                ),
            )
            updated = self._row(db, key)
        assert updated is not None
        return self._record(updated)

    def filtered_page(
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
        return self.page(query, tuple(where), tuple(params))
