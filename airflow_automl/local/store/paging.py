"""Pages of a list in a total order, and the NextToken that continues one.

A token names the last row returned (its sort value and seq), not an offset, so rows added or
changed between pages neither repeat nor vanish from the pages still to come. It is bound to
a scope (the operation and its filters) so it cannot continue a different request.

``ListQuery`` holds the parameters SageMaker's List operations share; a resource table that
has the columns name_key, status, creation_time, last_modified_time and seq can be filtered
and paged by it as it is.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class InvalidPageToken(Exception):
    """A NextToken this service did not issue, or issued for another request."""


@dataclass(frozen=True)
class Page:
    rows: list
    next_token: str | None


def encode_page_token(scope: str, sort_value: Any, seq: int) -> str:
    raw = json.dumps({"scope": scope, "after": [sort_value, seq]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, scope: str) -> tuple[Any, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded.encode()))
        sort_value, seq = payload["after"]
        token_scope = payload["scope"]
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidPageToken(f"NextToken: not a token this service issued ({error})") from error
    if isinstance(sort_value, bool) or not isinstance(sort_value, (str, int, float)) or type(seq) is not int:
        raise InvalidPageToken("NextToken: not a token this service issued (malformed position)")
    if token_scope != scope:
        raise InvalidPageToken(
            "NextToken: the token was issued for a different request; repeat the request with "
            "the same filters and sort order as the one that returned it"
        )
    return sort_value, seq


@dataclass(frozen=True)
class ListQuery:
    """What one page of a list asks for: filters (None: not filtered), order, size, position."""

    name_contains: str | None = None
    status_equals: str | None = None
    creation_time_after: float | None = None
    creation_time_before: float | None = None
    last_modified_time_after: float | None = None
    last_modified_time_before: float | None = None
    sort_by: str = "CreationTime"
    descending: bool = False
    limit: int = 10
    page_token: str | None = None
    token_scope: str = ""

    def conditions(self) -> tuple[list[str], list]:
        """SQL conditions and their parameters for the filters that are set."""
        where, params = [], []
        for clause, value in (
            ("creation_time > ?", self.creation_time_after),
            ("creation_time < ?", self.creation_time_before),
            ("last_modified_time > ?", self.last_modified_time_after),
            ("last_modified_time < ?", self.last_modified_time_before),
            ("instr(name_key, ?) > 0", self.name_contains.lower() if self.name_contains else None),
            ("status = ?", self.status_equals),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        return where, params


def fetch_page(
    connection: sqlite3.Connection,
    table: str,
    sort_expression: str,
    query: ListQuery,
    item: Callable[[sqlite3.Row], Any],
    where: tuple[str, ...] = (),
    params: tuple = (),
) -> Page:
    """One page of table's rows in (sort_expression, seq) order, each turned into an item.
    where and params: conditions of the table's own, besides the query's filters."""
    query_where, query_params = query.conditions()
    where, params = [*where, *query_where], [*params, *query_params]
    descending = query.descending
    if query.page_token:
        after_value, after_seq = decode_page_token(query.page_token, query.token_scope)
        where.append(f"({sort_expression}, seq) {'<' if descending else '>'} (?, ?)")
        params += [after_value, after_seq]
    direction = "DESC" if descending else "ASC"
    limit = query.limit
    sql = f"SELECT *, {sort_expression} AS sort_value FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # One row more than the page, to know whether another page follows.
    sql += f" ORDER BY sort_value {direction}, seq {direction} LIMIT ?"
    rows = connection.execute(sql, (*params, limit + 1)).fetchall()
    next_token = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_token = encode_page_token(query.token_scope, last["sort_value"], last["seq"])
    return Page([item(row) for row in rows[:limit]], next_token)
