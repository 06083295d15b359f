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
    assert {"automl_retrain", "automl_deploy_endpoint", "automl_retrain_segments"} <= set(dag_bag.dag_ids)


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


def test_segments_example_maps_training_and_gates_per_segment(dag_bag):
    dag = dag_bag.dags["automl_retrain_segments"]
    train, gate = dag.get_task("train_segment"), dag.get_task("check_segment")
    assert type(train).__name__ == "MappedOperator" and train.operator_name == "AutoMLJobOperator"
    assert type(gate).__name__ == "MappedOperator" and gate.operator_name == "AutoMLBestCandidateSensor"
    assert "automl_job_name" in train.partial_kwargs["job_name"]
    assert "check_segment" in train.downstream_task_ids and "report" in gate.downstream_task_ids


def _summary(job_name: str, metric: str, value: float) -> dict:
    return {
        "job_name": job_name,
        "job_arn": f"arn:aws:sagemaker:us-east-1:123456789012:automl-job/{job_name}",
        "best_candidate_name": f"{job_name}-best",
        "objective_metric_name": metric,
        "objective_metric_value": value,
        "model_artifacts": [f"file:///models/{job_name}/model.tar.gz"],
    }


def test_promotion_keeps_the_better_model_in_the_metrics_direction(dag_bag, tmp_path):
    import json

    promote = dag_bag.dags["automl_retrain"].get_task("promote_if_better").python_callable
    params = {"storage_uri": tmp_path.as_uri()}
    promoted_file = tmp_path / "promoted" / "model.json"

    def promoted_job() -> str:
        return json.loads(promoted_file.read_text())["job_name"]

    assert promote(_summary("first", "AUC", 0.80), params, run_id="run-1")["promoted"] is True
    assert promoted_job() == "first"
    worse = promote(_summary("worse", "AUC", 0.75), params, run_id="run-2")
    assert worse["promoted"] is False and worse["previous"]["job_name"] == "first"
    assert promoted_job() == "first"
    assert promote(_summary("better", "AUC", 0.85), params, run_id="run-3")["promoted"] is True
    assert promoted_job() == "better"
    # Every verdict is kept, promoted or not.
    assert sorted(p.stem for p in (tmp_path / "promoted" / "decisions").iterdir()) == ["better", "first", "worse"]

    # For an error metric lower is better.
    errors = {"storage_uri": (tmp_path / "regression").as_uri()}
    promote(_summary("mse-a", "MSE", 4.0), errors, run_id="run-4")
    assert promote(_summary("mse-b", "MSE", 5.0), errors, run_id="run-5")["promoted"] is False
    assert promote(_summary("mse-c", "MSE", 3.0), errors, run_id="run-6")["promoted"] is True


def test_storage_location_must_be_s3_or_file(dag_bag):
    promote = dag_bag.dags["automl_retrain"].get_task("promote_if_better").python_callable
    with pytest.raises(ValueError, match="storage_uri: 'http://example.com/x' is not an s3:// or file://"):
        promote(_summary("job", "AUC", 0.9), {"storage_uri": "http://example.com/x"}, run_id="run")


def test_training_updates_the_model_asset_the_deployment_dag_is_scheduled_on(dag_bag):
    from airflow.sdk import Asset

    assert "automl_deploy_model" in dag_bag.dag_ids
    train = dag_bag.dags["automl_retrain"].get_task("train_model")
    assert train.outlets == [Asset(name="churn_model")]
    deploy = dag_bag.dags["automl_deploy_model"]
    assert list(deploy.timetable.asset_condition.objects) == train.outlets  # schedule=[the training task's asset]
    order = ["new_model", "confirm_with_sagemaker", "stage"]
    for upstream, downstream in zip(order, order[1:]):
        assert downstream in deploy.get_task(upstream).downstream_task_ids
