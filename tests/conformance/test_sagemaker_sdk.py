"""The SageMaker Python SDK v2 and sagemaker-core as test clients: what a SageMaker user runs
works against the local service with an S3 endpoint (moto), unchanged.

The SDK cannot share the project's lock (it pins protobuf<7 and packaging<25), so the suite builds
its virtualenv from requirements-sdk.lock with the project's uv and runs sdk_client.py there once
for the module; each test below asserts on one scenario of what it printed. The tabular jobs run
on the scripted engine (their candidates' models answer label 1 when x is above the candidate's
threshold: 0 for the best, 2 for the first of three); the time-series job trains for real, since
its batch forecast reads the model it kept.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest

from devtools.processes import REPO_ROOT
from tests.fixtures.s3 import s3_endpoint  # noqa: F401 - the fixture
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

UV = REPO_ROOT / ".tools" / "bin" / "uv"
SDK_LOCK = REPO_ROOT / "requirements-sdk.lock"
CLIENT = Path(__file__).with_name("sdk_client.py")
BUCKET = "sdk-conformance"
ROLE = "arn:aws:iam::123456789012:role/automl"
CLIENT_TIMEOUT = 900


@pytest.fixture(scope="module")
def sdk_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert UV.exists(), f"{UV} is missing: `make env` installs it"
    venv = tmp_path_factory.mktemp("sdk") / "venv"
    subprocess.run([str(UV), "venv", "-q", str(venv), "--python", "python3"], check=True)
    python = venv / "bin" / "python"
    subprocess.run([str(UV), "pip", "sync", "-q", "--python", str(python), str(SDK_LOCK)], check=True)
    return python


def _demand() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frames = []
    for number, sku in enumerate(["apples", "pears", "plums"]):
        days = np.arange(70)
        units = 20 + 5 * number + 6 * np.sin(2 * np.pi * days / 7) + rng.normal(0, 1, len(days))
        stamps = pd.date_range("2025-01-01", periods=len(days), freq="D").strftime("%Y-%m-%d")
        frames.append(pd.DataFrame({"sku": sku, "date": stamps, "units": units.round(2)}))
    return pd.concat(frames, ignore_index=True)


def _upload(endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="train/train.csv", Body=b"x,label\n1.5,1\n-2,0\n3,1\n-1,0\n")
    s3.put_object(Bucket=BUCKET, Key="batch/rows.csv", Body=b"1.5\n-2\n3\n")
    demand = _demand().to_csv(index=False).encode()
    s3.put_object(Bucket=BUCKET, Key="demand/demand.csv", Body=demand)
    s3.put_object(Bucket=BUCKET, Key="history/history.csv", Body=demand)


@pytest.fixture(scope="module")
def sdk(sdk_python: Path, s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:  # noqa: F811
    _upload(s3_endpoint)
    service = start_service(tmp_path_factory.mktemp("sdk-service"), engine=SCRIPTED_ENGINE, s3_endpoint_url=s3_endpoint)
    home = tmp_path_factory.mktemp("sdk-home")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),  # no user's SageMaker or AWS configuration
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SAGEMAKER": service.endpoint_url,
        "AWS_ENDPOINT_URL_SAGEMAKER_RUNTIME": service.endpoint_url,
        "AWS_ENDPOINT_URL_S3": s3_endpoint,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": s3_endpoint,  # moto answers the SDK's log tailing too
        "AWS_ENDPOINT_URL_STS": s3_endpoint,
        "SAGEMAKER_SUPPRESS_V2_WARNING": "1",
    }
    try:
        ran = subprocess.run(
            [str(sdk_python), str(CLIENT), BUCKET, ROLE],
            env=env,
            capture_output=True,
            text=True,
            timeout=CLIENT_TIMEOUT,
        )
        assert ran.returncode == 0, f"{ran.stderr[-4000:]}\n{service.log_path.read_text()[-4000:]}"
        results = json.loads(ran.stdout.strip().splitlines()[-1])
        sys.stderr.write(f"SDK scenarios took {results['seconds']} s\n")
        yield results
    finally:
        service.stop()


def outcome(sdk: dict, scenario: str) -> dict:
    result = sdk[scenario]
    assert "error" not in result, result.get("traceback") or result["error"]
    return result


def test_automl_fit_describe_best_candidate_and_list_candidates(sdk):
    result = outcome(sdk, "automl_fit")
    assert result["status"] == "Completed" and result["creation_time_type"] == "datetime"
    assert result["best"] == "scripted-candidate-003"
    # The best leads the list sorted by the objective, as BestCandidate names it.
    assert result["ranked"][0] == result["best"] and len(result["ranked"]) == 3
    assert sdk["calls"]["automl_fit"][:2] == ["CreateAutoMLJob", "DescribeAutoMLJob"]


def test_a_candidate_that_is_not_the_best_deploys_and_predicts_with_its_own_model(sdk):
    result = outcome(sdk, "deploy_non_best_candidate")
    assert result["candidate"] == "scripted-candidate-001" and result["status"] == "InService"
    # Its threshold is 2: only x=3 is positive (the best would say 1, 0, 1).
    assert result["predictions"] == [["0"], ["0"], ["1"]]
    assert {"CreateModel", "CreateEndpointConfig", "CreateEndpoint"} <= set(sdk["calls"]["deploy_non_best_candidate"])


def test_deploy_waits_for_the_endpoint_and_answers_the_inference_response_keys(sdk):
    result = outcome(sdk, "deploy_best_and_predict")
    assert [row[0] for row in result["predictions"]] == ["1", "0", "1"]
    assert all(len(row) == 2 and 0.5 <= float(row[1]) <= 1 for row in result["predictions"])


def test_candidate_estimator_get_steps_describes_each_step(sdk):
    steps = outcome(sdk, "candidate_steps")["steps"]
    assert [(s["type"], s["status"]) for s in steps] == [("TrainingJob", "Completed"), ("TransformJob", "Completed")]
    assert steps[0]["name"] == "sdk-v1-scripted-candidate-003"
    assert steps[0]["inputs"][0]["DataSource"]["S3DataSource"]["S3Uri"] == f"s3://{BUCKET}/train/"
    assert sdk["calls"]["candidate_steps"] == ["DescribeTrainingJob", "DescribeTransformJob"]


def test_create_model_and_transformer_transform(sdk):
    result = outcome(sdk, "create_model_and_transform")
    assert result["status"] == "Completed"
    (key, text) = next(iter(result["output"].items()))
    assert key == "transformed/rows.csv.out"
    assert [line.split(",")[0] for line in text.split()] == ["1", "0", "1"]


def test_attach_reads_the_job_back(sdk):
    assert outcome(sdk, "attach") == {"target": "label", "best": "scripted-candidate-003", "max_candidates": 3}


def test_register_searches_for_the_group_and_the_package_deploys(sdk):
    result = outcome(sdk, "register_and_deploy_package")
    assert [arn.rsplit("/", 2)[1:] for arn in result["arns"]] == [["sdk-group", "1"], ["sdk-group", "2"]]
    assert result["status"] == "InService" and [row[0] for row in result["predictions"]] == ["1", "0", "1"]
    calls = sdk["calls"]["register_and_deploy_package"]
    # The SDK's primary path: Search finds no group, creates it; the second time Search finds it.
    assert calls.count("Search") == 2 and calls.count("CreateModelPackageGroup") == 1
    assert calls.count("CreateModelPackage") == 2


def test_automl_v2_tabular_fit_and_deploy(sdk):
    result = outcome(sdk, "automl_v2_tabular")
    assert result["best"] == "scripted-candidate-003" and result["status"] == "InService"
    assert result["predictions"] == [["1"], ["0"], ["1"]]
    # The SDK's own defect (fit(logs=False) calls wait_for_auto_ml_job(job_name=...)); logs=True works.
    assert result["logs_false"].startswith("TypeError:") and "job_name" in result["logs_false"]


def test_automl_v2_time_series_fit_and_batch_forecast(sdk):
    result = outcome(sdk, "automl_v2_time_series_batch_forecast")
    assert result["problem_type"] == "TimeSeriesForecasting" and result["best"].startswith("real-ts-sdk-")
    assert result["files"] == ["forecast/history.csv.out"]
    assert result["items"] == ["apples", "pears", "plums"] and result["rows"] == 3 * 7
    assert {"p10", "p50", "p90", "mean", "sku", "date"} <= set(result["columns"])


def test_sagemaker_core_resources_read_and_invoke(sdk):
    result = outcome(sdk, "sagemaker_core_resources")
    assert result["job_status"] == "Completed" and result["best"] == "scripted-candidate-003"
    assert result["training_status"] == "Completed"
    assert result["model_artifacts"].endswith("scripted-candidate-003")
    assert result["transform_model"] == "scripted-candidate-003"
    assert result["endpoint_status"] == "InService" and result["invoked"].split() == ["0", "0", "1"]
    assert result["invoked_variant"] == "AllTraffic"
    assert result["package_status"] == "Approved"
