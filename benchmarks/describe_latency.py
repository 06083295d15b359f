"""DescribeAutoMLJob latency of the local service under concurrent clients while a job trains.

Starts `airflow-automl serve` on a free port (or uses --endpoint-url), starts a training job on
generated data, waits until it is TrainingModels, then runs --clients clients (threads spread
over --processes processes) calling DescribeAutoMLJob for --duration seconds and prints
p50/p90/p99/max latency, throughput, errors and the service's own CPU time per call.
--interval 0 makes each client call again as soon as it has an answer (closed loop, the worst
case); --interval N makes each client poll every N seconds, like Airflow triggers do.
--client boto3 measures what SDK users see; --client http sends the same request over bare
keep-alive connections, so that on a small machine the clients' CPU does not crowd out the
service being measured.

    .venv/bin/python benchmarks/describe_latency.py --clients 50 --duration 20
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import boto3
import botocore.config
import numpy as np

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import LocalService

ROLE = "arn:aws:iam::123456789012:role/benchmark"
JOB_NAME = "latency-benchmark"


def _client(endpoint_url: str):
    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=64),
    )


def _write_training_data(path: Path, rows: int) -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(rows, 20))
    target = (features[:, :5].sum(axis=1) + rng.normal(scale=0.5, size=rows) > 0).astype(int)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join([f"f{i}" for i in range(20)] + ["target"])
    np.savetxt(path, np.column_stack([features, target]), delimiter=",", header=header, comments="", fmt="%.5f")


def _start_training(endpoint_url: str, files: Path) -> None:
    _write_training_data(files / "benchmark" / "train.csv", rows=20000)
    _client(endpoint_url).create_auto_ml_job(
        AutoMLJobName=JOB_NAME,
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (files / "benchmark").as_uri()}},
                "TargetAttributeName": "target",
            }
        ],
        OutputDataConfig={"S3OutputPath": (files / "output").as_uri()},
        AutoMLJobConfig={
            "Mode": "ENSEMBLING",
            "CompletionCriteria": {"MaxCandidates": 20, "MaxAutoMLJobRuntimeInSeconds": 600},
        },
    )


def _wait_until_training(endpoint_url: str, timeout: float = 180) -> None:
    client = _client(endpoint_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.describe_auto_ml_job(AutoMLJobName=JOB_NAME)
        if job["AutoMLJobStatus"] != "InProgress":
            raise SystemExit(f"the benchmark job ended before training: {job.get('FailureReason')}")
        if job["AutoMLJobSecondaryStatus"] in ("TrainingModels", "ModelTuning"):
            return
        time.sleep(0.5)
    raise SystemExit("the benchmark job did not reach TrainingModels")


def _describer(endpoint_url: str, client_kind: str):
    """One client's DescribeAutoMLJob call: boto3, or the same request over a bare keep-alive
    HTTP connection, whose own CPU cost is small enough to leave the CPU to the service."""
    if client_kind == "boto3":
        client = _client(endpoint_url)
        return lambda: client.describe_auto_ml_job(AutoMLJobName=JOB_NAME)
    parsed = urlparse(endpoint_url)
    connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    body = json.dumps({"AutoMLJobName": JOB_NAME})
    headers = {"X-Amz-Target": "SageMaker.DescribeAutoMLJob", "Content-Type": "application/x-amz-json-1.1"}

    def describe() -> None:
        connection.request("POST", "/", body, headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")

    return describe


def _client_process(
    endpoint_url: str, client_kind: str, threads: int, duration: float, interval: float, start_at: float, results
) -> None:
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()

    def run() -> None:
        describe = _describer(endpoint_url, client_kind)
        describe()  # connect before the clock starts
        mine, my_errors = [], []
        while time.time() < start_at:
            time.sleep(0.01)
        end = start_at + duration
        # Polling clients are not synchronised: each starts at its own point of the interval.
        next_call = start_at + random.uniform(0, interval)
        time.sleep(max(0.0, next_call - time.time()))
        while time.time() < end:
            began = time.perf_counter()
            try:
                describe()
                mine.append(time.perf_counter() - began)
            except Exception as error:  # noqa: BLE001 - every failure is counted and reported
                my_errors.append(f"{type(error).__name__}: {error}")
            if interval:
                next_call += interval
                time.sleep(max(0.0, next_call - time.time()))
        with lock:
            latencies.extend(mine)
            errors.extend(my_errors)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((latencies, errors))


def _cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of one process (Linux), to tell the service's cost from the clients'."""
    if pid is None or not Path(f"/proc/{pid}/stat").exists():
        return None
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(
    endpoint_url: str, client_kind: str, clients: int, processes: int, duration: float, interval: float
) -> dict:
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 5 + clients * 0.05  # time for every client to connect
    shares = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    workers = [
        context.Process(
            target=_client_process, args=(endpoint_url, client_kind, share, duration, interval, start_at, results)
        )
        for share in shares
        if share
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors: list[str] = []
    for _ in workers:
        got_latencies, got_errors = results.get()
        latencies += got_latencies
        errors += got_errors
    for worker in workers:
        worker.join()
    latencies.sort()
    if not latencies:
        raise SystemExit(f"no successful call; errors: {errors[:5]}")

    def percentile(fraction: float) -> float:
        return latencies[min(len(latencies) - 1, int(fraction * len(latencies)))] * 1000

    return {
        "calls": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "throughput": len(latencies) / duration,
        "p50": percentile(0.50),
        "p90": percentile(0.90),
        "p99": percentile(0.99),
        "max": latencies[-1] * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--processes", type=int, default=5, help="client processes the clients are spread over")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of measurement per run")
    parser.add_argument(
        "--interval",
        type=float,
        action="append",
        help="seconds between one client's calls; 0 = closed loop (repeatable; default: 0 and 1)",
    )
    parser.add_argument(
        "--client",
        choices=["boto3", "http"],
        action="append",
        help="boto3 clients, or bare HTTP connections sending the same request (repeatable; default: both)",
    )
    parser.add_argument(
        "--endpoint-url",
        help="measure a running service (it must have a job named "
        f"{JOB_NAME!r}); default: start one and a training job",
    )
    args = parser.parse_args()
    intervals = args.interval or [0.0, 1.0]
    client_kinds = args.client or ["boto3", "http"]

    service = None
    with tempfile.TemporaryDirectory(prefix="describe-latency-") as work_dir:
        work = Path(work_dir)
        (work / "files").mkdir()
        endpoint_url = args.endpoint_url
        try:
            if endpoint_url is None:
                service = LocalService(
                    work / "data", work / "files", log_path=work / "service.log", log_level="warning"
                )
                service.start()
                endpoint_url = service.endpoint_url
                _start_training(endpoint_url, work / "files")
                _wait_until_training(endpoint_url)
            print(
                f"DescribeAutoMLJob, {args.clients} concurrent clients in {args.processes} processes, "
                f"{args.duration:.0f} s per run, while job {JOB_NAME!r} trains; {os.cpu_count()} CPUs"
            )
            for client_kind, interval in [(kind, interval) for kind in client_kinds for interval in intervals]:
                service_pid = service.process.pid if service is not None and service.process else None
                cpu_before = _cpu_seconds(service_pid)
                figures = measure(endpoint_url, client_kind, args.clients, args.processes, args.duration, interval)
                cpu_after = _cpu_seconds(service_pid)
                # The service's own CPU per call (including its supervisor; not the clients' or training's).
                service_cpu = (
                    f"  service CPU/call={(cpu_after - cpu_before) / figures['calls'] * 1000:.2f} ms"
                    if cpu_before is not None and cpu_after is not None
                    else ""
                )
                job = _client(endpoint_url).describe_auto_ml_job(AutoMLJobName=JOB_NAME)
                mode = f"{client_kind}, " + (
                    "closed loop" if not interval else f"a call per client every {interval:g} s"
                )
                print(
                    f"  {mode:38s} calls={figures['calls']:6d} errors={figures['errors']} "
                    f"throughput={figures['throughput']:7.1f}/s  p50={figures['p50']:6.1f} ms  "
                    f"p90={figures['p90']:6.1f} ms  p99={figures['p99']:6.1f} ms  max={figures['max']:6.1f} ms  "
                    f"(job afterwards: {job['AutoMLJobStatus']}/{job['AutoMLJobSecondaryStatus']}){service_cpu}"
                    f"  load average {os.getloadavg()[0]:.1f}"
                )
                for error in figures["first_errors"]:
                    print(f"    error: {error}")
        finally:
            if service is not None:
                client = _client(endpoint_url)
                if client.describe_auto_ml_job(AutoMLJobName=JOB_NAME)["AutoMLJobStatus"] == "InProgress":
                    client.stop_auto_ml_job(AutoMLJobName=JOB_NAME)
                service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
