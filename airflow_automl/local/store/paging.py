"""Pages of a list in a total order, and the NextToken that continues one.

A token names the last row returned (its sort value and seq), not an offset, so rows added or
changed between pages neither repeat nor vanish from the pages still to come. It is bound to
a scope (the operation and its filters) so it cannot continue a different request, and signed
with HMAC-SHA256 under a secret kept in the database, so a token the service did not issue, or
one edited by hand, is refused before any of its fields is used.

``ListQuery`` holds the parameters SageMaker's List operations share; a resource table that
has the columns name_key, status, creation_time, last_modified_time and seq can be filtered
and paged by it as it is.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_automl.local.store.database import Database


class InvalidPageToken(Exception):
    """A NextToken this service did not issue, or issued for another request."""


@dataclass(frozen=True)
class Page:
    rows: list
    next_token: str | None


_MAC_BYTES = 16
# SQLite integers are signed 64-bit.
_MAX_SEQ = 2**63 - 1


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _valid_sort_value(value: Any) -> bool:
    """A value SQLite can compare with a sort column: text, a 64-bit integer or a finite float."""
    if isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _MAX_SEQ
    return isinstance(value, float) and math.isfinite(value)


class PageTokens:
    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: str, sort_value: Any, seq: int) -> str:
        payload = json.dumps({"scope": scope, "after": [sort_value, seq]}, separators=(",", ":")).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def decode(self, token: str, scope: str) -> tuple[Any, int]:
        """The (sort value, seq) a token continues after; InvalidPageToken unless this service
        issued it for this request."""
        encoded_payload, _, encoded_mac = token.partition(".")
        try:
            payload, mac = _b64decode(encoded_payload), _b64decode(encoded_mac)
        except (ValueError, binascii.Error) as error:
            raise InvalidPageToken(f"NextToken: not a token this service issued ({error})") from error
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidPageToken("NextToken: not a token this service issued (its signature does not match)")
        try:
            document = json.loads(payload)
            sort_value, seq = document["after"]
            token_scope = document["scope"]
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidPageToken(f"NextToken: not a token this service issued ({error})") from error
        # Signed tokens hold what the service wrote; checked anyway, as a last line.
        if not _valid_sort_value(sort_value) or type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
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
    database: Database,
    table: str,
    sort_expression: str,
    query: ListQuery,
    item: Callable[[Any], Any],
    where: tuple[str, ...] = (),
    params: tuple = (),
) -> Page:
    """One page of table's rows in (sort_expression, seq) order, each turned into an item.
    where and params: conditions of the table's own, besides the query's filters."""
    query_where, query_params = query.conditions()
    where, params = [*where, *query_where], [*params, *query_params]
    descending = query.descending
    if query.page_token:
        after_value, after_seq = database.page_tokens.decode(query.page_token, query.token_scope)
        where.append(f"({sort_expression}, seq) {'<' if descending else '>'} (?, ?)")
        params += [after_value, after_seq]
    direction = "DESC" if descending else "ASC"
    limit = query.limit
    sql = f"SELECT *, {sort_expression} AS sort_value FROM {table}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    # One row more than the page, to know whether another page follows.
    sql += f" ORDER BY sort_value {direction}, seq {direction} LIMIT ?"
    rows = database.connection().execute(sql, (*params, limit + 1)).fetchall()
    next_token = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_token = database.page_tokens.encode(query.token_scope, last["sort_value"], last["seq"])
    return Page([item(row) for row in rows[:limit]], next_token)
