"""The production topology under faults: `make stack`'s processes, automl_retrain triggered through
Airflow's REST API with s3:// storage, and one component killed or stopped in each run.

Too heavy for `make test` (the stack alone takes a minute or two to start): `make stack-test` runs
it. The local service runs the scripted engine (tests/fixtures/service.py), which walks a job
through its statuses without training, in the variant that first holds the job while an object
named ``hold`` sits under the job's S3OutputPath, so each fault happens while the job is running.
Settings changed from stack.env, to keep the run short (each named where it is used):
the trigger polls every 3 s, a retry waits 5 s, and a task whose worker stopped heartbeating
is failed after 30 s instead of 300 s.
"""

from __future__ import annotations

import json
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import psutil
import pytest
import requests

from devtools.stack import Stack
from tests.fixtures.service import HELD_SCRIPTED_ENGINE

pytestmark = [pytest.mark.stack, pytest.mark.integration]

DAG_ID = "automl_retrain"
TEST_SETTINGS = {
    "AUTOML_POLL_INTERVAL_SECONDS": "3",
    "AUTOML_RETRY_DELAY_SECONDS": "5",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
}
RUN_TIMEOUT = 300.0


class AirflowAPI:
    """Airflow's public REST API (v2), as a user or a script reaches it."""

    def __init__(self, url: str, login: tuple[str, str]):
        self.url = url
        answer = requests.post(f"{url}/auth/token", json={"username": login[0], "password": login[1]}, timeout=30)
        answer.raise_for_status()
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.session.request(method, f"{self.url}/api/v2{path}", timeout=30, **kwargs)
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text[:500]}"
        return answer.json()

    def trigger(self, conf: dict[str, Any], logical_date: str | None = None) -> str:
        run = self.call("POST", f"/dags/{DAG_ID}/dagRuns", json={"logical_date": logical_date, "conf": conf})
        return run["dag_run_id"]

    def run(self, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")

    def task(self, run_id: str, task_id: str) -> dict[str, Any]:
        return self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}")

    def tasks(self, run_id: str) -> dict[str, tuple[str | None, int]]:
        found = self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in found}

    def log(self, run_id: str, task_id: str, try_number: int) -> str:
        """A try's log as the UI shows it, with the sources it was read from."""
        found = self.call(
            "GET",
            f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}",
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        return json.dumps(found["content"])

    def xcom(self, run_id: str, task_id: str) -> Any:
        return self.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value")[
            "value"
        ]


def wait_for(check: Callable[[], Any], what: str, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)


class StackUnderTest:
    """The stack, its REST API, and the S3 and SageMaker clients a test checks outcomes with."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.api = AirflowAPI(stack.api_url, stack.login)
        credentials = {
            "region_name": stack.settings["AWS_DEFAULT_REGION"],
            "aws_access_key_id": stack.settings["MINIO_ROOT_USER"],
            "aws_secret_access_key": stack.settings["MINIO_ROOT_PASSWORD"],
            "config": botocore.config.Config(retries={"max_attempts": 1}),
        }
        self.sagemaker = boto3.client("sagemaker", endpoint_url=stack.service_url, **credentials)
        self.s3 = boto3.client("s3", endpoint_url=stack.s3_url, **credentials)
        self.bucket = stack.settings["AUTOML_BUCKET"]

    def conf(self, name: str, *, hold: bool) -> dict[str, Any]:
        """A run's conf: storage of its own; with ``hold`` its job waits until release(name)."""
        if hold:
            self.s3.put_object(Bucket=self.bucket, Key=f"{name}/models/hold", Body=b"")
        # The scripted engine's best candidate scores 0.65.
        return {
            "storage_uri": f"s3://{self.bucket}/{name}",
            "rows": 500,
            "max_runtime_seconds": 60,
            "metric_threshold": 0.6,
        }

    def release(self, name: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=f"{name}/models/hold")

    def job_names(self) -> set[str]:
        return {job["AutoMLJobName"] for job in self.sagemaker.list_auto_ml_jobs(MaxResults=100)["AutoMLJobSummaries"]}

    def wait_for_task_state(self, run_id: str, task_id: str, state: str, timeout: float = 180) -> dict[str, Any]:
        return wait_for(
            lambda: (ti := self.api.task(run_id, task_id))["state"] == state and ti,
            f"{task_id} of {run_id} {state}",
            timeout,
            interval=0.5,
        )

    def wait_for_success(self, run_id: str) -> dict[str, Any]:
        def ended() -> dict[str, Any] | None:
            run = self.api.run(run_id)
            return run if run["state"] in ("success", "failed") else None

        run = wait_for(ended, f"run {run_id} ended", RUN_TIMEOUT, interval=2)
        assert run["state"] == "success", f"run {run_id} {run['state']}: {self.api.tasks(run_id)}\n{self.log_tails()}"
        return run

    def log_tails(self) -> str:
        return "\n".join(f"-- {c.name}:\n{c.log_tail(20)}" for c in self.stack.components.values())

    def log_lines(self, *texts: str) -> list[str]:
        """Lines holding every one of ``texts`` in the stack's logs (its components' and Airflow's
        task and trigger logs)."""
        paths = [*self.stack.logs.glob("*.log"), *(self.stack.airflow_home / "logs").rglob("*.log")]
        return [
            line
            for path in paths
            for line in path.read_text(errors="replace").splitlines()
            if all(text in line for text in texts)
        ]


@pytest.fixture(scope="module")
def stack() -> Iterator[StackUnderTest]:
    # Not under pytest's private temp dir: PostgreSQL may run as another user (as root's child it
    # runs as postgres), which must reach its data directory.
    state_dir = Path(tempfile.mkdtemp(prefix="airflow-automl-stack-test-"))
    stack = Stack(state_dir, overrides=TEST_SETTINGS, service_engine=HELD_SCRIPTED_ENGINE)
    try:
        stack.start()
        under_test = StackUnderTest(stack)

        def parsed() -> dict[str, Any] | None:
            answer = under_test.api.session.get(f"{stack.api_url}/api/v2/dags/{DAG_ID}", timeout=30)
            return answer.json() if answer.ok else None

        dag = wait_for(parsed, f"the dag-processor has parsed {DAG_ID}", 120)
        assert dag["is_paused"], "stack.env pauses new DAGs"
        # The first run takes the interval the scheduler would run on unpausing (catchup is off), so
        # that unpausing starts no scheduled run besides the tests' own.
        under_test.first_logical_date = dag["next_dagrun_logical_date"]
        yield under_test
    finally:
        stack.stop()
        shutil.rmtree(state_dir)


def _trigger_first_or_next(stack: StackUnderTest, conf: dict[str, Any]) -> str:
    logical_date, stack.first_logical_date = stack.first_logical_date, None
    run_id = stack.api.trigger(conf, logical_date=logical_date)
    stack.api.call("PATCH", f"/dags/{DAG_ID}", json={"is_paused": False})
    return run_id


def test_retraining_dag_succeeds_on_the_stack_with_s3_storage(stack):
    before = stack.job_names()
    run_id = _trigger_first_or_next(stack, stack.conf("baseline", hold=False))
    stack.wait_for_success(run_id)
    result = stack.api.xcom(run_id, "train_model")
    assert stack.job_names() - before == {result["job_name"]}
    assert result["status"] == "Completed"
    # The run's data, both transforms' scores and the verdict went to S3 (moto).
    keys = {item["Key"] for item in stack.s3.list_objects_v2(Bucket=stack.bucket, Prefix="baseline/")["Contents"]}
    job_name = result["job_name"]
    assert any(key.startswith("baseline/data/") and key.endswith("/train.csv") for key in keys)
    assert f"baseline/scores/{job_name}/metrics.json" in keys
    assert any(key.startswith(f"baseline/scores/{job_name}/challenger/") and key.endswith(".out") for key in keys)
    # The first run on a fresh registry has no champion: the challenger is approved and served.
    decision = stack.api.xcom(run_id, "register_challenger")
    run = stack.api.call("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
    assert run["note"].startswith("PROMOTED "), "the verdict is the run's note"
    assert decision["promoted"] and decision["champion_metric"] is None
    package = stack.sagemaker.describe_model_package(ModelPackageName=decision["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Approved"
    assert stack.api.tasks(run_id)["smoke_check"][0] == "success"
    endpoint = stack.sagemaker.describe_endpoint(EndpointName="churn-serving")
    assert (endpoint["EndpointStatus"], endpoint["EndpointConfigName"]) == ("InService", decision["serving_model"])


def test_triggerer_killed_while_the_job_runs_a_new_one_takes_over(stack):
    before = stack.job_names()
    run_id = _trigger_first_or_next(stack, stack.conf("triggerer", hold=True))
    deferred = stack.wait_for_task_state(run_id, "train_model", "deferred")
    old_triggerer = deferred["trigger"]["triggerer_id"] if deferred.get("trigger") else None
    # The UI reads a deferred task's log from the triggerer's log server, which accepts the request
    # only when both share [api] secret_key (stack.env); otherwise Airflow says so in the log.
    triggerer_logs = f":{stack.stack.ports.triggerer_logs}/log/"
    log = wait_for(
        lambda: (text := stack.api.log(run_id, "train_model", 1)) and triggerer_logs in text and text,
        "the deferred task's log served by the triggerer",
        60,
    )
    assert "secret_key" not in log

    stack.stack.components["triggerer"].kill()
    stack.stack.start_triggerer()
    # A triggerer takes over another's triggers once that one has missed its heartbeats (30 s).
    wait_for(
        lambda: (
            (trigger := stack.api.task(run_id, "train_model").get("trigger"))
            and trigger["triggerer_id"] not in (None, old_triggerer)
        ),
        "the new triggerer took over the trigger",
        120,
    )
    stack.release("triggerer")

    stack.wait_for_success(run_id)
    assert stack.api.tasks(run_id)["train_model"] == ("success", 1)
    assert stack.job_names() - before == {stack.api.xcom(run_id, "train_model")["job_name"]}, (
        "exactly one job for the run"
    )


def _worker_running(stack: StackUnderTest, pid: int):
    """The stack's Celery worker whose process tree holds ``pid``."""
    ancestors = {parent.pid for parent in psutil.Process(pid).parents()} | {pid}
    for name, component in stack.stack.components.items():
        if name.startswith("worker-") and component.pid in ancestors:
            return name, component
    raise AssertionError(f"task process {pid} is under none of the stack's workers")


def test_worker_killed_while_train_model_runs_the_task_is_retried(stack):
    before = stack.job_names()
    run_id = _trigger_first_or_next(stack, stack.conf("worker", hold=False))

    def running_with_pid() -> dict[str, Any] | None:
        ti = stack.api.task(run_id, "train_model")
        assert ti["state"] not in ("deferred", "success", "failed"), (
            f"train_model went {ti['state']} before the test could kill its worker"
        )
        return ti if ti["state"] == "running" and ti["pid"] else None

    ti = wait_for(running_with_pid, "train_model running", 180, interval=0.1)
    name, worker = _worker_running(stack, ti["pid"])
    worker.kill()  # the worker and the task it runs, as when its machine dies

    stack.wait_for_success(run_id)
    assert stack.api.tasks(run_id)["train_model"] == ("success", 2), "train_model was retried once"
    assert stack.job_names() - before == {stack.api.xcom(run_id, "train_model")["job_name"]}, (
        "exactly one job for the run"
    )
    stack.stack.start_worker(int(name.removeprefix("worker-")))


def test_scheduler_restarted_mid_run(stack):
    before = stack.job_names()
    run_id = _trigger_first_or_next(stack, stack.conf("scheduler", hold=True))
    stack.wait_for_task_state(run_id, "train_model", "deferred")

    stack.stack.components["scheduler"].stop()
    stack.stack.start_scheduler()
    stack.release("scheduler")

    stack.wait_for_success(run_id)
    assert stack.job_names() - before == {stack.api.xcom(run_id, "train_model")["job_name"]}


def test_service_down_30_s_while_the_trigger_waits_the_trigger_backs_off_and_the_run_succeeds(stack):
    """The service stops after the job completed and before the trigger saw it: a service restart
    ends a job still running (as documented), so the job completes first. The triggerer is frozen
    (SIGSTOP) for those seconds so that it cannot see the completion before the service is gone."""
    before = stack.job_names()
    run_id = _trigger_first_or_next(stack, stack.conf("outage", hold=True))
    stack.wait_for_task_state(run_id, "train_model", "deferred")
    job_name = wait_for(lambda: stack.job_names() - before, "the run's job", 30).pop()
    triggerer = stack.stack.components["triggerer"]

    triggerer.signal_group(signal.SIGSTOP)
    try:
        stack.release("outage")
        wait_for(
            lambda: stack.sagemaker.describe_auto_ml_job_v2(AutoMLJobName=job_name)["AutoMLJobStatus"] == "Completed",
            f"job {job_name} completed",
            30,
            interval=0.2,
        )
        stack.stack.components["service"].stop()
    finally:
        triggerer.signal_group(signal.SIGCONT)
    time.sleep(30)
    assert stack.api.task(run_id, "train_model")["state"] == "deferred", (
        "the trigger must still wait while the service is down"
    )
    stack.stack.start_service()

    stack.wait_for_success(run_id)
    assert stack.api.tasks(run_id)["train_model"] == ("success", 1)
    service = stack.stack.service_url
    assert stack.log_lines(f"AutoML job poller for {service} backs off"), "the trigger did not log its back-off"
    # Why: the listing (or the job's describe) could not reach the service.
    assert stack.log_lines("failed", "Could not connect to the endpoint URL", service), "the trigger did not log why"
    assert stack.job_names() - before == {job_name}
