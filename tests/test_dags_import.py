"""The example DAGs users copy must load: no import errors, and the shape the README describes."""

from __future__ import annotations

from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parent.parent / "dags"


@pytest.fixture(scope="module")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_dags_folder_has_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert {"automl_retrain", "automl_deploy_endpoint"} <= set(dag_bag.dag_ids)


def test_retraining_dag_trains_gates_and_promotes_in_order(dag_bag):
    dag = dag_bag.dags["automl_retrain"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"  # runs see a real data interval
    assert dag.timetable.summary == "0 0 * * *"
    order = ["prepare_training_data", "train_model", "check_best_candidate", "promote_if_better"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    train = dag.get_task("train_model")
    assert type(train).__name__ == "AutoMLJobOperator"
    assert train.deferrable is True
    assert "automl_job_name" in train.job_name  # a name per run, stable across retries
    assert type(dag.get_task("check_best_candidate")).__name__ == "AutoMLBestCandidateSensor"
    # Storage and budget come from params, so the same DAG runs on file://, MinIO and S3.
    assert {"storage_uri", "metric_threshold", "max_runtime_seconds"} <= set(dag.params)


def test_endpoint_example_uses_the_v2_api_and_deploys(dag_bag):
    dag = dag_bag.dags["automl_deploy_endpoint"]
    train = dag.get_task("train_and_deploy")
    assert "AutoMLProblemTypeConfig" in train.config and "InputDataConfig" not in train.config
    assert train.config["ModelDeployConfig"]["AutoGenerateEndpointName"] is False
    assert "invoke_endpoint" in train.downstream_task_ids
