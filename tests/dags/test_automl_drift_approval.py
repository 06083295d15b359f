"""The drift loop end to end with dag.test() on the scripted local service: the champion's endpoint
captures its traffic, dags/automl_monitor_drift.py finds shifted traffic and updates the asset
automl_retrain is scheduled on, and a close call in dags/automl_retrain.py waits for a person:
answered through Airflow's REST API (a real api-server on the same metadata database), Reject
records the reviewer's words and keeps the champion, Approve promotes the challenger."""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import requests
from airflow import __version__ as airflow_version
from packaging.version import Version

from airflow_automl.examples.datasets import customer_churn
from tests.fixtures.airflow import api_server, aws_connection_env, task_states, xcom_value
from tests.fixtures.service import REPO_ROOT, SCRIPTED_ENGINE, SCRIPTED_SKILL_ENV, free_port, start_service

pytestmark = pytest.mark.integration

GROUP = "churn-models"
ENDPOINT = "churn-serving"
DAGS = ("automl_retrain.py", "automl_monitor_drift.py")
PASSWORD = "drift-admin"
WAIT_SECONDS = 300
# dag.test() runs deferred tasks' triggers in process; from Airflow 3.2 on that process answers a
# human-in-the-loop trigger's request for the response (3.1's answers None and the trigger fails).
DAG_TEST_RUNS_APPROVALS = Version(airflow_version) >= Version("3.2")


@pytest.fixture(scope="module")
def loop(airflow_db, tmp_path_factory):
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    home = tmp_path_factory.mktemp("drift-loop")
    skill_file = home / "skill"
    service = start_service(home, engine=SCRIPTED_ENGINE, env={SCRIPTED_SKILL_ENV: str(skill_file)})
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    for name in DAGS:
        shutil.copyfile(REPO_ROOT / "dags" / name, dags_folder / name)
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    port = free_port()
    server_env = {
        **os.environ,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    url = f"http://127.0.0.1:{port}"
    env = {
        **aws_connection_env("aws_default", service.endpoint_url),
        "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
            {"conn_type": "http", "host": url, "login": "admin", "password": PASSWORD}
        ),
        "AUTOML_POLL_INTERVAL_SECONDS": "1",
        "AUTOML_RETRY_DELAY_SECONDS": "1",
    }
    try:
        with api_server(port, server_env, home / "api-server.log", cwd=home), mock.patch.dict(os.environ, env):
            bags = {name: DagBag(dag_folder=str(dags_folder / name)) for name in DAGS}
            assert all(bag.import_errors == {} for bag in bags.values())
            yield {
                "service": service,
                "skill": skill_file,
                "url": url,
                "retrain": bags["automl_retrain.py"].dags["automl_retrain"],
                "monitor": bags["automl_monitor_drift.py"].dags["automl_monitor_drift"],
            }
    finally:
        service.stop()
        for name in DAGS:
            (dags_folder / name).unlink(missing_ok=True)


def retrain(loop, day: int, skill: str, approval_margin: float = 0.0):
    loop["skill"].write_text(skill)
    when = datetime(2026, 3, day, tzinfo=UTC)
    return loop["retrain"].test(
        logical_date=when,
        run_after=when,
        run_conf={
            "storage_uri": loop["service"].file_uri("storage"),
            "rows": 600,
            "metric_threshold": 0.5,
            "promotion_margin": 0.0,
            "approval_margin": approval_margin,
            "max_runtime_seconds": 60,
        },
    )


class Reviewer(threading.Thread):
    """Answers the first pending approval of automl_retrain through the REST API, as a person would
    from the UI's Required Actions; keeps what the form showed."""

    def __init__(self, url: str, option: str, comment: str):
        super().__init__(daemon=True)
        self.url, self.option, self.comment = url, option, comment
        self.seen: dict[str, Any] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        last_error: BaseException | None = None
        # A request that fails (an api-server slow on a loaded machine) is tried again until the deadline.
        while time.monotonic() < deadline:
            try:
                if self._answer_pending():
                    return
            except (requests.RequestException, KeyError) as error:
                last_error = error
            time.sleep(1)
        self.error = TimeoutError(f"no approval answered within {WAIT_SECONDS} s (last error: {last_error!r})")
        fail_waiting_approvals()

    def _answer_pending(self) -> bool:
        token = requests.post(
            f"{self.url}/auth/token", json={"username": "admin", "password": PASSWORD}, timeout=30
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        listing = requests.get(
            f"{self.url}/api/v2/dags/automl_retrain/dagRuns/~/hitlDetails", headers=headers, timeout=30
        )
        listing.raise_for_status()
        pending = [d for d in listing.json()["hitl_details"] if not d["response_received"]]
        if not pending:
            return False
        self.seen = pending[0]
        run_id = self.seen["task_instance"]["dag_run_id"]
        answer = requests.patch(
            f"{self.url}/api/v2/dags/automl_retrain/dagRuns/{run_id}/taskInstances/approve_challenger/-1/hitlDetails",
            json={"chosen_options": [self.option], "params_input": {"comment": self.comment}},
            headers=headers,
            timeout=30,
        )
        answer.raise_for_status()
        return True


def fail_waiting_approvals() -> None:
    """Marks a waiting approve_challenger failed: dag.test() waits for a person's answer as long as it
    takes (no scheduler enforces the response timeout there), so a reviewer that could not answer
    would leave the test waiting for ever instead of reporting why."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from airflow.utils.state import TaskInstanceState
    from sqlalchemy import select

    waiting = [TaskInstanceState.DEFERRED, getattr(TaskInstanceState, "AWAITING_INPUT", TaskInstanceState.DEFERRED)]
    with create_session() as session:
        for ti in session.scalars(
            select(TaskInstance).where(TaskInstance.task_id == "approve_challenger", TaskInstance.state.in_(waiting))
        ):
            ti.state = TaskInstanceState.FAILED


def reviewed_run(loop, day: int, option: str, comment: str):
    reviewer = Reviewer(loop["url"], option, comment)
    reviewer.start()
    run = retrain(loop, day, "1.0", approval_margin=0.5)
    reviewer.join(timeout=WAIT_SECONDS)
    assert reviewer.error is None, reviewer.error
    return run, reviewer.seen


def send_traffic(loop, rows) -> datetime:
    """Invoke the endpoint with ``rows`` (10 a request) inside one hour; returns that hour."""
    runtime = loop["service"].client("sagemaker-runtime")
    lines = rows.to_csv(index=False, header=False).splitlines()
    while True:
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for start in range(0, len(lines), 10):
            body = "\n".join(lines[start : start + 10]) + "\n"
            runtime.invoke_endpoint(EndpointName=ENDPOINT, ContentType="text/csv", Body=body.encode())
        if datetime.now(UTC).replace(minute=0, second=0, microsecond=0) == hour:
            return hour


def captured_rows(loop, hour: datetime) -> int:
    folder = Path(loop["service"].file_uri("storage").removeprefix("file://"), "datacapture", ENDPOINT, "AllTraffic")
    folder = folder / hour.strftime("%Y/%m/%d/%H")
    records = [json.loads(line) for path in folder.glob("*.jsonl") for line in path.read_text().splitlines()]
    return sum(len(r["captureData"]["endpointInput"]["data"].splitlines()) for r in records)


def drift_events() -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == "churn_drift")
        ).all()
        return [dict(row.extra or {}) for row in rows]


def test_drift_in_served_traffic_is_announced_and_close_calls_wait_for_a_person(loop):
    client = loop["service"].client()

    # A champion, served by an endpoint that captures its traffic.
    first = retrain(loop, 2, "0.6")
    assert xcom_value(first, "apply_verdict")["promoted"] is True, task_states(first)
    champion_config = client.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]

    # Traffic whose monthly charges rose by 40 %, checked by the monitoring DAG for that hour.
    shifted = customer_churn(300, seed=77).drop(columns=["customer_id", "churned"])
    shifted["monthly_charges"] = (shifted["monthly_charges"] * 1.4).round(2)
    hour = send_traffic(loop, shifted)
    deadline = time.monotonic() + WAIT_SECONDS
    while captured_rows(loop, hour) < 300:
        assert time.monotonic() < deadline, f"{captured_rows(loop, hour)} of 300 rows captured"
        time.sleep(1)
    # A run's data interval is the hour before its logical date: the hour the traffic was captured in.
    after = hour + timedelta(hours=1)
    monitor = loop["monitor"].test(
        logical_date=after, run_after=after, run_conf={"storage_uri": loop["service"].file_uri("storage")}
    )
    states = task_states(monitor)
    assert states["announce_drift"] == "success", states
    summary = xcom_value(monitor, "check_drift")
    # The 300 shifted rows, and the first run's smoke check if it fell in the same hour (5 rows).
    assert summary["record_count"] in (300, 305)
    assert "monthly_charges" in summary["drifted_features"]
    events = drift_events()
    assert events and "monthly_charges" in events[-1]["drifted_features"]
    assert Path(events[-1]["report"].removeprefix("file://")).is_file()

    if not DAG_TEST_RUNS_APPROVALS:
        pytest.skip(
            "the approval step: dag.test() on Airflow 3.1 cannot run it (its in-process trigger answers the "
            "HITL trigger's request for the response with None); Airflow's triggerer can, and 3.2 on dag.test() too"
        )
    # A better challenger by less than the approval margin: a person rejects it, with their words.
    rejected, form = reviewed_run(loop, 3, "Reject", "the gain is within noise")
    verdict = xcom_value(rejected, "apply_verdict")
    assert verdict["promoted"] is False and verdict["decided_by"] == "admin"
    assert "holdout AUC" in form["body"] and "monthly_charges" in form["body"] and "report" in form["body"].lower()
    decision = xcom_value(rejected, "register_challenger")
    assert decision["close_call"] is True and decision["challenger_metric"] > decision["champion_metric"]
    package = client.describe_model_package(ModelPackageName=decision["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Rejected"
    assert "rejected by admin: the gain is within noise" in package["ApprovalDescription"]
    assert task_states(rejected)["deploy_endpoint"] == "skipped"
    assert client.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == champion_config

    # The same close call approved: registered Approved and served.
    approved, _ = reviewed_run(loop, 4, "Approve", "looks right")
    decision = xcom_value(approved, "register_challenger")
    package = client.describe_model_package(ModelPackageName=decision["model_package_arn"])
    assert package["ModelApprovalStatus"] == "Approved", task_states(approved)
    assert "approved by admin: looks right" in package["ApprovalDescription"]
    assert client.describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"] == decision["serving_model"]
