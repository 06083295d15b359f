"""The service image's install recipe, run without Docker: a virtualenv built from
requirements-service.lock plus the package without its dependencies (as the Dockerfile's service
stage installs them) serves the API and trains a job, with no Airflow installed."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest

from devtools.processes import REPO_ROOT, free_port, stop_process_group

pytestmark = pytest.mark.integration

UV = REPO_ROOT / ".tools" / "bin" / "uv"
SERVICE_LOCK = REPO_ROOT / "requirements-service.lock"
ROLE = "arn:aws:iam::123456789012:role/automl"


@pytest.fixture(scope="module")
def service_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert UV.exists(), f"{UV} is missing: `make env` installs it"
    venv = tmp_path_factory.mktemp("service-image") / "venv"
    subprocess.run([str(UV), "venv", "-q", str(venv), "--python", "python3"], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(UV), "pip", "sync", "-q", "--python", str(python), str(SERVICE_LOCK)], check=True)
    # A copy of the package source, so the build leaves nothing in the checkout.
    source = tmp_path_factory.mktemp("service-source")
    for name in ("pyproject.toml", "README.md"):
        (source / name).write_bytes((REPO_ROOT / name).read_bytes())
    subprocess.run(["cp", "-r", str(REPO_ROOT / "airflow_automl"), str(source)], check=True)
    subprocess.run([str(UV), "pip", "install", "-q", "--python", str(python), "--no-deps", str(source)], check=True)
    return venv


def test_the_image_has_no_airflow(service_venv):
    probe = subprocess.run([str(service_venv / "bin" / "python"), "-c", "import airflow"], capture_output=True)
    assert probe.returncode != 0 and b"No module named 'airflow'" in probe.stderr


def test_the_image_serves_and_trains_without_airflow(service_venv, tmp_path):
    files = tmp_path / "files"
    (files / "data").mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": (x[:, 0] + x[:, 1] > 0).astype(int)})
    frame.to_csv(files / "data" / "train.csv", index=False)
    port = free_port()
    log = tmp_path / "service.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(service_venv / "bin" / "airflow-automl"),
                "serve",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path / "data"),
                "--file-root",
                str(files),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=tmp_path,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_healthy(url, process, log)
        client = boto3.client("sagemaker", endpoint_url=url, region_name="us-east-1")
        client.create_auto_ml_job_v2(
            AutoMLJobName="image-check",
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (files / "data").as_uri() + "/"}
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": (files / "out").as_uri()},
            RoleArn=ROLE,
            AutoMLProblemTypeConfig={
                "TabularJobConfig": {
                    "TargetAttributeName": "label",
                    "Mode": "ENSEMBLING",
                    "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 60},
                }
            },
        )
        job = _wait_for_end(client, "image-check")
        assert job["AutoMLJobStatus"] == "Completed", job.get("FailureReason")
        assert job["BestCandidate"]["CandidateName"].startswith("image-check-")
        page = urllib.request.urlopen(f"{url}/jobs/image-check", timeout=30).read().decode()
        assert "image-check" in page
    finally:
        stop_process_group(process, 20)


def _wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if urllib.request.urlopen(f"{url}/health", timeout=2).status == 200:
                return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the service did not answer /health within 120 s:\n{log.read_text()}")


def _wait_for_end(client, name: str) -> dict:
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        if job["AutoMLJobStatus"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(2)
    raise AssertionError(f"job {name} did not end within 600 s")
