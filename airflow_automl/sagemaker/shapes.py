"""botocore's SageMaker model as a validator: walking a request through its input shape.

Shape rules for any ``sagemaker`` operation, read from botocore's service model: known
members, required members, types, lengths, ranges, enums and patterns (botocore's own
client-side validator skips max, enum and pattern); and the coercion of strings that Airflow
templates render into the numbers and booleans the shapes want. The AutoML rules the
reference states in prose build on this, in airflow_automl.sagemaker.rules.
"""

from __future__ import annotations

import copy
import datetime
import functools
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from typing import Any

import botocore.session
from botocore.model import ServiceModel, Shape
from botocore.utils import parse_timestamp


@functools.cache
def sagemaker_model() -> ServiceModel:
    """botocore's service model for SageMaker: the authority for every request shape."""
    return botocore.session.get_session().get_service_model("sagemaker")


JOB_NAME_PATTERN: str = sagemaker_model().shape_for("AutoMLJobName").metadata["pattern"]

# The local service also reads file:// URIs (under its allowed roots); SageMaker itself
# rejects them server-side, so accepting them here costs nothing against AWS.
LOCAL_URI_PREFIX = "file://"
# Url: ModelDataUrl of CreateModel's containers; DestinationS3Uri: where endpoint data capture goes.
_URI_SHAPES = frozenset({"S3Uri", "Url", "DestinationS3Uri"})


class RequestValidationError(ValueError):
    """A request broke a rule. ``field`` is the dotted path, ``rule`` says what was wrong."""

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


# --------------------------------------------------------------------------- patterns


def _unicode_class(category: str) -> str:
    """Character-class body (ranges) for a Java \\p{..} class, which Python's re lacks."""
    ranges = _unicode_ranges()
    if category not in ranges:
        raise ValueError(f"pattern class \\p{{{category}}} is not supported (known: {', '.join(sorted(ranges))})")
    return ranges[category]


@functools.cache
def _unicode_ranges() -> dict[str, str]:
    members: dict[str, list[int]] = {}
    for code_point in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code_point))  # e.g. "Lu": in \p{Lu} and in \p{L}
        members.setdefault(category, []).append(code_point)
        members.setdefault(category[0], []).append(code_point)
    ranges = {key: _ranges_text(points) for key, points in members.items()}
    ranges["Alnum"] = "a-zA-Z0-9"  # POSIX class: ASCII only, as in Java
    ranges["Alpha"] = "a-zA-Z"
    ranges["Digit"] = "0-9"
    return ranges


def _ranges_text(points: list[int]) -> str:
    parts: list[str] = []
    start: int | None = None
    previous = 0  # set together with start, at the first point
    for point in points + [-2]:
        if start is None:
            start = previous = point
        elif point == previous + 1:
            previous = point
        else:
            parts.append(
                re.escape(chr(start)) if start == previous else f"{re.escape(chr(start))}-{re.escape(chr(previous))}"
            )
            start = previous = point
    return "".join(parts)


_JAVA_CLASS = re.compile(r"\\p\{(\w+)\}")
_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)
_QUANTIFIED_END = re.compile(r"\$\{\d+(,\d*)?\}$")


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a botocore (Java-flavoured) pattern for Python's re.

    The model writes Unicode classes as ``\\p{L}``, astral characters as UTF-16
    surrogate pairs (``\\uD800\\uDC00``) and sometimes a quantified end anchor
    (``(...)${1,128}``, a length the shape's min/max already bound); all are rewritten
    to what re understands.
    """

    def pair(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    translated = _QUANTIFIED_END.sub("$", _SURROGATE_PAIR.sub(pair, pattern))
    pieces, position = [], 0
    for match in _JAVA_CLASS.finditer(translated):
        before = translated[: match.start()]
        inside_class = before.count("[") - before.count("\\[") > before.count("]") - before.count("\\]")
        body = _unicode_class(match.group(1))
        pieces.append(translated[position : match.start()])
        pieces.append(body if inside_class else f"[{body}]")
        position = match.end()
    pieces.append(translated[position:])
    return re.compile("".join(pieces))


# --------------------------------------------------------------------------- shape walker


def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def got_value(value: Any) -> str:
    text = repr(value)
    return f"(got {text[:80]}{'...' if len(text) > 80 else ''})"


_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "long": "an integer",
    "float": "a number",
    "double": "a number",
    "boolean": "a boolean (true or false)",
    "list": "a list",
    "map": "a map (object)",
    "structure": "an object",
    "timestamp": "a timestamp",
    "blob": "bytes",
}


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    # Integers are always finite; math.isfinite would overflow on one of 400 digits.
    return _is_integer(value) or (isinstance(value, float) and math.isfinite(value))


# Epoch seconds a timestamp may hold: the years 1 to 9999, what a datetime can represent.
_EPOCH_RANGE = (
    datetime.datetime(1, 1, 1, tzinfo=datetime.UTC).timestamp(),
    datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.UTC).timestamp(),
)


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, (datetime.datetime, datetime.date)):
        return True
    if _is_number(value):
        return bool(_EPOCH_RANGE[0] <= value <= _EPOCH_RANGE[1])
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None:
            # "inf", "nan" and "1e400" are numbers no date can hold.
            return math.isfinite(number) and _EPOCH_RANGE[0] <= number <= _EPOCH_RANGE[1]
        try:
            parse_timestamp(value).timestamp()
        except (ValueError, TypeError, OverflowError, OSError):
            return False
        return True
    return False


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "long": _is_integer,
    "float": _is_number,
    "double": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "map": lambda v: isinstance(v, Mapping),
    "structure": lambda v: isinstance(v, Mapping),
    "timestamp": _is_timestamp,
    "blob": lambda v: isinstance(v, (bytes, bytearray, str)) or hasattr(v, "read"),
}


def _check_shape(shape: Shape, value: Any, path: str) -> None:
    """Raise RequestValidationError for the first shape rule ``value`` breaks."""
    type_name = shape.type_name
    if not _TYPE_CHECKS.get(type_name, lambda v: True)(value):
        raise RequestValidationError(path, f"must be {_TYPE_NAMES[type_name]} {got_value(value)}")
    limits = shape.metadata
    if type_name == "structure":
        _check_structure(shape, value, path)
    elif type_name == "list":
        _check_count(limits, len(value), path, "item")
        for index, item in enumerate(value):
            _check_shape(shape.member, item, f"{path}[{index}]")
    elif type_name == "map":
        _check_count(limits, len(value), path, "entry")
        for key, item in value.items():
            _check_shape(shape.key, key, f"{path}[{key!r}]")
            _check_shape(shape.value, item, f"{path}[{key!r}]")
    elif type_name == "string":
        _check_string(shape, value, path)
    elif type_name in ("integer", "long", "float", "double"):
        _check_number_range(type_name, value, path)
        if "min" in limits and value < limits["min"]:
            raise RequestValidationError(path, f"must be at least {limits['min']} {got_value(value)}")
        if "max" in limits and value > limits["max"]:
            raise RequestValidationError(path, f"must be at most {limits['max']} {got_value(value)}")


# What the wire types hold: AWS's integers are 32-bit, longs 64-bit, doubles finite.
_INTEGER_BITS = {"integer": 32, "long": 64}


def _check_number_range(type_name: str, value: int | float, path: str) -> None:
    bits = _INTEGER_BITS.get(type_name)
    if bits is not None and not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise RequestValidationError(path, f"must be a {bits}-bit integer {got_value(value)}")
    if bits is None and isinstance(value, int) and abs(value) > sys.float_info.max:
        raise RequestValidationError(path, f"must be a finite number {got_value(value)}")


def _check_structure(shape: Shape, value: Mapping[str, Any], path: str) -> None:
    members = shape.members
    for name in value:
        if name not in members:
            expected = ", ".join(members)
            raise RequestValidationError(_join(path, str(name)), f"is not a known field (expected one of {expected})")
    for name in shape.required_members:
        if value.get(name) is None:
            raise RequestValidationError(_join(path, name), "is required")
    if shape.metadata.get("union"):
        chosen = [name for name in members if value.get(name) is not None]
        if len(chosen) != 1:
            raise RequestValidationError(
                path or shape.name,
                f"must set exactly one of {', '.join(members)} (got {', '.join(chosen) or 'none'})",
            )
    for name, member_shape in members.items():
        if name in value:
            _check_shape(member_shape, value[name], _join(path, name))


def _check_count(limits: Mapping[str, Any], count: int, path: str, noun: str) -> None:
    plural = "entries" if noun == "entry" else f"{noun}s"
    if "min" in limits and count < limits["min"]:
        raise RequestValidationError(path, f"must have at least {limits['min']} {plural} (got {count})")
    if "max" in limits and count > limits["max"]:
        raise RequestValidationError(path, f"must have at most {limits['max']} {plural} (got {count})")


def _check_string(shape: Shape, value: str, path: str) -> None:
    limits = shape.metadata
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        raise RequestValidationError(path, f"must be one of {', '.join(enum)} {got_value(value)}")
    if "min" in limits and len(value) < limits["min"]:
        raise RequestValidationError(path, f"must be at least {limits['min']} characters long (got {len(value)})")
    if "max" in limits and len(value) > limits["max"]:
        raise RequestValidationError(path, f"must be at most {limits['max']} characters long (got {len(value)})")
    pattern = limits.get("pattern")
    if pattern is None:
        return
    if shape.name in _URI_SHAPES and value.startswith(LOCAL_URI_PREFIX) and len(value) > len(LOCAL_URI_PREFIX):
        return
    if compile_pattern(pattern).fullmatch(value) is None:
        raise RequestValidationError(path, f"must match pattern {pattern} {got_value(value)}")


def _input_shape(operation: str) -> Shape | None:
    """The operation's input shape; botocore raises OperationNotFoundError for unknown names."""
    return sagemaker_model().operation_model(operation).input_shape


def validate_shape(operation: str, request: Mapping[str, Any]) -> None:
    """Check ``request`` against botocore's input shape for ``operation`` only."""
    shape = _input_shape(operation)
    if not isinstance(request, Mapping):
        raise RequestValidationError(f"{operation}Request", f"must be an object {got_value(request)}")
    if shape is None:
        if request:
            raise RequestValidationError(next(iter(request)), f"is not a known field ({operation} takes none)")
        return
    _check_structure(shape, request, "")


# --------------------------------------------------------------------------- coercion

_TRUE, _FALSE = frozenset({"true"}), frozenset({"false"})


def coerce_request(operation: str, request: Mapping[str, Any]) -> dict[str, Any]:
    """Deep copy of ``request`` with strings at number and boolean shapes converted.

    Airflow renders templated values to strings ("30", "0.2", "True"); botocore's shape
    says what they should be. Anything that is not such a string is left as it is.
    """
    result = copy.deepcopy(dict(request))
    shape = _input_shape(operation)
    return result if shape is None else _coerce(shape, result, "")


def _coerce(shape: Shape, value: Any, path: str) -> Any:
    type_name = shape.type_name
    if type_name == "structure" and isinstance(value, dict):
        for name, item in list(value.items()):
            if name in shape.members:
                value[name] = _coerce(shape.members[name], item, _join(path, name))
        return value
    if type_name == "list" and isinstance(value, list):
        return [_coerce(shape.member, item, f"{path}[{index}]") for index, item in enumerate(value)]
    if type_name == "map" and isinstance(value, dict):
        return {key: _coerce(shape.value, item, f"{path}[{key!r}]") for key, item in value.items()}
    if not isinstance(value, str):
        return value
    text = value.strip()
    if type_name in ("integer", "long"):
        return _parse_integer(text, value, path)
    if type_name in ("float", "double"):
        try:
            number = float(text)
        except ValueError:
            raise RequestValidationError(path, f"must be a number {got_value(value)}") from None
        if not math.isfinite(number):
            raise RequestValidationError(path, f"must be a finite number {got_value(value)}")
        return number
    if type_name == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise RequestValidationError(path, f"must be a boolean (true or false) {got_value(value)}")
    return value


def _parse_integer(text: str, original: str, path: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)  # "30.0" is what some templates render for 30
    except ValueError:
        raise RequestValidationError(path, f"must be an integer {got_value(original)}") from None
    if not number.is_integer():
        raise RequestValidationError(path, f"must be an integer {got_value(original)}")
    return int(number)
