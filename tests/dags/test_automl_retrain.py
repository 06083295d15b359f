"""dags/automl_retrain.py closes the loop on the local service, with dag.test(): the challenger
and the champion scored on the same held-out rows by batch transform, the challenger registered
Approved or Rejected, the endpoint created or updated only for an approved one, the verdict in
the decision task's XCom and in the run's note (written through a real api-server).

The scripted engine trains nothing: each job keeps a model of the churn data whose skill the test
sets before the run (tests/fixtures/service.py, churn-*), so a challenger is better or worse on
purpose; the transforms, the registry, the endpoint and the metrics are all real."""

from __future__ import annotations

import json
import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from unittest import mock

import pytest

from tests.fixtures.airflow import api_server, aws_connection_env, mapped_task_states, task_states, xcom_value
from tests.fixtures.service import REPO_ROOT, SCRIPTED_ENGINE, SCRIPTED_SKILL_ENV, free_port, start_service

pytestmark = pytest.mark.integration

GROUP = "churn-models"
ENDPOINT = "churn-serving"


@pytest.fixture(scope="module")
def loop(airflow_db, tmp_path_factory):
    """The scripted service, an api-server for the run notes, and the DAG loaded from the dags folder."""
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    home = tmp_path_factory.mktemp("retrain-loop")
    skill_file = home / "skill"
    service = start_service(home, engine=SCRIPTED_ENGINE, env={SCRIPTED_SKILL_ENV: str(skill_file)})
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(REPO_ROOT / "dags" / "automl_retrain.py", dags_folder / "automl_retrain.py")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps({"admin": "loop-admin"}))
    port = free_port()
    server_env = {
        **os.environ,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    env = {
        **aws_connection_env("aws_default", service.endpoint_url),
        "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
            {"conn_type": "http", "host": f"http://127.0.0.1:{port}", "login": "admin", "password": "loop-admin"}
        ),
        "AUTOML_POLL_INTERVAL_SECONDS": "1",
        # The failing transform is tried twice: without the default two minutes between.
        "AUTOML_RETRY_DELAY_SECONDS": "1",
    }
    try:
        with api_server(port, server_env, home / "api-server.log", cwd=home), mock.patch.dict(os.environ, env):
            bag = DagBag(dag_folder=str(dags_folder / "automl_retrain.py"))
            assert bag.import_errors == {}
            yield service, bag.dags["automl_retrain"], skill_file
    finally:
        service.stop()
        (dags_folder / "automl_retrain.py").unlink(missing_ok=True)


def run_day(loop, day: int, skill: str, manual_hour: int | None = None):
    """A run of the data interval ending on March ``day``: scheduled, or triggered by hand at
    ``manual_hour`` that day (a manual run has no logical date and its own run id)."""
    service, dag, skill_file = loop
    skill_file.write_text(skill)
    when = datetime(2026, 3, day, manual_hour or 0, tzinfo=UTC)
    return dag.test(
        logical_date=None if manual_hour is not None else when,
        run_after=when,
        run_conf={
            "storage_uri": service.file_uri("storage"),
            "rows": 600,
            "metric_threshold": 0.5,
            "promotion_margin": 0.01,
            "max_runtime_seconds": 60,
        },
    )


def ran_through(run) -> bool:
    """Every task succeeded but the approval steps, which a clear verdict skips."""
    states = task_states(run)
    return {states.pop("approve_challenger"), states.pop("reviewed")} == {"skipped"} and set(states.values()) == {
        "success"
    }


def run_note(run) -> str | None:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalars(select(DagRun).where(DagRun.run_id == run.run_id)).one().note


def packages(service) -> list[tuple[int, str]]:
    summaries = service.client().list_model_packages(ModelPackageGroupName=GROUP)["ModelPackageSummaryList"]
    return [(p["ModelPackageVersion"], p["ModelApprovalStatus"]) for p in summaries]


def serving(service) -> str:
    return service.client().describe_endpoint(EndpointName=ENDPOINT)["EndpointConfigName"]


def test_the_loop_approves_a_first_and_a_better_model_rejects_a_worse_one_and_survives_a_failed_transform(loop):
    """Four runs in order, each building on the registry and endpoint the previous ones left."""
    service = loop[0]
    client = service.client()

    # 1. No champion yet: the challenger is approved and the endpoint is created for it.
    first = run_day(loop, 2, "0.6")
    assert ran_through(first), task_states(first)
    verdict = xcom_value(first, "register_challenger")
    assert verdict["promoted"] is True and verdict["champion_metric"] is None
    assert 0.7 < verdict["challenger_metric"] < 0.9  # skill 0.6 ranks churners fairly on the holdout
    assert verdict["model_package_arn"].endswith(f"model-package/{GROUP}/1") and verdict["margin"] == 0.01
    assert packages(service) == [(1, "Approved")]
    assert serving(service) == f"{verdict['job_name']}-serving"
    assert xcom_value(first, "smoke_check")["predictions"]
    assert run_note(first).startswith(f"PROMOTED {GROUP}/1: no champion yet: AUC ")
    # The challenger's own transform scored it; no champion transform ran.
    assert len(client.list_transform_jobs(NameContains=verdict["job_name"])["TransformJobSummaries"]) == 1
    described = client.describe_model_package(ModelPackageName=verdict["model_package_arn"])
    assert described["CustomerMetadataProperties"]["holdout_AUC"] == f"{verdict['challenger_metric']:.6f}"
    assert described["ApprovalDescription"] == verdict["reason"]

    # 2. A better challenger, scored on the same rows as the champion, is approved; the endpoint moves to it.
    second = run_day(loop, 3, "1.0")
    assert ran_through(second), task_states(second)
    better = xcom_value(second, "register_challenger")
    assert better["promoted"] is True and better["champion_metric"] is not None
    assert better["challenger_metric"] >= better["champion_metric"] + 0.01
    assert packages(service) == [(1, "Approved"), (2, "Approved")]
    assert serving(service) == f"{better['job_name']}-serving"
    assert xcom_value(second, "smoke_check")["model"] == f"{better['job_name']}-serving"
    assert run_note(second).startswith(f"PROMOTED {GROUP}/2: AUC ")

    # 3. A worse challenger is registered Rejected with the reason; the endpoint keeps the champion.
    #    It is a second run of the same interval, triggered by hand: its data is its own.
    third = run_day(loop, 3, "0.0", manual_hour=8)
    data = [xcom_value(run, "prepare_training_data") for run in (second, third)]
    assert [d["interval"][1][:10] for d in data] == ["2026-03-03", "2026-03-03"]
    assert data[0]["train_uri"] != data[1]["train_uri"]
    trains = [Path(d["train_uri"].removeprefix("file://"), "train.csv").read_bytes() for d in data]
    assert trains[0] != trains[1]
    states = task_states(third)
    assert states["register_challenger"] == "success" and states["deploy_endpoint"] == "skipped", states
    assert states["smoke_check"] == "skipped", states
    worse = xcom_value(third, "register_challenger")
    assert worse["promoted"] is False and worse["challenger_metric"] < worse["champion_metric"]
    assert packages(service) == [(1, "Approved"), (2, "Approved"), (3, "Rejected")]
    rejected = client.describe_model_package(ModelPackageName=worse["model_package_arn"])
    assert rejected["ApprovalDescription"] == worse["reason"] and "does not beat the champion's" in worse["reason"]
    assert serving(service) == f"{better['job_name']}-serving"
    assert run_note(third).startswith(f"REJECTED {GROUP}/3: AUC ")

    # 4. A challenger whose model fails on the rows fails its transform, and with it the run:
    #    nothing is registered and the endpoint still serves the champion.
    failed = run_day(loop, 4, "break")
    states = task_states(failed)
    assert str(failed.state) == "failed", states
    # Map index 0 scores the challenger, 1 the champion.
    assert mapped_task_states(failed, "score_holdout") == {0: "failed", 1: "success"}
    assert states["register_challenger"] == "upstream_failed" and states["deploy_endpoint"] == "upstream_failed"
    assert packages(service) == [(1, "Approved"), (2, "Approved"), (3, "Rejected")]
    assert serving(service) == f"{better['job_name']}-serving"
    answer = service.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ENDPOINT,
        ContentType="text/csv",
        Body=b"north,0,2,month-to-month,fiber,electronic-check,95.5,191.0,3,1\n",
    )
    assert answer["Body"].read().decode().strip() in ("yes", "no")
