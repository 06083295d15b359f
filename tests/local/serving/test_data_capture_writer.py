"""The data capture writer without a server: what close() writes, what a failing destination and a
full buffer cost (counted, never raised to the invocation)."""

from __future__ import annotations

from datetime import UTC, datetime

from airflow_automl.local.serving.data_capture import CapturedCall, CaptureSettings, DataCaptureWriter
from airflow_automl.local.storage import Storage
from airflow_automl.sagemaker.data_capture import parse_capture_file


def _call(destination: str, index: int, body: bytes = b"1.5\n") -> CapturedCall:
    settings = CaptureSettings.of(
        {
            "InitialSamplingPercentage": 100,
            "DestinationS3Uri": destination,
            "CaptureOptions": [{"CaptureMode": "InputAndOutput"}],
            "CaptureContentTypeHeader": {"CsvContentTypes": ["text/csv"]},
        }
    )
    assert settings is not None  # EnableCapture left out: enabled, as on SageMaker
    return CapturedCall(
        settings, "ep", "AllTraffic", datetime.now(UTC), str(index), body, "text/csv", b"1\n", "text/csv"
    )


def test_close_writes_what_is_buffered(tmp_path):
    writer = DataCaptureWriter(lambda: Storage([tmp_path]), flush_seconds=3600)
    for index in range(3):
        writer.offer(_call(tmp_path.as_uri(), index))
    assert writer.stats()["recordsPending"] == 3
    writer.close()
    (written,) = list((tmp_path / "ep" / "AllTraffic").rglob("*.jsonl"))
    records = list(parse_capture_file(written.read_text()))
    assert [record.inference_id for record in records] == ["0", "1", "2"]
    assert records[0].endpoint_input.data == b"1.5\n" and records[0].endpoint_output.data == b"1\n"
    assert writer.stats() | {"lastError": None} == {
        "recordsWritten": 3,
        "filesWritten": 1,
        "recordsFailed": 0,
        "recordsDropped": 0,
        "recordsPending": 0,
        "lastError": None,
    }
    writer.offer(_call(tmp_path.as_uri(), 4))  # after close: dropped, counted, not raised
    assert writer.stats()["recordsDropped"] == 1


def test_failed_writes_and_a_full_buffer_are_counted(tmp_path):
    outside = tmp_path / "outside"
    writer = DataCaptureWriter(lambda: Storage([tmp_path / "root"]), flush_seconds=3600, max_pending_bytes=20)
    writer.offer(_call(outside.as_uri(), 1))
    writer.offer(_call(outside.as_uri(), 2, body=b"x" * 30))  # past the buffer's bound
    writer.close()
    stats = writer.stats()
    assert (stats["recordsFailed"], stats["recordsDropped"], stats["recordsWritten"]) == (1, 1, 0)
    assert "outside the allowed file roots" in stats["lastError"]
    assert not outside.exists()
