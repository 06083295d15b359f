"""Disk per AutoML job: what the service keeps in its data dir (the job's model and work folders)
and what the job writes under its S3OutputPath, for one job of each kind of training.

Starts `airflow-automl serve` on a free port with the real engine and trains, on generated data:
an ENSEMBLING job (AutoGluon, every default algorithm, --budget seconds), a HYPERPARAMETER_TUNING
job (--trials candidates) and a time-series forecasting job (NPTS, ETS and their ensemble). For
each it prints the candidates, and the bytes of ``<data dir>/jobs/<job>/model`` (what serving
loads), ``.../work`` (scratch space the job leaves behind), the whole job folder, and the job's
output prefix (candidates' archives, reports, leaderboard).

    nice -n 10 .venv/bin/python benchmarks/candidate_models_disk.py
"""

from __future__ import annotations

import argparse
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


def _client(endpoint_url: str):
    return boto3.client(
        "sagemaker",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="benchmark",
        aws_secret_access_key="benchmark",
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )


def _tabular_data(folder: Path, rows: int) -> str:
    rng = np.random.default_rng(0)
    features = rng.normal(size=(rows, 8))
    frame = pd.DataFrame(features, columns=[f"f{i}" for i in range(8)])
    frame["segment"] = rng.choice(["a", "b", "c"], size=rows)
    frame["target"] = np.where(features[:, :3].sum(axis=1) + rng.normal(scale=0.7, size=rows) > 0, "yes", "no")
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "train.csv", index=False)
    return folder.as_uri()


def _demand_data(folder: Path) -> str:
    rng = np.random.default_rng(7)
    frames = []
    for number, sku in enumerate(["apples", "pears", "plums", "figs"]):
        step = np.arange(200)
        units = 30 + 10 * number + 8 * np.sin(2 * np.pi * step / 7) + rng.normal(0, 1.5, len(step))
        stamps = pd.date_range("2024-01-01", periods=len(step), freq="D")
        frames.append(pd.DataFrame({"sku": sku, "date": stamps.strftime("%Y-%m-%d"), "units": units.round(1)}))
    folder.mkdir(parents=True, exist_ok=True)
    pd.concat(frames).to_csv(folder / "demand.csv", index=False)
    return folder.as_uri()


def _tabular_job(client, name: str, data_uri: str, output: str, mode: str, completion: dict) -> None:
    client.create_auto_ml_job_v2(
        AutoMLJobName=name,
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {"ChannelType": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_uri}}}
        ],
        OutputDataConfig={"S3OutputPath": output},
        AutoMLProblemTypeConfig={
            "TabularJobConfig": {"TargetAttributeName": "target", "Mode": mode, "CompletionCriteria": completion}
        },
    )


def _forecasting_job(client, name: str, data_uri: str, output: str) -> None:
    client.create_auto_ml_job_v2(
        AutoMLJobName=name,
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_uri}}}],
        OutputDataConfig={"S3OutputPath": output},
        AutoMLProblemTypeConfig={
            "TimeSeriesForecastingJobConfig": {
                "ForecastFrequency": "D",
                "ForecastHorizon": 7,
                "TimeSeriesConfig": {
                    "TargetAttributeName": "units",
                    "TimestampAttributeName": "date",
                    "ItemIdentifierAttributeName": "sku",
                },
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["npts", "ets"]}]},
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 600},
            }
        },
    )


def _wait(client, name: str) -> dict:
    while True:
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            if job["AutoMLJobStatus"] != "Completed":
                raise SystemExit(f"job {name} ended {job['AutoMLJobStatus']}: {job.get('FailureReason')}")
            return job
        time.sleep(2)


def _bytes(path: Path) -> int:
    """Bytes of the regular files under path, each counted once (as du counts hard links)."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for entry in [path, *path.rglob("*")] if path.exists() else []:
        if entry.is_file() and not entry.is_symlink():
            stat = entry.stat()
            if (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def _kb(size: int) -> str:
    return f"{size / 1000:,.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000, help="rows of the tabular jobs' data")
    parser.add_argument("--budget", type=int, default=60, help="the ENSEMBLING job's MaxAutoMLJobRuntimeInSeconds")
    parser.add_argument("--trials", type=int, default=8, help="the HYPERPARAMETER_TUNING job's MaxCandidates")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="candidate-disk-") as tmp:
        work = Path(tmp)
        files = work / "files"
        service = LocalService(work / "data", files, log_path=work / "service.log", log_level="warning")
        service.start()
        try:
            client = _client(service.endpoint_url)
            tabular = _tabular_data(files / "tabular", args.rows)
            demand = _demand_data(files / "demand")
            output = (files / "output").as_uri()
            jobs = {
                "disk-ensembling": lambda name: _tabular_job(
                    client, name, tabular, output, "ENSEMBLING", {"MaxAutoMLJobRuntimeInSeconds": args.budget}
                ),
                "disk-tuning": lambda name: _tabular_job(
                    client,
                    name,
                    tabular,
                    output,
                    "HYPERPARAMETER_TUNING",
                    {"MaxCandidates": args.trials, "MaxAutoMLJobRuntimeInSeconds": 600},
                ),
                "disk-forecasting": lambda name: _forecasting_job(client, name, demand, output),
            }
            print(
                f"{'job':18} {'candidates':>10} {'model/ kB':>12} {'work/ kB':>12} {'job dir kB':>12} {'output kB':>12}"
            )
            for name, create in jobs.items():
                create(name)
                _wait(client, name)
                candidates = client.list_candidates_for_auto_ml_job(AutoMLJobName=name, MaxResults=100)["Candidates"]
                job_dir = work / "data" / "jobs" / name
                print(
                    f"{name:18} {len(candidates):>10} {_kb(_bytes(job_dir / 'model')):>12} "
                    f"{_kb(_bytes(job_dir / 'work')):>12} {_kb(_bytes(job_dir)):>12} "
                    f"{_kb(_bytes(files / 'output' / name)):>12}",
                    flush=True,
                )
        finally:
            service.stop()


if __name__ == "__main__":
    main()
