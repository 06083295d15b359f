"""Access: the service will not listen beyond loopback without its own credentials; what it
renders from user data (job pages, reports) stays text."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import requests
from botocore.exceptions import ClientError

from airflow_automl.local.engine.data import Dataset
from airflow_automl.local.engine.reports import data_exploration_report, explainability_report
from tests.fixtures.service import REPO_ROOT, SCRIPTED_ENGINE, free_port, start_service

pytestmark = pytest.mark.reliability

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def _non_loopback_address() -> str | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.mark.integration
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "lan"])
def test_serve_refuses_a_non_loopback_host_without_credentials(tmp_path, host):
    if host == "lan":
        host = _non_loopback_address()
        if host is None:
            pytest.skip("this machine has no non-loopback address")
    port = free_port()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "airflow_automl.local.cli",
            "serve",
            "--host",
            host,
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2, result.stderr
    assert "--access-key-id" in result.stderr and host in result.stderr
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0, "something listens on the refused port"


@pytest.mark.integration
def test_serve_on_all_interfaces_with_credentials_requires_signed_requests(tmp_path):
    service = start_service(
        tmp_path,
        engine=SCRIPTED_ENGINE,
        access_key_id="AKIDRELIABILITY",
        secret_access_key="s3cr3t-reliability",
        extra_args=("--host", "0.0.0.0"),
    )
    try:
        assert service.client().list_auto_ml_jobs()["AutoMLJobSummaries"] == []
        unsigned = requests.post(
            f"{service.endpoint_url}/",
            data=b"{}",
            timeout=10,
            headers={"X-Amz-Target": "SageMaker.ListAutoMLJobs", "Content-Type": "application/x-amz-json-1.1"},
        )
        assert unsigned.status_code in (400, 403) and unsigned.json()["__type"] in (
            "MissingAuthenticationTokenException",
            "IncompleteSignatureException",
            "MissingAuthenticationToken",
        ), unsigned.text
        service.secret_access_key = "wrong-secret"
        with pytest.raises(ClientError) as caught:
            service.client().list_auto_ml_jobs()
        assert caught.value.response["Error"]["Code"] == "InvalidSignatureException"
    finally:
        service.stop()


@pytest.mark.integration
def test_job_page_shows_user_markup_as_text(tmp_path):
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE)
    try:
        client = service.client()
        client.create_auto_ml_job_v2(
            AutoMLJobName="fail-hostile",
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
                }
            ],
            OutputDataConfig={"S3OutputPath": "s3://b/out"},
            RoleArn="arn:aws:iam::123456789012:role/automl",
            AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": HOSTILE}},
            Tags=[{"Key": "owner", "Value": "a+b=c@d:e/f"}],
        )
        job = service.wait_for_status("fail-hostile", timeout=180)
        assert HOSTILE in job["FailureReason"]  # the scripted failure names the target
        page = requests.get(f"{service.endpoint_url}/jobs/fail-hostile", timeout=30)
        assert page.status_code == 200
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
        assert "&lt;script&gt;" in page.text
        missing = requests.get(f"{service.endpoint_url}/jobs/{requests.utils.quote('<b>x</b>')}", timeout=30)
        assert missing.status_code == 404 and "<b>x</b>" not in missing.text
    finally:
        service.stop()


def test_reports_show_hostile_column_names_as_text():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {HOSTILE: rng.normal(size=50), "plain": rng.choice([HOSTILE, "b"], 50), "label": rng.integers(0, 2, 50)}
    )
    dataset = Dataset(
        train=frame,
        validation=frame,
        target="label",
        problem_type="BinaryClassification",
        sample_weight=None,
        input_bytes=0,
        validation_from_channel=False,
    )
    for report in (
        data_exploration_report(HOSTILE, dataset),
        explainability_report(HOSTILE, "F1", pd.Series({HOSTILE: 0.5, "plain": 0.1}), True),
    ):
        assert "<script>alert" not in report and "<img src=x" not in report
        assert "&lt;script&gt;" in report


# -- model artifacts come only from the service's own job directories ---------------------------


def _model_dir_with_manifest(tmp_path, job_name: str, manifest: dict):
    from airflow_automl.local.config import ServiceConfig
    from airflow_automl.local.serving.loading import model_dir

    config = ServiceConfig(data_dir=tmp_path / "data")
    directory = model_dir(config, job_name)
    directory.mkdir(parents=True)
    (directory / "model.json").write_text(json.dumps(manifest))
    return config


@pytest.mark.parametrize("key", ["predictor_path", "model_path"])
def test_a_manifest_pointing_outside_the_model_dir_is_not_loaded(tmp_path, key):
    from airflow_automl.local.serving.loading import ModelLoadError, load_job_model

    planted = tmp_path / "planted.pkl"
    planted.write_bytes(b"not loaded")
    config = _model_dir_with_manifest(tmp_path, "victim", {"framework": "pickle", key: str(planted)})
    with pytest.raises(ModelLoadError, match="outside the job's model directory"):
        load_job_model(config, "victim")
    config_relative = _model_dir_with_manifest(
        tmp_path / "second", "victim", {"framework": "pickle", key: "../../../../planted.pkl"}
    )
    with pytest.raises(ModelLoadError, match="outside"):
        load_job_model(config_relative, "victim")


def test_a_symlinked_model_dir_is_not_loaded(tmp_path):
    from airflow_automl.local.config import ServiceConfig
    from airflow_automl.local.serving.loading import ModelLoadError, load_job_model, model_dir

    config = ServiceConfig(data_dir=tmp_path / "data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.json").write_text(json.dumps({"framework": "pickle", "model_path": "m.pkl"}))
    directory = model_dir(config, "linked")
    directory.parent.mkdir(parents=True)
    directory.symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(ModelLoadError, match="outside the service's data dir"):
        load_job_model(config, "linked")


@pytest.mark.integration
def test_no_operation_takes_a_model_location_from_the_user(tmp_path):
    """Models load only from the service's own job dirs. CreateModel is the one operation that serves a model
    location (SageMaker's API); it only looks the location up among its jobs' best candidates, so a model
    file the caller put anywhere else, even under the file root, is refused, never loaded. The model
    registry's CreateModelPackage and UpdateModelPackage name locations too, but only record them: a
    package reaches serving through CreateModel, and the same lookup."""
    from botocore.exceptions import ClientError

    service = start_service(tmp_path, engine=SCRIPTED_ENGINE)
    try:
        operations = requests.get(f"{service.endpoint_url}/health", timeout=10).json()["operations"]
        planted = service.file_root / "planted" / "model.tar.gz"
        planted.parent.mkdir(parents=True)
        planted.write_bytes(b"not a model of this service")
        with pytest.raises(ClientError) as refused:
            service.client().create_model(
                ModelName="planted", PrimaryContainer={"Image": "local/scripted", "ModelDataUrl": planted.as_uri()}
            )
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        # Registered in the model registry and approved, the planted file is still refused at CreateModel.
        client = service.client()
        client.create_model_package_group(ModelPackageGroupName="planted")
        package = client.create_model_package(
            ModelPackageGroupName="planted",
            ModelApprovalStatus="Approved",
            InferenceSpecification={"Containers": [{"Image": "local/scripted", "ModelDataUrl": planted.as_uri()}]},
        )["ModelPackageArn"]
        with pytest.raises(ClientError) as refused:
            client.create_model(ModelName="planted", PrimaryContainer={"ModelPackageName": package})
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "is no AutoML candidate's model" in refused.value.response["Error"]["Message"]
        assert service.client().list_models()["Models"] == []
    finally:
        service.stop()
    from airflow_automl.sagemaker.shapes import sagemaker_model

    model = sagemaker_model()

    def takes_model_location(shape, seen=()) -> bool:
        if shape is None or shape.name in seen:
            return False
        if shape.type_name == "structure":
            return any(
                name in ("ModelDataUrl", "ModelDataSource", "PrimaryContainer", "Containers")
                or takes_model_location(member, (*seen, shape.name))
                for name, member in shape.members.items()
            )
        if shape.type_name == "list":
            return takes_model_location(shape.member, (*seen, shape.name))
        return False

    offending = [op for op in operations if takes_model_location(model.operation_model(op).input_shape)]
    assert offending == ["CreateModel", "CreateModelPackage", "UpdateModelPackage"], (
        f"these operations accept a model location from the caller: {offending}"
    )


@pytest.mark.integration
def test_artifact_links_cannot_climb_out_of_the_jobs_locations(tmp_path):
    """The job page serves only the locations a job reports; '..' written as %2e%2e must not
    climb out of them to other files under the file root."""
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE)
    try:
        (service.file_root / "secret.txt").write_text("other data under the file root")
        output = (service.file_root / "out").as_uri()
        service.client().create_auto_ml_job_v2(
            AutoMLJobName="artifact-climb",
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
                }
            ],
            OutputDataConfig={"S3OutputPath": output},
            RoleArn="arn:aws:iam::123456789012:role/automl",
            AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
        )
        job = service.wait_for_status("artifact-climb", timeout=180)
        location = job["AutoMLJobArtifacts"]["DataExplorationNotebookLocation"]
        for climb in (
            "/%2e%2e/%2e%2e/%2e%2e/secret.txt",
            "/%2E%2E/%2E%2E/%2E%2E/secret.txt",
            "/../../../secret.txt",
            "/.%2e/.%2e/.%2e/secret.txt",
        ):
            answer = requests.get(
                f"{service.endpoint_url}/jobs/artifact-climb/artifacts", params={"uri": location + climb}, timeout=30
            )
            assert answer.status_code in (403, 404), (climb, answer.status_code)
            assert "other data under the file root" not in answer.text, climb
    finally:
        service.stop()


@pytest.mark.integration
def test_with_credentials_job_pages_need_them_too(tmp_path):
    service = start_service(
        tmp_path,
        engine=SCRIPTED_ENGINE,
        access_key_id="AKIDPAGES",
        secret_access_key="pages-secret",
    )
    try:
        service.client().create_auto_ml_job_v2(
            AutoMLJobName="guarded",
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
                }
            ],
            OutputDataConfig={"S3OutputPath": "s3://b/out"},
            RoleArn="arn:aws:iam::123456789012:role/automl",
            AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
        )
        page = f"{service.endpoint_url}/jobs/guarded"
        for auth in (None, ("AKIDPAGES", "wrong"), ("someone", "pages-secret")):
            answer = requests.get(page, auth=auth, timeout=30)
            assert answer.status_code == 401 and "guarded" not in answer.text, auth
            assert answer.headers["WWW-Authenticate"].startswith("Basic")
        artifacts = requests.get(f"{page}/artifacts", params={"uri": "s3://b/out/guarded/report.html"}, timeout=30)
        assert artifacts.status_code == 401
        assert requests.get(page, auth=("AKIDPAGES", "pages-secret"), timeout=30).status_code == 200
        assert requests.get(f"{service.endpoint_url}/health", timeout=10).status_code == 200  # health checks stay open
    finally:
        service.stop()


@pytest.mark.integration
def test_credentials_from_the_environment_allow_all_interfaces(tmp_path):
    """What a container does: credentials in the environment, none on the command line."""
    import os
    import time

    port = free_port()
    env = dict(os.environ, AIRFLOW_AUTOML_ACCESS_KEY_ID="AKIDENV", AIRFLOW_AUTOML_SECRET_ACCESS_KEY="env-secret")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_automl.local.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--data-dir",
            str(tmp_path / "data"),
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stderr.read().decode()
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.2)
        unsigned = requests.post(
            f"http://127.0.0.1:{port}/",
            data=b"{}",
            timeout=10,
            headers={"X-Amz-Target": "SageMaker.ListAutoMLJobs", "Content-Type": "application/x-amz-json-1.1"},
        )
        assert unsigned.status_code in (400, 403), unsigned.text
    finally:
        process.terminate()
        process.wait(timeout=30)
