"""Persistence of tags, by resource ARN (any resource family can be tagged)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from airflow_automl.local.store.database import Database
from airflow_automl.local.store.paging import ListQuery, Page, fetch_page


class TooManyTags(Exception):
    """Adding the tags would leave the resource with more than the limit (args: the count it would have)."""


def put_tag(db: sqlite3.Connection, arn: str, key: str, value: str) -> None:
    """Add or overwrite one tag inside the caller's transaction (a create writes its tags with
    the resource); a new key goes last."""
    existing = db.execute("SELECT seq FROM tags WHERE arn = ? AND key = ?", (arn, key)).fetchone()
    if existing:
        db.execute("UPDATE tags SET value = ? WHERE arn = ? AND key = ?", (value, arn, key))
        return
    seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM tags WHERE arn = ?", (arn,)).fetchone()[0]
    db.execute("INSERT INTO tags (arn, key, value, seq) VALUES (?, ?, ?, ?)", (arn, key, value, seq))


class TagStore:
    """The tags table."""

    def __init__(self, database: Database):
        self._database = database

    def add(self, arn: str, tags: Sequence[dict], max_tags: int) -> None:
        """Add or overwrite tags; TooManyTags if the resource would hold more than max_tags. The
        count is taken inside the writing transaction, so concurrent adds cannot pass it together."""
        with self._database.write() as db:
            existing = {row["key"] for row in db.execute("SELECT key FROM tags WHERE arn = ?", (arn,))}
            count = len(existing | {tag["Key"] for tag in tags})
            if count > max_tags:
                raise TooManyTags(count)
            for tag in tags:
                put_tag(db, arn, tag["Key"], tag.get("Value", ""))

    def delete(self, arn: str, keys: Sequence[str]) -> None:
        with self._database.write() as db:
            db.executemany("DELETE FROM tags WHERE arn = ? AND key = ?", [(arn, key) for key in keys])

    def delete_all(self, arn: str) -> None:
        """A deleted resource's tags: a new resource of the same name starts without them."""
        with self._database.write() as db:
            db.execute("DELETE FROM tags WHERE arn = ?", (arn,))

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
