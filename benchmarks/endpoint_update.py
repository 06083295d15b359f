"""Zero-downtime UpdateEndpoint: one client invokes an endpoint in a closed loop while the
endpoint is swapped between two trained models --updates times.

Starts `airflow-automl serve` on a free port, trains two small AutoML jobs (LightGBM, one
candidate each) on generated data, makes a model and an endpoint config of each best candidate,
creates the endpoint on the first, then, after --steady seconds of steady traffic, calls
UpdateEndpoint --updates times, alternating configs and waiting for InService each time. Prints
the request rate, failed invocations, how often the x-amzn-invoked-production-variant header
switched (one switch per update is the target), and p50/p99 latency during swaps against steady
state. The two models stay loaded after their first load (at most AIRFLOW_AUTOML_MAX_LOADED_MODELS,
default 4), so only the first swap to each one loads it from disk.

    nice -n 10 .venv/bin/python benchmarks/endpoint_update.py --updates 10
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

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import LocalService

ROLE = "arn:aws:iam::123456789012:role/benchmark"


def _client(endpoint_url: str, service: str = "sagemaker"):
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def _train(client, work: Path, name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(1000, 8))
    target = (features[:, :3].sum(axis=1) + rng.normal(scale=0.5, size=1000) > 0).astype(int)
    path = work / "files" / name / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    header = ",".join([f"f{i}" for i in range(8)] + ["target"])
    np.savetxt(path, np.column_stack([features, target]), delimiter=",", header=header, comments="", fmt="%.5f")
    client.create_auto_ml_job_v2(
        AutoMLJobName=name,
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


def _wait_job(client, name: str) -> list[dict]:
    while True:
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            if job["AutoMLJobStatus"] != "Completed":
                raise SystemExit(f"job {name} ended {job['AutoMLJobStatus']}: {job.get('FailureReason')}")
            return job["BestCandidate"]["InferenceContainers"]
        time.sleep(1)


def _wait_in_service(client, endpoint: str) -> dict:
    while True:
        described = client.describe_endpoint(EndpointName=endpoint)
        if described["EndpointStatus"] in ("InService", "Failed"):
            return described
        time.sleep(0.05)


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q) * 1000) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--updates", type=int, default=10)
    parser.add_argument("--steady", type=float, default=10.0, help="seconds of steady traffic before the swaps")
    parser.add_argument("--rows", type=int, default=1, help="rows per InvokeEndpoint request")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="endpoint-update-") as tmp:
        work = Path(tmp)
        service = LocalService(work / "data", work / "files", log_path=work / "service.log", log_level="warning")
        service.start()
        endpoint_url = service.endpoint_url
        try:
            client = _client(endpoint_url)
            print("training two small jobs ...", flush=True)
            for index, name in enumerate(("update-bench-a", "update-bench-b")):
                _train(client, work, name, seed=index)
            for variant, name in (("a", "update-bench-a"), ("b", "update-bench-b")):
                containers = _wait_job(client, name)
                client.create_model(ModelName=f"model-{variant}", ExecutionRoleArn=ROLE, Containers=containers)
                client.create_endpoint_config(
                    EndpointConfigName=f"config-{variant}",
                    ProductionVariants=[
                        {
                            "VariantName": variant,
                            "ModelName": f"model-{variant}",
                            "InitialInstanceCount": 1,
                            "InstanceType": "ml.m5.large",
                        }
                    ],
                )
            client.create_endpoint(EndpointName="update-bench", EndpointConfigName="config-a")
            if _wait_in_service(client, "update-bench")["EndpointStatus"] != "InService":
                raise SystemExit("the endpoint failed to start")

            body = "\n".join(
                ",".join(f"{v:.3f}" for v in np.random.default_rng(1).normal(size=8)) for _ in range(args.rows)
            ).encode()
            records: list[tuple[float, float, str | None]] = []  # (start, latency, variant or None on failure)
            errors: list[str] = []
            stop = threading.Event()

            def invoke_loop() -> None:
                runtime = _client(endpoint_url, "sagemaker-runtime")
                while not stop.is_set():
                    started = time.monotonic()
                    try:
                        answer = runtime.invoke_endpoint(EndpointName="update-bench", ContentType="text/csv", Body=body)
                        answer["Body"].read()
                        records.append((started, time.monotonic() - started, answer["InvokedProductionVariant"]))
                    except Exception as error:  # noqa: BLE001 - every failure is a figure of this benchmark
                        records.append((started, time.monotonic() - started, None))
                        errors.append(f"{type(error).__name__}: {error}")

            invoker = threading.Thread(target=invoke_loop)
            began = time.monotonic()
            invoker.start()
            time.sleep(args.steady)
            swaps: list[tuple[float, float]] = []
            for update in range(args.updates):
                target = "b" if update % 2 == 0 else "a"
                start = time.monotonic()
                client.update_endpoint(EndpointName="update-bench", EndpointConfigName=f"config-{target}")
                described = _wait_in_service(client, "update-bench")
                swaps.append((start, time.monotonic()))
                if described.get("FailureReason"):
                    print(f"update {update + 1} rolled back: {described['FailureReason']}")
                time.sleep(1.0)
            stop.set()
            invoker.join()
            elapsed = time.monotonic() - began
        finally:
            service.stop()

    variants = [variant for _, _, variant in records if variant is not None]
    switches = sum(1 for i in range(1, len(variants)) if variants[i] != variants[i - 1])
    during = [latency for started, latency, _ in records if any(s <= started <= e for s, e in swaps)]
    steady = [latency for started, latency, _ in records if started < swaps[0][0]]
    swap_seconds = [end - start for start, end in swaps]
    print(
        f"requests            {len(records)} in {elapsed:.1f} s = {len(records) / elapsed:.1f} req/s "
        f"(one closed-loop client, {args.rows} row(s) each)"
    )
    print(f"failed invocations  {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
    print(f"variant switches    {switches} for {args.updates} updates")
    print(f"UpdateEndpoint to InService  median {np.median(swap_seconds):.2f} s, max {max(swap_seconds):.2f} s")
    print(
        f"latency steady      p50 {_percentile(steady, 50):.1f} ms  p99 {_percentile(steady, 99):.1f} ms  "
        f"({len(steady)} requests)"
    )
    print(
        f"latency during swap p50 {_percentile(during, 50):.1f} ms  p99 {_percentile(during, 99):.1f} ms  "
        f"({len(during)} requests)"
    )


if __name__ == "__main__":
    main()
