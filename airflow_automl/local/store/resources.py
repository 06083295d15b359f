"""What every resource family's store shares: one table of named resources, read as records.

A family's store names its table, its record type (records.py maps rows to it), the columns its
lists sort by and the error a taken name raises. It gets ``get``, ``page`` and ``delete``, and
``_insert``, with which its create writes the new row and the request's tags in one write
transaction. Names are unique case-insensitively: rows are keyed by the lowercased name.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Generic, TypeVar

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page
from airflow_automl.local.store.records import from_row
from airflow_automl.local.store.tags import put_tags

R = TypeVar("R")


class NameInUse(Exception):
    """A create named a resource that exists; args[0] is the existing resource's name."""


class ResourceStore(Generic[R]):
    """One resource family's table."""

    table: ClassVar[str]
    record: ClassVar[type]
    # List sort orders (SortBy values) and the column expression each sorts by.
    sort_columns: ClassVar[dict[str, str]]
    name_in_use: ClassVar[type[NameInUse]] = NameInUse
    # The unique column a resource is found by: its lowercased name, unless the family keys
    # its rows otherwise (model package versions: group/version).
    key_column: ClassVar[str] = "name_key"

    def __init__(self, database: Database):
        self._database = database

    def _read(self) -> sqlite3.Connection:
        return self._database.connection()

    def _record(self, row: sqlite3.Row) -> R:
        return from_row(self.record, row)

    def _row(self, db: sqlite3.Connection, key: str) -> sqlite3.Row | None:
        return db.execute(f"SELECT * FROM {self.table} WHERE {self.key_column} = ?", (key.lower(),)).fetchone()

    def get(self, key: str) -> R | None:
        row = self._row(self._read(), key)
        return None if row is None else self._record(row)

    def page(self, query: ListQuery, where: tuple[str, ...] = (), params: tuple = ()) -> Page:
        """A page of records; where and params: conditions of the family's own, besides the query's filters."""
        return fetch_page(
            self._database,
            self.table,
            self.sort_columns[query.sort_by],
            query,
            functools.partial(from_row, self.record),
            where,
            params,
        )

    def delete(self, key: str) -> bool:
        """Delete the resource and its tags; False if it did not exist."""
        with self._database.write() as db:
            row = self._row(db, key)
            if row is None:
                return False
            self._delete(db, row)
        return True

    def _delete(self, db: sqlite3.Connection, row: sqlite3.Row) -> None:
        db.execute(f"DELETE FROM {self.table} WHERE seq = ?", (row["seq"],))
        db.execute("DELETE FROM tags WHERE arn = ?", (row["arn"],))

    def _insert(
        self,
        db: sqlite3.Connection,
        *,
        name: str,
        arn: str,
        tags: Sequence[dict] = (),
        key: str | None = None,
        **columns: Any,
    ) -> sqlite3.Row:
        """Insert a new resource and its tags inside the caller's write transaction and return its
        row; name_in_use if its key (default: the lowercased name) is taken, TooManyTags (tags.py)
        past the tag limit. columns: the family's own columns, by column name."""
        key = (key or name).lower()
        existing = self._row(db, key)
        if existing is not None:
            raise self.name_in_use(existing["name"])
        now = time.time()
        values = {
            "name_key": name.lower(),
            "name": name,
            "arn": arn,
            "creation_time": now,
            "last_modified_time": now,
            **columns,
            self.key_column: key,
        }
        db.execute(
            f"INSERT INTO {self.table} ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
            tuple(values.values()),
        )
        put_tags(db, arn, tags)
        row = self._row(db, key)
        assert row is not None
        return row
