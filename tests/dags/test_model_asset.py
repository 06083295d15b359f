"""The model asset joins the example DAGs: when automl_retrain's training task completes, Airflow's
scheduler runs automl_deploy_model, which reads the new model's location from the asset event.

The retraining run is a dag.test() against the local service (scripted engine). What follows it
is Airflow's own: a real ``airflow scheduler`` (LocalExecutor) and ``airflow api-server`` on the
tests' metadata database see the queued asset event, create the asset-triggered run and execute
its tasks, which read the event, describe the job on the service and write the staging record.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import requests

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value
from tests.fixtures.service import REPO_ROOT, SCRIPTED_ENGINE, free_port, scripted_model_url, start_service

pytestmark = pytest.mark.integration

DEPLOY_DAG_ID = "automl_deploy_model"
_STARTUP_TIMEOUT_SECONDS = 180
_DEPLOY_TIMEOUT_SECONDS = 300


def _airflow_cli(*args: str) -> None:
    """``airflow <args>``, run in this process (what the command line runs, without starting Python again)."""
    from airflow.cli import cli_parser

    parsed = cli_parser.get_parser().parse_args(list(args))
    parsed.func(parsed)


class AirflowProcess:
    """One Airflow component as a child process in its own session, its output in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_path: Path):
        self.name = name
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "airflow", *args],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise RuntimeError(f"airflow {self.name} exited {self.process.returncode}:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the component and the workers it started
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def deploy_runs() -> list:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(select(DagRun).where(DagRun.dag_id == DEPLOY_DAG_ID)).all()
        session.expunge_all()
        return runs


def consumed_event_sources(run) -> list[tuple[str, str, str]]:
    """The (DAG, run, task) that emitted each asset event the run consumed, oldest first."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        loaded = session.scalars(select(DagRun).where(DagRun.id == run.id)).one()
        events = sorted(loaded.consumed_asset_events, key=lambda e: e.timestamp)
        return [(e.source_dag_id, e.source_run_id, e.source_task_id) for e in events]


def test_deployment_dag_runs_on_the_new_model_and_reads_its_location(airflow_db, tmp_path):
    from airflow.configuration import conf

    service = start_service(tmp_path / "service", engine=SCRIPTED_ENGINE)
    components: list[AirflowProcess] = []
    unpaused = False
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    for name in ("automl_retrain.py", "automl_deploy_model.py"):
        shutil.copyfile(REPO_ROOT / "dags" / name, dags_folder / name)
    storage = service.file_root / "storage"  # file:// data must be under a service file root
    port = free_port()
    env = {
        **aws_connection_env("aws_default", service.endpoint_url),
        "AUTOML_POLL_INTERVAL_SECONDS": "0.5",
        "AIRFLOW_VAR_AUTOML_STORAGE_URI": storage.as_uri(),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # Tokens the scheduler signs for its workers are checked by the api-server: one secret.
        "AIRFLOW__API_AUTH__JWT_SECRET": "model-asset-test-secret",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        # The scheduler serves its workers' logs on this port (8793 by default, maybe taken).
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
    }
    try:
        with mock.patch.dict(os.environ, env):
            # The deployment DAG must be known and active before the asset changes, as in a running Airflow.
            _airflow_cli("dags", "reserialize")
            _airflow_cli("dags", "unpause", DEPLOY_DAG_ID)
            unpaused = True
            assert deploy_runs() == []

            from tests.fixtures.dagbag import DagBag

            bag = DagBag(dag_folder=str(dags_folder / "automl_retrain.py"))
            assert bag.import_errors == {}
            training = bag.dags["automl_retrain"].test(
                run_conf={
                    "storage_uri": storage.as_uri(),
                    "rows": 600,
                    "max_runtime_seconds": 60,
                    "metric_threshold": 0.5,
                }
            )
            states = task_states(training)
            # A first model needs no person: the approval step and its follower are skipped.
            skipped = {states.pop("approve_challenger"), states.pop("reviewed")}
            assert skipped == {"skipped"} and set(states.values()) == {"success"}, task_states(training)
            summary = xcom_value(training, "train_model")

            # The scheduler's workers run tasks through the api-server's execution API: it comes first.
            components.append(
                AirflowProcess(
                    "api-server",
                    ["api-server", "--host", "127.0.0.1", "--port", str(port)],
                    dict(os.environ),
                    tmp_path / "api-server.log",
                )
            )
            deadline = time.monotonic() + _STARTUP_TIMEOUT_SECONDS
            while True:
                components[0].check_alive()
                try:
                    if requests.get(f"http://127.0.0.1:{port}/api/v2/version", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f"api-server not up:\n{components[0].log_tail()}"
                time.sleep(0.5)
            components.append(AirflowProcess("scheduler", ["scheduler"], dict(os.environ), tmp_path / "scheduler.log"))

        deadline = time.monotonic() + _DEPLOY_TIMEOUT_SECONDS
        while True:
            for component in components:
                component.check_alive()
            runs = deploy_runs()
            if runs and str(runs[0].state) in ("success", "failed"):
                break
            assert time.monotonic() < deadline, (
                f"{DEPLOY_DAG_ID} did not finish within {_DEPLOY_TIMEOUT_SECONDS} s (runs: {runs}):\n"
                + "\n".join(f"--- {c.name}\n{c.log_tail()}" for c in components)
            )
            time.sleep(1)
    finally:
        for component in components:
            component.stop()
        service.stop()
        # Leave the shared dags folder and the deployment DAG as other tests expect them.
        if unpaused:
            _airflow_cli("dags", "pause", DEPLOY_DAG_ID)
        for name in ("automl_retrain.py", "automl_deploy_model.py"):
            (dags_folder / name).unlink(missing_ok=True)

    [run] = runs
    assert str(run.run_type) == "asset_triggered"
    assert task_states(run) == {"new_model": "success", "confirm_with_sagemaker": "success", "stage": "success"}
    # The newest event is this training's. Airflow 3.1 also hands the first run the events that earlier
    # retraining runs left in this worker's database (test files on a worker share one); the DAG reads the newest.
    sources = consumed_event_sources(run)
    assert sources[-1] == ("automl_retrain", training.run_id, "train_model")
    assert {(dag_id, task_id) for dag_id, _, task_id in sources} == {("automl_retrain", "train_model")}
    model = xcom_value(run, "new_model")
    assert model["job_name"] == summary["job_name"]
    assert model["best_candidate_name"] == summary["best_candidate_name"] == "scripted-candidate-003"
    assert model["model_location"] == summary["model_artifacts"][0] == scripted_model_url(summary["job_name"])
    staged = json.loads((storage / "staging" / "model.json").read_text())
    assert staged["model_location"] == model["model_location"]
    assert staged["objective_metric_value"] == pytest.approx(summary["objective_metric_value"])
    assert (storage / "staging" / "releases" / f"{summary['job_name']}.json").exists()
