"""AutoML job operations over HTTP with boto3: lifecycle, both API versions, lists, tags, errors.

The service runs the scripted engine (tests/fixtures/service.py) so jobs move through their
statuses in a second; test_service_training.py trains for real.
"""

from __future__ import annotations

import importlib.util
import time

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(
        tmp_path_factory.mktemp("jobs"),
        engine=SCRIPTED_ENGINE,
        region="eu-west-1",
        account_id="210987654321",
        max_concurrent_jobs=4,
        stop_grace_seconds=3,
    )
    yield service
    service.stop()


@pytest.fixture(scope="module")
def client(service):
    return service.client()


def v1_request(service, name: str, **overrides) -> dict:
    request = {
        "AutoMLJobName": name,
        "RoleArn": ROLE,
        "InputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("data/train.csv")}},
                "TargetAttributeName": "label",
                "CompressionType": "None",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("output")},
    }
    request.update(overrides)
    return request


def v2_request(service, name: str, **tabular) -> dict:
    return {
        "AutoMLJobName": name,
        "RoleArn": ROLE,
        "AutoMLJobInputDataConfig": [
            {
                "ChannelType": "training",
                "ContentType": "text/csv;header=present",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("data/train.csv")}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("output")},
        "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "label", **tabular}},
        "DataSplitConfig": {"ValidationFraction": 0.25},
    }


def error_of(call, **kwargs) -> dict:
    with pytest.raises(ClientError) as raised:
        call(**kwargs)
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return raised.value.response["Error"]


# -- create and describe --------------------------------------------------------------------------


def test_v1_job_runs_to_completion_with_every_describe_member(service, client):
    arn = client.create_auto_ml_job(
        **v1_request(
            service,
            "Lifecycle-V1",
            ProblemType="BinaryClassification",
            AutoMLJobObjective={"MetricName": "AUC"},
            AutoMLJobConfig={"CompletionCriteria": {"MaxCandidates": 4}, "Mode": "ENSEMBLING"},
            ModelDeployConfig={"AutoGenerateEndpointName": False, "EndpointName": "lifecycle-endpoint"},
            Tags=[{"Key": "team", "Value": "ml"}],
        )
    )["AutoMLJobArn"]
    assert arn == "arn:aws:sagemaker:eu-west-1:210987654321:automl-job/lifecycle-v1"
    job = service.wait_for_status("Lifecycle-V1")
    assert job["AutoMLJobStatus"] == "Completed"
    described = client.describe_auto_ml_job(AutoMLJobName="lifecycle-v1")
    assert described["AutoMLJobName"] == "Lifecycle-V1"
    assert described["AutoMLJobArn"] == arn
    assert described["AutoMLJobSecondaryStatus"] == "MaxCandidatesReached"
    assert described["ProblemType"] == "BinaryClassification"
    assert described["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert described["AutoMLJobConfig"]["CompletionCriteria"]["MaxCandidates"] == 4
    assert described["ModelDeployConfig"]["EndpointName"] == "lifecycle-endpoint"
    assert described["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "AUC"}
    assert described["ResolvedAttributes"]["ProblemType"] == "BinaryClassification"
    assert described["AutoMLJobArtifacts"]["DataExplorationNotebookLocation"].endswith("/Lifecycle-V1/report.html")
    assert described["CreationTime"] <= described["LastModifiedTime"] <= described["EndTime"]
    best = described["BestCandidate"]
    assert best["CandidateName"] == "scripted-candidate-004"
    assert best["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "AUC"
    assert best["CandidateSteps"][0]["CandidateStepType"] == "AWS::SageMaker::TrainingJob"
    assert best["InferenceContainers"][0]["ModelDataUrl"].startswith("file://")
    assert best["CandidateProperties"]["CandidateMetrics"][0]["Set"] == "Validation"
    assert best["CandidateStatus"] == "Completed"
    assert {"CreationTime", "EndTime", "LastModifiedTime"} <= set(best)


def test_v1_job_is_described_by_v2(service, client):
    client.create_auto_ml_job(
        **v1_request(
            service,
            "v1-seen-as-v2",
            ProblemType="Regression",
            AutoMLJobConfig={"DataSplitConfig": {"ValidationFraction": 0.3}, "Mode": "ENSEMBLING"},
        )
    )
    service.wait_for_status("v1-seen-as-v2")
    job = client.describe_auto_ml_job_v2(AutoMLJobName="v1-seen-as-v2")
    assert job["AutoMLProblemTypeConfigName"] == "Tabular"
    tabular = job["AutoMLProblemTypeConfig"]["TabularJobConfig"]
    assert tabular["TargetAttributeName"] == "label"
    assert tabular["ProblemType"] == "Regression"
    assert tabular["Mode"] == "ENSEMBLING"
    assert job["DataSplitConfig"] == {"ValidationFraction": 0.3}
    assert job["AutoMLJobInputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] == "S3Prefix"
    assert "TargetAttributeName" not in job["AutoMLJobInputDataConfig"][0]
    assert job["ResolvedAttributes"]["AutoMLProblemTypeResolvedAttributes"] == {
        "TabularResolvedAttributes": {"ProblemType": "Regression"}
    }


def test_v2_job_is_described_by_both_versions(service, client):
    client.create_auto_ml_job_v2(
        **v2_request(
            service, "v2-job", ProblemType="MulticlassClassification", CompletionCriteria={"MaxCandidates": 2}
        ),
        AutoMLJobObjective={"MetricName": "Accuracy"},
    )
    service.wait_for_status("v2-job")
    v2 = client.describe_auto_ml_job_v2(AutoMLJobName="v2-job")
    assert v2["AutoMLJobStatus"] == "Completed"
    assert v2["AutoMLProblemTypeConfig"]["TabularJobConfig"]["CompletionCriteria"] == {"MaxCandidates": 2}
    assert v2["DataSplitConfig"] == {"ValidationFraction": 0.25}
    assert v2["BestCandidate"]["CandidateName"] == "scripted-candidate-002"
    v1 = client.describe_auto_ml_job(AutoMLJobName="v2-job")
    assert v1["InputDataConfig"][0]["TargetAttributeName"] == "label"
    assert v1["ProblemType"] == "MulticlassClassification"
    assert v1["AutoMLJobConfig"]["DataSplitConfig"] == {"ValidationFraction": 0.25}
    assert v1["AutoMLJobConfig"]["CompletionCriteria"] == {"MaxCandidates": 2}
    assert v1["ResolvedAttributes"]["ProblemType"] == "MulticlassClassification"


def test_non_tabular_v2_job_is_refused(service, client):
    request = v2_request(service, "llm")
    request["AutoMLProblemTypeConfig"] = {"TextGenerationJobConfig": {"BaseModelName": "Falcon7BInstruct"}}
    error = error_of(client.create_auto_ml_job_v2, **request)
    assert error["Code"] == "ValidationException"
    assert "TextGenerationJobConfig" in error["Message"]
    assert "tabular" in error["Message"]


def test_names_are_unique_case_insensitively(service, client):
    client.create_auto_ml_job(**v1_request(service, "Unique-Name"))
    error = error_of(client.create_auto_ml_job, **v1_request(service, "UNIQUE-name"))
    assert error["Code"] == "ResourceInUse"
    assert "Unique-Name" in error["Message"]
    error = error_of(client.create_auto_ml_job_v2, **v2_request(service, "unique-NAME"))
    assert error["Code"] == "ResourceInUse"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"AutoMLJobName": "bad_name"}, "AutoMLJobName"),
        ({"ProblemType": "Regression", "AutoMLJobObjective": {"MetricName": "AUC"}}, "MetricName"),
        (
            {
                "AutoMLJobConfig": {
                    "Mode": "AUTO",
                    "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost"]}]},
                }
            },
            "AlgorithmsConfig",
        ),
        ({"AutoMLJobConfig": {"DataSplitConfig": {"ValidationFraction": 1.0}}}, "ValidationFraction"),
        ({"AutoMLJobConfig": {"CompletionCriteria": {"MaxCandidates": 751}}}, "MaxCandidates"),
        ({"ModelDeployConfig": {"AutoGenerateEndpointName": True, "EndpointName": "e"}}, "EndpointName"),
        # Found by fuzzing: urlsplit raises on an unbalanced '[', which once escaped as a 500.
        (
            {
                "InputDataConfig": [
                    {
                        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "https://0["}},
                        "TargetAttributeName": "y",
                    }
                ]
            },
            "S3Uri",
        ),
    ],
)
def test_invalid_create_is_a_validation_exception_naming_the_field(service, client, overrides, field):
    error = error_of(client.create_auto_ml_job, **v1_request(service, "invalid-job", **overrides))
    assert error["Code"] == "ValidationException"
    assert field in error["Message"]
    assert "invalid-job" not in [
        j["AutoMLJobName"] for j in client.list_auto_ml_jobs(MaxResults=100)["AutoMLJobSummaries"]
    ]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="the torch extra is installed")
def test_torch_algorithms_without_the_extra_are_refused_at_create(service, client):
    overrides = {
        "AutoMLJobConfig": {
            "Mode": "ENSEMBLING",
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm", "fastai"]}]},
        }
    }
    error = error_of(client.create_auto_ml_job, **v1_request(service, "torch-job", **overrides))
    assert error["Code"] == "ValidationException"
    assert "AutoMLAlgorithms" in error["Message"]
    assert "fastai" in error["Message"] and "airflow-automl[torch]" in error["Message"]


def test_unknown_job_is_resource_not_found_everywhere(client):
    for call, kwargs in (
        (client.describe_auto_ml_job, {"AutoMLJobName": "ghost"}),
        (client.describe_auto_ml_job_v2, {"AutoMLJobName": "ghost"}),
        (client.list_candidates_for_auto_ml_job, {"AutoMLJobName": "ghost"}),
        (client.stop_auto_ml_job, {"AutoMLJobName": "ghost"}),
    ):
        error = error_of(call, **kwargs)
        assert error["Code"] == "ResourceNotFound"
        assert "ghost" in error["Message"]


# -- failures, stops, dead workers ----------------------------------------------------------------


def test_engine_failure_ends_failed_with_its_reason(service, client):
    client.create_auto_ml_job(**v1_request(service, "fail-on-purpose"))
    job = service.wait_for_status("fail-on-purpose")
    assert job["AutoMLJobStatus"] == "Failed"
    assert job["AutoMLJobSecondaryStatus"] == "Failed"
    assert "target column 'label' is missing" in job["FailureReason"]
    summary = client.list_auto_ml_jobs(NameContains="fail-on-purpose")["AutoMLJobSummaries"][0]
    assert summary["FailureReason"] == job["FailureReason"]


def test_killed_worker_ends_failed_and_keeps_its_candidates(service, client):
    client.create_auto_ml_job(**v1_request(service, "crash-the-worker"))
    job = service.wait_for_status("crash-the-worker")
    assert job["AutoMLJobStatus"] == "Failed"
    assert "killed by SIGKILL" in job["FailureReason"]
    candidates = client.list_candidates_for_auto_ml_job(AutoMLJobName="crash-the-worker")["Candidates"]
    assert [c["CandidateName"] for c in candidates] == ["scripted-candidate-001"]
    # The service carries on.
    client.create_auto_ml_job(**v1_request(service, "after-the-crash"))
    assert service.wait_for_status("after-the-crash")["AutoMLJobStatus"] == "Completed"


def test_stop_moves_through_stopping_to_stopped_keeping_the_best_candidate(service, client):
    client.create_auto_ml_job(**v1_request(service, "slow-to-stop"))
    deadline = time.monotonic() + 60
    while not client.list_candidates_for_auto_ml_job(AutoMLJobName="slow-to-stop")["Candidates"]:
        assert time.monotonic() < deadline, "the slow job never produced a candidate"
        time.sleep(0.2)
    client.stop_auto_ml_job(AutoMLJobName="slow-to-stop")
    stopping = client.describe_auto_ml_job(AutoMLJobName="slow-to-stop")
    assert stopping["AutoMLJobStatus"] in ("Stopping", "Stopped")
    job = service.wait_for_status("slow-to-stop", timeout=180)
    assert job["AutoMLJobStatus"] == "Stopped"
    assert job["AutoMLJobSecondaryStatus"] == "Stopped"
    assert job["BestCandidate"]["CandidateName"].startswith("scripted-candidate-")
    # Stopping a stopped job is a no-op; stopping a finished one is refused.
    client.stop_auto_ml_job(AutoMLJobName="slow-to-stop")
    client.create_auto_ml_job(**v1_request(service, "completed-before-stop"))
    service.wait_for_status("completed-before-stop")
    error = error_of(client.stop_auto_ml_job, AutoMLJobName="completed-before-stop")
    assert error["Code"] == "ValidationException"


def test_a_worker_ignoring_stop_is_killed_after_the_grace_period(service, client):
    client.create_auto_ml_job(**v1_request(service, "stubborn-job"))
    deadline = time.monotonic() + 60
    while not client.list_candidates_for_auto_ml_job(AutoMLJobName="stubborn-job")["Candidates"]:
        assert time.monotonic() < deadline, "the stubborn job never produced a candidate"
        time.sleep(0.2)
    client.stop_auto_ml_job(AutoMLJobName="stubborn-job")
    job = service.wait_for_status("stubborn-job", timeout=180)
    assert job["AutoMLJobStatus"] == "Stopped"
    assert job["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]["Value"] == max(
        c["FinalAutoMLJobObjectiveMetric"]["Value"]
        for c in client.list_candidates_for_auto_ml_job(AutoMLJobName="stubborn-job", MaxResults=300)["Candidates"]
    )


# -- candidates: filters, sorting, pagination -----------------------------------------------------


def test_list_candidates_sorts_filters_and_pages(service, client):
    client.create_auto_ml_job(
        **v1_request(service, "many-candidates", AutoMLJobConfig={"CompletionCriteria": {"MaxCandidates": 9}})
    )
    service.wait_for_status("many-candidates")
    everything = client.list_candidates_for_auto_ml_job(AutoMLJobName="many-candidates", MaxResults=100)["Candidates"]
    assert len(everything) == 9
    assert [c["CandidateName"] for c in everything] == [f"scripted-candidate-{i:03d}" for i in range(1, 10)]
    by_metric = client.list_candidates_for_auto_ml_job(
        AutoMLJobName="many-candidates", SortBy="FinalObjectiveMetricValue", SortOrder="Descending", MaxResults=100
    )["Candidates"]
    values = [c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in by_metric]
    assert values == sorted(values, reverse=True)
    named = client.list_candidates_for_auto_ml_job(
        AutoMLJobName="many-candidates", CandidateNameEquals="scripted-candidate-005"
    )["Candidates"]
    assert [c["CandidateName"] for c in named] == ["scripted-candidate-005"]
    assert (
        client.list_candidates_for_auto_ml_job(AutoMLJobName="many-candidates", StatusEquals="Failed")["Candidates"]
        == []
    )
    pages, token = [], None
    while True:
        kwargs = {"NextToken": token} if token else {}
        page = client.list_candidates_for_auto_ml_job(
            AutoMLJobName="many-candidates",
            SortBy="FinalObjectiveMetricValue",
            SortOrder="Descending",
            MaxResults=4,
            **kwargs,
        )
        pages.append([c["CandidateName"] for c in page["Candidates"]])
        token = page.get("NextToken")
        if not token:
            break
    assert [len(p) for p in pages] == [4, 4, 1]
    assert sum(pages, []) == [c["CandidateName"] for c in by_metric]
    paginator = client.get_paginator("list_candidates_for_auto_ml_job")
    names = [
        c["CandidateName"]
        for p in paginator.paginate(AutoMLJobName="many-candidates", PaginationConfig={"PageSize": 2})
        for c in p["Candidates"]
    ]
    assert names == [c["CandidateName"] for c in everything]


def test_a_page_token_only_continues_the_request_that_issued_it(service, client):
    first = client.list_candidates_for_auto_ml_job(AutoMLJobName="many-candidates", MaxResults=2)
    error = error_of(
        client.list_candidates_for_auto_ml_job,
        AutoMLJobName="many-candidates",
        SortBy="Status",
        NextToken=first["NextToken"],
    )
    assert error["Code"] == "ValidationException"
    assert "NextToken" in error["Message"]
    error = error_of(client.list_auto_ml_jobs, NextToken="garbage!")
    assert error["Code"] == "ValidationException"


# -- jobs: filters, sorting, pagination -----------------------------------------------------------


def test_list_jobs_filters_and_sorts(service, client):
    before = time.time()
    time.sleep(0.05)
    for name in ("listing-b", "Listing-A", "listing-c"):
        client.create_auto_ml_job(**v1_request(service, name))
        time.sleep(0.02)
    for name in ("listing-b", "Listing-A", "listing-c"):
        service.wait_for_status(name)
    listed = client.list_auto_ml_jobs(NameContains="LISTING", MaxResults=100)["AutoMLJobSummaries"]
    assert [j["AutoMLJobName"] for j in listed] == ["listing-c", "listing-b", "Listing-A"]  # Name, Descending
    ascending = client.list_auto_ml_jobs(NameContains="listing", SortBy="CreationTime", SortOrder="Ascending")
    assert [j["AutoMLJobName"] for j in ascending["AutoMLJobSummaries"]] == ["listing-b", "Listing-A", "listing-c"]
    recent = client.list_auto_ml_jobs(CreationTimeAfter=before, MaxResults=100)["AutoMLJobSummaries"]
    assert {j["AutoMLJobName"] for j in recent} >= {"listing-b", "Listing-A", "listing-c"}
    assert all(j["CreationTime"].timestamp() > before for j in recent)
    older = client.list_auto_ml_jobs(CreationTimeBefore=before, MaxResults=100)["AutoMLJobSummaries"]
    assert not {j["AutoMLJobName"] for j in older} & {"listing-b", "Listing-A", "listing-c"}
    modified = client.list_auto_ml_jobs(
        LastModifiedTimeAfter=before, LastModifiedTimeBefore=time.time() + 60, NameContains="listing"
    )["AutoMLJobSummaries"]
    assert len(modified) == 3
    failed = client.list_auto_ml_jobs(StatusEquals="Failed", MaxResults=100)["AutoMLJobSummaries"]
    assert failed and all(j["AutoMLJobStatus"] == "Failed" for j in failed)
    by_status = client.list_auto_ml_jobs(SortBy="Status", SortOrder="Ascending", MaxResults=100)["AutoMLJobSummaries"]
    statuses = [j["AutoMLJobStatus"] for j in by_status]
    assert statuses == sorted(statuses)


def test_job_pages_are_stable_when_jobs_are_created_between_pages(service, client):
    for index in range(5):
        client.create_auto_ml_job(**v1_request(service, f"page-{index}"))
    first = client.list_auto_ml_jobs(NameContains="page-", SortBy="CreationTime", SortOrder="Descending", MaxResults=2)
    assert [j["AutoMLJobName"] for j in first["AutoMLJobSummaries"]] == ["page-4", "page-3"]
    client.create_auto_ml_job(**v1_request(service, "page-5"))  # newer: sorts before the token
    rest, token = [], first["NextToken"]
    while token:
        page = client.list_auto_ml_jobs(
            NameContains="page-", SortBy="CreationTime", SortOrder="Descending", MaxResults=2, NextToken=token
        )
        rest += [j["AutoMLJobName"] for j in page["AutoMLJobSummaries"]]
        token = page.get("NextToken")
    assert rest == ["page-2", "page-1", "page-0"]
    for index in range(6):
        service.wait_for_status(f"page-{index}")


# -- tags -----------------------------------------------------------------------------------------


def test_tags_are_added_listed_and_deleted(service, client):
    arn = client.create_auto_ml_job(**v1_request(service, "Tagged-Job", Tags=[{"Key": "owner", "Value": "ana"}]))[
        "AutoMLJobArn"
    ]
    assert client.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "ana"}]
    added = client.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}, {"Key": "owner", "Value": "bo"}])
    assert added["Tags"] == [{"Key": "stage", "Value": "dev"}, {"Key": "owner", "Value": "bo"}]
    assert client.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "owner", "Value": "bo"},
        {"Key": "stage", "Value": "dev"},
    ]
    client.delete_tags(ResourceArn=arn, TagKeys=["owner"])
    assert client.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "stage", "Value": "dev"}]
    client.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{i:02d}", "Value": str(i)} for i in range(49)])
    first = client.list_tags(ResourceArn=arn, MaxResults=50)
    assert len(first["Tags"]) == 50 and "NextToken" not in first
    error = error_of(client.add_tags, ResourceArn=arn, Tags=[{"Key": "one-too-many", "Value": "x"}])
    assert error["Code"] == "ResourceLimitExceeded"
    service.wait_for_status("Tagged-Job")


def test_tags_on_an_unknown_arn_are_refused(service, client):
    arn = "arn:aws:sagemaker:eu-west-1:210987654321:automl-job/nobody"
    for call, kwargs in (
        (client.list_tags, {"ResourceArn": arn}),
        (client.add_tags, {"ResourceArn": arn, "Tags": [{"Key": "a", "Value": "b"}]}),
        (client.delete_tags, {"ResourceArn": arn, "TagKeys": ["a"]}),
    ):
        error = error_of(call, **kwargs)
        assert error["Code"] == "ValidationException"
        assert arn in error["Message"]


# -- limits ---------------------------------------------------------------------------------------


def test_too_many_active_jobs_is_resource_limit_exceeded(tmp_path):
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, max_active_jobs=1, max_concurrent_jobs=1)
    try:
        client = service.client()
        client.create_auto_ml_job(**v1_request(service, "slow-occupant"))
        error = error_of(client.create_auto_ml_job, **v1_request(service, "second-job"))
        assert error["Code"] == "ResourceLimitExceeded"
        client.stop_auto_ml_job(AutoMLJobName="slow-occupant")
        service.wait_for_status("slow-occupant", timeout=180)
        client.create_auto_ml_job(**v1_request(service, "second-job"))
        assert service.wait_for_status("second-job")["AutoMLJobStatus"] == "Completed"
    finally:
        service.stop()


def test_a_job_stuck_past_its_runtime_limit_ends_with_its_best_candidate(service, client):
    client.create_auto_ml_job(
        **v1_request(
            service, "stubborn-overrun", AutoMLJobConfig={"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 2}}
        )
    )
    job = service.wait_for_status("stubborn-overrun", timeout=180)
    assert job["AutoMLJobStatus"] == "Completed"
    assert job["AutoMLJobSecondaryStatus"] == "MaxAutoMLJobRuntimeReached"
    assert job["BestCandidate"]["CandidateName"].startswith("scripted-candidate-")


# Slow: the job's limit must outlast the worker's start-up (its imports took 30 s on a loaded machine).
@pytest.mark.slow
def test_a_forecasting_worker_killed_at_the_limit_mid_fit_leaves_its_best_finished_candidate_servable(service, client):
    """The supervisor kills a worker whose ETS fit never returns (tests/fixtures/service.py, wedged-*);
    the seasonal naive baseline it finished before is the job's best candidate, and an endpoint serves it."""
    import io
    import json

    import numpy as np
    import pandas as pd

    days = np.arange(42)
    history = pd.DataFrame(
        {
            "sku": "apples",
            "date": pd.date_range("2024-01-01", periods=42, freq="D").strftime("%Y-%m-%d"),
            "units": (30 + 8 * np.sin(2 * np.pi * days / 7)).round(1),
        }
    )
    (service.file_root / "wedged").mkdir(parents=True, exist_ok=True)
    history.to_csv(service.file_root / "wedged" / "units.csv", index=False)
    client.create_auto_ml_job_v2(
        AutoMLJobName="wedged-forecast",
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("wedged")}}}
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("output")},
        AutoMLProblemTypeConfig={
            "TimeSeriesForecastingJobConfig": {
                "ForecastFrequency": "D",
                "ForecastHorizon": 7,
                "TimeSeriesConfig": {
                    "TargetAttributeName": "units",
                    "TimestampAttributeName": "date",
                    "ItemIdentifierAttributeName": "sku",
                },
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets"]}]},
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 45},
            }
        },
    )
    job = service.wait_for_status("wedged-forecast", timeout=300)

    assert (job["AutoMLJobStatus"], job["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxAutoMLJobRuntimeReached"), (
        job.get("FailureReason")
    )
    assert any("was still in a fit" in r["PartialFailureMessage"] for r in job["PartialFailureReasons"])
    best = job["BestCandidate"]
    assert best["CandidateName"] == "wedged-forecast-SeasonalNaive-001"
    kept = json.loads((service.data_dir / "jobs" / "wedged-forecast" / "model" / "model.json").read_text())
    assert kept["best_candidate"] == best["CandidateName"]  # the job's own model, as if it had ended itself
    client.create_model(ModelName="wedged-model", ExecutionRoleArn=ROLE, Containers=best["InferenceContainers"])
    client.create_endpoint_config(
        EndpointConfigName="wedged-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "wedged-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="wedged-serving", EndpointConfigName="wedged-config")
    client.get_waiter("endpoint_in_service").wait(
        EndpointName="wedged-serving", WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    answer = service.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="wedged-serving", ContentType="text/csv", Accept="text/csv", Body=history.to_csv(index=False)
    )
    forecast = pd.read_csv(io.BytesIO(answer["Body"].read()))
    # The last week repeated.
    assert np.allclose(forecast["mean"], history["units"].iloc[-7:])
