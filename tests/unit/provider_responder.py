"""A loopback HTTP server that speaks SageMaker's AWS JSON 1.1 protocol with scripted answers.

Unit tests of the provider use it where the real service cannot be made to misbehave on cue:
throttling, 5xx answers, jobs that end Failed at a chosen poll. Requests go through the real
boto3/aiobotocore clients and the hook's real retry code; only the server's answers are scripted.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = tuple[int, dict[str, Any]]
Handler = Callable[[dict[str, Any]], Answer]


def error(code: str, message: str, status: int = 400) -> Answer:
    return status, {"__type": code, "message": message}


class SageMakerResponder:
    """``on(operation, handler)`` scripts answers; ``calls`` records (operation, body) in order;
    ``clock`` is the server's clock, as its Date headers show it."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.clock: Callable[[], float] = time.time
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        responder = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                operation = self.headers.get("X-Amz-Target", "").split(".")[-1]
                with responder._lock:
                    responder.calls.append((operation, body))
                    handler = responder.handlers.get(operation)
                status, payload = (
                    handler(body) if handler else error("UnknownOperationException", f"{operation} not scripted")
                )
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def date_time_string(self, timestamp: float | None = None) -> str:
                return super().date_time_string(responder.clock() if timestamp is None else timestamp)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self.endpoint_url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def on(self, operation: str, handler: Handler | list[Answer] | Answer) -> None:
        """A function of the request body, a fixed answer, or a list of answers (the last one repeats)."""
        if isinstance(handler, list):
            answers = list(handler)

            def next_answer(_body: dict[str, Any]) -> Answer:
                return answers.pop(0) if len(answers) > 1 else answers[0]

            self.handlers[operation] = next_answer
        elif isinstance(handler, tuple):
            self.handlers[operation] = lambda _body, fixed=handler: fixed
        else:
            self.handlers[operation] = handler

    def operations(self) -> list[str]:
        with self._lock:
            return [operation for operation, _ in self.calls]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def describe_answer(
    name: str,
    status: str,
    secondary: str = "TrainingModels",
    *,
    best: dict[str, Any] | None = None,
    failure_reason: str | None = None,
    v2: bool = True,
) -> Answer:
    body: dict[str, Any] = {
        "AutoMLJobName": name,
        "AutoMLJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:automl-job/{name}",
        "AutoMLJobStatus": status,
        "AutoMLJobSecondaryStatus": secondary,
        "CreationTime": 1795000000.0,
        "LastModifiedTime": 1795000100.0,
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
    }
    if v2:
        body["AutoMLJobInputDataConfig"] = []
        body["AutoMLProblemTypeConfig"] = {"TabularJobConfig": {"TargetAttributeName": "y"}}
        body["ResolvedAttributes"] = {
            "AutoMLJobObjective": {"MetricName": "F1"},
            "AutoMLProblemTypeResolvedAttributes": {"TabularResolvedAttributes": {"ProblemType": "BinaryClassification"}},
        }
    else:
        body["InputDataConfig"] = []
        body["ResolvedAttributes"] = {"AutoMLJobObjective": {"MetricName": "F1"}, "ProblemType": "BinaryClassification"}
    if best:
        body["BestCandidate"] = best
    if failure_reason:
        body["FailureReason"] = failure_reason
    return 200, body


def candidate(name: str, value: float, metric: str = "F1", objective_type: str = "Maximize") -> dict[str, Any]:
    return {
        "CandidateName": name,
        "FinalAutoMLJobObjectiveMetric": {"Type": objective_type, "MetricName": metric, "Value": value},
        "ObjectiveStatus": "Succeeded",
        "CandidateSteps": [],
        "CandidateStatus": "Completed",
        "InferenceContainers": [{"Image": "local/autogluon", "ModelDataUrl": f"s3://bucket/out/{name}/model.tar.gz"}],
        "CreationTime": 1795000000.0,
        "LastModifiedTime": 1795000100.0,
    }
