"""Airflow-side faults with real processes: a task's process or the triggerer is killed while it
waits on its job; and the service is killed while a job deploys its model.

A DAG task runs ``dag.test()`` in its own process (the worker), waiting in the worker
(``deferrable=False``); the triggerer is a process that rebuilds triggers from ``serialize()``.
The local service runs the scripted engine: ``gated-*`` jobs run until a ``release`` object
appears next to their data, ``slow-*`` jobs run until stopped, ``slowdeploy-*`` models load slowly.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest

from airflow_automl.local.runs.supervisor import ENDPOINT_RESTART_FAILURE_REASON
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.triggers.automl import AutoMLJobTrigger
from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value
from tests.fixtures.service import REPO_ROOT, SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

ROLE = "arn:aws:iam::123456789012:role/automl"
# Fixing both dates fixes the run id, so a second dag.test() is the same run again (a retry).
LOGICAL_DATE = datetime(2026, 1, 2, tzinfo=UTC)
# Bounded waits for things that take seconds when idle; generous because the host is shared (a
# worker's dag.test() took over 90 s to submit its job on 2 cores at load 18).
_WORKER_START_SECONDS = 300.0
# A bound, not a window: the loop ends as soon as the job is Stopping (a loaded machine takes longer).
_STOP_WITHIN_SECONDS = 60.0

_WORKER_SCRIPT = """
import importlib.util, sys
from datetime import datetime
spec = importlib.util.spec_from_file_location(sys.argv[1], sys.argv[2])
module = importlib.util.module_from_spec(spec)
sys.modules[sys.argv[1]] = module
spec.loader.exec_module(module)
when = datetime.fromisoformat(sys.argv[3])
module.dag.test(run_after=when, logical_date=when)
"""


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("airflow-faults"), engine=SCRIPTED_ENGINE, stop_grace_seconds=3)
    try:
        with mock.patch.dict(os.environ, aws_connection_env("aws_default", service.endpoint_url)):
            yield service
    finally:
        service.stop()


def _integrity(db_path: Path) -> str:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        return db.execute("PRAGMA integrity_check").fetchone()[0]


def dag_source(service, dag_id: str, job_prefix: str) -> str:
    data = service.file_root / dag_id
    data.mkdir()
    (data / "train.csv").write_text("x,label\n1,yes\n2,no\n")
    return f"""
        from datetime import datetime, timezone
        from airflow.sdk import DAG
        from airflow_automl.operators.automl import AutoMLJobOperator

        with DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
            AutoMLJobOperator(
                task_id="train",
                job_name="{{{{ automl_job_name({job_prefix!r}) }}}}",
                input_uri={service.file_uri(dag_id + "/")!r},
                target_attribute="label",
                output_path={service.file_uri("output")!r},
                role_arn={ROLE!r},
                deferrable=False,
                poll_interval=0.3,
            )
    """


def start_worker(tmp_path: Path, module_name: str, dag_path: Path) -> subprocess.Popen:
    """The task's worker: a process of its own (and its own process group) running dag.test()."""
    script = tmp_path / "worker.py"
    script.write_text(textwrap.dedent(_WORKER_SCRIPT))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    # The worker keeps its own copy of the log's descriptor: ours is closed once it has started.
    with open(tmp_path / f"{module_name}-worker.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, str(script), module_name, str(dag_path), LOGICAL_DATE.isoformat()],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def worker_log(tmp_path: Path, module_name: str) -> str:
    return (tmp_path / f"{module_name}-worker.log").read_text(errors="replace")


def jobs_named(service, prefix: str) -> list[dict]:
    summaries = service.client().list_auto_ml_jobs(NameContains=prefix, MaxResults=100)["AutoMLJobSummaries"]
    return sorted(summaries, key=lambda job: job["AutoMLJobName"])


def wait_for_job_in_progress(service, prefix: str, worker: subprocess.Popen, tmp_path: Path, module_name: str) -> dict:
    deadline = time.monotonic() + _WORKER_START_SECONDS
    while time.monotonic() < deadline:
        jobs = [job for job in jobs_named(service, prefix) if job["AutoMLJobStatus"] == "InProgress"]
        if jobs:
            return jobs[0]
        if worker.poll() is not None:
            raise AssertionError(
                f"the worker exited with {worker.returncode} before its job ran:\n" + worker_log(tmp_path, module_name)
            )
        time.sleep(0.2)
    raise AssertionError(
        f"no InProgress job named {prefix}* within {_WORKER_START_SECONDS} s:\n" + worker_log(tmp_path, module_name)
    )


def wait_for_output(process: subprocess.Popen, out: Path, lines: list[str], what: str) -> None:
    """Until every one of ``lines`` is in the process's output: the event a kill is timed by, not a
    fixed sleep (on a loaded machine a second may not be enough to reach it)."""
    deadline = time.monotonic() + _WORKER_START_SECONDS
    while time.monotonic() < deadline:
        text = out.read_text(errors="replace")
        if all(line in text for line in lines):
            return
        if process.poll() is not None:
            raise AssertionError(f"the process exited with {process.returncode} before {what}:\n{text}")
        time.sleep(0.2)
    raise AssertionError(f"not {what} within {_WORKER_START_SECONDS} s:\n" + out.read_text(errors="replace"))


def wait_until_polling(worker: subprocess.Popen, tmp_path: Path, module_name: str, job_name: str) -> None:
    """Until the task waits on its job in its polling loop: it logs the job's status there first."""
    log = tmp_path / f"{module_name}-worker.log"
    wait_for_output(worker, log, [f"AutoML job {job_name}: InProgress"], f"its task polled {job_name}")


def signal_worker(worker: subprocess.Popen, signum: int) -> None:
    os.killpg(worker.pid, signum)


def reap(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)


def test_worker_killed_while_waiting_then_retried_reattaches(service, dag_file, tmp_path):
    dag_id = "faults_worker_killed"
    module = dag_file(dag_id, dag_source(service, dag_id, "gated"))
    worker = start_worker(tmp_path, dag_id, Path(module.__file__))
    try:
        first = wait_for_job_in_progress(service, "gated-", worker, tmp_path, dag_id)
        # Once the worker is in its polling loop, kill it without warning: no on_kill, no cleanup.
        wait_until_polling(worker, tmp_path, dag_id, first["AutoMLJobName"])
        signal_worker(worker, signal.SIGKILL)
        worker.wait(timeout=30)
    finally:
        reap(worker)
    name = first["AutoMLJobName"]
    assert service.client().describe_auto_ml_job_v2(AutoMLJobName=name)["AutoMLJobStatus"] == "InProgress"

    # The retry of the same run (same run id, so the same job name) finds the job still running and
    # waits on it; the job is let finish only once the retry has chosen to reattach.
    found: list[str | None] = []
    submit_or_reattach = AutoMLJobOperator.submit_or_reattach

    def reattach_then_release(operator, *args, **kwargs):
        existing = submit_or_reattach(operator, *args, **kwargs)
        found.append(existing.status if existing else None)
        (service.file_root / dag_id / "release").write_text("go")
        return existing

    with mock.patch.object(AutoMLJobOperator, "submit_or_reattach", reattach_then_release):
        run = module.dag.test(run_after=LOGICAL_DATE, logical_date=LOGICAL_DATE)
    assert task_states(run) == {"train": "success"}
    assert found == ["InProgress"]
    assert [job["AutoMLJobName"] for job in jobs_named(service, "gated-")] == [name]
    summary = xcom_value(run, "train")
    assert summary["job_name"] == name
    assert summary["status"] == "Completed"
    assert summary["best_candidate_name"] == "scripted-candidate-003"


def test_task_killed_stops_its_job(service, dag_file, tmp_path):
    dag_id = "faults_task_killed"
    module = dag_file(dag_id, dag_source(service, dag_id, "slow"))
    worker = start_worker(tmp_path, dag_id, Path(module.__file__))
    try:
        job = wait_for_job_in_progress(service, "slow-", worker, tmp_path, dag_id)
        wait_until_polling(worker, tmp_path, dag_id, job["AutoMLJobName"])
        # SIGTERM is how Airflow kills a task (mark failed, timeout, scheduler): on_kill must run.
        signal_worker(worker, signal.SIGTERM)
        client = service.client()
        deadline = time.monotonic() + _STOP_WITHIN_SECONDS
        status = "InProgress"
        while time.monotonic() < deadline:
            status = client.describe_auto_ml_job_v2(AutoMLJobName=job["AutoMLJobName"])["AutoMLJobStatus"]
            if status in ("Stopping", "Stopped"):
                break
            time.sleep(0.2)
        assert status in ("Stopping", "Stopped"), (
            f"job {job['AutoMLJobName']} still {status} {_STOP_WITHIN_SECONDS} s after its task was killed:\n"
            + worker_log(tmp_path, dag_id)
        )
        worker.wait(timeout=30)
    finally:
        reap(worker)
    assert service.wait_for_status(job["AutoMLJobName"], timeout=180)["AutoMLJobStatus"] == "Stopped"
    assert len(jobs_named(service, "slow-")) == 1


def test_service_killed_while_deploying_leaves_nothing_creating(tmp_path):
    # Not an Airflow fault, but the service side of one: the process behind the operator's endpoint
    # dies while a job deploys its model (the scripted slowdeploy model takes a minute to load).
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE)
    try:
        client = service.client()
        name, endpoint = "slowdeploy-1", "slowdeploy-endpoint"
        client.create_auto_ml_job_v2(
            AutoMLJobName=name,
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("data/")}},
                }
            ],
            OutputDataConfig={"S3OutputPath": service.file_uri("output")},
            RoleArn=ROLE,
            AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
            ModelDeployConfig={"AutoGenerateEndpointName": False, "EndpointName": endpoint},
        )
        deadline = time.monotonic() + _WORKER_START_SECONDS
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        while job["AutoMLJobSecondaryStatus"] != "DeployingModel" and time.monotonic() < deadline:
            assert job["AutoMLJobStatus"] == "InProgress", job.get("FailureReason")
            time.sleep(0.1)
            job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        assert job["AutoMLJobSecondaryStatus"] == "DeployingModel", job["AutoMLJobSecondaryStatus"]
        # The endpoint record follows the secondary status by a moment.
        while not client.list_endpoints(NameContains=endpoint)["Endpoints"] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "Creating"
        service.kill()
        assert _integrity(service.data_dir / "automl.sqlite3") == "ok"
        service.start()
        client = service.client()
        described = client.describe_endpoint(EndpointName=endpoint)
        assert described["EndpointStatus"] == "Failed"
        assert described["FailureReason"] == ENDPOINT_RESTART_FAILURE_REASON
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        assert job["AutoMLJobStatus"] not in ("InProgress", "Stopping"), job["AutoMLJobStatus"]
        assert job.get("FailureReason")
        assert {c["CandidateName"] for c in client.list_candidates_for_auto_ml_job(AutoMLJobName=name)["Candidates"]}
    finally:
        service.stop()
    assert _integrity(service.data_dir / "automl.sqlite3") == "ok"


_TRIGGERER_SCRIPT = """
import asyncio, importlib, json, logging, sys

async def run(trigger):
    async for event in trigger.run():
        print(json.dumps(event.payload, default=str), flush=True)

async def main(serialized):
    triggers = []
    for classpath, kwargs in serialized:
        module, _, name = classpath.rpartition(".")
        triggers.append(getattr(importlib.import_module(module), name)(**kwargs))
    print(json.dumps({"ready": len(triggers)}), flush=True)
    await asyncio.gather(*(run(trigger) for trigger in triggers))

# The triggers' progress lines ("AutoML job NAME: InProgress ...") on stdout: the test waits for them.
logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="log %(message)s", force=True)
asyncio.run(main(json.loads(sys.argv[1])))
"""


def start_triggerer(tmp_path: Path, serialized: list, log_name: str) -> tuple[subprocess.Popen, Path]:
    """A triggerer of its own: a process that rebuilds the triggers and prints each event as a JSON line."""
    script = tmp_path / "triggerer.py"
    script.write_text(textwrap.dedent(_TRIGGERER_SCRIPT))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    out = tmp_path / log_name
    with open(out, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(script), json.dumps(serialized)],
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    return process, out


def triggerer_events(out: Path) -> list[dict]:
    lines = [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]
    return [line for line in lines if "ready" not in line]


# tests/triggers/test_poller_scale.py proves the restart in one process for `make test`; this
# one kills a real triggerer process and needs two more interpreters, so it runs in the full suite.
@pytest.mark.slow
def test_triggerer_killed_while_triggers_wait_then_restarted_fires_once_per_job(service, tmp_path):
    data = service.file_root / "triggerer"
    data.mkdir()
    (data / "train.csv").write_text("x,label\n1,yes\n2,no\n")
    names = [f"gated-triggerer-{index}" for index in range(3)]
    client = service.client()
    for name in names:
        client.create_auto_ml_job_v2(
            AutoMLJobName=name,
            AutoMLJobInputDataConfig=[
                {
                    "ChannelType": "training",
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("triggerer/")}},
                }
            ],
            OutputDataConfig={"S3OutputPath": service.file_uri("output")},
            RoleArn=ROLE,
            AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
        )
    # What the triggerer keeps in the database for each deferred task: serialize(), nothing else.
    serialized = [
        list(AutoMLJobTrigger(job_name=name, aws_conn_id="aws_default", poll_interval=0.3).serialize())
        for name in names
    ]
    first, first_out = start_triggerer(tmp_path, serialized, "triggerer-1.log")
    try:
        # Killed once every trigger has seen its job running, so the restart has live watches to replace.
        progress = [f"AutoML job {name}: InProgress" for name in names]
        wait_for_output(first, first_out, progress, "every trigger saw its job InProgress")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        reap(first)
    assert triggerer_events(first_out) == []
    assert {client.describe_auto_ml_job_v2(AutoMLJobName=n)["AutoMLJobStatus"] for n in names} == {"InProgress"}

    (data / "release").write_text("go")
    second, second_out = start_triggerer(tmp_path, serialized, "triggerer-2.log")
    try:
        deadline = time.monotonic() + _WORKER_START_SECONDS
        while len(triggerer_events(second_out)) < len(names) and time.monotonic() < deadline:
            assert second.poll() is None or len(triggerer_events(second_out)) == len(names), second_out.read_text()
            time.sleep(0.2)
        # Every trigger has fired; the process ends by itself once all run() loops return.
        second.wait(timeout=30)
    finally:
        reap(second)
    events = triggerer_events(second_out)
    assert sorted(event["job_name"] for event in events) == names, events
    assert {event["status"] for event in events} == {"success"}
    assert [job["AutoMLJobName"] for job in jobs_named(service, "gated-triggerer-")] == names
