"""InvokeEndpoint latency with endpoint data capture on against off, in the same run.

Starts `airflow-automl serve` on a free port, trains one small AutoML job (LightGBM, one
candidate) on generated data, and puts its best model behind two endpoints: "capture-off" (no
DataCaptureConfig) and "capture-on" (100 % sampling, input and output, CSV and JSON content types,
to a file:// destination, or to s3:// with --s3-endpoint-url). Both serve the same loaded model.
--clients closed-loop clients each invoke the two endpoints in turn (alternating which goes first),
--requests times each, so machine load falls on both alike. Prints p50/p99/mean latency of each,
failed invocations, and what the capture writer reports on /health (records written, failed,
dropped) once it has written everything.

    nice -n 10 .venv/bin/python benchmarks/endpoint_capture.py --requests 1000 --rows 10
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import botocore.config
import numpy as np
import requests

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import LocalService

ROLE = "arn:aws:iam::123456789012:role/benchmark"
JOB = "capture-bench"


def _client(endpoint_url: str, service: str = "sagemaker", pool: int = 10):
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}, max_pool_connections=pool),
    )


def _train(client, work: Path) -> list[dict]:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(1000, 8))
    target = (features[:, :3].sum(axis=1) + rng.normal(scale=0.5, size=1000) > 0).astype(int)
    path = work / "files" / "train" / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join([f"f{i}" for i in range(8)] + ["target"])
    np.savetxt(path, np.column_stack([features, target]), delimiter=",", header=header, comments="", fmt="%.5f")
    client.create_auto_ml_job_v2(
        AutoMLJobName=JOB,
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "ContentType": "text/csv;header=present",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": path.parent.as_uri()}},
            }
        ],
        OutputDataConfig={"S3OutputPath": (work / "files" / "output").as_uri()},
        AutoMLProblemTypeConfig={
            "TabularJobConfig": {
                "TargetAttributeName": "target",
                "Mode": "ENSEMBLING",
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm"]}]},
                "CompletionCriteria": {"MaxCandidates": 1, "MaxAutoMLJobRuntimeInSeconds": 600},
            }
        },
    )
    while True:
        job = client.describe_auto_ml_job_v2(AutoMLJobName=JOB)
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            if job["AutoMLJobStatus"] != "Completed":
                raise SystemExit(f"job {JOB} ended {job['AutoMLJobStatus']}: {job.get('FailureReason')}")
            return job["BestCandidate"]["InferenceContainers"]
        time.sleep(1)


def _endpoint(client, name: str, capture: dict | None) -> None:
    client.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "model", "InitialInstanceCount": 1}],
        **({"DataCaptureConfig": capture} if capture else {}),
    )
    client.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while (status := client.describe_endpoint(EndpointName=name)["EndpointStatus"]) not in ("InService", "Failed"):
        time.sleep(0.05)
    if status != "InService":
        raise SystemExit(f"endpoint {name} failed to start")


def _capture_stats(endpoint_url: str) -> dict:
    return requests.get(f"{endpoint_url}/health", timeout=30).json()["dataCapture"]


def _summary(latencies: list[float]) -> str:
    ms = np.array(latencies) * 1000
    return f"p50 {np.percentile(ms, 50):6.2f} ms  p99 {np.percentile(ms, 99):6.2f} ms  mean {ms.mean():6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=1000, help="invocations of each endpoint per client")
    parser.add_argument("--clients", type=int, default=1, help="closed-loop clients at once")
    parser.add_argument("--rows", type=int, default=10, help="rows per InvokeEndpoint request")
    parser.add_argument("--warmup", type=int, default=50, help="invocations of each endpoint not counted")
    parser.add_argument(
        "--s3-endpoint-url", help="capture to s3://capture-bench/ at this S3 endpoint instead of file://"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="endpoint-capture-") as tmp:
        work = Path(tmp)
        service = LocalService(
            work / "data",
            work / "files",
            log_path=work / "service.log",
            log_level="warning",
            s3_endpoint_url=args.s3_endpoint_url,
        )
        service.start()
        endpoint_url = service.endpoint_url
        try:
            client = _client(endpoint_url)
            if args.s3_endpoint_url:
                destination = "s3://capture-bench/capture"
                boto3.client("s3", endpoint_url=args.s3_endpoint_url).create_bucket(Bucket="capture-bench")
            else:
                destination = (work / "files" / "capture").as_uri()
            print("training one small job ...", flush=True)
            client.create_model(ModelName="model", ExecutionRoleArn=ROLE, Containers=_train(client, work))
            _endpoint(client, "capture-off", None)
            _endpoint(
                client,
                "capture-on",
                {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": destination,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {
                        "CsvContentTypes": ["text/csv"],
                        "JsonContentTypes": ["application/json"],
                    },
                },
            )
            rng = np.random.default_rng(1)
            body = "\n".join(",".join(f"{v:.3f}" for v in rng.normal(size=8)) for _ in range(args.rows)).encode()
            latencies: dict[str, list[float]] = {"capture-off": [], "capture-on": []}
            errors: list[str] = []
            lock = threading.Lock()

            def invoke_loop(seed: int) -> None:
                runtime = _client(endpoint_url, "sagemaker-runtime")
                for index in range(args.warmup + args.requests):
                    order = ("capture-off", "capture-on") if (index + seed) % 2 == 0 else ("capture-on", "capture-off")
                    for name in order:
                        started = time.perf_counter()
                        try:
                            runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=body)["Body"].read()
                        except Exception as error:  # noqa: BLE001 - every failure is a figure of this benchmark
                            with lock:
                                errors.append(f"{name}: {type(error).__name__}: {error}")
                            continue
                        if index >= args.warmup:
                            with lock:
                                latencies[name].append(time.perf_counter() - started)

            clients = [threading.Thread(target=invoke_loop, args=(seed,)) for seed in range(args.clients)]
            began = time.monotonic()
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
            elapsed = time.monotonic() - began
            expected = (args.warmup + args.requests) * args.clients
            deadline = time.monotonic() + 120
            while (stats := _capture_stats(endpoint_url))["recordsWritten"] + stats["recordsFailed"] + stats[
                "recordsDropped"
            ] < expected and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            service.stop()

    total = sum(len(values) for values in latencies.values()) + len(errors)
    print(
        f"invocations         {total} counted in {elapsed:.1f} s ({args.clients} closed-loop client(s), "
        f"{args.rows} row(s) each, {args.warmup} warm-up per endpoint and client not counted)"
    )
    print(f"failed invocations  {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    for name, values in latencies.items():
        print(f"{name:<19} {_summary(values)}  ({len(values)} requests)")
    print(
        f"capture writer      {stats['recordsWritten']} records in {stats['filesWritten']} files, "
        f"{stats['recordsFailed']} failed, {stats['recordsDropped']} dropped (of {expected} sent to capture-on)"
    )


if __name__ == "__main__":
    main()
