"""SageMaker's data capture format: encodings by content type, the file layout, and reading back."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from airflow_automl.sagemaker.data_capture import (
    CaptureFormatError,
    capture_file_uri,
    capture_record,
    encoded_payload,
    parse_capture_file,
)

CSV_TYPES, JSON_TYPES = {"text/csv"}, {"application/json"}
WHEN = datetime(2026, 12, 2, 9, 5, 7, 42_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "content_type", "encoding", "kept"),
    [
        (b"1,2\n", "text/csv", "CSV", "1,2\n"),
        (b"1,2\n", "text/csv; charset=utf-8", "CSV", "1,2\n"),  # parameters do not change the media type
        (b'{"a": 1}', "application/json", "JSON", '{"a": 1}'),
        (b"\x89PNG", "image/png", "BASE64", "iVBORw=="),
        (b"\xff\xfe", "text/csv", "BASE64", "//4="),  # not UTF-8: kept byte for byte
    ],
)
def test_payloads_are_encoded_by_their_content_type(data, content_type, encoding, kept):
    entry = encoded_payload(data, content_type, "INPUT", CSV_TYPES, JSON_TYPES)
    assert entry == {"observedContentType": content_type, "mode": "INPUT", "data": kept, "encoding": encoding}


def test_files_are_named_by_endpoint_variant_and_hour():
    uri = capture_file_uri("s3://bucket/capture/", "churn-serving", "AllTraffic", WHEN, unique="u")
    assert uri == "s3://bucket/capture/churn-serving/AllTraffic/2026/12/02/09/05-07-042-u.jsonl"


def test_records_read_back_as_written():
    record = capture_record(
        event_id="e-1",
        when=WHEN,
        inference_id="order-7",
        endpoint_input=encoded_payload(b"1,2\n", "text/csv", "INPUT", CSV_TYPES, JSON_TYPES),
        endpoint_output=encoded_payload(b"\x00\x01", "application/x-npy", "OUTPUT", CSV_TYPES, JSON_TYPES),
    )
    assert record["eventMetadata"] == {
        "eventId": "e-1",
        "inferenceId": "order-7",
        "inferenceTime": "2026-12-02T09:05:07Z",
    }
    assert record["eventVersion"] == "0"
    (read,) = parse_capture_file(json.dumps(record) + "\n\n")
    assert (read.event_id, read.inference_id) == ("e-1", "order-7")
    assert read.inference_time == WHEN.replace(microsecond=0)
    assert (read.endpoint_input.data, read.endpoint_output.data) == (b"1,2\n", b"\x00\x01")


def test_a_line_that_is_not_a_record_is_named():
    with pytest.raises(CaptureFormatError, match="f.jsonl, line 2: a capture record is an object with captureData"):
        list(
            parse_capture_file(
                '{"captureData": {}, "eventMetadata": {"inferenceTime": "2026-12-02T09:05:07Z"}}\n[]', "f.jsonl"
            )
        )
