"""Batch transform against the same model called in-process: rows/s and peak memory.

Starts `airflow-automl serve` on a free port, trains one small real AutoML job on the demo's
churn data (ENSEMBLING, --algorithms, --budget seconds), makes a model of its best candidate,
writes --rows customers (no target, no header) as one CSV file, and then:

1. runs CreateTransformJob over it (text/csv, SplitType Line, MultiRecord, MaxPayloadInMB 6,
   AssembleWith Line), timing TransformStartTime..TransformEndTime and reading the worker's
   peak RSS from its log;
2. in a fresh process at the same niceness as a worker, loads the same model and predicts the
   same rows read with pandas in chunks of the same byte size, writing the labels to a file.

Prints rows/s of both, their ratio (target >= 0.5), and both peak RSS (target: within 20%).

    nice -n 10 .venv/bin/python benchmarks/batch_transform.py --rows 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import botocore.config

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import LocalService

ROLE = "arn:aws:iam::123456789012:role/benchmark"
JOB = "transform-bench"
PAYLOAD_MB = 6
WORKER_NICENESS = 10  # what the service's workers add to their own niceness


def _client(endpoint_url: str):
    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def _train(client, work: Path, budget: int, algorithms: list[str]) -> list[dict]:
    from airflow_automl.examples.datasets import customer_churn

    path = work / "files" / "train" / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    customer_churn(3000, seed=0).to_csv(path, index=False)
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
                "TargetAttributeName": "churned",
                "Mode": "ENSEMBLING",
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": algorithms}]},
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget},
            }
        },
    )
    while True:
        job = client.describe_auto_ml_job_v2(AutoMLJobName=JOB)
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            if job["AutoMLJobStatus"] != "Completed":
                raise SystemExit(f"job {JOB} ended {job['AutoMLJobStatus']}: {job.get('FailureReason')}")
            print(f"trained {job['BestCandidate']['CandidateName']}", flush=True)
            return job["BestCandidate"]["InferenceContainers"]
        time.sleep(2)


def _write_rows(path: Path, rows: int) -> None:
    from airflow_automl.examples.datasets import TARGET, customer_churn

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as out:
        for start in range(0, rows, 100_000):
            chunk = customer_churn(min(100_000, rows - start), seed=1 + start).drop(columns=[TARGET])
            chunk.to_csv(out, index=False, header=False)


def _transform(client, work: Path, name: str, input_dir: Path) -> tuple[float, int]:
    client.create_transform_job(
        TransformJobName=name,
        ModelName="bench-model",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=PAYLOAD_MB,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_dir.as_uri()}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": (work / "files" / "out" / name).as_uri(), "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    while True:
        job = client.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.5)
    if job["TransformJobStatus"] != "Completed":
        raise SystemExit(f"transform {name} ended {job['TransformJobStatus']}: {job.get('FailureReason')}")
    seconds = (job["TransformEndTime"] - job["TransformStartTime"]).total_seconds()
    log = (work / "data" / "transform-jobs" / name / "worker.log").read_text()
    peak = re.findall(r"peak RSS (\d+) MiB", log)
    return seconds, int(peak[-1]) if peak else -1


def _in_process(data_dir: Path, input_file: Path, output_file: Path) -> dict:
    """Load the job's model as the worker does and predict the file in chunks of PAYLOAD_MB."""
    import pandas as pd

    from airflow_automl.local.config import ServiceConfig
    from airflow_automl.local.serving.loading import load_job_model

    os.nice(WORKER_NICENESS)
    started = time.monotonic()
    model = load_job_model(ServiceConfig(data_dir=data_dir), JOB)
    loaded = time.monotonic()
    with open(input_file, "rb") as sample:
        line_bytes = max(1, len(sample.readline()))
    rows = 0
    with open(output_file, "w") as out:
        reader = pd.read_csv(
            input_file,
            header=None,
            names=model.feature_columns,
            chunksize=max(1, PAYLOAD_MB * 1024 * 1024 // line_bytes),
        )
        for chunk in reader:
            pd.Series(model.predict(chunk)).to_csv(out, index=False, header=False)
            rows += len(chunk)
    ended = time.monotonic()
    return {
        "rows": rows,
        "seconds": ended - started,
        "predict_seconds": ended - loaded,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--budget", type=int, default=60, help="training seconds of the AutoML job")
    parser.add_argument("--algorithms", nargs="+", default=["lightgbm"])
    parser.add_argument("--in-process", nargs=3, metavar=("DATA_DIR", "INPUT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:
        data_dir, input_file, output_file = map(Path, args.in_process)
        print(json.dumps(_in_process(data_dir, input_file, output_file)))
        return

    with tempfile.TemporaryDirectory(prefix="batch-transform-") as tmp:
        work = Path(tmp)
        service = LocalService(work / "data", work / "files", log_path=work / "service.log", log_level="warning")
        service.start()
        endpoint_url = service.endpoint_url
        try:
            client = _client(endpoint_url)
            print(f"training {JOB} ({', '.join(args.algorithms)}, {args.budget} s) ...", flush=True)
            containers = _train(client, work, args.budget, args.algorithms)
            client.create_model(ModelName="bench-model", ExecutionRoleArn=ROLE, Containers=containers)
            for rows in args.rows:
                input_dir = work / "files" / f"in-{rows}"
                _write_rows(input_dir / "customers.csv", rows)
                size_mb = (input_dir / "customers.csv").stat().st_size / 1e6
                transform_seconds, transform_peak = _transform(client, work, f"bench-{rows}", input_dir)
                answer = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--in-process",
                        str(work / "data"),
                        str(input_dir / "customers.csv"),
                        str(work / f"in-process-{rows}.csv"),
                    ],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                direct = json.loads(answer.stdout.strip().splitlines()[-1])
                transform_rate = rows / transform_seconds
                direct_rate = direct["rows"] / direct["seconds"]
                print(f"\n{rows:,} rows ({size_mb:.0f} MB of CSV)")
                print(
                    f"  batch transform  {transform_seconds:7.1f} s  {transform_rate:9,.0f} rows/s  "
                    f"peak RSS {transform_peak} MiB  (TransformStartTime..EndTime, model load included)"
                )
                print(
                    f"  in-process       {direct['seconds']:7.1f} s  {direct_rate:9,.0f} rows/s  "
                    f"peak RSS {direct['peak_rss_mib']} MiB  (model load included; predicting alone "
                    f"{direct['predict_seconds']:.1f} s)"
                )
                print(
                    f"  ratio            {transform_rate / direct_rate:.2f} (target >= 0.5)   "
                    f"peak RSS {transform_peak / direct['peak_rss_mib']:.2f}x (target within 20%)",
                    flush=True,
                )
                for leftover in (input_dir / "customers.csv", work / f"in-process-{rows}.csv"):
                    leftover.unlink()
        finally:
            service.stop()


if __name__ == "__main__":
    main()
