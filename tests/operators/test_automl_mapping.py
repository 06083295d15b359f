"""Dynamic task mapping: each map index of AutoMLJobOperator trains, waits on and reports its own job.

dag.test() runs against the local service's scripted engine (see tests/fixtures/service.py), so
what is tested is the Airflow side: names, ownership tags, retries, links and XComs per map index.
"""

from __future__ import annotations

import logging
import os
from unittest import mock

import pytest

from airflow_automl.utils.naming import automl_job_name
from tests.fixtures.airflow import aws_connection_env, mapped_task_states, xcom_value
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
PROBLEM_TYPES = ["BinaryClassification", "MulticlassClassification", "Regression"]


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("dags-mapping"), engine=SCRIPTED_ENGINE)
    for segment in ("a", "b", "c"):
        (service.file_root / segment).mkdir()
        (service.file_root / segment / "train.csv").write_text("x,label\n1,yes\n2,no\n")
    with mock.patch.dict(os.environ, aws_connection_env("aws_default", service.endpoint_url)):
        yield service
    service.stop()


def header(service, dag_id: str, **dag_args: str) -> str:
    """Imports, a DAG, and SEGMENTS: one V2 request per segment, each its own data and problem type."""
    extra = "".join(f", {key}={value}" for key, value in dag_args.items())
    segments = [
        {
            "AutoMLJobInputDataConfig": [
                {
                    "ChannelType": "training",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri(f"{segment}/")}
                    },
                }
            ],
            "OutputDataConfig": {"S3OutputPath": service.file_uri(f"output/{segment}")},
            "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "label", "ProblemType": problem}},
            "RoleArn": ROLE,
        }
        for segment, problem in zip("abc", PROBLEM_TYPES, strict=True)
    ]
    return f"""
        from datetime import datetime, timedelta, timezone
        from airflow.sdk import DAG, TaskGroup
        from airflow_automl.operators.automl import AutoMLJobOperator
        from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

        SEGMENTS = {segments!r}
        dag = DAG({dag_id!r}, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc){extra})
    """


def tags_of(service, job_arn: str) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in service.client().list_tags(ResourceArn=job_arn)["Tags"]}


def jobs_of_run(service, run) -> list[str]:
    """Names of the jobs whose ownership tags name this DAG run."""
    names = []
    for job in service.client().list_auto_ml_jobs(MaxResults=100)["AutoMLJobSummaries"]:
        if tags_of(service, job["AutoMLJobArn"]).get("airflow:run_id") == run.run_id:
            names.append(job["AutoMLJobName"])
    return sorted(names)


def test_each_map_index_trains_its_own_job(scripted, dag_file, caplog, capfd):
    module = dag_file(
        "mapping_dag_default_names",
        header(scripted, "mapping_default")
        + """
        with dag:
            AutoMLJobOperator.partial(task_id="train", deferrable=True, poll_interval=0.3).expand(config=SEGMENTS)
        """,
    )
    with caplog.at_level(logging.ERROR):
        run = module.dag.test()
    assert mapped_task_states(run, "train") == {0: "success", 1: "success", 2: "success"}
    summaries = [xcom_value(run, "train", map_index=index) for index in range(3)]
    names = [summary["job_name"] for summary in summaries]
    assert names == [
        automl_job_name("train", {"run_id": run.run_id, "dag_run": run}, dag_id="mapping_default", map_index=index)
        for index in range(3)
    ]
    assert [name.split("-")[2] for name in names] == ["0", "1", "2"]
    assert jobs_of_run(scripted, run) == sorted(names)
    assert [summary["problem_type"] for summary in summaries] == PROBLEM_TYPES
    for index, summary in enumerate(summaries):
        assert summary["output_path"] == scripted.file_uri(f"output/{'abc'[index]}")
        assert tags_of(scripted, summary["job_arn"])["airflow:map_index"] == str(index)
        link = xcom_value(run, "train", key="automl_job_link", map_index=index)
        assert link["job_name"] == summary["job_name"]
        url = xcom_value(run, "train", key="_link_AutoMLJobLink", map_index=index)
        assert url == f"{scripted.endpoint_url}/jobs/{summary['job_name']}"
    # Nothing logged an error for any map index (Airflow's task log lines go to stdout, the rest to logging).
    assert not [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]
    printed = capfd.readouterr()
    assert not [line for line in (printed.out + printed.err).splitlines() if "[error" in line]


def test_retry_of_one_map_index_reattaches_to_its_own_job(scripted, dag_file):
    # Map index 1 loses its worker right after submitting; its retry must find its own job, and only it.
    module = dag_file(
        "mapping_dag_retry",
        header(scripted, "mapping_retry", default_args="{'retries': 1, 'retry_delay': timedelta(0)}")
        + """
        class WorkerLostAfterSubmit(AutoMLJobOperator):
            def execute(self, context):
                ti = context["ti"]
                if ti.map_index == 1 and ti.try_number == 1:
                    self.wait_for_completion = False
                    super().execute(context)
                    raise RuntimeError("worker lost after submitting the job")
                return super().execute(context)

        with dag:
            WorkerLostAfterSubmit.partial(task_id="train", job_name="{{ automl_job_name('seg') }}",
                                          poll_interval=0.3).expand(config=SEGMENTS)
        """,
    )
    run = module.dag.test()
    assert mapped_task_states(run, "train") == {0: "success", 1: "success", 2: "success"}
    expected = [
        automl_job_name("seg", {"run_id": run.run_id, "dag_run": run}, dag_id="mapping_retry", map_index=index)
        for index in range(3)
    ]
    assert [xcom_value(run, "train", map_index=index)["job_name"] for index in range(3)] == expected
    # Three jobs, none suffixed: the retry reattached instead of creating a fourth.
    assert jobs_of_run(scripted, run) == sorted(expected)
    assert xcom_value(run, "train", map_index=1)["problem_type"] == "MulticlassClassification"


def test_macro_in_a_task_group_with_expand_kwargs(scripted, dag_file):
    module = dag_file(
        "mapping_dag_group",
        header(scripted, "mapping_group")
        + """
        with dag:
            with TaskGroup("segments"):
                AutoMLJobOperator.partial(
                    task_id="train", job_name="{{ automl_job_name('grp') }}", wait_for_completion=False
                ).expand_kwargs([{"config": segment} for segment in SEGMENTS[:2]])
                AutoMLJobOperator(task_id="single", job_name="{{ automl_job_name('one') }}",
                                  wait_for_completion=False, config=SEGMENTS[2])
        """,
    )
    run = module.dag.test()
    assert mapped_task_states(run, "segments.train") == {0: "success", 1: "success"}
    assert mapped_task_states(run, "segments.single") == {-1: "success"}
    context = {"run_id": run.run_id, "dag_run": run}
    names = [xcom_value(run, "segments.train", map_index=index)["job_name"] for index in range(2)]
    assert names == [automl_job_name("grp", context, dag_id="mapping_group", map_index=index) for index in range(2)]
    single = xcom_value(run, "segments.single")
    assert single["job_name"] == automl_job_name("one", context, dag_id="mapping_group")
    tags = tags_of(scripted, single["job_arn"])
    assert tags["airflow:task_id"] == "segments.single" and tags["airflow:map_index"] == "-1"


def test_sensor_maps_over_the_jobs_with_a_threshold_per_segment(scripted, dag_file):
    # The scripted best candidate scores 0.65: segment b's threshold of 0.9 is missed, the others pass.
    module = dag_file(
        "mapping_dag_sensor",
        header(scripted, "mapping_sensor")
        + """
        THRESHOLDS = {"BinaryClassification": 0.6, "MulticlassClassification": 0.9, "Regression": 0.5}

        def gate_kwargs(summary):
            return {"job_name": summary["job_name"], "metric_threshold": THRESHOLDS[summary["problem_type"]]}

        with dag:
            train = AutoMLJobOperator.partial(task_id="train", job_name="{{ automl_job_name('gate') }}",
                                              wait_for_completion=False).expand(config=SEGMENTS)
            AutoMLBestCandidateSensor.partial(task_id="gate", poke_interval=0.3, deferrable=True).expand_kwargs(
                train.output.map(gate_kwargs))
            # The macro renders in a mapped sensor too: map index i names map index i's job.
            gate_by_name = AutoMLBestCandidateSensor.partial(
                task_id="gate_by_name", job_name="{{ automl_job_name('gate') }}", poke_interval=0.3
            ).expand(metric_threshold=[0.6, 0.6, 0.5])
            train >> gate_by_name
        """,
    )
    run = module.dag.test()
    assert mapped_task_states(run, "train") == {0: "success", 1: "success", 2: "success"}
    assert mapped_task_states(run, "gate") == {0: "success", 1: "failed", 2: "success"}
    for index in (0, 2):
        gated = xcom_value(run, "gate", map_index=index)
        assert gated["job_name"] == xcom_value(run, "train", map_index=index)["job_name"]
        assert gated["problem_type"] == PROBLEM_TYPES[index]
    by_name = [xcom_value(run, "gate_by_name", map_index=index) for index in range(3)]
    assert mapped_task_states(run, "gate_by_name") == {0: "success", 1: "success", 2: "success"}
    assert [summary["job_name"] for summary in by_name] == [
        xcom_value(run, "train", map_index=index)["job_name"] for index in range(3)
    ]


def test_segments_example_trains_and_gates_each_region(scripted, airflow_db):
    """dags/automl_retrain_segments.py on the scripted engine: one job per region, one gate per region."""
    import shutil
    from pathlib import Path

    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    dag_path = dags_folder / "automl_retrain_segments.py"
    shutil.copyfile(Path(__file__).resolve().parents[2] / "dags" / "automl_retrain_segments.py", dag_path)
    with mock.patch.dict(os.environ, {"AUTOML_POLL_INTERVAL_SECONDS": "0.3"}):
        dag = DagBag(dag_folder=str(dag_path)).dags["automl_retrain_segments"]
        run = dag.test(run_conf={"storage_uri": (scripted.file_root / "segments-dag").as_uri(), "rows": 800})
    regions = ["north", "south", "east", "west"]
    assert mapped_task_states(run, "train_segment") == {index: "success" for index in range(4)}
    summaries = [xcom_value(run, "train_segment", map_index=index) for index in range(4)]
    assert len({summary["job_name"] for summary in summaries}) == 4
    for region, summary in zip(regions, summaries, strict=True):
        tags = tags_of(scripted, summary["job_arn"])
        assert tags["segment"] == region
        assert summary["output_path"] == (scripted.file_root / "segments-dag" / "segments" / region / "models").as_uri()
    # The scripted best candidate scores 0.65: the two regions asking for 0.7 are skipped, the others pass.
    assert mapped_task_states(run, "check_segment") == {0: "skipped", 1: "skipped", 2: "success", 3: "success"}
    report = xcom_value(run, "report")
    assert report["passed"] == {summaries[2]["job_name"]: 0.65, summaries[3]["job_name"]: 0.65}
