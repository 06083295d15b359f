"""The example DAGs users copy must load: no import errors, and the shape the README describes."""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import pytest

DAGS_FOLDER = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def dag_bag():
    from tests.fixtures.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS_FOLDER))


def test_dags_folder_has_no_import_errors(dag_bag):
    assert dag_bag.import_errors == {}
    assert {"automl_retrain", "automl_deploy_endpoint", "automl_retrain_segments"} <= set(dag_bag.dag_ids)


def test_quickstart_dag_trains_then_gates_on_the_score(dag_bag):
    # The README's DAG (tests/docs checks that the README shows this file).
    dag = dag_bag.dags["automl_quickstart"]
    train, gate = dag.get_task("train"), dag.get_task("gate")
    assert type(train).__name__ == "AutoMLJobOperator" and train.deferrable is True
    assert "automl_job_name" in train.job_name
    assert type(gate).__name__ == "AutoMLBestCandidateSensor" and gate.metric_threshold == 0.8
    assert gate.task_id in train.downstream_task_ids


def test_retraining_dag_trains_gates_scores_registers_and_deploys_in_order(dag_bag):
    dag = dag_bag.dags["automl_retrain"]
    # Daily, with a real data interval, and also whenever the monitoring DAG finds drift.
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert type(dag.timetable.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.timetable.summary == "0 0 * * *"
    assert "churn_drift" in repr(dag.timetable.asset_condition)
    order = [
        "prepare_training_data",
        "train_model",
        "check_best_candidate",
        "find_champion",
        "score_holdout",
        "register_challenger",
        "apply_verdict",
        "promoted",
        "deploy_endpoint",
        "smoke_check",
    ]
    for upstream, downstream in pairwise(order):
        assert downstream in dag.get_task(upstream).downstream_task_ids, (upstream, downstream)
    train = dag.get_task("train_model")
    assert type(train).__name__ == "AutoMLJobOperator"
    assert train.deferrable is True
    assert "automl_job_name" in train.job_name  # a name per run, stable across retries
    assert type(dag.get_task("check_best_candidate")).__name__ == "AutoMLBestCandidateSensor"
    score = dag.get_task("score_holdout")
    assert score.operator_name == "FileOrS3TransformOperator" and score.partial_kwargs["deferrable"] is True
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTransformOperator

    from airflow_automl.operators.transform import FileOrS3TransformOperator

    assert issubclass(FileOrS3TransformOperator, SageMakerTransformOperator)
    deploy = dag.get_task("deploy_endpoint")
    assert type(deploy).__name__ == "SageMakerEndpointOperator" and deploy.deferrable is True
    # Storage, budget, registry and endpoint come from params, so the same DAG runs on file://, MinIO and S3.
    assert {
        "storage_uri",
        "metric_threshold",
        "max_runtime_seconds",
        "promotion_margin",
        "approval_margin",
        "model_package_group",
        "endpoint_name",
        "holdout_fraction",
    } <= set(dag.params)


def test_endpoint_example_uses_the_v2_api_and_deploys(dag_bag):
    dag = dag_bag.dags["automl_deploy_endpoint"]
    train = dag.get_task("train_and_deploy")
    assert "AutoMLProblemTypeConfig" in train.config and "InputDataConfig" not in train.config
    assert train.config["ModelDeployConfig"]["AutoGenerateEndpointName"] is False
    assert "invoke_endpoint" in train.downstream_task_ids


def test_forecast_example_trains_a_weekly_time_series_job_and_gates_on_wape(dag_bag):
    dag = dag_bag.dags["automl_forecast"]
    assert dag.timetable.summary == "0 6 * * 1"
    order = ["prepare_demand_history", "train_forecaster", "check_forecast_accuracy", "publish_forecast"]
    for upstream, downstream in pairwise(order):
        assert downstream in dag.get_task(upstream).downstream_task_ids
    config = dag.get_task("train_forecaster").config
    time_series = config["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    assert time_series["ForecastFrequency"] == "W" and config["AutoMLJobObjective"] == {"MetricName": "WAPE"}
    assert {"wape_threshold", "items", "storage_uri"} <= set(dag.params)


def test_segments_example_maps_training_and_gates_per_segment(dag_bag):
    dag = dag_bag.dags["automl_retrain_segments"]
    train, gate = dag.get_task("train_segment"), dag.get_task("check_segment")
    assert type(train).__name__ == "MappedOperator" and train.operator_name == "AutoMLJobOperator"
    assert type(gate).__name__ == "MappedOperator" and gate.operator_name == "AutoMLBestCandidateSensor"
    assert "automl_job_name" in train.partial_kwargs["job_name"]
    assert "check_segment" in train.downstream_task_ids and "report" in gate.downstream_task_ids


def test_storage_location_must_be_s3_or_file():
    from airflow_automl.examples.storage import storage_uri

    with pytest.raises(ValueError, match="storage_uri: 'http://example.com/x' is not an s3:// or file://"):
        storage_uri("http://example.com/x")


def test_training_updates_the_model_asset_the_deployment_dag_is_scheduled_on(dag_bag):
    from airflow.sdk import Asset

    assert "automl_deploy_model" in dag_bag.dag_ids
    train = dag_bag.dags["automl_retrain"].get_task("train_model")
    assert train.outlets == [Asset(name="churn_model")]
    deploy = dag_bag.dags["automl_deploy_model"]
    assert list(deploy.timetable.asset_condition.objects) == train.outlets  # schedule=[the training task's asset]
    order = ["new_model", "confirm_with_sagemaker", "stage"]
    for upstream, downstream in pairwise(order):
        assert downstream in deploy.get_task(upstream).downstream_task_ids
