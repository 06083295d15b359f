"""Endpoint data capture on a real service over HTTP: SageMaker's layout and record format,
sampling and capture options, capture switched by UpdateEndpoint, continuous invocation to S3
with nothing lost, a destination that cannot be written, and the last records written at shutdown."""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import BotoCoreError, ClientError

from airflow_automl.sagemaker.data_capture import parse_capture_file
from devtools.processes import LocalService
from tests.fixtures.s3 import s3_endpoint as s3_endpoint  # the fixture, for this module
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
ROWS = b"1.5\n-2\n3\n"  # the scripted model: label 1 when x > 0
FAST_WAITER = {"Delay": 0.2, "MaxAttempts": 300}
BUCKET = "capture"
# <destination>/<endpoint>/<variant>/yyyy/mm/dd/hh/<mm>-<ss>-<mmm>-<uuid>.jsonl
FILE_NAME = re.compile(r"\d{4}/\d{2}/\d{2}/\d{2}/\d{2}-\d{2}-\d{3}-[0-9a-f-]{36}\.jsonl\Z")


def _deploy_model(service, job_name: str) -> None:
    client = service.client()
    client.create_auto_ml_job(
        AutoMLJobName=job_name,
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train.csv")}},
                "TargetAttributeName": "y",
            }
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("out")},
    )
    assert service.wait_for_status(job_name)["AutoMLJobStatus"] == "Completed"
    containers = client.describe_auto_ml_job(AutoMLJobName=job_name)["BestCandidate"]["InferenceContainers"]
    client.create_model(ModelName="model", ExecutionRoleArn=ROLE, Containers=containers)


@pytest.fixture(scope="module")
def service(tmp_path_factory, s3_endpoint):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=BUCKET)
    service = start_service(
        tmp_path_factory.mktemp("capture"),
        engine=SCRIPTED_ENGINE,
        s3_endpoint_url=s3_endpoint,
        extra_args=("--capture-flush-seconds", "0.3"),
    )
    try:
        _deploy_model(service, "capture-job")
        yield service
    finally:
        service.stop()


def capture_config(destination: str, percentage: int = 100, modes=("Input", "Output"), **extra) -> dict:
    return {
        "EnableCapture": True,
        "InitialSamplingPercentage": percentage,
        "DestinationS3Uri": destination,
        "CaptureOptions": [{"CaptureMode": mode} for mode in modes],
        **extra,
    }


def endpoint(service, name: str, capture: dict | None) -> None:
    """An InService endpoint on the module's model, with its own config of the same name."""
    client = service.client()
    extra = {"DataCaptureConfig": capture} if capture else {}
    client.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "model", "InitialInstanceCount": 1}],
        **extra,
    )
    client.create_endpoint(EndpointName=name, EndpointConfigName=name)
    client.get_waiter("endpoint_in_service").wait(EndpointName=name, WaiterConfig=FAST_WAITER)


def captured_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.jsonl")) if root.exists() else []


def wait_for_records(read, count: int, timeout: float = 120) -> list:
    """The records read() finds, once there are at least count (generous bound: a loaded machine)."""
    deadline = time.monotonic() + timeout
    while True:
        records = read()
        if len(records) >= count or time.monotonic() > deadline:
            return records
        time.sleep(0.2)


def file_records(root: Path) -> list:
    return [record for path in captured_files(root) for record in parse_capture_file(path.read_text(), str(path))]


def health(service) -> dict:
    return requests.get(f"{service.endpoint_url}/health", timeout=30).json()["dataCapture"]


def test_records_follow_sagemakers_layout_and_format(service):
    destination = service.file_root / "capture-format"
    header = {"CsvContentTypes": ["text/csv"], "JsonContentTypes": ["application/json"]}
    endpoint(service, "format-ep", capture_config(destination.as_uri(), CaptureContentTypeHeader=header))
    runtime = service.client("sagemaker-runtime")
    before = datetime.now(UTC).replace(microsecond=0)
    runtime.invoke_endpoint(EndpointName="format-ep", Body=ROWS, ContentType="text/csv", InferenceId="order-1")
    runtime.invoke_endpoint(
        EndpointName="format-ep", Body=b'[{"x": 2}]', ContentType="application/json", Accept="application/json"
    )
    runtime.invoke_endpoint(EndpointName="format-ep", Body=b'{"x": -1}\n', ContentType="application/jsonlines")
    records = wait_for_records(lambda: file_records(destination), 3)
    assert len(records) == 3
    for path in captured_files(destination):
        relative = path.relative_to(destination).as_posix()
        assert relative.startswith("format-ep/AllTraffic/") and FILE_NAME.search(relative), relative
    raw = [json.loads(line) for path in captured_files(destination) for line in path.read_text().splitlines()]
    assert {tuple(sorted(record)) for record in raw} == {("captureData", "eventMetadata", "eventVersion")}
    assert {record["eventVersion"] for record in raw} == {"0"}
    by_type = {record.endpoint_input.content_type: record for record in records}
    csv = by_type["text/csv"]
    assert csv.inference_id == "order-1"
    assert (csv.endpoint_input.encoding, csv.endpoint_input.data) == ("CSV", ROWS)
    assert (csv.endpoint_output.encoding, csv.endpoint_output.data) == ("CSV", b"1\n0\n1\n")
    as_json = by_type["application/json"]
    assert as_json.inference_id is None and as_json.endpoint_input.encoding == "JSON"
    assert as_json.endpoint_output.encoding == "JSON"
    assert json.loads(as_json.endpoint_output.data)["predictions"][0]["predicted_label"] == 1
    # A media type in neither list is kept byte for byte, base64-encoded.
    lines = by_type["application/jsonlines"]
    assert (lines.endpoint_input.encoding, lines.endpoint_input.data) == ("BASE64", b'{"x": -1}\n')
    assert len({record.event_id for record in records}) == 3
    assert all(before <= record.inference_time <= datetime.now(UTC) + timedelta(seconds=1) for record in records)
    csv_line = next(line for line in raw if line["eventMetadata"].get("inferenceId") == "order-1")
    assert csv_line["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv",
        "mode": "INPUT",
        "data": ROWS.decode(),
        "encoding": "CSV",
    }
    assert csv_line["captureData"]["endpointOutput"]["mode"] == "OUTPUT"


def test_sampling_and_capture_options(service):
    root = service.file_root / "capture-sampling"
    endpoint(service, "never-ep", capture_config((root / "never").as_uri(), percentage=0))
    # No CaptureContentTypeHeader: SageMaker base64-encodes everything.
    endpoint(service, "half-ep", capture_config((root / "half").as_uri(), percentage=50, modes=("Input",)))
    runtime = service.client("sagemaker-runtime")
    for _ in range(20):
        runtime.invoke_endpoint(EndpointName="never-ep", Body=ROWS, ContentType="text/csv")
    for index in range(100):
        runtime.invoke_endpoint(EndpointName="half-ep", Body=ROWS, ContentType="text/csv", InferenceId=f"i-{index}")
    # Every sampled invocation is written once nothing waits any more.
    wait_for_records(lambda: [] if health(service)["recordsPending"] else [True], 1)
    records = file_records(root / "half")
    # 100 draws at 50 %: more than 5 standard deviations (5 each) from 50 fails.
    assert 25 <= len(records) <= 75, len(records)
    assert len({record.inference_id for record in records}) == len(records)
    assert all(record.endpoint_output is None for record in records)
    assert {(record.endpoint_input.encoding, record.endpoint_input.data) for record in records} == {("BASE64", ROWS)}
    assert captured_files(root / "never") == []


def test_update_endpoint_turns_capture_on_and_off(service):
    client, runtime = service.client(), service.client("sagemaker-runtime")
    destination = service.file_root / "capture-switch"
    endpoint(service, "switch-ep", None)
    assert "DataCaptureConfig" not in client.describe_endpoint(EndpointName="switch-ep")
    for name, enabled in (("switch-on", True), ("switch-off", False)):
        client.create_endpoint_config(
            EndpointConfigName=name,
            ProductionVariants=[{"VariantName": "AllTraffic", "ModelName": "model", "InitialInstanceCount": 1}],
            DataCaptureConfig=capture_config(destination.as_uri(), percentage=100, EnableCapture=enabled),
        )
    runtime.invoke_endpoint(EndpointName="switch-ep", Body=ROWS, ContentType="text/csv", InferenceId="before")

    client.update_endpoint(EndpointName="switch-ep", EndpointConfigName="switch-on")
    client.get_waiter("endpoint_in_service").wait(EndpointName="switch-ep", WaiterConfig=FAST_WAITER)
    assert client.describe_endpoint(EndpointName="switch-ep")["DataCaptureConfig"] == {
        "EnableCapture": True,
        "CaptureStatus": "Started",
        "CurrentSamplingPercentage": 100,
        "DestinationS3Uri": destination.as_uri(),
    }
    runtime.invoke_endpoint(EndpointName="switch-ep", Body=ROWS, ContentType="text/csv", InferenceId="on")
    assert [r.inference_id for r in wait_for_records(lambda: file_records(destination), 1)] == ["on"]

    client.update_endpoint(EndpointName="switch-ep", EndpointConfigName="switch-off")
    client.get_waiter("endpoint_in_service").wait(EndpointName="switch-ep", WaiterConfig=FAST_WAITER)
    summary = client.describe_endpoint(EndpointName="switch-ep")["DataCaptureConfig"]
    assert (summary["EnableCapture"], summary["CaptureStatus"]) == (False, "Stopped")
    runtime.invoke_endpoint(EndpointName="switch-ep", Body=ROWS, ContentType="text/csv", InferenceId="off")
    # A capturing endpoint's record written after it shows the writer has passed the "off" call.
    endpoint(service, "marker-ep", capture_config((service.file_root / "capture-marker").as_uri()))
    runtime.invoke_endpoint(EndpointName="marker-ep", Body=ROWS, ContentType="text/csv")
    assert len(wait_for_records(lambda: file_records(service.file_root / "capture-marker"), 1)) == 1
    assert [record.inference_id for record in file_records(destination)] == ["on"]


def test_continuous_invocation_to_s3_loses_nothing(service, s3_endpoint):
    endpoint(service, "busy-ep", capture_config(f"s3://{BUCKET}/busy"))
    runtime = service.client("sagemaker-runtime", max_pool_connections=4)
    failures: list[str] = []
    sent: list[str] = []

    def invoke(worker: int) -> None:
        for index in range(40):
            inference_id = f"w{worker}-{index}"
            try:
                runtime.invoke_endpoint(
                    EndpointName="busy-ep", Body=ROWS, ContentType="text/csv", InferenceId=inference_id
                )
                sent.append(inference_id)
            except (ClientError, BotoCoreError) as error:  # every failure is what the test counts
                failures.append(f"{inference_id}: {error}")

    threads = [threading.Thread(target=invoke, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")

    def read() -> list:
        keys = [item["Key"] for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="busy/").get("Contents", [])]
        return [
            record
            for key in keys
            for record in parse_capture_file(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode(), key)
        ]

    records = wait_for_records(read, len(sent))
    assert sorted(record.inference_id for record in records) == sorted(sent)
    assert len(sent) == 160


def test_a_destination_that_cannot_be_written_never_fails_an_invocation(service):
    endpoint(service, "lost-ep", capture_config("s3://no-such-bucket/capture"))
    runtime = service.client("sagemaker-runtime")
    before = health(service)["recordsFailed"]
    for _ in range(5):
        response = runtime.invoke_endpoint(EndpointName="lost-ep", Body=ROWS, ContentType="text/csv")
        assert response["Body"].read() == b"1\n0\n1\n"
    deadline = time.monotonic() + 120
    while health(service)["recordsFailed"] < before + 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    stats = health(service)
    assert stats["recordsFailed"] == before + 5
    assert "s3://no-such-bucket/capture/lost-ep/AllTraffic/" in stats["lastError"]
    assert "not written" in service.log()


def test_records_still_buffered_are_written_at_shutdown(service):
    """Last in the module: the service is restarted on its data dir, now writing only at shutdown."""
    destination = service.file_root / "capture-shutdown"
    endpoint(service, "shutdown-ep", capture_config(destination.as_uri()))
    service.stop()
    patient = LocalService(
        service.data_dir, service.file_root, engine=SCRIPTED_ENGINE, extra_args=("--capture-flush-seconds", "3600")
    )
    patient.start()
    try:
        runtime = patient.client("sagemaker-runtime")
        for index in range(5):
            runtime.invoke_endpoint(
                EndpointName="shutdown-ep", Body=ROWS, ContentType="text/csv", InferenceId=str(index)
            )
        assert health(patient)["recordsPending"] == 5
    finally:
        patient.stop()
    assert sorted(record.inference_id for record in file_records(destination)) == ["0", "1", "2", "3", "4"]
