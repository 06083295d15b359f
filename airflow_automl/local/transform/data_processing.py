"""A batch transform's DataProcessing: InputFilter, JoinSource and OutputFilter, record by record.

As SageMaker documents it (Associate Prediction Results with Input Records): a CSV record is
treated as a JSON array of its fields, a JSON Lines record as the JSON value it holds. The
InputFilter picks what the model reads; JoinSource Input appends the prediction to the whole
input record (CSV: the input's fields then the prediction's; JSON: the input object with the
prediction under "SageMakerOutput", a non-object input under "SageMakerInput"); the
OutputFilter picks what is written. JSONPath is jsonpath-ng's, plus SageMaker's unions of
indexes and slices such as ``$[0,5:]``, which jsonpath-ng does not parse.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext import parse as parse_jsonpath

from airflow_automl.sagemaker.shapes import RequestValidationError

ROOT = "$"
OUTPUT_KEY = "SageMakerOutput"
INPUT_KEY = "SageMakerInput"
# SageMaker's JSONPath subset for DataProcessing, as its documentation lists it.
SUBSET = "$, .name, ['a','b'], [2], [-1], [1:], [0,5:] and * (e.g. $[1:], $.features, $['id','score'])"
# Quoted member names, whose characters are names, not syntax.
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# $[0,5:], $[1, -1]: a bracket of indexes and slices, split into one path per member.
_INDEX_UNION = re.compile(r"\$\[\s*(-?\d*\s*(:\s*-?\d*\s*)?(,\s*-?\d*\s*(:\s*-?\d*\s*)?)+)\]")


class RecordError(ValueError):
    """A record that cannot be read, filtered or joined; the message says why (the caller adds
    the file and line)."""


@dataclass(frozen=True)
class JsonPathFilter:
    """A JSONPath expression of DataProcessing, compiled once."""

    expression: str
    field: str
    paths: tuple

    @classmethod
    def compile(cls, field: str, expression: str | None) -> JsonPathFilter:
        expression = (expression or ROOT).strip() or ROOT
        if not expression.startswith(ROOT):
            raise RequestValidationError(
                field, f"{expression!r} is not a JSONPath expression: it must start with $ (e.g. $, $[1:], $.features)"
            )
        unquoted = _QUOTED.sub("''", expression)  # a quoted name may hold dots
        for construct, what in (("..", "recursive descent (..)"), ("?(", "filter expressions (?(...))")):
            if construct in unquoted:
                raise RequestValidationError(
                    field,
                    f"{expression!r} uses {what}, which is outside SageMaker's JSONPath subset for DataProcessing: "
                    f"{SUBSET}",
                )
        union = _INDEX_UNION.fullmatch(expression)
        members = [f"$[{member.strip()}]" for member in union.group(1).split(",")] if union else [expression]
        try:
            paths = tuple(parse_jsonpath(member) for member in members)
        except JSONPathError as error:
            raise RequestValidationError(
                field, f"{expression!r} is not a valid JSONPath expression: {error}"
            ) from error
        return cls(expression, field, paths)

    @property
    def is_root(self) -> bool:
        return self.expression == ROOT

    def select(self, record: Any) -> Any:
        """What the expression picks from one record: the record itself for $, a list from an
        array, one value, or an object of the picked members."""
        if self.is_root:
            return record
        matches = [match for path in self.paths for match in path.find(record)]
        if not matches:
            raise RecordError(f"{self.field} {self.expression} selects nothing from the record")
        if isinstance(record, list):
            return [match.value for match in matches]
        if len(matches) == 1 and len(self.paths) == 1 and not re.search(r"[,*]|\.\.", self.expression):
            return matches[0].value
        return {str(match.path): match.value for match in matches}


def read_csv_record(line: bytes) -> list[str]:
    try:
        rows = list(csv.reader([line.decode()]))
    except (UnicodeDecodeError, csv.Error) as error:
        raise RecordError(f"not a CSV record: {error}") from error
    return rows[0] if rows else []


def write_csv_record(value: Any) -> bytes:
    if isinstance(value, dict):
        raise RecordError("a CSV record cannot hold an object; pick array members with the filter (e.g. $[0,-1])")
    fields = value if isinstance(value, list) else [value]
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(
        [json.dumps(field, separators=(",", ":")) if isinstance(field, (dict, list)) else field for field in fields]
    )
    return out.getvalue().encode()


def read_json_record(line: bytes) -> Any:
    try:
        return json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RecordError(f"not a JSON record: {error}") from error


def write_json_record(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


@dataclass(frozen=True)
class RecordProcessor:
    """InputFilter before the model, JoinSource and OutputFilter after it, for one record."""

    input_filter: JsonPathFilter
    output_filter: JsonPathFilter
    join_input: bool
    input_is_csv: bool
    prediction_is_csv: bool

    def read_input(self, line: bytes) -> Any:
        return read_csv_record(line) if self.input_is_csv else read_json_record(line)

    def model_input(self, record: Any) -> bytes:
        selected = self.input_filter.select(record)
        return write_csv_record(selected) if self.input_is_csv else write_json_record(selected)

    def output(self, record: Any, prediction_line: bytes) -> bytes:
        prediction = read_csv_record(prediction_line) if self.prediction_is_csv else read_json_record(prediction_line)
        if not self.join_input:
            joined, output_is_csv = prediction, self.prediction_is_csv
        elif self.input_is_csv:
            joined, output_is_csv = list(record) + list(prediction), True
        elif isinstance(record, dict):
            joined, output_is_csv = {**record, OUTPUT_KEY: prediction}, False
        else:
            joined, output_is_csv = {INPUT_KEY: record, OUTPUT_KEY: prediction}, False
        selected = self.output_filter.select(joined)
        return write_csv_record(selected) if output_is_csv else write_json_record(selected)
