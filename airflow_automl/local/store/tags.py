"""Persistence of tags, by resource ARN (any resource family can be tagged).

Tags are written in the transaction that writes their resource: a create stores the request's
tags with the resource (put_tags), and a delete removes them with it (ResourceStore.delete), so
a resource is never seen without the tags it was created with, and a new resource of a deleted
one's name starts without them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page

# SageMaker's limit on the tags of one resource, checked against the stored tags in the writing
# transaction, so concurrent writes cannot pass it together.
MAX_TAGS_PER_RESOURCE = 50


class TooManyTags(Exception):
    """Adding the tags would leave the resource with more than the limit (args: the count it would have)."""


def put_tags(db: sqlite3.Connection, arn: str, tags: Sequence[dict]) -> None:
    """Add or overwrite tags inside the caller's write transaction; a new key goes last.
    TooManyTags if the resource would hold more than MAX_TAGS_PER_RESOURCE."""
    if not tags:
        return
    existing = {row["key"] for row in db.execute("SELECT key FROM tags WHERE arn = ?", (arn,))}
    count = len(existing | {tag["Key"] for tag in tags})
    if count > MAX_TAGS_PER_RESOURCE:
        raise TooManyTags(count)
    for tag in tags:
        key, value = tag["Key"], tag.get("Value", "")
        if key in existing:
            db.execute("UPDATE tags SET value = ? WHERE arn = ? AND key = ?", (value, arn, key))
            continue
        seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM tags WHERE arn = ?", (arn,)).fetchone()[0]
        db.execute("INSERT INTO tags (arn, key, value, seq) VALUES (?, ?, ?, ?)", (arn, key, value, seq))
        existing.add(key)


class TagStore:
    """The tags table."""

    def __init__(self, database: Database):
        self._database = database

    def add(self, arn: str, tags: Sequence[dict]) -> None:
        """Add or overwrite tags of a resource; TooManyTags past the limit."""
        with self._database.write() as db:
            put_tags(db, arn, tags)

    def delete(self, arn: str, keys: Sequence[str]) -> None:
        with self._database.write() as db:
            db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys])

    def page(self, arn: str, query: ListQuery) -> Page:
        """The resource's tags in the order they were first added."""
        return fetch_page(
            self._database,
            "tags",
            "seq",
            query,
            lambda row: {"Key": row["key"], "Value": row["value"]},
            ("arn = ?",),
            (arn,),
        )
