"""The API version table: paths, operation names and the V1<->V2 request conversion."""

import pytest

from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.sagemaker import api_versions as apiversions
from airflow_automl.sagemaker.api_versions import V1, V2, convert_request
from airflow_automl.sagemaker.rules import validate_request
from tests.sagemaker.test_rules import full_v1, full_v2, minimal_v1, minimal_v2


def test_each_version_names_its_operations_and_client_methods():
    assert (V1.create_operation, V1.describe_operation) == ("CreateAutoMLJob", "DescribeAutoMLJob")
    assert (V2.create_method, V2.describe_method) == ("create_auto_ml_job_v2", "describe_auto_ml_job_v2")
    assert apiversions.by_create_operation("CreateAutoMLJobV2") is V2
    with pytest.raises(ValueError, match="DescribeAutoMLJob"):
        apiversions.by_create_operation("DescribeAutoMLJob")


def test_paths_follow_the_table():
    assert V1.path("mode") == "AutoMLJobConfig.Mode"
    assert V2.path("mode") == "AutoMLProblemTypeConfig.TabularJobConfig.Mode"
    assert V2.path("completion", "TimeSeriesForecastingJobConfig") == (
        "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig.CompletionCriteria"
    )
    with pytest.raises(KeyError, match="InputDataConfig"):
        V1.path("target")  # V1 names the target on each channel


@pytest.mark.parametrize("build", [minimal_v1, full_v1])
def test_a_v1_request_converted_to_v2_is_a_valid_request_for_the_same_job(build):
    request = build()
    converted = convert_request(request, V2)
    validate_request(V2.create_operation, converted)
    original, translated = (
        job_spec_from_request(V1.create_operation, request),
        job_spec_from_request(V2.create_operation, converted),
    )
    # The same job either way, but for the version that created it; V2 names one sample weight
    # column for every channel, where V1 may name it on the training channel alone.
    weighted = [{**channel, "sample_weight": original.sample_weight} for channel in original.to_dict()["channels"]]
    assert {**original.to_dict(), "api_version": 2, "channels": weighted} == translated.to_dict()


@pytest.mark.parametrize("build", [minimal_v2, full_v2])
def test_a_v2_request_survives_the_round_trip_through_v1(build):
    request = build()
    converted = convert_request(request, V1)
    validate_request(V1.create_operation, converted)
    assert all(
        channel["TargetAttributeName"] == "price" or channel["TargetAttributeName"] == "y"
        for channel in converted["InputDataConfig"]
    )
    assert convert_request(converted, V2) == request


def test_problem_type_of_a_description_resolved_first_then_requested():
    v1 = {"ProblemType": "Regression"}
    assert V1.problem_type(v1) == "Regression"
    assert V1.problem_type({**v1, "ResolvedAttributes": {"ProblemType": "BinaryClassification"}}) == (
        "BinaryClassification"
    )
    v2 = {"AutoMLProblemTypeConfig": {"TabularJobConfig": {"ProblemType": "Regression"}}}
    assert V2.problem_type(v2) == "Regression"
    resolved = apiversions.resolved_attributes_v2({"ProblemType": "MulticlassClassification"})
    assert V2.problem_type({**v2, "ResolvedAttributes": resolved}) == "MulticlassClassification"
    assert V2.problem_type({}) is None
