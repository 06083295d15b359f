"""Search over what the service holds: the filter operators, nested filters, sub-expressions,
sorting and pages SageMaker documents, each result in botocore's SearchRecord shape."""

from __future__ import annotations

import datetime

import pytest

from airflow_automl.local.errors import ValidationException
from tests.local.operations.test_candidate_steps import answer, service  # noqa: F401 - the fixture

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/autogluon-inference:1.4-cpu-py311"


@pytest.fixture
def registry(service):  # noqa: F811 - the imported fixture
    for group, tags in (("churn-models", [{"Key": "team", "Value": "retention"}]), ("demand-models", [])):
        service.create_model_package_group({"ModelPackageGroupName": group, "Tags": tags})
    for group, url in (("churn-models", "s3://bucket/a.tar.gz"), ("churn-models", "s3://bucket/b.tar.gz")):
        service.create_model_package(
            {
                "ModelPackageGroupName": group,
                "InferenceSpecification": {
                    "Containers": [{"Image": IMAGE, "ModelDataUrl": url}],
                    "SupportedContentTypes": ["text/csv"],
                    "SupportedResponseMIMETypes": ["text/csv"],
                },
            }
        )
    return service


def names(result: dict, member: str, field: str) -> list[str]:
    return [record[member][field] for record in result["Results"]]


def search(service, **request) -> dict:  # noqa: F811
    return answer(service, "Search", request)


def test_the_sdks_model_package_group_lookup_finds_exactly_the_group(registry):
    found = search(
        registry,
        Resource="ModelPackageGroup",
        SearchExpression={
            "Filters": [{"Name": "ModelPackageGroupName", "Value": "churn-models", "Operator": "Equals"}]
        },
    )
    assert names(found, "ModelPackageGroup", "ModelPackageGroupName") == ["churn-models"]
    assert found["Results"][0]["ModelPackageGroup"]["Tags"] == [{"Key": "team", "Value": "retention"}]
    missing = search(
        registry,
        Resource="ModelPackageGroup",
        SearchExpression={"Filters": [{"Name": "ModelPackageGroupName", "Value": "churn"}]},
    )
    assert missing["Results"] == []


def test_operators_tags_contains_in_and_existence(registry):
    def groups(*filters, operator=None):
        expression = {"Filters": list(filters), **({"Operator": operator} if operator else {})}
        found = search(
            registry,
            Resource="ModelPackageGroup",
            SearchExpression=expression,
            SortBy="ModelPackageGroupName",
            SortOrder="Ascending",
        )
        return names(found, "ModelPackageGroup", "ModelPackageGroupName")

    assert groups({"Name": "Tags.team", "Value": "retention"}) == ["churn-models"]
    assert groups({"Name": "Tags.team", "Operator": "Exists"}) == ["churn-models"]
    assert groups({"Name": "Tags.team", "Operator": "NotExists"}) == ["demand-models"]
    assert groups({"Name": "ModelPackageGroupName", "Operator": "Contains", "Value": "DEMAND"}) == ["demand-models"]
    assert groups({"Name": "ModelPackageGroupName", "Operator": "In", "Value": "x, demand-models"}) == ["demand-models"]
    assert groups({"Name": "ModelPackageGroupName", "Operator": "NotEquals", "Value": "churn-models"}) == [
        "demand-models"
    ]
    assert groups(
        {"Name": "ModelPackageGroupName", "Value": "churn-models"},
        {"Name": "ModelPackageGroupName", "Value": "demand-models"},
        operator="Or",
    ) == ["churn-models", "demand-models"]
    tomorrow = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=1)).isoformat()
    assert groups({"Name": "CreationTime", "Operator": "LessThan", "Value": tomorrow}) == [
        "churn-models",
        "demand-models",
    ]
    assert groups({"Name": "CreationTime", "Operator": "GreaterThan", "Value": tomorrow}) == []


def test_model_packages_by_a_containers_property_sorted_and_paged(registry):
    expression = {"Filters": [{"Name": "InferenceSpecification.Containers.Image", "Value": IMAGE}]}
    everything = search(registry, Resource="ModelPackage", SearchExpression=expression, SortBy="ModelPackageVersion")
    assert [r["ModelPackage"]["ModelPackageVersion"] for r in everything["Results"]] == [2, 1]
    pages, token = [], None
    while True:
        request = {
            "Resource": "ModelPackage",
            "SearchExpression": expression,
            "SortBy": "ModelPackageVersion",
            "SortOrder": "Ascending",
            "MaxResults": 1,
        }
        page = search(registry, **request, **({"NextToken": token} if token else {}))
        pages += [r["ModelPackage"]["ModelPackageVersion"] for r in page["Results"]]
        token = page.get("NextToken")
        if not token:
            break
    assert pages == [1, 2]


def test_training_jobs_by_metric_hyperparameter_and_nested_channel(registry):
    def jobs(expression, **extra):
        found = search(
            registry,
            Resource="TrainingJob",
            SearchExpression=expression,
            SortBy="TrainingJobName",
            SortOrder="Ascending",
            **extra,
        )
        return names(found, "TrainingJob", "TrainingJobName")

    assert jobs(
        {"Filters": [{"Name": "Metrics.validation:AUC", "Operator": "GreaterThanOrEqualTo", "Value": "0.8"}]}
    ) == [
        "steps-a-xgboost-001",
        "steps-a-xgboost-002",
    ]
    assert jobs({"Filters": [{"Name": "HyperParameters.max_depth", "Value": "6"}]}) == [
        "steps-a-xgboost-001",
        "steps-a-xgboost-002",
        "steps-b-linear-learner-001",
    ]
    nested = {
        "NestedFilters": [
            {
                "NestedPropertyName": "InputDataConfig",
                "Filters": [
                    {"Name": "InputDataConfig.ChannelName", "Value": "validation"},
                    {
                        "Name": "InputDataConfig.DataSource.S3DataSource.S3Uri",
                        "Operator": "Contains",
                        "Value": "steps-b",
                    },
                ],
            }
        ]
    }
    assert jobs(nested) == ["steps-b-linear-learner-001"]
    either = {
        "SubExpressions": [
            {"Filters": [{"Name": "TrainingJobName", "Operator": "Contains", "Value": "linear"}]},
            {"Filters": [{"Name": "Metrics.validation:AUC", "Operator": "GreaterThan", "Value": "0.85"}]},
        ],
        "Operator": "Or",
    }
    assert jobs(either) == ["steps-a-xgboost-002", "steps-b-linear-learner-001"]


def test_resources_the_service_does_not_hold_find_nothing_and_bad_filters_are_refused(registry):
    assert search(registry, Resource="Experiment")["Results"] == []
    with pytest.raises(ValidationException, match="CreationTime.* is a number or a time"):
        search(
            registry,
            Resource="ModelPackageGroup",
            SearchExpression={"Filters": [{"Name": "CreationTime", "Operator": "GreaterThan", "Value": "soon"}]},
        )
    with pytest.raises(ValidationException, match="must name a property of 'InputDataConfig'"):
        search(
            registry,
            Resource="TrainingJob",
            SearchExpression={
                "NestedFilters": [
                    {"NestedPropertyName": "InputDataConfig", "Filters": [{"Name": "ChannelName", "Value": "x"}]}
                ]
            },
        )
