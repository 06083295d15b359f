"""InvokeEndpoint latency of a served forecasting model, for 1 and 10 items of history.

Starts `airflow-automl serve` on a free port, trains a small forecasting job like the
integration test's (three daily series of 56 days, a 7-day horizon, p10/p50/p90, WAPE, the
algorithms given by --algorithms; --frequency H: hourly series of --days days with a daily cycle
and a 24-hour horizon), makes a model, endpoint config and endpoint of its best candidate, then
sends --repeats requests of each size (--sizes): the history of 1 item, and of 10 items (the
three trained ones and seven new ids), --days days each. ETS and ARIMA apply the models fitted
in training to the trained items' history; the new ids, and the other algorithms, are fitted on
the history sent at every request (no backtests).
Prints the best candidate, its members and the size of its model directory, then per size the
first request's latency (the service process imports the forecasting libraries on its first
forecast) and the median and worst of the others.

    nice -n 10 .venv/bin/python benchmarks/forecast_serving.py
    nice -n 10 .venv/bin/python benchmarks/forecast_serving.py --algorithms arima
    nice -n 10 .venv/bin/python benchmarks/forecast_serving.py --algorithms arima --frequency H --days 28 \
        --sizes 1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import boto3
import botocore.config
import numpy as np
import pandas as pd

# The repository, for devtools (benchmarks run as scripts from it).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from devtools.processes import LocalService

ROLE = "arn:aws:iam::123456789012:role/benchmark"
HORIZONS = {"D": 7, "H": 24}
CYCLES = {"D": 7, "H": 24}  # time steps in the series' seasonal cycle


def _client(endpoint_url: str, service: str = "sagemaker"):
    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=300),
    )


def demand(items: list[str], days: int, frequency: str) -> pd.DataFrame:
    """Units per item and time step: a level per item, a weekly (daily data) or daily (hourly
    data) cycle, a slight trend and noise."""
    rng = np.random.default_rng(7)
    steps = days * (24 if frequency == "H" else 1)
    frames = []
    for number, sku in enumerate(items):
        step = np.arange(steps)
        cycle = CYCLES[frequency]
        units = (
            30
            + 10 * (number % 5)
            + 8 * np.sin(2 * np.pi * step / cycle)
            + 0.1 * step / cycle
            + rng.normal(0, 1.5, steps)
        )
        stamps = pd.date_range("2024-01-01", periods=steps, freq=frequency.lower() if frequency == "H" else "D")
        frames.append(pd.DataFrame({"sku": sku, "date": stamps.strftime("%Y-%m-%d %H:%M:%S"), "units": units.round(1)}))
    return pd.concat(frames, ignore_index=True)


def train(client, work: Path, algorithms: list[str], days: int, frequency: str) -> dict:
    folder = work / "files" / "demand"
    folder.mkdir(parents=True, exist_ok=True)
    demand(["apples", "pears", "plums"], days, frequency).to_csv(folder / "demand.csv", index=False)
    client.create_auto_ml_job_v2(
        AutoMLJobName="serving-bench",
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": folder.as_uri()}}}
        ],
        OutputDataConfig={"S3OutputPath": (work / "files" / "output").as_uri()},
        AutoMLJobObjective={"MetricName": "WAPE"},
        AutoMLProblemTypeConfig={
            "TimeSeriesForecastingJobConfig": {
                "ForecastFrequency": frequency,
                "ForecastHorizon": HORIZONS[frequency],
                "ForecastQuantiles": ["p10", "p50", "p90"],
                "TimeSeriesConfig": {
                    "TargetAttributeName": "units",
                    "TimestampAttributeName": "date",
                    "ItemIdentifierAttributeName": "sku",
                },
                "HolidayConfig": [{"CountryCode": "US"}],
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": algorithms}]},
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 3600},
            }
        },
    )
    while True:
        job = client.describe_auto_ml_job_v2(AutoMLJobName="serving-bench")
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(1)
    if job["AutoMLJobStatus"] != "Completed":
        raise SystemExit(f"the job ended {job['AutoMLJobStatus']}: {job.get('FailureReason')}")
    return job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--algorithms", default="npts,ets,prophet", help="the job's AutoMLAlgorithms, comma-separated")
    parser.add_argument("--repeats", type=int, default=6, help="requests per size")
    parser.add_argument("--frequency", choices=sorted(HORIZONS), default="D", help="ForecastFrequency of the data")
    parser.add_argument("--days", type=int, default=56, help="days of history per item")
    parser.add_argument("--sizes", default="1,10", help="items per request, comma-separated (at most 10)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="forecast-serving-") as directory:
        work = Path(directory)
        service = LocalService(work / "data", work / "files", log_path=work / "service.log", log_level="warning")
        service.start()
        endpoint_url = service.endpoint_url
        try:
            client = _client(endpoint_url)
            started = time.monotonic()
            job = train(client, work, args.algorithms.split(","), args.days, args.frequency)
            best = job["BestCandidate"]["CandidateName"]
            print(f"job trained in {time.monotonic() - started:.1f} s; best candidate {best}")
            model_dir = work / "data" / "jobs" / "serving-bench" / "model"
            manifest = json.loads((model_dir / "model.json").read_text())
            print("served members:", ", ".join(f"{m['algorithm']} x{m['weight']}" for m in manifest["members"]))
            files = sorted(path for path in model_dir.rglob("*") if path.is_file())
            print(
                f"model directory: {sum(path.stat().st_size for path in files) / 1024:.1f} KB (",
                ", ".join(f"{path.name} {path.stat().st_size / 1024:.1f} KB" for path in files),
                ")",
                sep="",
            )
            client.create_model(
                ModelName="bench-model", ExecutionRoleArn=ROLE, Containers=job["BestCandidate"]["InferenceContainers"]
            )
            client.create_endpoint_config(
                EndpointConfigName="bench-config",
                ProductionVariants=[
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "bench-model",
                        "InitialInstanceCount": 1,
                        "InstanceType": "ml.m5.large",
                    }
                ],
            )
            client.create_endpoint(EndpointName="bench", EndpointConfigName="bench-config")
            client.get_waiter("endpoint_in_service").wait(
                EndpointName="bench", WaiterConfig={"Delay": 0.5, "MaxAttempts": 240}
            )
            runtime = _client(endpoint_url, "sagemaker-runtime")
            trained = ["apples", "pears", "plums"]
            everyone = trained + [f"new-{n}" for n in range(7)]
            horizon = HORIZONS[args.frequency]
            print(
                f"{'items':>5} {'body KB':>8} {'first s':>8} {'median s':>9} {'worst s':>8}  "
                f"({args.repeats} requests each, {args.days} days of {args.frequency} history per item, "
                f"horizon {horizon})"
            )
            for count in (int(size) for size in args.sizes.split(",")):
                body = demand(everyone[:count], args.days, args.frequency).to_csv(index=False).encode()
                seconds = []
                for _ in range(args.repeats):
                    started = time.monotonic()
                    answer = runtime.invoke_endpoint(EndpointName="bench", ContentType="text/csv", Body=body)
                    rows = answer["Body"].read().decode().count("\n") - 1
                    seconds.append(time.monotonic() - started)
                    assert rows == count * horizon, rows
                rest = seconds[1:] or seconds
                print(
                    f"{count:>5} {len(body) / 1024:>8.1f} {seconds[0]:>8.2f} {statistics.median(rest):>9.2f} "
                    f"{max(rest):>8.2f}"
                )
        finally:
            service.stop()


if __name__ == "__main__":
    main()
