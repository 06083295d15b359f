"""What every resource family's operations share, called in process over a real store: a missing
resource answered in the family's own words, List summaries in botocore's shapes, a create that
writes its tags with the resource, and lookups of other families declared, not assumed."""

from __future__ import annotations

import inspect

import pytest

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.errors import ResourceLimitExceeded, ResourceNotFound, ValidationException
from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.operations.base import Operations
from airflow_automl.local.operations.service import SageMakerService
from airflow_automl.local.store import MAX_TAGS_PER_RESOURCE, ListQuery, Store

ARN = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture
def service(tmp_path):
    config = ServiceConfig(data_dir=tmp_path / "data")
    store = Store(config.db_path)
    yield SageMakerService(config, store)
    store.close()


def wire(answer: dict) -> dict:
    """An answer as the protocol layer sends it: members without a value are left out."""
    if isinstance(answer, dict):
        return {key: wire(value) for key, value in answer.items() if value is not None}
    if isinstance(answer, list):
        return [wire(item) for item in answer]
    return answer


def test_every_lookup_a_family_declares_is_provided_by_another_family():
    # The families' classes; Operations itself declares the state the service sets.
    families = [
        family for family in SageMakerService.__mro__[1:] if issubclass(family, Operations) and family is not Operations
    ]
    declared = {
        (family.__name__, name)
        for family in families
        for name, annotation in inspect.get_annotations(family).items()
        if "Callable" in str(annotation)
    }
    assert declared, "no family declares a lookup: the test checks nothing"
    for family_name, name in declared:
        providers = [f.__name__ for f in families if inspect.isfunction(f.__dict__.get(name))]
        assert providers and family_name not in providers, f"{family_name}.{name}: provided by {providers}"


def test_no_two_families_define_the_same_name():
    """SageMakerService combines the families' classes, so a name defined in two of them (a helper
    both call ``_in_use``, say) would silently be the first one's for both."""
    families = [family for family in SageMakerService.__mro__[1:] if issubclass(family, Operations)]
    owners: dict[str, list[str]] = {}
    for family in families:
        for name in vars(family):
            if not (name.startswith("__") and name.endswith("__")):
                owners.setdefault(name, []).append(family.__name__)
    assert {name: where for name, where in owners.items() if len(where) > 1} == {}


@pytest.mark.parametrize(
    ("operation", "request_", "error", "message"),
    [
        (
            "describe_auto_ml_job_v2",
            {"AutoMLJobName": "nope"},
            ResourceNotFound,
            "AutoMLJobName: no AutoML job named 'nope' exists",
        ),
        (
            "describe_transform_job",
            {"TransformJobName": "nope"},
            ValidationException,
            "Could not find requested job with name nope",
        ),
        (
            "stop_transform_job",
            {"TransformJobName": "nope"},
            ValidationException,
            "Could not find job to update with name nope",
        ),
        (
            "describe_model",
            {"ModelName": "Nope"},
            ValidationException,
            f'ModelName: could not find model "{ARN}:model/nope".',
        ),
        (
            "describe_endpoint_config",
            {"EndpointConfigName": "nope"},
            ValidationException,
            f'EndpointConfigName: could not find endpoint configuration "{ARN}:endpoint-config/nope".',
        ),
        (
            "describe_endpoint",
            {"EndpointName": "nope"},
            ValidationException,
            f'EndpointName: could not find endpoint "{ARN}:endpoint/nope".',
        ),
        (
            "describe_model_package_group",
            {"ModelPackageGroupName": "nope"},
            ValidationException,
            f"ModelPackageGroupName: ModelPackageGroup {ARN}:model-package-group/nope does not exist.",
        ),
        (
            "describe_model_package",
            {"ModelPackageName": "nope/3"},
            ValidationException,
            f"ModelPackageName: ModelPackage {ARN}:model-package/nope/3 does not exist.",
        ),
    ],
)
def test_a_missing_resource_is_answered_in_its_family_s_words(service, operation, request_, error, message):
    with pytest.raises(error) as raised:
        getattr(service, operation)(request_)
    assert type(raised.value) is error and raised.value.message == message


def test_a_taken_name_is_answered_in_its_family_s_words(service):
    store = service.store
    store.models.create(name="taken", arn=f"{ARN}:model/taken", request={}, job_name="j", candidate_name="c")
    store.endpoint_configs.create(name="taken", arn=f"{ARN}:endpoint-config/taken", request={})
    store.endpoints.create(
        name="taken",
        arn=f"{ARN}:endpoint/taken",
        endpoint_config_name="taken",
        variants=[{"JobName": "j", "CandidateName": "c"}],
    )
    for operation, member, resource, noun in (
        ("create_model", "ModelName", "model", "model"),
        ("create_endpoint_config", "EndpointConfigName", "endpoint-config", "endpoint configuration"),
        ("create_endpoint", "EndpointName", "endpoint", "endpoint"),
    ):
        with pytest.raises(ValidationException) as raised:
            getattr(service, operation)({member: "TAKEN"})
        assert raised.value.message == f'Cannot create already existing {noun} "{ARN}:{resource}/taken".'


def test_list_summaries_are_the_records_in_botocore_s_shapes(service):
    store = service.store
    spec = JobSpec(name="Job-A", api_version=2, channels=(), output_path="file:///out", target="y")
    job = store.jobs.create(spec=spec, arn=f"{ARN}:automl-job/job-a", request={}, max_active_jobs=5)
    assert wire(service.list_auto_ml_jobs({})) == {
        "AutoMLJobSummaries": [
            {
                "AutoMLJobName": "Job-A",
                "AutoMLJobArn": job.arn,
                "AutoMLJobStatus": "InProgress",
                "AutoMLJobSecondaryStatus": "Starting",
                "CreationTime": job.creation_time,
                "LastModifiedTime": job.last_modified_time,
            }
        ]
    }
    transform = store.transform_jobs.create(name="T", arn=f"{ARN}:transform-job/t", request={}, model_job_name="x")
    store.transform_jobs.claim("t", "run")
    store.transform_jobs.finish("t", "run", "Failed", "broken")
    transform = store.transform_jobs.get("t")
    assert wire(service.list_transform_jobs({})) == {
        "TransformJobSummaries": [
            {
                "TransformJobName": "T",
                "TransformJobArn": transform.arn,
                "CreationTime": transform.creation_time,
                "TransformEndTime": transform.end_time,
                "LastModifiedTime": transform.last_modified_time,
                "TransformJobStatus": "Failed",
                "FailureReason": "broken",
            }
        ]
    }
    group = store.model_package_groups.create(
        name="G", arn=f"{ARN}:model-package-group/g", request={"ModelPackageGroupDescription": "champions"}
    )
    assert wire(service.list_model_package_groups({})) == {
        "ModelPackageGroupSummaryList": [
            {
                "ModelPackageGroupName": "G",
                "ModelPackageGroupArn": group.arn,
                "ModelPackageGroupDescription": "champions",
                "CreationTime": group.creation_time,
                "ModelPackageGroupStatus": "Completed",
            }
        ]
    }
    package = store.model_packages.create(
        name="G",
        group_name="G",
        arn_of=lambda key: f"{ARN}:model-package/{key}",
        request={"ModelPackageGroupName": "G"},
        approval_status="PendingManualApproval",
        client_token=None,
    )
    assert wire(service.list_model_packages({"ModelPackageGroupName": "G"})) == {
        "ModelPackageSummaryList": [
            {
                "ModelPackageName": "G",
                "ModelPackageGroupName": "G",
                "ModelPackageVersion": 1,
                "ModelPackageArn": f"{ARN}:model-package/g/1",
                "CreationTime": package.creation_time,
                "ModelPackageStatus": "Completed",
                "ModelApprovalStatus": "PendingManualApproval",
            }
        ]
    }
    endpoint = store.endpoints.create(
        name="E", arn=f"{ARN}:endpoint/e", endpoint_config_name="c", variants=[{"JobName": "j", "CandidateName": "c"}]
    )
    assert wire(service.list_endpoints({})) == {
        "Endpoints": [
            {
                "EndpointName": "E",
                "EndpointArn": endpoint.arn,
                "CreationTime": endpoint.creation_time,
                "LastModifiedTime": endpoint.last_modified_time,
                "EndpointStatus": "Creating",
            }
        ]
    }


def test_a_create_writes_its_tags_with_the_resource_within_the_limit(service):
    group = {"ModelPackageGroupName": "tagged", "Tags": [{"Key": "team", "Value": "risk"}]}
    arn = service.create_model_package_group(group)["ModelPackageGroupArn"]
    assert service.list_tags({"ResourceArn": arn})["Tags"] == [{"Key": "team", "Value": "risk"}]
    service.delete_model_package_group({"ModelPackageGroupName": "tagged"})
    assert service.store.tags.page(arn, ListQuery(limit=100)).rows == []  # deleted with the group
    too_many = [{"Key": f"k{index}", "Value": ""} for index in range(MAX_TAGS_PER_RESOURCE + 1)]
    with pytest.raises(ResourceLimitExceeded, match=f"at most {MAX_TAGS_PER_RESOURCE} tags"):
        service.create_model_package_group({"ModelPackageGroupName": "crowded", "Tags": too_many})
    with pytest.raises(ValidationException, match="does not exist"):
        service.describe_model_package_group({"ModelPackageGroupName": "crowded"})
