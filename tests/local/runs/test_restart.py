"""Restarting the service loses nothing; jobs it was running end Failed, those it was stopping end
Stopped; workers die with it."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from airflow_automl.local.store import Store
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
RESTART_REASON = "The local service restarted while the job was running; start a new job"


def create(service, name: str, **overrides) -> str:
    request = {
        "AutoMLJobName": name,
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train.csv")}},
                "TargetAttributeName": "y",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("out")},
        **overrides,
    }
    return service.client().create_auto_ml_job(**request)["AutoMLJobArn"]


def wait_for_candidates(service, name: str) -> None:
    client = service.client()
    deadline = time.monotonic() + 60
    while not client.list_candidates_for_auto_ml_job(AutoMLJobName=name)["Candidates"]:
        assert time.monotonic() < deadline, f"job {name} produced no candidate"
        time.sleep(0.2)


def worker_pid(service, name: str) -> int:
    store = Store(service.data_dir / "automl.sqlite3")
    try:
        job = store.jobs.get(name)
        assert job is not None and job.worker_pid
        return job.worker_pid
    finally:
        store.close()


def process_is_gone(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        # A killed child of a dead parent is reaped by init; a zombie still answers kill(0).
        if _is_zombie(pid):
            return True
        time.sleep(0.1)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


@pytest.fixture
def service(tmp_path):
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, stop_grace_seconds=3)
    yield service
    service.stop()


def test_restart_loses_nothing(service):
    client = service.client()
    arn = create(
        service,
        "Kept-Job",
        Tags=[{"Key": "keep", "Value": "me"}],
        AutoMLJobConfig={"CompletionCriteria": {"MaxCandidates": 5}},
    )
    service.wait_for_status("Kept-Job")
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "added", "Value": "later"}])
    before = client.describe_auto_ml_job(AutoMLJobName="Kept-Job")
    candidates_before = client.list_candidates_for_auto_ml_job(AutoMLJobName="Kept-Job", MaxResults=100)["Candidates"]
    v2_before = client.describe_auto_ml_job_v2(AutoMLJobName="Kept-Job")
    service.restart()
    client = service.client()
    after = client.describe_auto_ml_job(AutoMLJobName="Kept-Job")
    for response in (before, after):
        response.pop("ResponseMetadata")
    assert after == before
    assert (
        client.list_candidates_for_auto_ml_job(AutoMLJobName="Kept-Job", MaxResults=100)["Candidates"]
        == candidates_before
    )
    v2_after = client.describe_auto_ml_job_v2(AutoMLJobName="Kept-Job")
    v2_after.pop("ResponseMetadata"), v2_before.pop("ResponseMetadata")
    assert v2_after == v2_before
    assert client.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "keep", "Value": "me"},
        {"Key": "added", "Value": "later"},
    ]
    error = pytest.raises(client.exceptions.ClientError, create, service, "KEPT-JOB")
    assert error.value.response["Error"]["Code"] == "ResourceInUse"


def test_a_job_interrupted_by_a_killed_service_ends_failed_and_its_worker_dies(service):
    create(service, "slow-interrupted")
    wait_for_candidates(service, "slow-interrupted")
    pid = worker_pid(service, "slow-interrupted")
    service.kill()  # SIGKILL: the service cannot clean up; the kernel ends the worker
    assert process_is_gone(pid), f"worker {pid} outlived the killed service"
    service.start()
    client = service.client()
    job = client.describe_auto_ml_job(AutoMLJobName="slow-interrupted")
    assert job["AutoMLJobStatus"] == "Failed"
    assert job["FailureReason"] == RESTART_REASON
    assert "EndTime" in job
    assert client.list_candidates_for_auto_ml_job(AutoMLJobName="slow-interrupted")["Candidates"]
    assert client.list_auto_ml_jobs(StatusEquals="InProgress")["AutoMLJobSummaries"] == []
    store = Store(service.data_dir / "automl.sqlite3")
    assert store.integrity_check() == "ok"
    store.close()


def test_graceful_stop_ends_workers_and_jobs_fail_on_restart(service):
    create(service, "slow-during-shutdown")
    wait_for_candidates(service, "slow-during-shutdown")
    pid = worker_pid(service, "slow-during-shutdown")
    service.stop()
    assert process_is_gone(pid)
    service.start()
    job = service.client().describe_auto_ml_job_v2(AutoMLJobName="slow-during-shutdown")
    assert job["AutoMLJobStatus"] == "Failed"
    assert job["FailureReason"] == RESTART_REASON
    # New jobs run as usual after the restart.
    create(service, "after-restart")
    assert service.wait_for_status("after-restart")["AutoMLJobStatus"] == "Completed"


def test_a_job_being_stopped_when_the_service_dies_ends_stopped_with_its_best_candidate(tmp_path):
    # A long grace: the job, which ignores the stop, is still Stopping when the service dies.
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, stop_grace_seconds=600)
    try:
        create(service, "stubborn-stopping")
        wait_for_candidates(service, "stubborn-stopping")
        pid = worker_pid(service, "stubborn-stopping")
        client = service.client()
        client.stop_auto_ml_job(AutoMLJobName="stubborn-stopping")
        assert client.describe_auto_ml_job_v2(AutoMLJobName="stubborn-stopping")["AutoMLJobStatus"] == "Stopping"
        service.kill()
        assert process_is_gone(pid), f"worker {pid} outlived the killed service"
        service.start()
        job = service.client().describe_auto_ml_job_v2(AutoMLJobName="stubborn-stopping")
        assert (job["AutoMLJobStatus"], job["AutoMLJobSecondaryStatus"]) == ("Stopped", "Stopped")
        assert "FailureReason" not in job and "EndTime" in job
        candidates = service.client().list_candidates_for_auto_ml_job(AutoMLJobName="stubborn-stopping")["Candidates"]
        assert job["BestCandidate"]["CandidateName"] in {candidate["CandidateName"] for candidate in candidates}
    finally:
        service.stop()


def test_a_second_service_on_the_same_data_dir_is_refused(service):
    second = subprocess.run(
        [sys.executable, "-m", "airflow_automl.local.cli", "serve", "--port", "0", "--data-dir", str(service.data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 2
    assert "another local service is already using it" in second.stderr
    assert service.client().list_auto_ml_jobs()["AutoMLJobSummaries"] == []
