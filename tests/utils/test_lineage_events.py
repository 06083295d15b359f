"""Lineage of AutoML tasks: OpenLineage events and Airflow asset events from real dag.test() runs
against the local service (scripted engine: names starting with ``fail`` fail, others complete
with three candidates, the best ``scripted-candidate-003`` with F1 0.65).

OpenLineage's own listener emits the events through its file transport, one JSON event a line.
The provider's plugin registers that listener when a process starts with a transport configured;
this test process started without one (so other tests emit nothing), so the ``openlineage_events``
fixture configures the transport and registers a fresh listener the same way, then removes it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from unittest import mock

import pytest

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value
from tests.fixtures.service import REPO_ROOT, SCRIPTED_ENGINE, scripted_model_url, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("lineage-scripted"), engine=SCRIPTED_ENGINE)
    for channel in ("data", "validation"):
        (service.file_root / channel).mkdir()
        (service.file_root / channel / "part.csv").write_text("x,label\n1,yes\n2,no\n")
    with mock.patch.dict(os.environ, aws_connection_env("aws_default", service.endpoint_url)):
        yield service
    service.stop()


class Events:
    """The OpenLineage events the file transport wrote, one JSON object a line."""

    def __init__(self, path: Path):
        self.path = path

    def of(self, dag_id: str, task_id: str, event_type: str) -> list[dict]:
        if not self.path.exists():
            return []
        events = [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
        return [e for e in events if e["job"]["name"] == f"{dag_id}.{task_id}" and e["eventType"] == event_type]


@pytest.fixture
def openlineage_events(tmp_path):
    from airflow.providers.common.compat.sdk import get_listener_manager
    from airflow.providers.openlineage import conf as openlineage_conf
    from airflow.providers.openlineage.plugins.listener import OpenLineageListener

    def forget_configuration() -> None:  # the provider caches what it read from the configuration
        for value in vars(openlineage_conf).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()

    path = tmp_path / "openlineage.jsonl"
    transport = json.dumps({"type": "file", "log_file_path": str(path), "append": True})
    manager = get_listener_manager()
    with mock.patch.dict(os.environ, {"AIRFLOW__OPENLINEAGE__TRANSPORT": transport}):
        forget_configuration()
        listener = OpenLineageListener()
        manager.add_listener(listener)
        try:
            yield Events(path)
        finally:
            manager.pm.unregister(listener)
    forget_configuration()


def datasets(event: dict, kind: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event[kind]]


def file_dataset(path: Path) -> tuple[str, str]:
    """How OpenLineage names a local file (namespace ``file``, the absolute path), as common-io does."""
    return ("file", str(path))


def dag_source(service, dag_id: str, body: str, **dag_args: str) -> str:
    extra = "".join(f", {key}={value}" for key, value in dag_args.items())
    header = f"""
        from datetime import datetime, timedelta, timezone
        from airflow.sdk import DAG, Asset
        from airflow_automl.operators.automl import AutoMLJobOperator
        from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

        MODEL = Asset(name="{dag_id}_model", uri="x-automl://{dag_id}/model")
        CONFIG = {{
            "InputDataConfig": [
                {{"ChannelType": "training", "TargetAttributeName": "label",
                  "DataSource": {{"S3DataSource": {{"S3DataType": "S3Prefix",
                                                   "S3Uri": {service.file_uri("data/")!r}}}}}}},
                {{"ChannelType": "validation", "TargetAttributeName": "label",
                  "DataSource": {{"S3DataSource": {{"S3DataType": "S3Prefix",
                                                   "S3Uri": {service.file_uri("validation/")!r}}}}}}},
            ],
            "OutputDataConfig": {{"S3OutputPath": {service.file_uri("output")!r}}},
            "ProblemType": "BinaryClassification",
            "AutoMLJobObjective": {{"MetricName": "F1"}},
            "AutoMLJobConfig": {{"Mode": "ENSEMBLING"}},
            "RoleArn": {ROLE!r},
        }}
        dag = DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc){extra})
    """
    return textwrap.dedent(header) + textwrap.dedent(body)


def asset_event_extras(asset_name: str) -> list[dict]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.scalars(
            select(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == asset_name)
        )
        return [dict(row.extra) for row in rows]


def assert_job_lineage(event: dict, summary: dict, service) -> None:
    """Inputs: both channels; outputs: the best model and the output path; the automlJob run facet."""
    assert datasets(event, "inputs") == [
        file_dataset(service.file_root / "data"),
        file_dataset(service.file_root / "validation"),
    ]
    assert datasets(event, "outputs") == [
        file_dataset(
            Path(scripted_model_url(summary["job_name"]).removeprefix("file://"))
        ),  # the best candidate's model
        file_dataset(service.file_root / "output"),
    ]
    facet = event["run"]["facets"]["automlJob"]
    assert facet["jobName"] == summary["job_name"]
    assert facet["jobArn"] == summary["job_arn"] and facet["jobArn"].endswith(f":automl-job/{summary['job_name']}")
    assert facet["apiVersion"] == summary["api_version"]
    assert facet["status"] == "Completed"
    assert facet["problemType"] == "BinaryClassification"
    assert facet["objectiveMetricName"] == "F1"
    assert facet["objectiveMetricValue"] == pytest.approx(0.65)
    assert facet["bestCandidateName"] == "scripted-candidate-003"
    assert facet["candidateCount"] == 3
    assert facet["mode"] == "ENSEMBLING"
    assert "failureReason" not in facet  # OpenLineage leaves out empty fields


def test_deferred_and_worker_waits_report_data_model_run_facet_and_asset_event(scripted, dag_file, openlineage_events):
    module = dag_file(
        "lineage_dag_deferred",
        dag_source(
            scripted,
            "lineage_deferred",
            """
            with dag:
                train = AutoMLJobOperator(task_id="train", job_name="{{ automl_job_name('lineage') }}", config=CONFIG,
                                          deferrable=True, poll_interval=0.3, outlets=[MODEL])
                gate = AutoMLBestCandidateSensor(task_id="gate",
                                                 job_name="{{ ti.xcom_pull(task_ids='train')['job_name'] }}",
                                                 metric_threshold=0.6, poke_interval=0.3, deferrable=True)
                train >> gate
                AutoMLJobOperator(task_id="in_worker", job_name="{{ automl_job_name('lineagew') }}", config=CONFIG,
                                  deferrable=False, poll_interval=0.3)
            """,
        ),
    )
    run = module.dag.test()
    assert task_states(run) == {"train": "success", "gate": "success", "in_worker": "success"}
    summary = xcom_value(run, "train")

    [complete] = openlineage_events.of("lineage_deferred", "train", "COMPLETE")
    assert_job_lineage(complete, summary, scripted)
    [in_worker] = openlineage_events.of("lineage_deferred", "in_worker", "COMPLETE")
    assert_job_lineage(in_worker, xcom_value(run, "in_worker"), scripted)
    # The gate names what the job produced as its input, so the two tasks join in the lineage graph.
    [gated] = openlineage_events.of("lineage_deferred", "gate", "COMPLETE")
    assert datasets(gated, "inputs") == datasets(complete, "outputs")
    assert datasets(gated, "outputs") == []
    assert gated["run"]["facets"]["automlJob"]["jobName"] == summary["job_name"]

    [extra] = asset_event_extras("lineage_deferred_model")
    assert extra["job_name"] == summary["job_name"]
    assert extra["best_candidate_name"] == "scripted-candidate-003"
    assert extra["objective_metric_name"] == "F1"
    assert extra["objective_metric_value"] == pytest.approx(0.65)
    assert extra["model_location"] == scripted_model_url(summary["job_name"]) == summary["model_artifacts"][0]
    assert extra["output_path"] == scripted.file_uri("output")


def test_retry_reattaching_to_a_completed_job_reports_its_lineage(scripted, dag_file, openlineage_events):
    # The first try loses its worker after submitting; by the retry the job has completed, and the
    # retry reattaches to it without waiting: its events must still name the job's data and model.
    module = dag_file(
        "lineage_dag_retry",
        dag_source(
            scripted,
            "lineage_retry",
            """
            import time

            class WorkerLostAfterSubmit(AutoMLJobOperator):
                def execute(self, context):
                    if context["ti"].try_number == 1:
                        self.wait_for_completion = False
                        name = super().execute(context)["job_name"]
                        while not self.hook.describe_job(name).is_terminal:
                            time.sleep(0.2)
                        raise RuntimeError("worker lost after submitting the job")
                    return super().execute(context)

            with dag:
                WorkerLostAfterSubmit(task_id="train", job_name="{{ automl_job_name('relineage') }}", config=CONFIG,
                                      deferrable=True, poll_interval=0.3, outlets=[MODEL])
            """,
            default_args="{'retries': 1, 'retry_delay': timedelta(0)}",
        ),
    )
    run = module.dag.test()
    assert task_states(run) == {"train": "success"}
    summary = xcom_value(run, "train")
    jobs = scripted.client().list_auto_ml_jobs(NameContains="relineage")["AutoMLJobSummaries"]
    assert [job["AutoMLJobName"] for job in jobs] == [summary["job_name"]]  # reattached, not resubmitted

    [lost] = openlineage_events.of("lineage_retry", "train", "FAIL")
    [complete] = openlineage_events.of("lineage_retry", "train", "COMPLETE")
    assert_job_lineage(complete, summary, scripted)
    assert complete["run"]["runId"] != lost["run"]["runId"]  # one OpenLineage run per try
    assert lost["run"]["facets"]["errorMessage"]["message"] == "worker lost after submitting the job"
    assert lost["run"]["facets"]["automlJob"]["jobName"] == summary["job_name"]
    assert datasets(lost, "outputs") == []  # that try returned no model
    [extra] = asset_event_extras("lineage_retry_model")
    assert extra["job_name"] == summary["job_name"] and extra["model_location"] == scripted_model_url(
        summary["job_name"]
    )


def test_failed_job_emits_a_failure_event_with_its_reason(scripted, dag_file, openlineage_events):
    module = dag_file(
        "lineage_dag_failed",
        dag_source(
            scripted,
            "lineage_failed",
            """
            with dag:
                AutoMLJobOperator(task_id="train", job_name="{{ automl_job_name('fail') }}", config=CONFIG,
                                  deferrable=True, poll_interval=0.3, outlets=[MODEL])
            """,
        ),
    )
    run = module.dag.test()
    assert task_states(run) == {"train": "failed"}
    assert openlineage_events.of("lineage_failed", "train", "COMPLETE") == []
    [failure] = openlineage_events.of("lineage_failed", "train", "FAIL")
    reason = "scripted failure of job"
    assert reason in failure["run"]["facets"]["errorMessage"]["message"]
    facet = failure["run"]["facets"]["automlJob"]
    assert facet["status"] == "Failed" and reason in facet["failureReason"]
    assert "bestCandidateName" not in facet and facet["candidateCount"] == 0
    assert datasets(failure, "inputs") == [
        file_dataset(scripted.file_root / "data"),
        file_dataset(scripted.file_root / "validation"),
    ]
    assert datasets(failure, "outputs") == []
    assert asset_event_extras("lineage_failed_model") == []  # no model, no asset event


# Run first in a fresh interpreter, this makes the OpenLineage packages look uninstalled: their
# modules cannot be imported, and Airflow's provider and plugin discovery does not see them.
WITHOUT_OPENLINEAGE = textwrap.dedent(
    """
    import importlib.abc, importlib.metadata, sys
    import importlib_metadata

    OPENLINEAGE_DISTRIBUTIONS = {"apache-airflow-providers-openlineage", "openlineage-python",
                                 "openlineage-integration-common", "openlineage-sql"}

    class NoOpenLineage(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "openlineage" or name.startswith(("openlineage.", "airflow.providers.openlineage")):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    def without_openlineage(distributions):
        def listed(**kwargs):
            return [d for d in distributions(**kwargs) if d.metadata["Name"] not in OPENLINEAGE_DISTRIBUTIONS]
        return listed

    sys.meta_path.insert(0, NoOpenLineage())
    importlib.metadata.distributions = without_openlineage(importlib.metadata.distributions)
    importlib_metadata.distributions = without_openlineage(importlib_metadata.distributions)
    """
)


def test_worker_wait_without_openlineage_still_emits_the_asset_event(scripted, dag_file, tmp_path):
    """A process where the OpenLineage packages cannot be imported runs the operator unchanged."""
    dag_file(
        "lineage_dag_no_openlineage",
        dag_source(
            scripted,
            "lineage_no_openlineage",
            """
            with dag:
                AutoMLJobOperator(task_id="train", job_name="{{ automl_job_name('nolineage') }}", config=CONFIG,
                                  deferrable=False, poll_interval=0.3, outlets=[MODEL])
            """,
        ),
    )
    from airflow.configuration import conf

    dag_path = Path(conf.get("core", "dags_folder")) / "lineage_dag_no_openlineage.py"
    script = WITHOUT_OPENLINEAGE + textwrap.dedent(
        f"""
        import importlib.util, json

        spec = importlib.util.spec_from_file_location("lineage_dag_no_openlineage", {str(dag_path)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        run = module.dag.test()
        assert not any(name.startswith("openlineage") for name in sys.modules)
        print(json.dumps({{"state": str(run.state), "run_id": run.run_id}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["state"] == "success"
    [extra] = asset_event_extras("lineage_no_openlineage_model")
    assert extra["best_candidate_name"] == "scripted-candidate-003"
    assert extra["model_location"] == scripted_model_url(extra["job_name"])
