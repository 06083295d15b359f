"""Batch transform on the wire: CreateTransformJob, DescribeTransformJob, ListTransformJobs and
StopTransformJob against a real service on loopback, with a scripted job's model (label 1 when
its one feature x is positive). Outputs are read back from the file root the service writes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
MODEL = "scripted-model"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("transform"), engine=SCRIPTED_ENGINE, stop_grace_seconds=2)
    (service.file_root / "train").mkdir()
    (service.file_root / "train" / "train.csv").write_text("x,label\n1,1\n-2,0\n")
    client = service.client()
    client.create_auto_ml_job_v2(
        AutoMLJobName="transform-source",
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train/")}},
            }
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("models")},
        AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
        RoleArn=ROLE,
    )
    job = service.wait_for_status("transform-source")
    client.create_model(ModelName=MODEL, ExecutionRoleArn=ROLE, Containers=job["BestCandidate"]["InferenceContainers"])
    yield service
    service.stop()


def write(service, relative: str, text: str) -> str:
    path = service.file_root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return service.file_uri(relative)


def read(service, relative: str) -> str:
    return (service.file_root / relative).read_text()


def transform(
    service,
    name: str,
    input_uri: str,
    output: str,
    *,
    data_type: str = "S3Prefix",
    content_type: str = "text/csv",
    wait: bool = True,
    **extra,
) -> dict:
    client = service.client()
    request = {
        "TransformJobName": name,
        "ModelName": MODEL,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": input_uri}},
            "ContentType": content_type,
            "SplitType": "Line",
        },
        "TransformOutput": {"S3OutputPath": service.file_uri(output), "AssembleWith": "Line"},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(request.get(key), dict):
            request[key] = {**request[key], **value}
        else:
            request[key] = value
    client.create_transform_job(**request)
    return wait_for(service, name) if wait else client.describe_transform_job(TransformJobName=name)


def wait_for(service, name: str, statuses=("Completed", "Failed", "Stopped"), timeout: float = 60) -> dict:
    client = service.client()
    deadline = time.monotonic() + timeout
    while True:
        job = client.describe_transform_job(TransformJobName=name)
        if job["TransformJobStatus"] in statuses:
            return job
        assert time.monotonic() < deadline, f"{name} still {job['TransformJobStatus']} after {timeout} s"
        time.sleep(0.1)


def worker_pid(service, name: str) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with sqlite3.connect(service.data_dir / "automl.sqlite3") as db:
            row = db.execute("SELECT worker_pid FROM transform_jobs WHERE name_key = ?", (name.lower(),)).fetchone()
        if row and row[0]:
            return row[0]
        time.sleep(0.1)
    raise AssertionError(f"transform job {name} got no worker within 30 s")


def test_csv_prefix_writes_one_out_file_per_input_with_relative_keys(service):
    write(service, "in/csv/a.csv", "1\n-2\n3\n")
    write(service, "in/csv/nested/b.csv", "-1\n\n5\n")
    job = transform(
        service, "csv-prefix", service.file_uri("in/csv/"), "out/csv", BatchStrategy="MultiRecord", MaxPayloadInMB=1
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read(service, "out/csv/a.csv.out") == "1\n0\n1\n"
    assert read(service, "out/csv/nested/b.csv.out") == "0\n1\n"
    assert job["ModelName"] == MODEL
    assert job["TransformJobArn"].endswith(":transform-job/csv-prefix")
    assert job["TransformStartTime"] <= job["TransformEndTime"]
    assert job["BatchStrategy"] == "MultiRecord" and job["TransformResources"]["InstanceCount"] == 1
    # The botocore waiter the Amazon provider's trigger uses.
    service.client().get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="csv-prefix", WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )


def test_single_record_jsonlines_and_a_manifest(service):
    write(service, "in/json/part-1.jsonl", '{"x": 2}\n{"x": -3}\n')
    manifest = write(
        service, "in/manifest.json", json.dumps([{"prefix": service.file_uri("in/json") + "/"}, "part-1.jsonl"])
    )
    job = transform(
        service,
        "jsonl-manifest",
        manifest,
        "out/json",
        data_type="ManifestFile",
        content_type="application/jsonlines",
        BatchStrategy="SingleRecord",
        TransformOutput={"Accept": "application/jsonlines"},
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    lines = [json.loads(line) for line in read(service, "out/json/part-1.jsonl.out").splitlines()]
    assert [line["predicted_label"] for line in lines] == [1, 0]
    assert lines[0]["labels"] == [0, 1] and lines[0]["probability"] == 1.0


def test_csv_join_with_input_and_output_filters(service):
    write(service, "in/join/holdout.csv", "id-7,2,1\nid-8,-4,0\n")
    job = transform(
        service,
        "csv-join",
        service.file_uri("in/join/"),
        "out/join",
        DataProcessing={"InputFilter": "$[1]", "JoinSource": "Input", "OutputFilter": "$[0,2:]"},
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    # id, the true label, then the prediction: what scoring a holdout needs.
    assert read(service, "out/join/holdout.csv.out") == "id-7,1,1\nid-8,0,0\n"
    assert job["DataProcessing"]["OutputFilter"] == "$[0,2:]"


def test_inference_output_keys_give_the_probability_next_to_the_label(service):
    write(service, "in/proba/rows.csv", "2\n-2\n")
    job = transform(
        service,
        "csv-proba",
        service.file_uri("in/proba/"),
        "out/proba",
        Environment={"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability"},
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    assert read(service, "out/proba/rows.csv.out") == "1,1.0\n0,1.0\n"


def test_jsonlines_join_adds_sagemaker_output(service):
    write(service, "in/jjoin/rows.jsonl", '{"id": 1, "features": [3]}\n{"id": 2, "features": [-1]}\n')
    job = transform(
        service,
        "jsonl-join",
        service.file_uri("in/jjoin/rows.jsonl"),
        "out/jjoin",
        content_type="application/jsonlines",
        DataProcessing={
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    )
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    rows = [json.loads(line) for line in read(service, "out/jjoin/rows.jsonl.out").splitlines()]
    assert [(row["id"], row["SageMakerOutput"]["predicted_label"]) for row in rows] == [(1, 1), (2, 0)]
    assert set(rows[0]) == {"id", "SageMakerOutput"}


def test_a_bad_row_fails_the_job_naming_the_file_and_line(service):
    uri = write(service, "in/bad/rows.csv", "1\n2\n3,4\n5\n")
    job = transform(service, "bad-row", service.file_uri("in/bad/"), "out/bad")
    assert job["TransformJobStatus"] == "Failed"
    assert f"{uri}, line 3" in job["FailureReason"] and "1 (x)" in job["FailureReason"]
    write(service, "in/badjson/rows.jsonl", '{"x": 1}\n{"x": \n')
    job = transform(
        service, "bad-json", service.file_uri("in/badjson/"), "out/badjson", content_type="application/jsonlines"
    )
    assert job["TransformJobStatus"] == "Failed"
    assert "rows.jsonl, line 2" in job["FailureReason"]
    assert not (service.file_root / "out" / "bad" / "rows.csv.out").exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"TransformInput": {"ContentType": "application/x-parquet"}}, "TransformInput.ContentType"),
        ({"TransformInput": {"SplitType": "RecordIO"}}, "TransformInput.SplitType"),
        (
            {
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "AugmentedManifestFile", "S3Uri": "file:///x"}}
                }
            },
            "S3DataType",
        ),
        ({"DataProcessing": {"InputFilter": "features"}}, "DataProcessing.InputFilter"),
        ({"DataProcessing": {"OutputFilter": "$[0"}}, "DataProcessing.OutputFilter"),
        ({"MaxPayloadInMB": 101}, "MaxPayloadInMB"),
        ({"Environment": {"SAGEMAKER_INFERENCE_OUTPUT": "score"}}, "Environment.SAGEMAKER_INFERENCE_OUTPUT"),
        ({"ModelName": "no-such-model"}, "ModelName"),
        ({"TransformOutput": {"S3OutputPath": "file:///etc/out"}}, "TransformOutput.S3OutputPath"),
        (
            {"TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "file:///etc/"}}}},
            "S3Uri",
        ),
        ({"TransformJobName": "bad_name"}, "TransformJobName"),
    ],
)
def test_invalid_requests_are_refused_naming_the_field(service, change, field):
    with pytest.raises(ClientError) as raised:
        transform(service, "refused", service.file_uri("in/csv/"), "out/refused", wait=False, **change)
    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert field in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as missing:
        service.client().describe_transform_job(TransformJobName="refused")
    assert missing.value.response["Error"]["Code"] == "ValidationException"


def test_a_taken_name_is_resource_in_use_and_tags_are_kept(service):
    write(service, "in/dup/a.csv", "1\n")
    job = transform(service, "dup-name", service.file_uri("in/dup/"), "out/dup", Tags=[{"Key": "team", "Value": "ml"}])
    client = service.client()
    client.add_tags(ResourceArn=job["TransformJobArn"], Tags=[{"Key": "stage", "Value": "holdout"}])
    tags = client.list_tags(ResourceArn=job["TransformJobArn"])["Tags"]
    assert {tag["Key"]: tag["Value"] for tag in tags} == {"team": "ml", "stage": "holdout"}
    with pytest.raises(ClientError) as raised:
        transform(service, "DUP-name", service.file_uri("in/dup/"), "out/dup", wait=False)
    assert raised.value.response["Error"]["Code"] == "ResourceInUse"


def test_list_filters_sorts_and_pages(service):
    for name in ("list-a", "list-b", "list-c"):
        write(service, "in/list/a.csv", "1\n")
        transform(service, name, service.file_uri("in/list/"), f"out/{name}")
    client = service.client()
    page = client.list_transform_jobs(NameContains="list-", SortBy="Name", SortOrder="Ascending", MaxResults=2)
    assert [job["TransformJobName"] for job in page["TransformJobSummaries"]] == ["list-a", "list-b"]
    rest = client.list_transform_jobs(
        NameContains="list-", SortBy="Name", SortOrder="Ascending", MaxResults=2, NextToken=page["NextToken"]
    )
    assert [job["TransformJobName"] for job in rest["TransformJobSummaries"]] == ["list-c"]
    assert "NextToken" not in rest
    failed = client.list_transform_jobs(StatusEquals="Failed", MaxResults=100)["TransformJobSummaries"]
    assert {"bad-row", "bad-json"} <= {job["TransformJobName"] for job in failed}
    assert all(job["FailureReason"] for job in failed)
    newest = client.list_transform_jobs(MaxResults=1)["TransformJobSummaries"][0]
    assert newest["TransformJobName"] == "list-c"  # CreationTime, Descending by default
    with pytest.raises(ClientError) as raised:
        client.list_transform_jobs(NameContains="list-", NextToken=page["NextToken"])
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_the_aws_cli_runs_and_waits_for_a_transform_job(service, tmp_path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    aws = [
        str(Path(sys.executable).parent / "aws"),
        "--endpoint-url",
        service.endpoint_url,
        "--output",
        "json",
        "sagemaker",
    ]

    def cli(*args: str) -> dict:
        done = subprocess.run([*aws, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    write(service, "in/cli/a.csv", "4\n-4\n")
    cli(
        "create-transform-job",
        "--transform-job-name",
        "cli-transform",
        "--model-name",
        MODEL,
        "--transform-input",
        json.dumps(
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("in/cli")}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            }
        ),
        "--transform-output",
        json.dumps({"S3OutputPath": service.file_uri("out/cli"), "AssembleWith": "Line"}),
        "--transform-resources",
        json.dumps({"InstanceType": "ml.m5.large", "InstanceCount": 1}),
    )
    wait_for(service, "cli-transform")  # the CLI's own waiter polls once a minute
    assert cli("describe-transform-job", "--transform-job-name", "cli-transform")["TransformJobStatus"] == "Completed"
    assert read(service, "out/cli/a.csv.out") == "1\n0\n"
    names = [
        job["TransformJobName"]
        for job in cli("list-transform-jobs", "--name-contains", "cli-")["TransformJobSummaries"]
    ]
    assert names == ["cli-transform"]


def slow_input(service, relative: str, rows: int = 200_000) -> str:
    # SingleRecord: one model call per row, long enough to stop, kill or restart it midway.
    return write(service, relative, "1\n" * rows)


def test_stop_ends_it_stopped_and_writes_no_partial_output(service):
    slow_input(service, "in/slow/a.csv")
    transform(service, "stop-me", service.file_uri("in/slow/"), "out/slow", BatchStrategy="SingleRecord", wait=False)
    worker_pid(service, "stop-me")
    client = service.client()
    client.stop_transform_job(TransformJobName="stop-me")
    assert client.describe_transform_job(TransformJobName="stop-me")["TransformJobStatus"] in ("Stopping", "Stopped")
    job = wait_for(service, "stop-me", timeout=180)
    assert job["TransformJobStatus"] == "Stopped"
    assert not (service.file_root / "out" / "slow" / "a.csv.out").exists()
    with pytest.raises(ClientError) as raised:
        client.stop_transform_job(TransformJobName="stop-me")
    assert "already ended with status Stopped" in raised.value.response["Error"]["Message"]


def test_a_killed_worker_fails_the_job(service):
    slow_input(service, "in/kill/a.csv")
    transform(service, "kill-me", service.file_uri("in/kill/"), "out/kill", BatchStrategy="SingleRecord", wait=False)
    os.kill(worker_pid(service, "kill-me"), signal.SIGKILL)
    job = wait_for(service, "kill-me", timeout=180)
    assert job["TransformJobStatus"] == "Failed"
    assert "killed by SIGKILL" in job["FailureReason"]
    # The service keeps serving.
    assert service.client().describe_transform_job(TransformJobName="csv-prefix")["TransformJobStatus"] == "Completed"


def test_a_restart_ends_running_jobs_failed_and_stopping_ones_stopped(tmp_path):
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, stop_grace_seconds=600)
    stopping_pid = None
    try:
        (service.file_root / "train").mkdir()
        (service.file_root / "train" / "train.csv").write_text("x,label\n1,1\n-2,0\n")
        client = service.client()
        client.create_auto_ml_job_v2(
            AutoMLJobName="restart-source",
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train/")}},
                }
            ],
            OutputDataConfig={"S3OutputPath": service.file_uri("models")},
            AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
            RoleArn=ROLE,
        )
        job = service.wait_for_status("restart-source")
        client.create_model(
            ModelName=MODEL, ExecutionRoleArn=ROLE, Containers=job["BestCandidate"]["InferenceContainers"]
        )
        slow_input(service, "in/a.csv")
        for name in ("running", "stopping"):
            transform(service, name, service.file_uri("in/"), f"out/{name}", BatchStrategy="SingleRecord", wait=False)
            worker_pid(service, name)
        # Stopping lasts: the worker is paused, and the service's grace period is long.
        stopping_pid = worker_pid(service, "stopping")
        os.kill(stopping_pid, signal.SIGSTOP)
        client.stop_transform_job(TransformJobName="stopping")
        assert client.describe_transform_job(TransformJobName="stopping")["TransformJobStatus"] == "Stopping"
        service.restart(hard=True)
        client = service.client()
        running = client.describe_transform_job(TransformJobName="running")
        assert running["TransformJobStatus"] == "Failed"
        assert "restarted" in running["FailureReason"]
        assert client.describe_transform_job(TransformJobName="stopping")["TransformJobStatus"] == "Stopped"
    finally:
        service.stop()
        if stopping_pid is not None:
            # A paused worker cannot notice that its service is gone: end it, or it outlives the test.
            with contextlib.suppress(ProcessLookupError):
                os.kill(stopping_pid, signal.SIGKILL)
