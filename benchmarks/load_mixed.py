"""Mixed read load on the local service while two jobs train: errors and latency.

Starts `airflow-automl serve` on a free port (or uses --endpoint-url), starts two real training
jobs on generated data, waits until both are training, then sends --rate requests per second
for --duration seconds: a mix of DescribeAutoMLJob, DescribeAutoMLJobV2, ListAutoMLJobs (with
filters and sorting), ListCandidatesForAutoMLJob and ListTags, open loop (every request has a
scheduled time; a late answer delays nothing else, and latency counts from the scheduled time,
so a stalled service shows in the tail instead of hiding it). Prints the count of errors (any
answer but HTTP 200, or no answer) and p50/p90/p99/max latency.

    .venv/bin/python benchmarks/load_mixed.py --rate 200 --duration 60
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import boto3
import botocore.config
import numpy as np

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import LocalService

ROLE = "arn:aws:iam::123456789012:role/benchmark"
JOBS = ("load-mixed-a", "load-mixed-b")


def _client(endpoint_url: str):
    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def _start_jobs(endpoint_url: str, files: Path, runtime: int) -> None:
    rng = np.random.default_rng(11)
    client = _client(endpoint_url)
    for index, name in enumerate(JOBS):
        features = rng.normal(size=(8000, 12))
        target = (features[:, :4].sum(axis=1) + rng.normal(scale=0.7, size=8000) > 0).astype(int)
        path = files / name / "train.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        header = ",".join([f"f{i}" for i in range(12)] + ["target"])
        np.savetxt(path, np.column_stack([features, target]), delimiter=",", header=header, comments="", fmt="%.5f")
        client.create_auto_ml_job(
            AutoMLJobName=name,
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": path.parent.as_uri()}},
                    "TargetAttributeName": "target",
                }
            ],
            OutputDataConfig={"S3OutputPath": (files / "output").as_uri()},
            AutoMLJobConfig={
                "Mode": "ENSEMBLING",
                "CompletionCriteria": {"MaxCandidates": 50, "MaxAutoMLJobRuntimeInSeconds": runtime},
            },
            Tags=[{"Key": "benchmark", "Value": f"job-{index}"}],
        )


def _wait_until_training(endpoint_url: str, timeout: float = 240) -> None:
    client = _client(endpoint_url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = [client.describe_auto_ml_job(AutoMLJobName=name) for name in JOBS]
        for job in states:
            if job["AutoMLJobStatus"] != "InProgress":
                raise SystemExit(f"job {job['AutoMLJobName']} ended before the load: {job.get('FailureReason')}")
        if all(job["AutoMLJobSecondaryStatus"] in ("TrainingModels", "ModelTuning") for job in states):
            return
        time.sleep(0.5)
    raise SystemExit("the jobs did not both reach TrainingModels")


def _requests(arn: str) -> list[tuple[str, dict]]:
    """The mix: mostly single-job reads, as Airflow triggers and sensors make, plus listings."""
    return [
        ("DescribeAutoMLJob", {"AutoMLJobName": JOBS[0]}),
        ("DescribeAutoMLJob", {"AutoMLJobName": JOBS[1]}),
        ("DescribeAutoMLJobV2", {"AutoMLJobName": JOBS[0]}),
        ("DescribeAutoMLJobV2", {"AutoMLJobName": JOBS[1]}),
        ("ListAutoMLJobs", {}),
        ("ListAutoMLJobs", {"StatusEquals": "InProgress", "SortBy": "CreationTime", "SortOrder": "Descending"}),
        ("ListAutoMLJobs", {"NameContains": "mixed", "MaxResults": 1}),
        ("ListCandidatesForAutoMLJob", {"AutoMLJobName": JOBS[0]}),
        ("ListCandidatesForAutoMLJob", {"AutoMLJobName": JOBS[1], "SortBy": "FinalObjectiveMetricValue"}),
        ("ListTags", {"ResourceArn": arn}),
    ]


def _client_process(
    endpoint_url: str,
    arn: str,
    threads: int,
    rate_per_thread: float,
    offsets: list[float],
    start_at: float,
    duration: float,
    results,
) -> None:
    parsed = urlparse(endpoint_url)
    mix = _requests(arn)
    latencies: list[float] = []
    errors: Counter = Counter()
    by_operation: dict[str, list[float]] = {}
    lock = threading.Lock()

    def run(offset: float, seed: int) -> None:
        chooser = random.Random(seed)
        connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
        mine, my_ops, my_errors = [], [], Counter()
        interval = 1.0 / rate_per_thread
        scheduled = start_at + offset
        while scheduled < start_at + duration:
            time.sleep(max(0.0, scheduled - time.time()))
            operation, body = chooser.choice(mix)
            try:
                connection.request(
                    "POST",
                    "/",
                    json.dumps(body),
                    {"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": "application/x-amz-json-1.1"},
                )
                response = connection.getresponse()
                payload = response.read()
                if response.status != 200:
                    my_errors[f"{operation} HTTP {response.status}: {payload[:120]!r}"] += 1
            except (OSError, http.client.HTTPException) as error:
                my_errors[f"{operation} {type(error).__name__}: {error}"] += 1
                connection.close()
                connection = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
            else:
                elapsed = time.time() - scheduled
                mine.append(elapsed)
                my_ops.append((operation, elapsed))
            scheduled += interval
        with lock:
            latencies.extend(mine)
            errors.update(my_errors)
            for operation, elapsed in my_ops:
                by_operation.setdefault(operation, []).append(elapsed)

    workers = [threading.Thread(target=run, args=(offset, i)) for i, offset in enumerate(offsets[:threads])]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((latencies, dict(errors), by_operation))


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure(endpoint_url: str, rate: float, duration: float, processes: int, threads: int) -> dict:
    arn = _client(endpoint_url).describe_auto_ml_job(AutoMLJobName=JOBS[0])["AutoMLJobArn"]
    total_threads = processes * threads
    rate_per_thread = rate / total_threads
    # Spread the threads' schedules evenly over one interval, so requests arrive at a steady rate.
    offsets = [i / rate for i in range(total_threads)]
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    start_at = time.time() + 5
    workers = [
        context.Process(
            target=_client_process,
            args=(
                endpoint_url,
                arn,
                threads,
                rate_per_thread,
                offsets[p * threads : (p + 1) * threads],
                start_at,
                duration,
                results,
            ),
        )
        for p in range(processes)
    ]
    for worker in workers:
        worker.start()
    latencies: list[float] = []
    errors: Counter = Counter()
    by_operation: dict[str, list[float]] = {}
    for _ in workers:
        got, got_errors, got_ops = results.get()
        latencies += got
        errors.update(got_errors)
        for operation, values in got_ops.items():
            by_operation.setdefault(operation, []).extend(values)
    for worker in workers:
        worker.join()
    return {"latencies": latencies, "errors": errors, "by_operation": by_operation}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint-url", help="an already running service with the two jobs (default: start one)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second (default: %(default)s)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load (default: %(default)s)")
    parser.add_argument("--processes", type=int, default=2, help="client processes (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=10, help="threads per client process (default: %(default)s)")
    args = parser.parse_args()

    service = None
    with tempfile.TemporaryDirectory(prefix="load-mixed-") as work_dir:
        work = Path(work_dir)
        endpoint_url = args.endpoint_url
        try:
            if endpoint_url is None:
                service = LocalService(
                    work / "data", work / "files", log_path=work / "service.log", log_level="warning"
                )
                service.start()
                endpoint_url = service.endpoint_url
                _start_jobs(endpoint_url, work / "files", runtime=int(args.duration) + 240)
                _wait_until_training(endpoint_url)
            result = measure(endpoint_url, args.rate, args.duration, args.processes, args.threads)
            client = _client(endpoint_url)
            states = {
                name: client.describe_auto_ml_job(AutoMLJobName=name)["AutoMLJobSecondaryStatus"] for name in JOBS
            }
        finally:
            if service is not None:
                service.stop()

    latencies, errors = result["latencies"], result["errors"]
    sent = len(latencies) + sum(errors.values())
    print(f"mixed Describe/List load: target {args.rate:.0f} req/s for {args.duration:.0f} s while two jobs train")
    print(f"  requests sent {sent}  achieved {sent / args.duration:.1f} req/s  errors {sum(errors.values())}")
    if latencies:
        print(
            f"  latency from scheduled time: p50 {statistics.median(latencies) * 1000:.1f} ms  "
            f"p90 {_percentile(latencies, 0.90) * 1000:.1f} ms  p99 {_percentile(latencies, 0.99) * 1000:.1f} ms  "
            f"max {max(latencies) * 1000:.1f} ms"
        )
    for operation, values in sorted(result["by_operation"].items()):
        print(
            f"    {operation:<28} n={len(values):<6} p50 {statistics.median(values) * 1000:6.1f} ms  "
            f"p99 {_percentile(values, 0.99) * 1000:7.1f} ms"
        )
    for message, count in errors.most_common(5):
        print(f"  error x{count}: {message}")
    print(f"  jobs at the end: {states}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
