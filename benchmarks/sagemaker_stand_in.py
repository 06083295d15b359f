"""A cheap SageMaker stand-in for the triggerer's scale benchmark: 10,000 jobs created in one instant.

The local service creates about 70 jobs a second on a busy 2-core machine, so it cannot make
10,000 jobs "arrive at once", and its describes (tens of ms each) would make the registration
take minutes. This process keeps jobs in memory and answers, over real HTTP on loopback with the
AWS JSON 1.1 protocol, the three operations the triggerer side uses: ListAutoMLJobs
(LastModifiedTimeAfter, CreationTime order, keyset NextToken pages, like the local service),
DescribeAutoMLJobV2 and StopAutoMLJob (straight to Stopped). Every answer carries a Date header,
as SageMaker's do. ``POST /burst`` with ``{"prefix": "b", "n": 10000}`` creates n InProgress jobs
with one timestamp: the burst. It has no listing lag: a change shows in the listing at once.

Usage: python benchmarks/sagemaker_stand_in.py --port-file FILE   (writes its port there when ready)
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ARN = "arn:aws:sagemaker:us-east-1:123456789012:automl-job/{name}"


class Jobs:
    """The account's jobs in creation order; ``seq`` (the position) is the keyset cursor."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[dict[str, Any]] = []
        self.by_name: dict[str, dict[str, Any]] = {}

    def burst(self, prefix: str, n: int) -> float:
        with self.lock:
            now = time.time()
            for i in range(n):
                name = f"{prefix}-{i:05d}"
                row = {
                    "name": name,
                    "seq": len(self.rows),
                    "created": now,
                    "modified": now,
                    "status": "InProgress",
                    "secondary": "TrainingModels",
                }
                self.rows.append(row)
                self.by_name[name] = row
            return now

    def list(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        after = body.get("LastModifiedTimeAfter")
        limit = body.get("MaxResults", 100)
        start = int(body["NextToken"]) if body.get("NextToken") else 0
        page: list[dict[str, Any]] = []
        next_token = None
        with self.lock:
            for row in self.rows[start:]:
                if after is not None and row["modified"] <= after:
                    continue
                if len(page) == limit:
                    next_token = str(row["seq"])
                    break
                page.append(dict(row))
        answer: dict[str, Any] = {
            "AutoMLJobSummaries": [
                {
                    "AutoMLJobName": r["name"],
                    "AutoMLJobArn": ARN.format(name=r["name"]),
                    "AutoMLJobStatus": r["status"],
                    "AutoMLJobSecondaryStatus": r["secondary"],
                    "CreationTime": r["created"],
                    "LastModifiedTime": r["modified"],
                }
                for r in page
            ]
        }
        if next_token is not None:
            answer["NextToken"] = next_token
        return 200, answer

    def describe(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body["AutoMLJobName"]
        with self.lock:
            row = dict(self.by_name[name]) if name in self.by_name else None
        if row is None:
            return 400, {"__type": "ResourceNotFound", "message": f"Job {name} does not exist"}
        return 200, {
            "AutoMLJobName": name,
            "AutoMLJobArn": ARN.format(name=name),
            "AutoMLJobStatus": row["status"],
            "AutoMLJobSecondaryStatus": row["secondary"],
            "CreationTime": row["created"],
            "LastModifiedTime": row["modified"],
            "RoleArn": "arn:aws:iam::123456789012:role/automl",
            "AutoMLJobInputDataConfig": [],
            "OutputDataConfig": {"S3OutputPath": "s3://bench/out"},
            "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "label"}},
        }

    def stop(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        name = body["AutoMLJobName"]
        with self.lock:
            row = self.by_name.get(name)
            if row is None:
                return 400, {"__type": "ResourceNotFound", "message": f"Job {name} does not exist"}
            row["status"], row["secondary"], row["modified"] = "Stopped", "Stopped", time.time()
        return 200, {}


def serve(port_file: Path) -> None:
    jobs = Jobs()
    operations = {"ListAutoMLJobs": jobs.list, "DescribeAutoMLJobV2": jobs.describe, "StopAutoMLJob": jobs.stop}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
            if self.path == "/burst":
                status, payload = 200, {"created_at": jobs.burst(body["prefix"], int(body["n"]))}
            else:
                operation = self.headers.get("X-Amz-Target", "").split(".")[-1]
                handler = operations.get(operation)
                status, payload = (
                    handler(body)
                    if handler
                    else (400, {"__type": "UnknownOperationException", "message": f"{operation} is not served here"})
                )
            data = json.dumps(payload).encode()
            self.send_response(status)  # adds the Date header
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_file.write_text(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port-file", type=Path, required=True)
    serve(parser.parse_args().port_file)
