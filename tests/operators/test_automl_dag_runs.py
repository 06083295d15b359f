"""Real DAGs run with dag.test() against the local service on a loopback port.

Most runs use the service's scripted engine (tests/fixtures/service.py: job names starting with
``slow`` train until stopped, ``fail`` fail, anything else completes with three candidates), so the
Airflow side is tested in seconds; one run trains for real with AutoGluon.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from unittest import mock

import pytest
import requests

from airflow_automl.triggers.automl import AutoMLJobTrigger
from airflow_automl.utils.naming import automl_job_name
from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
POLL = 0.3


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("dags-scripted"), engine=SCRIPTED_ENGINE, stop_grace_seconds=3)
    (service.file_root / "data").mkdir()
    (service.file_root / "data" / "train.csv").write_text("x,label\n1,yes\n2,no\n")
    with mock.patch.dict(os.environ, aws_connection_env("aws_default", service.endpoint_url)):
        yield service
    service.stop()


def expected_name(prefix: str, run, dag_id: str, task_id: str | None = None) -> str:
    """The name the operator's template gives: the run's logical date and a hash of its ids."""
    return automl_job_name(prefix, {"run_id": run.run_id, "dag_run": run}, dag_id=dag_id, task_id=task_id)


def jobs_named(service, prefix: str) -> list[dict]:
    client = service.client()
    summaries = client.list_auto_ml_jobs(NameContains=prefix, MaxResults=100)["AutoMLJobSummaries"]
    return sorted(summaries, key=lambda job: job["AutoMLJobName"])


def header(service, dag_id: str, **dag_args: str) -> str:
    extra = "".join(f", {key}={value}" for key, value in dag_args.items())
    return f"""
        from datetime import datetime, timedelta, timezone
        from airflow.sdk import DAG
        from airflow_automl.operators.automl import AutoMLJobOperator
        from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

        COMMON = dict(
            input_uri={service.file_uri("data/")!r},
            target_attribute="label",
            output_path={service.file_uri("output")!r},
            role_arn={ROLE!r},
            poll_interval={POLL},
        )
        dag = DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc){extra})
    """


def test_deferrable_and_worker_waits_return_the_summary(scripted, dag_file):
    module = dag_file(
        "provider_dag_success",
        header(scripted, "provider_success")
        + """
        with dag:
            AutoMLJobOperator(task_id="deferred", job_name="{{ automl_job_name('okdeferred') }}",
                              deferrable=True, **COMMON)
            in_worker = AutoMLJobOperator(task_id="in_worker", job_name="{{ automl_job_name('okworker') }}",
                                          deferrable=False, api_version=1, **COMMON)
            # The sensor describes with DescribeAutoMLJobV2 by default, which answers for V1 jobs too.
            in_worker >> AutoMLBestCandidateSensor(task_id="gate_v1_job", job_name="{{ automl_job_name('okworker') }}",
                                                   poke_interval=0.3)
        """,
    )
    run = module.dag.test()
    assert task_states(run) == {"deferred": "success", "in_worker": "success", "gate_v1_job": "success"}
    assert xcom_value(run, "gate_v1_job")["best_candidate_name"] == xcom_value(run, "in_worker")["best_candidate_name"]
    assert xcom_value(run, "gate_v1_job", key="_link_AutoMLJobLink") == xcom_value(
        run, "in_worker", key="_link_AutoMLJobLink"
    )
    for task_id, prefix in (("deferred", "okdeferred"), ("in_worker", "okworker")):
        summary = xcom_value(run, task_id)
        assert summary["job_name"] == expected_name(prefix, run, dag_id="provider_success")
        assert summary["status"] == "Completed"
        assert summary["job_arn"].endswith(f":automl-job/{summary['job_name']}")
        assert summary["best_candidate_name"] == "scripted-candidate-003"
        assert summary["objective_metric_name"] == "F1"
        assert summary["objective_metric_value"] == pytest.approx(0.65)
        assert summary["model_artifacts"] == [f"file:///models/{summary['job_name']}/scripted-candidate-003"]
        assert [row["candidate_name"] for row in summary["leaderboard"]][0] == "scripted-candidate-003"
        assert len(summary["leaderboard"]) == 3
        link = xcom_value(run, task_id, key="automl_job_link")
        assert link == {
            "job_name": summary["job_name"],
            "region_name": "us-east-1",
            "endpoint_url": scripted.endpoint_url,
            "aws_conn_id": "aws_default",
        }
        # What the UI shows: Airflow resolves the extra link when the task finishes.
        url = xcom_value(run, task_id, key="_link_AutoMLJobLink")
        assert url == f"{scripted.endpoint_url}/jobs/{summary['job_name']}"
        page = requests.get(url, timeout=10)
        assert page.status_code == 200 and summary["job_name"] in page.text
        tags = scripted.client().list_tags(ResourceArn=summary["job_arn"])["Tags"]
        assert {"Key": "airflow:run_id", "Value": run.run_id} in tags
        assert {"Key": "airflow:task_id", "Value": task_id} in tags
    assert xcom_value(run, "in_worker")["api_version"] == 1


def test_retry_reattaches_to_its_own_job(scripted, dag_file):
    # The first try loses its worker right after submitting (an exception after submit); the retry
    # must find the job by its run-stable name and wait on it instead of creating a second one.
    module = dag_file(
        "provider_dag_retry",
        header(scripted, "provider_retry", default_args="{'retries': 1, 'retry_delay': timedelta(0)}")
        + """
        class WorkerLostAfterSubmit(AutoMLJobOperator):
            def execute(self, context):
                if context["ti"].try_number == 1:
                    self.wait_for_completion = False
                    super().execute(context)
                    raise RuntimeError("worker lost after submitting the job")
                return super().execute(context)

        with dag:
            WorkerLostAfterSubmit(task_id="train", job_name="{{ automl_job_name('reattach') }}", **COMMON)
        """,
    )
    run = module.dag.test()
    assert task_states(run) == {"train": "success"}
    name = expected_name("reattach", run, dag_id="provider_retry")
    assert [job["AutoMLJobName"] for job in jobs_named(scripted, name)] == [name]
    assert xcom_value(run, "train")["job_name"] == name


def test_retry_after_a_failed_job_submits_a_suffixed_one(scripted, dag_file):
    module = dag_file(
        "provider_dag_failed_retry",
        header(scripted, "provider_failed_retry", default_args="{'retries': 1, 'retry_delay': timedelta(0)}")
        + """
        with dag:
            AutoMLJobOperator(task_id="train", job_name="{{ automl_job_name('fail') }}", deferrable=True, **COMMON)
        """,
    )
    run = module.dag.test()
    assert task_states(run) == {"train": "failed"}
    name = expected_name("fail", run, dag_id="provider_failed_retry")
    jobs = jobs_named(scripted, name)
    assert [job["AutoMLJobName"] for job in jobs] == [name, f"{name}-2"]
    assert {job["AutoMLJobStatus"] for job in jobs} == {"Failed"}


def test_names_differ_across_runs_and_are_stable_within_one(scripted, dag_file):
    module = dag_file(
        "provider_dag_names",
        header(scripted, "provider_names")
        + """
        with dag:
            AutoMLJobOperator(task_id="train", job_name="{{ automl_job_name('named') }}",
                              wait_for_completion=False, **COMMON)
        """,
    )
    first = module.dag.test(logical_date=datetime(2026, 11, 27, tzinfo=UTC))
    second = module.dag.test(logical_date=datetime(2026, 11, 28, tzinfo=UTC))
    first_name, second_name = xcom_value(first, "train")["job_name"], xcom_value(second, "train")["job_name"]
    assert first_name.startswith("named-20261127-") and second_name.startswith("named-20261128-")
    assert first_name == expected_name("named", first, dag_id="provider_names")
    assert second_name == expected_name("named", second, dag_id="provider_names")
    assert first_name != second_name and first.run_id != second.run_id
    assert [job["AutoMLJobName"] for job in jobs_named(scripted, "named-")] == sorted([first_name, second_name])


def test_killed_or_timed_out_tasks_stop_their_jobs(scripted, dag_file):
    module = dag_file(
        "provider_dag_kill",
        header(scripted, "provider_kill")
        + """
        with dag:
            # execution_timeout kills the task in the worker: on_kill stops the job.
            # (10 s: room to submit on a busy machine.)
            AutoMLJobOperator(task_id="killed_in_worker", job_name="{{ automl_job_name('slow', task_id='w') }}",
                              deferrable=False, execution_timeout=timedelta(seconds=10), **COMMON)
            # max_wait runs out while deferred: the trigger's timeout event stops the job.
            AutoMLJobOperator(task_id="timed_out_deferred", job_name="{{ automl_job_name('slow', task_id='d') }}",
                              deferrable=True, max_wait=2, **COMMON)
        """,
    )
    run = module.dag.test()
    assert task_states(run) == {"killed_in_worker": "failed", "timed_out_deferred": "failed"}
    for task_id in ("w", "d"):
        name = expected_name("slow", run, dag_id="provider_kill", task_id=task_id)
        assert scripted.wait_for_status(name, ("Stopped",), timeout=180)["AutoMLJobStatus"] == "Stopped"


def test_user_killing_a_deferred_task_stops_its_job(scripted):
    # What the triggerer runs when a user marks the deferred task failed: the trigger's on_kill.
    client = scripted.client()
    name = "slow-user-kill"
    client.create_auto_ml_job_v2(
        AutoMLJobName=name,
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": scripted.file_uri("data/")}},
            }
        ],
        OutputDataConfig={"S3OutputPath": scripted.file_uri("output")},
        AutoMLProblemTypeConfig={"TabularJobConfig": {"TargetAttributeName": "label"}},
    )
    scripted.wait_for_status(name, ("InProgress",))
    asyncio.run(AutoMLJobTrigger(job_name=name).on_kill())
    assert scripted.wait_for_status(name, ("Stopped",), timeout=180)["AutoMLJobStatus"] == "Stopped"


def test_sensor_passes_fails_and_skips_on_its_threshold(scripted, dag_file):
    module = dag_file(
        "provider_dag_sensor",
        header(scripted, "provider_sensor")
        + """
        with dag:
            train = AutoMLJobOperator(task_id="train", job_name="{{ automl_job_name('gate') }}",
                                      wait_for_completion=False, **COMMON)
            name = "{{ ti.xcom_pull(task_ids='train')['job_name'] }}"
            passing = AutoMLBestCandidateSensor(task_id="passes", job_name=name, metric_threshold="0.6",
                                                poke_interval=0.3, deferrable=True)
            rescheduled = AutoMLBestCandidateSensor(task_id="passes_rescheduled",
                                                    job_name="{{ automl_job_name('gate') }}",
                                                    metric_threshold=0.6, poke_interval=0.3, mode="reschedule")
            failing = AutoMLBestCandidateSensor(task_id="misses", job_name=name, metric_threshold=0.9,
                                                poke_interval=0.3)
            skipped = AutoMLBestCandidateSensor(task_id="misses_soft", job_name=name, metric_threshold=0.9,
                                                poke_interval=0.3, soft_fail=True)
            train >> [passing, rescheduled, failing, skipped]
        """,
    )
    run = module.dag.test()
    assert task_states(run) == {
        "train": "success",
        "passes": "success",
        "passes_rescheduled": "success",
        "misses": "failed",
        "misses_soft": "skipped",
    }
    summary = xcom_value(run, "passes")
    assert summary["best_candidate_name"] == "scripted-candidate-003"
    assert summary["objective_metric_value"] == pytest.approx(0.65)
    assert xcom_value(run, "passes_rescheduled")["job_name"] == summary["job_name"]


def test_real_training_run_end_to_end(local_service, dag_file, tmp_path):
    """One real AutoGluon job with a tiny budget, deferred, gated by the sensor."""
    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    (local_service.file_root / "cancer").mkdir(exist_ok=True)
    pd.DataFrame(data).to_csv(local_service.file_root / "cancer" / "train.csv", index=False)
    with mock.patch.dict(os.environ, aws_connection_env("automl_real", local_service.endpoint_url)):
        module = dag_file(
            "provider_dag_real",
            f"""
            from datetime import datetime, timezone
            from airflow.sdk import DAG
            from airflow_automl.operators.automl import AutoMLJobOperator
            from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

            with DAG("provider_real", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
                train = AutoMLJobOperator(
                    task_id="train", job_name="{{{{ automl_job_name('cancer') }}}}", aws_conn_id="automl_real",
                    input_uri={local_service.file_uri("cancer/")!r}, target_attribute="target",
                    output_path={local_service.file_uri("models")!r}, role_arn={ROLE!r},
                    problem_type="BinaryClassification", objective_metric="F1", mode="ENSEMBLING",
                    max_candidates=1, max_runtime_seconds=120, deferrable=True, poll_interval=1,
                    # The request's own keys and the conveniences above end up in one request.
                    config={{"AutoMLProblemTypeConfig": {{"TabularJobConfig": {{"CandidateGenerationConfig": {{
                        "AlgorithmsConfig": [{{"AutoMLAlgorithms": ["lightgbm"]}}]}}}}}}}},
                )
                gate = AutoMLBestCandidateSensor(
                    task_id="gate", job_name="{{{{ ti.xcom_pull(task_ids='train')['job_name'] }}}}",
                    aws_conn_id="automl_real", metric_threshold=0.8, poke_interval=1,
                )
                train >> gate
            """,
        )
        run = module.dag.test()
    assert task_states(run) == {"train": "success", "gate": "success"}
    summary = xcom_value(run, "train")
    assert summary["status"] == "Completed" and summary["objective_metric_name"] == "F1"
    assert 0.8 <= summary["objective_metric_value"] <= 1.0
    assert summary["leaderboard"] and summary["model_artifacts"]
    assert xcom_value(run, "gate")["best_candidate_name"] == summary["best_candidate_name"]


def test_action_if_job_exists(scripted, dag_file):
    module = dag_file(
        "provider_dag_exists",
        header(scripted, "provider_exists")
        + """
        name = "{{ automl_job_name('exists') }}"
        with dag:
            first = AutoMLJobOperator(task_id="first", job_name=name, wait_for_completion=False, **COMMON)
            first >> [
                AutoMLJobOperator(task_id="increment", job_name=name, action_if_job_exists="increment",
                                  wait_for_completion=False, **COMMON),
                AutoMLJobOperator(task_id="fail", job_name=name, action_if_job_exists="fail",
                                  wait_for_completion=False, **COMMON),
                # Another task's job is not this task's to reattach to, even in the same run.
                AutoMLJobOperator(task_id="reattach_foreign", job_name=name, wait_for_completion=False, **COMMON),
            ]
        """,
    )
    run = module.dag.test()
    assert task_states(run) == {
        "first": "success",
        "increment": "success",
        "fail": "failed",
        "reattach_foreign": "failed",
    }
    name = expected_name("exists", run, dag_id="provider_exists")
    assert xcom_value(run, "increment")["job_name"] == f"{name}-2"
    assert [job["AutoMLJobName"] for job in jobs_named(scripted, name)] == [name, f"{name}-2"]
