"""Records from rows: one mapping for every resource family, driven by the record's fields.

A record is a frozen dataclass whose fields are its table's columns. A field ``x`` reads the
column ``x``, or the column ``x_json`` decoded from JSON when the table keeps ``x`` as JSON. A
field declared ``= field(metadata=column("other"))`` reads a column of another name (the start
time of an AutoML job is ``started_time``), and ``column(decode=f)`` builds its value with ``f``
from what the column holds (a JobSpec from its JSON). Columns without a field are not read.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

R = TypeVar("R")

_COLUMN = "column"
_DECODE = "decode"


def column(name: str | None = None, *, decode: Callable[[Any], Any] | None = None) -> dict[str, Any]:
    """The metadata of a record field read from the column ``name`` (None: the field's own name),
    its value built by ``decode`` from the column's (JSON-decoded) value."""
    return {_COLUMN: name, _DECODE: decode}


def column_name(record_type: type, field_name: str) -> str:
    """The column a record's field is read from, as far as the record declares it (a JSON column's
    ``_json`` suffix comes from the table, see from_row)."""
    for field in dataclasses.fields(record_type):
        if field.name == field_name:
            return field.metadata.get(_COLUMN) or field.name
    raise AttributeError(f"{record_type.__name__} has no field {field_name!r}")


def _plan(record_type: type, columns: tuple[str, ...]) -> tuple[tuple[str, str, bool, Callable | None], ...]:
    """For each field of record_type: (field, column, is JSON, decode), given the row's columns."""
    plan = []
    for field in dataclasses.fields(record_type):
        name = field.metadata.get(_COLUMN) or field.name
        if name in columns:
            is_json = name.endswith("_json")
        elif f"{name}_json" in columns:
            name, is_json = f"{name}_json", True
        else:
            raise LookupError(
                f"{record_type.__name__}.{field.name}: the row has neither a column {name!r} nor {name + '_json'!r} "
                f"(its columns: {', '.join(columns)})"
            )
        plan.append((field.name, name, is_json, field.metadata.get(_DECODE)))
    return tuple(plan)


def from_row(record_type: type[R], row: sqlite3.Row) -> R:
    """The record of type record_type that row holds."""
    values = {}
    for field, name, is_json, decode in _plan(record_type, tuple(row.keys())):
        value = row[name]
        if is_json and value is not None:
            value = json.loads(value)
        if decode is not None and value is not None:
            value = decode(value)
        values[field] = value
    return record_type(**values)


def to_json(value: Any) -> str | None:
    """A JSON column's value (None stays NULL)."""
    return None if value is None else json.dumps(value)
