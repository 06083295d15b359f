"""Data capture files written the way SageMaker writes them, for tests that read captured traffic:
one JSON record per invocation under ``<destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/``."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from datetime import datetime
from pathlib import Path

import pandas as pd


def capture_record(body: str, content_type: str, when: datetime, encoding: str = "CSV") -> dict:
    data = base64.b64encode(body.encode()).decode() if encoding == "BASE64" else body
    return {
        "captureData": {
            "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "no", "encoding": "CSV"},
        },
        "eventMetadata": {
            "eventId": str(uuid.uuid4()),
            "inferenceId": str(uuid.uuid4()),
            "inferenceTime": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        },
        "eventVersion": "0",
    }


def csv_line(values: list) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if pd.isna(v) else v for v in values])
    return buffer.getvalue()


def write_capture(destination: Path, endpoint: str, features: pd.DataFrame, when: datetime, rows_per_request: int = 1):
    """The rows of ``features`` as invocations at ``when``: CSV bodies of ``rows_per_request`` rows,
    every third one base64-encoded as SageMaker encodes a body it does not treat as text."""
    folder = destination / endpoint / "AllTraffic" / when.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    rows = features.values.tolist()
    records = []
    for number, start in enumerate(range(0, len(rows), rows_per_request)):
        body = "\n".join(csv_line(row) for row in rows[start : start + rows_per_request])
        records.append(capture_record(body, "text/csv", when, "BASE64" if number % 3 == 2 else "CSV"))
    path = folder / f"{when.strftime('%M-%S')}-{uuid.uuid4().hex[:8]}.jsonl"
    path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return path
