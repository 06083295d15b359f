"""Captured endpoint requests (SageMaker's data capture JSON Lines) read back into a table.

Each line is one invocation: ``captureData.endpointInput`` holds ``observedContentType``, ``mode``,
``data`` and ``encoding`` (airflow_automl.sagemaker.data_capture decodes it).
A CSV body may hold several rows, without a header, in the order of the model's features; a JSON
body is ``{"instances": [...]}`` (or a bare list) of rows, each a list in feature order or an object
keyed by feature name; JSON Lines holds one such row a line.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import datetime, timedelta

import pandas as pd

from airflow_automl.sagemaker.data_capture import CaptureFormatError, decoded_payload


def hour_prefixes(start: datetime, end: datetime) -> list[str]:
    """The ``yyyy/mm/dd/hh`` folders data capture writes for invocations in [start, end)."""
    hour = start.replace(minute=0, second=0, microsecond=0)
    prefixes = []
    while hour < end:
        prefixes.append(hour.strftime("%Y/%m/%d/%H"))
        hour += timedelta(hours=1)
    return prefixes


def _body(endpoint_input: dict, source: str) -> str:
    try:
        return decoded_payload(endpoint_input, f"{source}: captureData.endpointInput").data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CaptureFormatError(f"{source}: a captured request body is not UTF-8 text ({error})") from error


def _json_rows(body: str, content_type: str, source: str) -> list:
    if "jsonlines" in content_type:
        return [json.loads(line) for line in body.splitlines() if line.strip()]
    document = json.loads(body)
    if isinstance(document, dict) and "instances" in document:
        document = document["instances"]
    if isinstance(document, dict):
        return [document.get("features", document)]
    if isinstance(document, list):
        return document
    raise CaptureFormatError(f"{source}: a JSON body must be a list of rows or {{'instances': [...]}}")


def captured_frame(lines: Iterable[tuple[str, str]], feature_names: list[str]) -> pd.DataFrame:
    """The requests of capture records as rows, columns named after ``feature_names`` (positional
    rows longer than that get ``_c<i>`` names: extra columns). ``lines`` yields (source, line)."""
    csv_parts: list[str] = []
    json_rows: list = []
    for source, line in lines:
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            endpoint_input = record["captureData"]["endpointInput"]
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise CaptureFormatError(
                f"{source}: not a data capture record with captureData.endpointInput ({error})"
            ) from error
        content_type = (endpoint_input.get("observedContentType") or "text/csv").lower()
        body = _body(endpoint_input, source)
        if "csv" in content_type:
            csv_parts.append(body if body.endswith("\n") else body + "\n")
        elif "json" in content_type:
            try:
                json_rows.extend(_json_rows(body, content_type, source))
            except json.JSONDecodeError as error:
                raise CaptureFormatError(f"{source}: the captured JSON body does not parse ({error})") from error
        else:
            raise CaptureFormatError(f"{source}: observedContentType {content_type!r} is neither CSV nor JSON")
    frames = []
    if csv_parts:
        frames.append(_csv_frame("".join(csv_parts), feature_names))
    if json_rows:
        if all(isinstance(row, dict) for row in json_rows):
            frames.append(pd.DataFrame(json_rows))
        else:
            frames.append(_positional([row if isinstance(row, list) else [row] for row in json_rows], feature_names))
    if not frames:
        return pd.DataFrame(columns=feature_names)
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    return frame.infer_objects()


def _positional(rows: list[list], feature_names: list[str]) -> pd.DataFrame:
    width = max((len(row) for row in rows), default=0)
    names = list(feature_names[:width]) + [f"_c{i}" for i in range(len(feature_names), width)]
    frame = pd.DataFrame(rows, columns=names) if rows else pd.DataFrame(columns=names)
    # Cells arrive as text: empty ones are missing values, numbers are numbers.
    frame = frame.replace("", None)
    for name in frame.columns:
        numbers = pd.to_numeric(frame[name], errors="coerce")
        if numbers.notna().sum() == frame[name].notna().sum():
            frame[name] = numbers
    return frame


def _csv_frame(text: str, feature_names: list[str]) -> pd.DataFrame:
    """CSV rows read with pandas' C parser (typed columns, fast); rows wider than the first fall
    back to the csv module, so that every extra column is seen."""
    first = next(csv.reader(io.StringIO(text[: text.find("\n") + 1])), [])
    width = max(len(first), len(feature_names))
    names = list(feature_names) + [f"_c{i}" for i in range(len(feature_names), width)]
    try:
        frame = pd.read_csv(io.StringIO(text), header=None, names=names, skip_blank_lines=True)
    except pd.errors.ParserError:
        return _positional(list(csv.reader(io.StringIO(text))), feature_names)
    # Rows narrower than the features: the features they lack are missing columns, not empty ones.
    if len(first) < len(feature_names) and frame[names[len(first) :]].isna().all().all():
        frame = frame[names[: len(first)]]
    return frame
