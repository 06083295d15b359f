"""Endpoint data capture: an endpoint config's DataCaptureConfig, and the writer that keeps
sampled invocations in SageMaker's layout and record format (airflow_automl.sagemaker.data_capture).

InvokeEndpoint only hands a sampled invocation over (``DataCaptureWriter.offer``: a list append);
a background thread builds the records and writes one JSON Lines file per endpoint variant and
hour every ``flush_seconds``, and once more when the service shuts down. A destination that is full
or unreachable never fails an invocation: the write is logged and its records counted as failed;
a buffer past its bound drops new records and counts them. ``stats()`` is what /health reports.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.sagemaker.data_capture import (
    INPUT_MODE,
    OUTPUT_MODE,
    capture_file_uri,
    capture_record,
    encoded_payload,
    hour_prefix,
)

log = logging.getLogger(__name__)

DEFAULT_FLUSH_SECONDS = 2.0
# Payload bytes waiting for a write before new records are dropped (a destination that stays
# unreachable must not grow the service's memory without bound).
DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024
CAPTURE_SCHEMES = ("s3://", "file://")


@dataclass(frozen=True)
class CaptureSettings:
    """What an endpoint captures: DataCaptureConfig as the invocation path needs it."""

    destination: str
    sampling_percentage: int
    capture_input: bool
    capture_output: bool
    csv_types: frozenset[str]
    json_types: frozenset[str]

    @classmethod
    def of(cls, config: dict | None) -> CaptureSettings | None:
        """The settings of a DataCaptureConfig, or None when it captures nothing."""
        if not config or not config.get("EnableCapture", True):  # EnableCapture defaults to enabled
            return None
        modes = {option["CaptureMode"] for option in config.get("CaptureOptions") or []}
        header = config.get("CaptureContentTypeHeader") or {}
        return cls(
            destination=config["DestinationS3Uri"],
            sampling_percentage=int(config["InitialSamplingPercentage"]),
            capture_input=bool(modes & {"Input", "InputAndOutput"}),
            capture_output=bool(modes & {"Output", "InputAndOutput"}),
            csv_types=frozenset(kind.lower() for kind in header.get("CsvContentTypes") or ()),
            json_types=frozenset(kind.lower() for kind in header.get("JsonContentTypes") or ()),
        )

    def sampled(self) -> bool:
        """Whether this invocation is captured: InitialSamplingPercentage percent of them are."""
        return random.random() * 100 < self.sampling_percentage


def described_capture(config: dict | None) -> dict | None:
    """DescribeEndpoint's DataCaptureConfig (a DataCaptureConfigSummary) of the config an endpoint serves."""
    if not config:
        return None
    enabled = bool(config.get("EnableCapture", True))
    summary: dict[str, Any] = {
        "EnableCapture": enabled,
        "CaptureStatus": "Started" if enabled else "Stopped",
        "CurrentSamplingPercentage": config["InitialSamplingPercentage"],
        "DestinationS3Uri": config["DestinationS3Uri"],
    }
    if config.get("KmsKeyId"):  # recorded, not applied: the local service does not encrypt
        summary["KmsKeyId"] = config["KmsKeyId"]
    return summary


@dataclass(frozen=True)
class CapturedCall:
    """One sampled invocation as the request path hands it over; the writer builds its record."""

    settings: CaptureSettings
    endpoint_name: str
    variant_name: str
    when: datetime
    inference_id: str | None
    body: bytes
    content_type: str | None
    answer: bytes
    answer_type: str | None

    @property
    def size(self) -> int:
        return len(self.body) + len(self.answer)

    def record(self) -> dict[str, Any]:
        settings = self.settings
        return capture_record(
            event_id=str(uuid.uuid4()),
            when=self.when,
            inference_id=self.inference_id,
            endpoint_input=encoded_payload(
                self.body, self.content_type, INPUT_MODE, settings.csv_types, settings.json_types
            )
            if settings.capture_input
            else None,
            endpoint_output=encoded_payload(
                self.answer, self.answer_type, OUTPUT_MODE, settings.csv_types, settings.json_types
            )
            if settings.capture_output
            else None,
        )


class DataCaptureWriter:
    """Buffers captured invocations and writes them from a thread of its own."""

    def __init__(
        self,
        storage: Callable[[], Storage],
        flush_seconds: float = DEFAULT_FLUSH_SECONDS,
        max_pending_bytes: int = DEFAULT_MAX_PENDING_BYTES,
    ):
        self._storage_factory = storage
        self._storage: Storage | None = None
        self.flush_seconds = flush_seconds
        self.max_pending_bytes = max_pending_bytes
        self._lock = threading.Lock()  # guards the buffer and the counters
        self._flush_lock = threading.Lock()  # one flush at a time: the thread's or close()'s
        self._pending: list[CapturedCall] = []
        self._pending_bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._written = 0
        self._files = 0
        self._failed = 0
        self._dropped = 0
        self._last_error: str | None = None
        self._failing = False

    def offer(self, call: CapturedCall) -> None:
        """Keep a sampled invocation for the next write; never blocks on storage, never raises."""
        with self._lock:
            if self._closed or self._pending_bytes + call.size > self.max_pending_bytes:
                self._dropped += 1
                if self._dropped == 1 or self._dropped % 1000 == 0:
                    log.warning(
                        "data capture: %d record(s) dropped so far: %s",
                        self._dropped,
                        "the service is shutting down"
                        if self._closed
                        else f"more than {self.max_pending_bytes} bytes wait for a write",
                    )
                return
            self._pending.append(call)
            self._pending_bytes += call.size
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="data-capture-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            self.flush()

    def flush(self) -> None:
        """Write what is buffered: one file per endpoint variant and hour."""
        with self._flush_lock:
            with self._lock:
                batch, self._pending, self._pending_bytes = self._pending, [], 0
            groups: dict[tuple[str, str, str, str], list[CapturedCall]] = {}
            for call in batch:
                key = (
                    call.settings.destination,
                    call.endpoint_name,
                    call.variant_name,
                    hour_prefix(call.settings.destination, call.endpoint_name, call.variant_name, call.when),
                )
                groups.setdefault(key, []).append(call)
            for (destination, endpoint, variant, _), calls in groups.items():
                self._write(capture_file_uri(destination, endpoint, variant, calls[0].when), calls)

    def _write(self, uri: str, calls: list[CapturedCall]) -> None:
        try:
            lines = "".join(json.dumps(call.record(), separators=(",", ":")) + "\n" for call in calls)
            self._storage_of().write_bytes(uri, lines.encode("utf-8"))
        except StorageAccessError as error:
            with self._lock:
                self._failed += len(calls)
                self._last_error = str(error)
                first = not self._failing
                self._failing = True
            # Logged when writes start failing, then quietly counted until one succeeds again.
            (log.warning if first else log.debug)("data capture: %d record(s) not written: %s", len(calls), error)
            return
        except Exception as error:  # a bug must not stop the writer thread; the records are counted
            log.exception("data capture: writing %s failed", uri)
            with self._lock:
                self._failed += len(calls)
                self._last_error = f"{type(error).__name__}: {error}"
            return
        with self._lock:
            self._written += len(calls)
            self._files += 1
            recovered = self._failing
            self._failing = False
        if recovered:
            log.info("data capture: writing again (%s)", uri)

    def _storage_of(self) -> Storage:
        if self._storage is None:
            self._storage = self._storage_factory()
        return self._storage

    def close(self) -> None:
        """Stop the thread and write what is left (the service is shutting down)."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        if thread is not None:
            thread.join()
        self.flush()

    def stats(self) -> dict[str, Any]:
        """What /health reports: records written, failed (the destination refused them), dropped
        (the buffer was full or the service stopping) and pending, and the last write error."""
        with self._lock:
            return {
                "recordsWritten": self._written,
                "filesWritten": self._files,
                "recordsFailed": self._failed,
                "recordsDropped": self._dropped,
                "recordsPending": len(self._pending),
                "lastError": self._last_error,
            }
