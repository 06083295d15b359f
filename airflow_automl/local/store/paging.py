"""Pages of a list in a total order, continued by a NextToken (page_tokens.py).

``ListQuery`` holds the parameters SageMaker's List operations share; a resource table that
has the columns name_key, status, creation_time, last_modified_time and seq can be filtered
and paged by it as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from airflow_automl.local.store.database import Database


@dataclass(frozen=True)
class Page:
    rows: list
    next_token: str | None


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
    tiebreak: str = "seq",
) -> Page:
    """One page of table's rows in (sort_expression, tiebreak) order, each turned into an item.
    where and params: conditions of the table's own, besides the query's filters. tiebreak: an
    expression unique per row that orders rows of equal sort values (by default their seq)."""
    query_where, query_params = query.conditions()
    conditions, values = [*where, *query_where], [*params, *query_params]
    descending = query.descending
    if query.page_token:
        after_value, after_tiebreak = database.page_tokens.decode(query.page_token, query.token_scope)
        conditions.append(f"({sort_expression}, {tiebreak}) {'<' if descending else '>'} (?, ?)")
        values += [after_value, after_tiebreak]
    direction = "DESC" if descending else "ASC"
    limit = query.limit
    sql = f"SELECT *, {sort_expression} AS sort_value, {tiebreak} AS tiebreak_value FROM {table}"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    # One row more than the page, to know whether another page follows.
    sql += f" ORDER BY sort_value {direction}, tiebreak_value {direction} LIMIT ?"
    rows = database.connection().execute(sql, (*values, limit + 1)).fetchall()
    next_token = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_token = database.page_tokens.encode(query.token_scope, last["sort_value"], last["tiebreak_value"])
    return Page([item(row) for row in rows[:limit]], next_token)
