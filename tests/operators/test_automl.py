"""AutoMLJobOperator: request building, coercion, validation before any call, and event handling."""

import os
from datetime import UTC, datetime
from types import SimpleNamespace
from unittest import mock

import pytest
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException
from airflow.sdk import DAG

from airflow_automl.operators.automl import AutoMLJobOperator, detect_api_version
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.provider_responder import SageMakerResponder, candidate, describe_answer

ROLE = "arn:aws:iam::123456789012:role/automl"


def operator(**kwargs):
    defaults = dict(task_id="train", job_name="churn-20261127-abc123", role_arn=ROLE)
    return AutoMLJobOperator(**{**defaults, **kwargs})


def test_conveniences_build_a_v2_tabular_request():
    op = operator(
        input_uri="s3://bucket/train/",
        target_attribute="churned",
        output_path="s3://bucket/out",
        problem_type="BinaryClassification",
        objective_metric="AUC",
        max_runtime_seconds="3600",
        max_candidates="5",
        mode="ENSEMBLING",
    )
    operation, request = op.build_request()
    assert operation == "CreateAutoMLJobV2"
    tabular = request["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular["TargetAttributeName"] == "churned"
    assert tabular["ProblemType"] == "BinaryClassification"
    assert tabular["Mode"] == "ENSEMBLING"
    # Strings rendered from templates come out as the integers the API wants.
    assert tabular["CompletionCriteria"] == {"MaxAutoMLJobRuntimeInSeconds": 3600, "MaxCandidates": 5}
    assert request["AutoMLJobInputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bucket/train/"
    assert request["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert "AutoMLJobName" not in request


def test_v1_config_keys_choose_v1_and_conveniences_merge_in():
    config = {
        "InputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/old"}},
                "TargetAttributeName": "x",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "AutoMLJobConfig": {"CompletionCriteria": {"MaxCandidates": "10"}},
    }
    op = operator(config=config, input_uri="s3://b/new", target_attribute="y", max_runtime_seconds=600)
    operation, request = op.build_request()
    assert operation == "CreateAutoMLJob"
    channel = request["InputDataConfig"][0]
    assert channel["DataSource"]["S3DataSource"]["S3Uri"] == "s3://b/new"
    assert channel["TargetAttributeName"] == "y"
    assert request["AutoMLJobConfig"]["CompletionCriteria"] == {
        "MaxCandidates": 10,
        "MaxAutoMLJobRuntimeInSeconds": 600,
    }
    assert config["InputDataConfig"][0]["TargetAttributeName"] == "x", "the operator's config must not be mutated"


def test_api_version_detection():
    assert detect_api_version({"AutoMLProblemTypeConfig": {}}, None) == 2
    assert detect_api_version({"ProblemType": "Regression"}, None) == 1
    assert detect_api_version({}, None) == 2
    assert detect_api_version({"ProblemType": "Regression"}, 2) == 2
    with pytest.raises(AirflowFailException, match="mixes CreateAutoMLJob keys"):
        detect_api_version({"ProblemType": "Regression", "AutoMLJobInputDataConfig": []}, None)


def test_a_rule_violation_fails_before_any_call_naming_field_and_rule():
    op = operator(
        input_uri="s3://b/in",
        target_attribute="y",
        output_path="s3://b/out",
        problem_type="Regression",
        objective_metric="F1",
    )
    with (
        mock.patch("airflow_automl.hooks.automl.AutoMLHook._call") as call,
        pytest.raises(AirflowFailException, match=r"AutoMLJobObjective\.MetricName: .*F1") as caught,
    ):
        op.execute(context={"ti": SimpleNamespace(dag_id="d", run_id="r", task_id="train")})
    call.assert_not_called()
    assert "CreateAutoMLJobV2 request is invalid" in str(caught.value)


def test_shape_violations_name_the_field():
    op = operator(input_uri="s3://b/in", target_attribute="y", output_path="s3://b/out", max_candidates="many")
    with pytest.raises(AirflowFailException, match="MaxCandidates"):
        op.build_request()
    with pytest.raises(AirflowFailException, match="config.AutoMLJobName: set the name with job_name"):
        operator(config={"AutoMLJobName": "x"}).build_request()
    bad_name = operator(job_name="bad_name!", input_uri="s3://b/in", target_attribute="y", output_path="s3://b/out")
    with pytest.raises(AirflowFailException, match="AutoMLJobName"):
        bad_name.build_request()


def test_unknown_action_if_job_exists_is_refused():
    with pytest.raises(ValueError, match="action_if_job_exists: must be one of reattach, increment, fail"):
        operator(action_if_job_exists="replace")


def test_every_field_is_templated_including_nested_config_and_the_naming_macro():
    with DAG("retrain_unit", schedule=None, start_date=datetime(2026, 1, 1)) as dag:
        op = AutoMLJobOperator(
            task_id="train",
            job_name="{{ automl_job_name('churn') }}",
            config={
                "AutoMLProblemTypeConfig": {
                    "TabularJobConfig": {"CompletionCriteria": {"MaxCandidates": "{{ params.candidates }}"}}
                }
            },
            input_uri="s3://bucket/{{ ds }}/",
            target_attribute="{{ params.target }}",
            output_path="s3://bucket/out",
            role_arn=ROLE,
            params={"candidates": 3, "target": "churned"},
        )
    run = SimpleNamespace(logical_date=datetime(2026, 11, 27, tzinfo=UTC), dag_id=dag.dag_id)
    context = {
        "run_id": "manual__2026-11-27",
        "dag": dag,
        "dag_run": run,
        "ds": "2026-11-27",
        "params": {"candidates": 3, "target": "churned"},
    }
    op.render_template_fields(context)
    assert op.job_name.startswith("churn-20261127-") and len(op.job_name) == 21
    assert op.input_uri == "s3://bucket/2026-11-27/"
    _, request = op.build_request()
    tabular = request["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular["CompletionCriteria"]["MaxCandidates"] == 3
    assert tabular["TargetAttributeName"] == "churned"
    assert {"config", "job_name", "input_uri", "max_runtime_seconds", "aws_conn_id"} <= set(op.template_fields)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"status": "failed", "job_name": "j", "message": "AutoML job j ended Failed: bad data"}, "bad data"),
        ({"status": "stopped", "job_name": "j", "message": "AutoML job j ended Stopped: user"}, "ended Stopped"),
        ({"status": "error", "job_name": "j", "message": "ResourceNotFound"}, "ResourceNotFound"),
        (None, "no usable event"),
        ({"job_name": "j"}, "no usable event"),
    ],
)
def test_execute_complete_turns_failures_into_clear_errors(event, message):
    with pytest.raises(AirflowException, match=message):
        operator(stop_job_on_kill=False).execute_complete(context={}, event=event)


@pytest.fixture
def responder():
    server = SageMakerResponder()
    with mock.patch.dict(os.environ, aws_connection_env("automl_operator", server.endpoint_url)):
        yield server
    server.close()


def test_execute_complete_success_returns_the_summary_with_leaderboard(responder):
    best = candidate("c-2", 0.95)
    responder.on("DescribeAutoMLJobV2", describe_answer("j", "Completed", "Completed", best=best))
    responder.on("ListCandidatesForAutoMLJob", (200, {"Candidates": [best, candidate("c-1", 0.9)]}))
    summary = operator(aws_conn_id="automl_operator").execute_complete(
        context={}, event={"status": "success", "job_name": "j", "message": "done", "summary": {"api_version": 2}}
    )
    assert summary["job_name"] == "j" and summary["status"] == "Completed"
    assert summary["best_candidate_name"] == "c-2"
    assert (summary["objective_metric_name"], summary["objective_metric_value"]) == ("F1", pytest.approx(0.95))
    assert [row["candidate_name"] for row in summary["leaderboard"]] == ["c-2", "c-1"]
    assert summary["model_artifacts"] == ["s3://bucket/out/c-2/model.tar.gz"]


def test_execute_complete_timeout_stops_the_job(responder):
    responder.on("DescribeAutoMLJobV2", describe_answer("j", "InProgress"))
    responder.on("StopAutoMLJob", (200, {}))
    with pytest.raises(AirflowException, match="deadline"):
        operator(aws_conn_id="automl_operator").execute_complete(
            context={},
            event={"status": "timeout", "job_name": "j", "message": "AutoML job j was still running at the deadline"},
        )
    assert ("StopAutoMLJob", {"AutoMLJobName": "j"}) in responder.calls


def test_a_deferral_that_hits_execution_timeout_stops_the_job(responder):
    from airflow.sdk.bases.operator import TriggerFailureReason

    # What the Task SDK raises on this Airflow version, as the operator imports it.
    from airflow_automl.operators.automl import TaskDeferralTimeout

    responder.on("DescribeAutoMLJobV2", describe_answer("churn-20261127-abc123", "InProgress"))
    responder.on("StopAutoMLJob", (200, {}))
    with pytest.raises(TaskDeferralTimeout):
        operator(aws_conn_id="automl_operator").resume_execution(
            "__fail__", {"error": TriggerFailureReason.TRIGGER_TIMEOUT}, context={}
        )
    assert ("StopAutoMLJob", {"AutoMLJobName": "churn-20261127-abc123"}) in responder.calls


def test_kill_without_stop_job_on_kill_leaves_the_job(responder):
    op = operator(aws_conn_id="automl_operator", stop_job_on_kill=False)
    op._submitted_job_name = "churn-20261127-abc123"
    op.on_kill()
    assert responder.calls == []


def test_run_tags_fit_sagemakers_tag_value_rule():
    from airflow_automl.sagemaker.rules import validate_request

    ti = SimpleNamespace(
        dag_id="retrain.churn", run_id="manual__2026-11-27T10:00:00+00:00~retry", task_id="group.train", map_index=3
    )
    tags = AutoMLJobOperator.run_tags({"ti": ti})
    assert tags["airflow:run_id"] == "manual__2026-11-27T10:00:00+00:00_retry"
    assert tags["airflow:map_index"] == "3"
    validate_request(
        "AddTags",
        {
            "ResourceArn": "arn:aws:sagemaker:us-east-1:123456789012:automl-job/j",
            "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
        },
    )
