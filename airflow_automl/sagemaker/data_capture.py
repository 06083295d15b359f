"""Endpoint data capture as SageMaker writes it: where its files go and what one record holds.

Both sides need it: the local service writes captured invocations in this format, and a drift
check reads what an endpoint (SageMaker's or the local one) captured. Imports no Airflow.

Layout: ``<DestinationS3Uri>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl``
(hour folders in UTC; the file name carries the minute, second and millisecond of its first
record). Each line of a file is one invocation::

    {"captureData": {"endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                                         "data": "1.5,2", "encoding": "CSV"},
                     "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT",
                                         "data": "1", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<InvokeEndpoint's InferenceId>",
                       "inferenceTime": "2026-12-02T11:20:31Z"},
     "eventVersion": "0"}

A payload whose media type (without parameters) is among CaptureContentTypeHeader's
CsvContentTypes is kept as text with encoding CSV, among JsonContentTypes as text with encoding
JSON, any other as BASE64 (SageMaker's default when no content types are given).
``inferenceId`` is present only when the invocation named one; ``endpointInput`` or
``endpointOutput`` only when CaptureOptions asks for it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

EVENT_VERSION = "0"
CSV_ENCODING = "CSV"
JSON_ENCODING = "JSON"
BASE64_ENCODING = "BASE64"
INPUT_MODE = "INPUT"
OUTPUT_MODE = "OUTPUT"
CAPTURE_FILE_SUFFIX = ".jsonl"


def media_type(content_type: str | None) -> str:
    """A Content-Type without its parameters, lowercased ("text/csv; charset=utf-8" -> "text/csv")."""
    return (content_type or "").split(";")[0].strip().lower()


def hour_prefix(destination: str, endpoint_name: str, variant_name: str, when: datetime) -> str:
    """The folder of one endpoint variant's records of one hour (``when`` in UTC)."""
    return f"{destination.rstrip('/')}/{endpoint_name}/{variant_name}/{when.astimezone(UTC):%Y/%m/%d/%H}"


def capture_file_uri(
    destination: str, endpoint_name: str, variant_name: str, first_record_time: datetime, unique: str | None = None
) -> str:
    """The URI of a capture file whose first record was captured at first_record_time."""
    when = first_record_time.astimezone(UTC)
    name = f"{when:%M-%S}-{when.microsecond // 1000:03d}-{unique or uuid.uuid4()}{CAPTURE_FILE_SUFFIX}"
    return f"{hour_prefix(destination, endpoint_name, variant_name, when)}/{name}"


def inference_time(when: datetime) -> str:
    """eventMetadata.inferenceTime: UTC, to the second, as SageMaker writes it."""
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def encoded_payload(
    data: bytes, content_type: str | None, mode: str, csv_types: Collection[str], json_types: Collection[str]
) -> dict[str, str]:
    """captureData.endpointInput (mode INPUT) or endpointOutput (mode OUTPUT) for one payload.
    csv_types and json_types: CaptureContentTypeHeader's lists, lowercased."""
    kind = media_type(content_type)
    encoding = CSV_ENCODING if kind in csv_types else JSON_ENCODING if kind in json_types else BASE64_ENCODING
    text = None
    if encoding != BASE64_ENCODING:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # text a reader could not decode: kept byte for byte instead
            encoding = BASE64_ENCODING
    if text is None:
        text = base64.b64encode(data).decode("ascii")
    return {"observedContentType": content_type or "", "mode": mode, "data": text, "encoding": encoding}


def capture_record(
    *,
    event_id: str,
    when: datetime,
    inference_id: str | None,
    endpoint_input: dict[str, str] | None,
    endpoint_output: dict[str, str] | None,
) -> dict[str, Any]:
    capture: dict[str, Any] = {}
    if endpoint_input is not None:
        capture["endpointInput"] = endpoint_input
    if endpoint_output is not None:
        capture["endpointOutput"] = endpoint_output
    metadata = {"eventId": event_id}
    if inference_id is not None:
        metadata["inferenceId"] = inference_id
    metadata["inferenceTime"] = inference_time(when)
    return {"captureData": capture, "eventMetadata": metadata, "eventVersion": EVENT_VERSION}


# -- reading ------------------------------------------------------------------------------------


class CaptureFormatError(ValueError):
    """A capture file's line is not a capture record; the message names the line and the rule."""


@dataclass(frozen=True)
class CapturedPayload:
    content_type: str
    encoding: str
    data: bytes  # decoded: the bytes the endpoint received or answered


@dataclass(frozen=True)
class CapturedInvocation:
    event_id: str
    inference_id: str | None
    inference_time: datetime
    endpoint_input: CapturedPayload | None
    endpoint_output: CapturedPayload | None


def decoded_payload(entry: Mapping[str, Any], where: str = "payload") -> CapturedPayload:
    """The bytes an endpointInput or endpointOutput entry holds, whatever its encoding."""
    encoding = entry.get("encoding")
    data = entry.get("data")
    if not isinstance(data, str):
        raise CaptureFormatError(f"{where}.data: must be a string")
    if encoding in (CSV_ENCODING, JSON_ENCODING):
        raw = data.encode("utf-8")
    elif encoding == BASE64_ENCODING:
        try:
            raw = base64.b64decode(data, validate=True)
        except binascii.Error as error:
            raise CaptureFormatError(f"{where}.data: not valid base64 ({error})") from error
    else:
        raise CaptureFormatError(
            f"{where}.encoding: must be {CSV_ENCODING}, {JSON_ENCODING} or {BASE64_ENCODING}, got {encoding!r}"
        )
    return CapturedPayload(str(entry.get("observedContentType") or ""), encoding, raw)


def parse_capture_line(line: str, where: str = "line") -> CapturedInvocation:
    """One line of a capture file; CaptureFormatError naming where and the rule if it is not a record."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise CaptureFormatError(f"{where}: not JSON ({error})") from error
    if not isinstance(record, dict) or not isinstance(record.get("captureData"), dict):
        raise CaptureFormatError(f"{where}: a capture record is an object with captureData")
    metadata = record.get("eventMetadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("inferenceTime"), str):
        raise CaptureFormatError(f"{where}: eventMetadata.inferenceTime is required")
    try:
        when = datetime.fromisoformat(metadata["inferenceTime"].replace("Z", "+00:00"))
    except ValueError as error:
        raise CaptureFormatError(f"{where}: eventMetadata.inferenceTime: {error}") from error
    capture = record["captureData"]
    payloads = {
        key: decoded_payload(capture[key], f"{where}: captureData.{key}")
        if isinstance(capture.get(key), dict)
        else None
        for key in ("endpointInput", "endpointOutput")
    }
    return CapturedInvocation(
        event_id=str(metadata.get("eventId") or ""),
        inference_id=metadata.get("inferenceId"),
        inference_time=when,
        endpoint_input=payloads["endpointInput"],
        endpoint_output=payloads["endpointOutput"],
    )


def parse_capture_file(text: str, where: str = "capture file") -> Iterator[CapturedInvocation]:
    """Every record of a capture file's text (blank lines skipped)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield parse_capture_line(line, f"{where}, line {number}")
