"""Faults: the service killed with SIGKILL at random moments of its jobs' lives, training
workers killed, and what must hold afterwards. After every restart each job that was created
is still there, none is left InProgress or Stopping, finished jobs keep their candidates, the
SQLite store passes an integrity check, and workers never outlive the service."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from requests.exceptions import RequestException

from airflow_automl.local.runs.supervisor import RESTART_FAILURE_REASON
from tests.fixtures.hypothesis import examples
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ACTIVE = ("InProgress", "Stopping")
_CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    RequestException,
    ConnectionError,
)


def _request(name: str, input_uri: str, output_uri: str, max_candidates: int = 2) -> dict:
    return {
        "AutoMLJobName": name,
        "AutoMLJobInputDataConfig": [
            {"ChannelType": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}}}
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "AutoMLProblemTypeConfig": {
            "TabularJobConfig": {
                "TargetAttributeName": "label",
                "ProblemType": "BinaryClassification",
                "Mode": "ENSEMBLING",
                "CompletionCriteria": {"MaxCandidates": max_candidates, "MaxRuntimePerTrainingJobInSeconds": 10},
            }
        },
    }


def _integrity(db_path: Path) -> str:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        children = (task / "children").read_text().split() if (task / "children").exists() else []
        found += [int(child) for child in children]
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _all_jobs(client) -> dict[str, dict]:
    jobs, token = {}, None
    while True:
        page = client.list_auto_ml_jobs(MaxResults=100, **({"NextToken": token} if token else {}))
        for summary in page["AutoMLJobSummaries"]:
            jobs[summary["AutoMLJobName"]] = summary
        token = page.get("NextToken")
        if not token:
            return jobs


def _candidate_names(client, name: str) -> set[str]:
    names, token = set(), None
    while True:
        page = client.list_candidates_for_auto_ml_job(
            AutoMLJobName=name, MaxResults=100, **({"NextToken": token} if token else {})
        )
        names |= {c["CandidateName"] for c in page["Candidates"]}
        token = page.get("NextToken")
        if not token:
            return names


def _check_after_restart(service, created: set[str], finished: dict[str, tuple[str, set[str]]]) -> None:
    client = service.client()
    jobs = _all_jobs(client)
    missing = created - set(jobs)
    assert not missing, f"jobs lost across a kill: {sorted(missing)}"
    stuck = {name: job["AutoMLJobStatus"] for name, job in jobs.items() if job["AutoMLJobStatus"] in ACTIVE}
    assert not stuck, f"jobs left active by a restart: {stuck}"
    for name, (status, candidates) in finished.items():
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        assert job["AutoMLJobStatus"] == status, (name, job["AutoMLJobStatus"], status)
        assert _candidate_names(client, name) >= candidates, f"{name} lost candidates"
        if status == "Completed":
            assert job["BestCandidate"]["CandidateName"] in candidates
    for name, job in jobs.items():
        if job["AutoMLJobStatus"] == "Failed":
            assert client.describe_auto_ml_job_v2(AutoMLJobName=name)["FailureReason"]


@pytest.mark.timeout(900)
def test_kill_9_at_random_moments_loses_nothing(tmp_path):
    kills = examples(3, 20)
    rng = random.Random(20261127)
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, max_concurrent_jobs=2, stop_grace_seconds=2)
    created: set[str] = set()
    finished: dict[str, tuple[str, set[str]]] = {}
    try:
        for round_number in range(kills):
            client = service.client()

            def create_jobs(round_number=round_number, client=client):
                # Creates keep arriving while the kill lands: some succeed, one may be cut off.
                for index, script in enumerate(("ok", "slow", "fail", "ok", "slow", "ok")):
                    name = f"{script}-r{round_number}-{index}"
                    try:
                        client.create_auto_ml_job_v2(**_request(name, "s3://bucket/in/", "s3://bucket/out"))
                        created.add(name)
                    except ClientError as error:
                        assert error.response["Error"]["Code"] in ("ResourceLimitExceeded",), error
                    except _CONNECTION_ERRORS:
                        break
                    time.sleep(rng.uniform(0, 0.15))

            creator = threading.Thread(target=create_jobs)
            creator.start()
            if rng.random() < 0.5:
                # Some rounds also stop a job first, so the kill can land in Stopping.
                time.sleep(rng.uniform(0.1, 0.4))
                try:
                    client.stop_auto_ml_job(AutoMLJobName=f"slow-r{round_number}-1")
                except (ClientError, *_CONNECTION_ERRORS):
                    pass
            time.sleep(rng.uniform(0.0, 1.5))
            # Remember what had finished, with its candidates, just before the kill.
            for name, job in _all_jobs(client).items():
                if job["AutoMLJobStatus"] not in ACTIVE and name not in finished:
                    finished[name] = (job["AutoMLJobStatus"], _candidate_names(client, name))
            workers = _children(service.process.pid)
            service.kill()
            creator.join(timeout=30)
            assert _integrity(service.data_dir / "automl.sqlite3") == "ok"
            deadline = time.monotonic() + 15
            while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not [pid for pid in workers if _alive(pid)], "workers outlived the killed service"
            service.start()
            _check_after_restart(service, created, finished)
        client = service.client()
        interrupted = [
            name
            for name in created
            if client.describe_auto_ml_job_v2(AutoMLJobName=name).get("FailureReason") == RESTART_FAILURE_REASON
        ]
        assert interrupted, "no kill landed while a job was running: the test exercised nothing"
    finally:
        service.stop()
    assert _integrity(service.data_dir / "automl.sqlite3") == "ok"


def test_a_killed_worker_fails_its_job_and_others_carry_on(tmp_path):
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, max_concurrent_jobs=3)
    try:
        client = service.client()
        for name in ("slow-victim", "crash-self", "slow-bystander"):
            client.create_auto_ml_job_v2(**_request(name, "s3://bucket/in/", "s3://bucket/out"))
        deadline = time.monotonic() + 60
        while (
            client.describe_auto_ml_job_v2(AutoMLJobName="slow-victim")["AutoMLJobSecondaryStatus"] != "TrainingModels"
        ):
            assert time.monotonic() < deadline, "slow-victim never started training"
            time.sleep(0.1)
        workers = _children(service.process.pid)
        victim = [pid for pid in workers if "slow-victim" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(victim) == 1, workers
        os.kill(victim[0], signal.SIGKILL)
        for name in ("slow-victim", "crash-self"):
            job = service.wait_for_status(name, timeout=180)
            assert job["AutoMLJobStatus"] == "Failed" and "killed by SIGKILL" in job["FailureReason"], job
            assert job["BestCandidate"]["CandidateName"]  # the best trained before the death is kept
        assert client.describe_auto_ml_job_v2(AutoMLJobName="slow-bystander")["AutoMLJobStatus"] == "InProgress"
        client.create_auto_ml_job_v2(**_request("after-the-deaths", "s3://bucket/in/", "s3://bucket/out"))
        assert service.wait_for_status("after-the-deaths", timeout=180)["AutoMLJobStatus"] == "Completed"
        client.stop_auto_ml_job(AutoMLJobName="slow-bystander")
        assert service.wait_for_status("slow-bystander", timeout=180)["AutoMLJobStatus"] == "Stopped"
    finally:
        service.stop()


def _complete_file(path: Path) -> None:
    """Every artifact under its final name is whole: the format's own checks pass."""
    data = path.read_bytes()
    assert data, f"{path} is empty"
    name = path.name
    if name.endswith(".json"):
        json.loads(data)
    elif name.endswith((".tar.gz", ".tgz", ".tar")):
        with tarfile.open(path) as archive:
            for member in archive:
                if member.isfile():
                    archive.extractfile(member).read()
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
    elif name.endswith(".html"):
        assert data.rstrip().endswith(b"</html>"), f"{path} is cut off"
    elif name.endswith(".ipynb"):
        json.loads(data)
    elif name.endswith(".csv"):
        pd.read_csv(path)


@pytest.mark.timeout(600)
def test_kill_9_during_a_real_training_job_leaves_no_half_written_artifact(tmp_path):
    service = start_service(tmp_path, max_concurrent_jobs=1)
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"a": rng.normal(size=800), "b": rng.integers(0, 9, 800), "c": rng.choice(["x", "y"], 800)})
    frame["label"] = ((frame["a"] > 0) ^ (frame["c"] == "x")).astype(int)
    (service.file_root / "in").mkdir()
    frame.to_csv(service.file_root / "in" / "train.csv", index=False)
    output = service.file_root / "out"
    name = "real-killed"
    try:
        client = service.client()
        client.create_auto_ml_job_v2(
            **_request(name, (service.file_root / "in").as_uri() + "/", output.as_uri(), max_candidates=3)
        )
        # Kill once the job is training and has written its first artifacts.
        deadline = time.monotonic() + 240
        while True:
            job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
            if job["AutoMLJobStatus"] not in ACTIVE:
                break
            written = [p for p in output.rglob("*") if p.is_file()]
            if job["AutoMLJobSecondaryStatus"] in ("TrainingModels", "ModelTuning") and written:
                time.sleep(float(rng.uniform(0.0, 2.0)))
                break
            assert time.monotonic() < deadline, f"job never reached training: {job['AutoMLJobSecondaryStatus']}"
            time.sleep(0.1)
        was_active = client.describe_auto_ml_job_v2(AutoMLJobName=name)["AutoMLJobStatus"] in ACTIVE
        service.kill()
        assert _integrity(service.data_dir / "automl.sqlite3") == "ok"
        for path in output.rglob("*"):
            if path.is_file() and not path.name.startswith("."):
                _complete_file(path)
        service.start()
        job = service.client().describe_auto_ml_job_v2(AutoMLJobName=name)
        assert job["AutoMLJobStatus"] not in ACTIVE
        if was_active:
            assert job["AutoMLJobStatus"] == "Failed" and job["FailureReason"] == RESTART_FAILURE_REASON
    finally:
        service.stop()
