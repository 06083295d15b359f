"""Hypothesis strategies for SageMaker requests, built from botocore's input shapes.

``valid_request(shape)`` draws requests that satisfy every shape rule (types, lengths,
ranges, enums, patterns, required members). ``mutation(shape)`` draws one way to break a
valid request at one member, so a test knows which member the rejection must name: wrong
types, lengths and ranges, and the hostile value classes (infinities, integers of hundreds of
digits or past 32/64 bits, timestamps no date can hold). Valid requests include URIs with
over-long path segments, which must be refused, never fail the service.
"""

from __future__ import annotations

import datetime
import functools
import re
from dataclasses import dataclass
from typing import Any

from botocore.model import Shape
from hypothesis import strategies as st

from airflow_automl.shapes import compile_pattern

_MAX_DEPTH = 6
_MAX_ITEMS = 3
_MAX_TEXT = 40
_MAX_ARN = 120


@dataclass(frozen=True)
class Mutation:
    path: tuple[Any, ...]  # keys and list indexes down to the broken member
    member: str  # the member name the error must name
    value: Any  # the replacement; _MISSING deletes the member
    rule: str


_MISSING = object()


@functools.lru_cache(maxsize=None)
def _pattern_strategy(pattern: str, min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # Printable ASCII keeps generation fast: the patterns' Unicode classes span huge ranges.
    try:
        compiled = compile_pattern(pattern)
        strategy = st.from_regex(compiled, fullmatch=True, alphabet=st.characters(min_codepoint=32, max_codepoint=126))
    except (re.error, TypeError, ValueError, NotImplementedError):
        return st.nothing()
    return strategy.filter(lambda text: min_size <= len(text) <= max_size and compiled.fullmatch(text) is not None)


def _string(shape: Shape) -> st.SearchStrategy[str]:
    enum = getattr(shape, "enum", None)
    if enum:
        return st.sampled_from(list(enum))
    min_size = shape.metadata.get("min", 0)
    max_size = min(shape.metadata.get("max", _MAX_TEXT), max(min_size, _MAX_TEXT))
    pattern = shape.metadata.get("pattern")
    if pattern and pattern.startswith("arn:"):
        # An ARN's fixed parts alone are longer than _MAX_TEXT (a model package's: 56 characters).
        max_size = min(shape.metadata.get("max", _MAX_ARN), _MAX_ARN)
    if pattern:
        return _pattern_strategy(pattern, min_size, max_size)
    return st.text(min_size=min_size, max_size=max_size)


def _number_bounds(shape: Shape) -> tuple[int | None, int | None]:
    return shape.metadata.get("min"), shape.metadata.get("max")


def valid_value(shape: Shape, depth: int = 0) -> st.SearchStrategy[Any]:
    kind = shape.type_name
    if kind == "string":
        return _string(shape)
    if kind in ("integer", "long"):
        low, high = _number_bounds(shape)
        return st.integers(min_value=int(low) if low is not None else -(2**31),
                           max_value=int(high) if high is not None else 2**31 - 1)
    if kind in ("float", "double"):
        low, high = _number_bounds(shape)
        return st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.one_of(
            st.integers(min_value=0, max_value=4_000_000_000),
            st.datetimes(min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2100, 1, 1)).map(
                lambda moment: moment.replace(tzinfo=datetime.timezone.utc).isoformat()
            ),
        )
    if kind == "list":
        low = shape.metadata.get("min", 0)
        high = min(shape.metadata.get("max", _MAX_ITEMS), max(low, _MAX_ITEMS))
        if depth >= _MAX_DEPTH and low == 0:
            return st.just([])
        return st.lists(valid_value(shape.member, depth + 1), min_size=low, max_size=high)
    if kind == "map":
        low = shape.metadata.get("min", 0)
        high = min(shape.metadata.get("max", _MAX_ITEMS), max(low, _MAX_ITEMS))
        return st.dictionaries(_string(shape.key), valid_value(shape.value, depth + 1), min_size=low, max_size=high)
    if kind == "structure":
        return valid_structure(shape, depth)
    return st.none()


# URI members also draw locations with an over-long path segment: shape-valid, and for file://
# refused by the service (naming the member), never a 500.
_URI_MEMBERS = ("S3Uri", "S3OutputPath")
_LOCAL_URI_SHAPES = ("S3Uri", "Url")
HOSTILE_URIS = ("file:///tmp/" + "a" * 300 + "/data.csv", "s3://bucket/" + "a" * 300 + "/data.csv")


def _member_value(name: str, shape: Shape, depth: int) -> st.SearchStrategy[Any]:
    strategy = valid_value(shape, depth)
    if shape.type_name == "string" and name.endswith(_URI_MEMBERS):
        # file:// is shape-valid only in the shapes the service reads local files from; other
        # S3 members (DataCaptureConfig.DestinationS3Uri, ModelDataSource's S3Uri) must be s3://.
        hostile = HOSTILE_URIS if shape.name in _LOCAL_URI_SHAPES else HOSTILE_URIS[1:]
        strategy = st.one_of(strategy, st.sampled_from(hostile))
    return strategy


def valid_structure(shape: Shape, depth: int = 0) -> st.SearchStrategy[dict]:
    members = shape.members
    required = set(shape.required_members)
    if shape.metadata.get("union"):
        return st.sampled_from(sorted(members)).flatmap(
            lambda name: valid_value(members[name], depth + 1).map(lambda value: {name: value})
        )

    @st.composite
    def build(draw) -> dict:
        result = {}
        for name, member in members.items():
            if name in required or (depth < _MAX_DEPTH and draw(st.booleans())):
                result[name] = draw(_member_value(name, member, depth + 1))
        return result

    return build()


def _member_paths(shape: Shape, value: Any, path: tuple, member: str | None):
    """(path, shape, member name) of every member present in a valid value."""
    if member is not None:
        yield path, shape, member
    if shape.type_name == "structure" and isinstance(value, dict):
        for name, item in value.items():
            yield from _member_paths(shape.members[name], item, path + (name,), name)
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _member_paths(shape.member, item, path + (index,), member)
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, item in value.items():
            yield from _member_paths(shape.value, item, path + (key,), member)


_WRONG_TYPES: dict[str, list[Any]] = {
    "string": [12, True, ["text"], {"a": "b"}],
    "integer": ["12", 1.5, True, [1]],
    "long": ["12", 2.5, False],
    "float": ["0.5", True, [0.5]],
    "double": ["0.5", True, {"v": 1}],
    "boolean": ["true", 1, 0, [True]],
    "timestamp": ["not a time", True, [1], {"t": 1}],
    "list": ["item", 3, {"a": 1}],
    "map": ["key", 3, ["a"]],
    "structure": ["text", 3, ["a"], True],
}


def _breakages(shape: Shape, member: str) -> list[tuple[Any, str]]:
    kind = shape.type_name
    out: list[tuple[Any, str]] = [(value, "type") for value in _WRONG_TYPES.get(kind, [])]
    limits = shape.metadata
    if kind == "string":
        if getattr(shape, "enum", None):
            out.append(("NotAValue" + "x" * 3, "enum"))
        if limits.get("max") is not None and limits["max"] < 100_000:
            out.append(("a" * (limits["max"] + 1), "max length"))
        if limits.get("min", 0) > 0:
            out.append(("", "min length"))
    if kind in ("integer", "long", "float", "double"):
        if limits.get("max") is not None:
            out.append((limits["max"] + 1, "maximum"))
        if limits.get("min") is not None:
            out.append((limits["min"] - 1, "minimum"))
        out.append((10**400, "huge integer"))
    if kind == "integer":
        out.append((2**31, "32-bit range"))
    if kind == "long":
        out.append((2**63, "64-bit range"))
    if kind in ("float", "double"):
        out += [(float("inf"), "infinity"), (float("-inf"), "infinity")]
    if kind == "timestamp":
        out += [("inf", "infinity"), ("1e400", "infinity"), (1e20, "out of range"), (10**400, "huge integer")]
    if kind == "list":
        if limits.get("max") is not None and limits["max"] <= 1000:
            out.append(("__too_many__", "max items"))
        if limits.get("min", 0) > 0:
            out.append(([], "min items"))
    return out


@st.composite
def invalid_request(draw, shape: Shape) -> tuple[dict, Mutation]:
    """A valid request broken at exactly one member, and how it was broken."""
    request = draw(valid_structure(shape))
    choices = []
    for path, member_shape, member in _member_paths(shape, request, (), None):
        if isinstance(path[-1], str) and path[-1] == member:
            for value, rule in _breakages(member_shape, member):
                choices.append(Mutation(path, member, value, rule))
    # Missing required members and unknown members, at the top level where they are known to be present.
    for name in shape.required_members:
        choices.append(Mutation((name,), name, _MISSING, "required"))
    choices.append(Mutation(("NotAMemberOfThisShape",), "NotAMemberOfThisShape", "x", "unknown member"))
    mutation = draw(st.sampled_from(choices))
    return apply(request, mutation, shape), mutation


def _shape_at(shape: Shape, path: tuple) -> Shape:
    for step in path:
        if shape.type_name == "structure":
            shape = shape.members[step]
        elif shape.type_name == "list":
            shape = shape.member
        else:
            shape = shape.value
    return shape


def apply(request: dict, mutation: Mutation, shape: Shape) -> dict:
    import copy

    broken = copy.deepcopy(request)
    target = broken
    for step in mutation.path[:-1]:
        target = target[step]
    last = mutation.path[-1]
    if mutation.value is _MISSING:
        target.pop(last, None)
    elif mutation.value == "__too_many__":
        member_shape = _shape_at(shape, mutation.path)
        items = target[last] or [None]
        target[last] = [items[0]] * (member_shape.metadata["max"] + 1)
    else:
        target[last] = mutation.value
    return broken
