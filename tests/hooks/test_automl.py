"""AutoMLHook over real boto3/aiobotocore clients against a scripted loopback SageMaker endpoint."""

import asyncio
import os
import socket
from unittest import mock

import pytest

from airflow_automl.hooks.automl import AutoMLApiError, AutoMLHook, RetryPolicy
from tests.fixtures.airflow import aws_connection_env
from tests.fixtures.provider_responder import SageMakerResponder, candidate, describe_answer, error

V2_REQUEST = {
    "AutoMLJobInputDataConfig": [
        {"ChannelType": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in"}}}
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
    "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "y"}},
    "RoleArn": "arn:aws:iam::123456789012:role/automl",
}
FAST = RetryPolicy(max_attempts=4, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def responder():
    server = SageMakerResponder()
    with mock.patch.dict(os.environ, aws_connection_env("automl_unit", server.endpoint_url)):
        yield server
    server.close()


@pytest.fixture
def hook(responder):
    return AutoMLHook(aws_conn_id="automl_unit", retry_policy=FAST)


def test_throttling_and_5xx_are_retried_until_an_answer(responder, hook):
    responder.on(
        "DescribeAutoMLJobV2",
        [
            error("ThrottlingException", "Rate exceeded"),
            error("InternalFailure", "try again", status=500),
            error("ServiceUnavailable", "busy", status=503),
            describe_answer("job-1", "InProgress"),
        ],
    )
    view = hook.describe_job("job-1")
    assert view.status == "InProgress"
    assert responder.operations() == ["DescribeAutoMLJobV2"] * 4


def test_retries_run_out_with_sagemakers_message(responder, hook):
    responder.on("DescribeAutoMLJobV2", error("ThrottlingException", "Rate exceeded for account"))
    with pytest.raises(AutoMLApiError, match="ThrottlingException: Rate exceeded for account") as caught:
        hook.describe_job("job-1")
    assert caught.value.code == "ThrottlingException"
    assert len(responder.calls) == FAST.max_attempts


def test_other_errors_surface_at_once_with_sagemakers_message(responder, hook):
    responder.on("CreateAutoMLJobV2", error("ValidationException", "RoleArn: is not a valid ARN"))
    with pytest.raises(AutoMLApiError, match="create_auto_ml_job_v2 failed: ValidationException: RoleArn: is not"):
        hook.create_job("job-1", V2_REQUEST, api_version=2)
    assert len(responder.calls) == 1


def test_connection_errors_are_retried():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    env = aws_connection_env("automl_closed", f"http://127.0.0.1:{closed_port}")
    with mock.patch.dict(os.environ, env):
        hook = AutoMLHook(aws_conn_id="automl_closed", retry_policy=FAST)
        sleeps = []
        with (
            mock.patch("airflow_automl.hooks.automl.time.sleep", sleeps.append),
            pytest.raises(AutoMLApiError, match="EndpointConnectionError"),
        ):
            hook.describe_job("job-1")
    assert len(sleeps) == FAST.max_attempts - 1
    assert all(0 < delay <= FAST.max_delay for delay in sleeps)


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(base_delay=1, max_delay=10)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 10), (9, 10)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


def test_v1_and_v2_describe_give_the_same_view(responder, hook):
    best = candidate("c-best", 0.93)
    responder.on("DescribeAutoMLJob", describe_answer("job-1", "Completed", "Completed", best=best, v2=False))
    responder.on("DescribeAutoMLJobV2", describe_answer("job-1", "Completed", "Completed", best=best, v2=True))
    v1, v2 = hook.describe_job("job-1", 1), hook.describe_job("job-1", 2)
    for view in (v1, v2):
        assert (view.status, view.problem_type, view.objective_metric_name) == (
            "Completed",
            "BinaryClassification",
            "F1",
        )
        assert view.best_candidate_name == "c-best" and view.objective_metric_value == pytest.approx(0.93)
        assert view.model_artifacts == ["s3://bucket/out/c-best/model.tar.gz"]
    summary_v1, summary_v2 = v1.to_summary(), v2.to_summary()
    assert {k: v for k, v in summary_v1.items() if k != "api_version"} == {
        k: v for k, v in summary_v2.items() if k != "api_version"
    }


def test_find_job_tells_missing_from_existing(responder, hook):
    responder.on(
        "DescribeAutoMLJobV2",
        lambda body: (
            describe_answer("here", "InProgress")
            if body["AutoMLJobName"] == "here"
            else error("ResourceNotFound", f"Job {body['AutoMLJobName']} does not exist")
        ),
    )
    assert hook.find_job("missing") is None
    assert hook.find_job("here").status == "InProgress"


def test_list_candidates_follows_every_page(responder, hook):
    pages = {None: (["a", "b"], "t1"), "t1": (["c", "d"], "t2"), "t2": (["e"], None)}

    def page(body):
        names, token = pages[body.get("NextToken")]
        answer = {"Candidates": [candidate(n, 0.5) for n in names]}
        if token:
            answer["NextToken"] = token
        return 200, answer

    responder.on("ListCandidatesForAutoMLJob", page)
    assert [c["CandidateName"] for c in hook.list_candidates("job-1")] == ["a", "b", "c", "d", "e"]
    assert [c["CandidateName"] for c in hook.list_candidates("job-1", limit=3)] == ["a", "b", "c"]
    # Whole listings ask for 100 a page (the API's default is 10); a limited one for no more than it needs.
    sizes = [body["MaxResults"] for op, body in responder.calls if op == "ListCandidatesForAutoMLJob"]
    assert sizes == [100, 100, 100, 3, 3]


def test_leaderboard_sorts_by_the_metrics_direction(responder, hook):
    responder.on("ListCandidatesForAutoMLJob", (200, {"Candidates": [candidate("best", 0.1, "MSE", "Minimize")]}))
    responder.on(
        "DescribeAutoMLJobV2",
        describe_answer("job-1", "Completed", "Completed", best=candidate("best", 0.1, "MSE", "Minimize")),
    )
    board = hook.leaderboard(hook.describe_job("job-1"), 3)
    assert board[0]["candidate_name"] == "best"
    listing = [body for op, body in responder.calls if op == "ListCandidatesForAutoMLJob"][0]
    assert listing["SortOrder"] == "Ascending" and listing["MaxResults"] == 3


def test_create_tags_the_job_and_returns_its_arn(responder, hook):
    responder.on("CreateAutoMLJobV2", (200, {"AutoMLJobArn": "arn:aws:sagemaker:us-east-1:1:automl-job/j"}))
    arn = hook.create_job(
        "j", {**V2_REQUEST, "Tags": [{"Key": "team", "Value": "ml"}]}, api_version=2, tags={"airflow:run_id": "r"}
    )
    assert arn.endswith("automl-job/j")
    sent = responder.calls[0][1]
    assert sent["AutoMLJobName"] == "j"
    assert sent["Tags"] == [{"Key": "team", "Value": "ml"}, {"Key": "airflow:run_id", "Value": "r"}]


def test_async_describe_retries_throttling(responder, hook):
    responder.on(
        "DescribeAutoMLJobV2",
        [error("ThrottlingException", "slow down"), describe_answer("job-1", "Completed", "Completed")],
    )

    async def describe():
        async with await hook.get_async_conn() as client:
            return await hook.async_describe_job(client, "job-1")

    assert asyncio.run(describe()).status == "Completed"
    assert responder.operations() == ["DescribeAutoMLJobV2", "DescribeAutoMLJobV2"]
