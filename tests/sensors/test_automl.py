"""AutoMLBestCandidateSensor: pass on a good enough best candidate, fail at once otherwise."""

import os
from types import SimpleNamespace
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException, AirflowSensorTimeout, AirflowSkipException

from airflow_automl.sensors.automl import AutoMLBestCandidateSensor
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.provider_responder import SageMakerResponder, candidate, describe_answer


@pytest.fixture
def responder():
    server = SageMakerResponder()
    with mock.patch.dict(os.environ, aws_connection_env("automl_sensor", server.endpoint_url)):
        yield server
    server.close()


def task_context():
    """What execute() reads from its context: the task instance it pushes the job link through."""
    pushed = {}
    return {"ti": SimpleNamespace(xcom_push=lambda key, value: pushed.__setitem__(key, value), pushed=pushed)}


def sensor(**kwargs):
    return AutoMLBestCandidateSensor(task_id="gate", job_name="j", aws_conn_id="automl_sensor", **kwargs)


def finished(responder, value, metric="F1", objective_type="Maximize", status="Completed"):
    best = candidate("c-best", value, metric, objective_type)
    responder.on("DescribeAutoMLJobV2", describe_answer("j", status, status, best=best))
    responder.on("ListCandidatesForAutoMLJob", (200, {"Candidates": [best]}))


def test_running_job_is_not_done(responder):
    responder.on("DescribeAutoMLJobV2", describe_answer("j", "InProgress", "TrainingModels"))
    assert not sensor().poke({}).is_done


@pytest.mark.parametrize(
    ("value", "metric", "objective_type", "threshold"),
    [(0.9, "F1", "Maximize", 0.85), (0.85, "AUC", "Maximize", "0.85"), (12.0, "MSE", "Minimize", 15)],
)
def test_best_candidate_that_meets_the_threshold_passes_with_the_summary(
    responder, value, metric, objective_type, threshold
):
    finished(responder, value, metric, objective_type)
    result = sensor(metric_threshold=threshold).poke({})
    assert result.is_done
    assert result.xcom_value["best_candidate_name"] == "c-best"
    assert result.xcom_value["objective_metric_value"] == pytest.approx(value)
    assert result.xcom_value["leaderboard"][0]["candidate_name"] == "c-best"


@pytest.mark.parametrize(
    ("value", "metric", "objective_type", "threshold", "direction"),
    [(0.7, "F1", "Maximize", 0.8, "higher is better"), (20.0, "RMSE", "Minimize", 15, "lower is better")],
)
def test_a_missed_threshold_fails_at_once(responder, value, metric, objective_type, threshold, direction):
    finished(responder, value, metric, objective_type)
    with pytest.raises(AirflowFailException, match=f"misses metric_threshold=.*{direction}"):
        sensor(metric_threshold=threshold).execute(task_context())


def test_a_missed_threshold_skips_with_soft_fail(responder):
    finished(responder, 0.5)
    with pytest.raises(AirflowSkipException):
        sensor(metric_threshold=0.8, soft_fail=True).execute(task_context())


def test_job_that_ended_without_a_candidate_fails_with_the_reason(responder):
    responder.on(
        "DescribeAutoMLJobV2",
        describe_answer("j", "Failed", "Failed", failure_reason="Column 'y' has one class in train.csv"),
    )
    with pytest.raises(AirflowFailException, match="ended Failed without a best candidate: Column 'y' has one class"):
        sensor().poke({})


def test_stopped_job_with_a_candidate_passes(responder):
    finished(responder, 0.88, status="Stopped")
    assert sensor().poke({}).is_done


def test_deferrable_events(responder):
    finished(responder, 0.9)
    assert sensor(deferrable=True).execute_complete({}, {"status": "success", "job_name": "j"})["status"] == "Completed"
    with pytest.raises(AirflowSensorTimeout):
        sensor(deferrable=True).execute_complete({}, {"status": "timeout", "job_name": "j", "message": "deadline"})


def test_threshold_must_be_a_number():
    with pytest.raises(AirflowFailException, match="metric_threshold: must be a number, got 'high'"):
        sensor(metric_threshold="high")._threshold()


def test_empty_job_name_fails_with_a_hint():
    with pytest.raises(AirflowFailException, match="job_name: rendered empty"):
        AutoMLBestCandidateSensor(task_id="gate", job_name="", aws_conn_id="automl_sensor").poke({})
