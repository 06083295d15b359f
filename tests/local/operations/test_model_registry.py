"""The model registry on the local service: groups, versioned packages with metrics and metadata,
approval through UpdateModelPackage, listing by group and approval status in pages, CreateModel
from an approved package serving the candidate's model, all kept across a restart; and the Amazon
provider's SageMakerRegisterModelVersionOperator, unchanged, registering a job's best model."""

from __future__ import annotations

import os
from unittest import mock

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
PREFIX = "arn:aws:sagemaker:us-east-1:123456789012"


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("registry"), engine=SCRIPTED_ENGINE)
    try:
        for name in ("first-job", "second-job"):
            service.client().create_auto_ml_job(
                AutoMLJobName=name,
                RoleArn=ROLE,
                InputDataConfig=[
                    {
                        "DataSource": {
                            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train.csv")}
                        },
                        "TargetAttributeName": "y",
                    }
                ],
                OutputDataConfig={"S3OutputPath": service.file_uri("out")},
            )
        for name in ("first-job", "second-job"):
            assert service.wait_for_status(name)["AutoMLJobStatus"] == "Completed"
        yield service
    finally:
        service.stop()


def containers(service, job_name: str) -> list[dict]:
    return service.client().describe_auto_ml_job(AutoMLJobName=job_name)["BestCandidate"]["InferenceContainers"]


def error_of(call) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value.response["Error"]["Code"], caught.value.response["Error"]["Message"]


def register(client, group: str, spec_containers: list[dict], **extra) -> str:
    return client.create_model_package(
        ModelPackageGroupName=group,
        InferenceSpecification={
            "Containers": spec_containers,
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
        **extra,
    )["ModelPackageArn"]


def test_versions_approval_listing_and_a_model_from_a_package_survive_a_restart(service):
    client = service.client()
    group_arn = client.create_model_package_group(
        ModelPackageGroupName="churn",
        ModelPackageGroupDescription="churn models",
        Tags=[{"Key": "team", "Value": "ml"}],
    )["ModelPackageGroupArn"]
    assert group_arn == f"{PREFIX}:model-package-group/churn"
    code, message = error_of(lambda: client.create_model_package_group(ModelPackageGroupName="churn"))
    assert (code, message) == ("ValidationException", f"Model Package Group already exists: {group_arn}")

    first = register(
        client,
        "churn",
        containers(service, "first-job"),
        ModelPackageDescription="first",
        CustomerMetadataProperties={"holdout_auc": "0.81"},
        ModelMetrics={
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": service.file_uri("metrics/first.json")}
            }
        },
    )
    second = register(
        client,
        f"{PREFIX}:model-package-group/churn",
        containers(service, "second-job"),
        ModelApprovalStatus="Approved",
        ModelPackageDescription="second",
    )
    assert (first, second) == (f"{PREFIX}:model-package/churn/1", f"{PREFIX}:model-package/churn/2")

    described = client.describe_model_package(ModelPackageName=first)
    assert described["ModelPackageVersion"] == 1 and described["ModelPackageGroupName"] == "churn"
    assert described["ModelApprovalStatus"] == "PendingManualApproval"
    assert described["ModelPackageStatus"] == "Completed"
    assert described["CustomerMetadataProperties"] == {"holdout_auc": "0.81"}
    assert described["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"].endswith("metrics/first.json")
    assert described["InferenceSpecification"]["Containers"] == containers(service, "first-job")

    # A pending version cannot be deployed; once rejected it still cannot.
    code, message = error_of(
        lambda: client.create_model(
            ModelName="from-first", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": first}
        )
    )
    assert code == "ValidationException" and "PendingManualApproval" in message and "Approved" in message
    client.update_model_package(
        ModelPackageArn=first,
        ModelApprovalStatus="Rejected",
        ApprovalDescription="holdout AUC 0.81 does not beat 0.83 by 0.01",
    )
    rejected = client.describe_model_package(ModelPackageName=first)
    assert rejected["ModelApprovalStatus"] == "Rejected"
    assert rejected["ApprovalDescription"] == "holdout AUC 0.81 does not beat 0.83 by 0.01"
    assert rejected["LastModifiedTime"] >= rejected["CreationTime"]

    # Listing: by group and approval status, newest first, one per page.
    pages = client.get_paginator("list_model_packages").paginate(
        ModelPackageGroupName="churn", SortOrder="Descending", PaginationConfig={"PageSize": 1}
    )
    listed = [
        (p["ModelPackageArn"], p["ModelApprovalStatus"]) for page in pages for p in page["ModelPackageSummaryList"]
    ]
    assert listed == [(second, "Approved"), (first, "Rejected")]
    approved = client.list_model_packages(ModelPackageGroupName="churn", ModelApprovalStatus="Approved")
    assert [p["ModelPackageArn"] for p in approved["ModelPackageSummaryList"]] == [second]
    # Without a group, SageMaker lists unversioned packages unless asked for versioned ones.
    assert client.list_model_packages()["ModelPackageSummaryList"] == []
    assert len(client.list_model_packages(ModelPackageType="Versioned")["ModelPackageSummaryList"]) == 2

    # CreateModel from the approved version serves the second job's model.
    client.create_model(ModelName="from-second", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": second})
    client.create_endpoint_config(
        EndpointConfigName="from-second",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "from-second",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="registry-endpoint", EndpointConfigName="from-second")
    client.get_waiter("endpoint_in_service").wait(
        EndpointName="registry-endpoint", WaiterConfig={"Delay": 0.2, "MaxAttempts": 150}
    )
    answer = service.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="registry-endpoint", ContentType="text/csv", Body=b"2\n-1\n"
    )
    assert answer["Body"].read().decode().split() == ["1", "0"]

    service.restart()
    client = service.client()
    assert client.describe_model_package(ModelPackageName="churn/1")["ModelApprovalStatus"] == "Rejected"
    assert client.describe_model_package_group(ModelPackageGroupName="churn")["ModelPackageGroupStatus"] == "Completed"
    assert client.list_tags(ResourceArn=group_arn)["Tags"] == [{"Key": "team", "Value": "ml"}]
    # Version numbers continue after a restart, and after a delete they are not given again.
    client.delete_model_package(ModelPackageName=second)
    assert register(client, "churn", containers(service, "second-job")) == f"{PREFIX}:model-package/churn/3"
    code, message = error_of(lambda: client.delete_model_package_group(ModelPackageGroupName="churn"))
    assert code == "ValidationException" and "still holds 2 model package(s)" in message
    assert client.describe_model(ModelName="from-second")["PrimaryContainer"] == {"ModelPackageName": second}


def test_bad_registry_requests_name_the_member_and_the_service_keeps_serving(service):
    client = service.client()
    client.create_model_package_group(ModelPackageGroupName="rules")
    code, message = error_of(
        lambda: client.create_model_package(
            ModelPackageGroupName="no-such-group",
            InferenceSpecification={"Containers": containers(service, "first-job")},
        )
    )
    assert (
        code == "ValidationException" and message.startswith("ModelPackageGroupName:") and "does not exist" in message
    )
    code, message = error_of(
        lambda: client.create_model_package(ModelPackageName="loose", ModelPackageGroupName="rules")
    )
    assert code == "ValidationException" and "not both" in message
    code, message = error_of(
        lambda: client.create_model_package(ModelPackageName="loose", ModelApprovalStatus="Approved")
    )
    assert code == "ValidationException" and message.startswith("ModelApprovalStatus:")
    code, message = error_of(lambda: client.describe_model_package(ModelPackageName="rules/99"))
    assert code == "ValidationException" and f"{PREFIX}:model-package/rules/99 does not exist" in message
    code, message = error_of(
        lambda: client.describe_model_package_group(
            ModelPackageGroupName="arn:aws:sagemaker:eu-west-1:123456789012:model-package-group/rules"
        )
    )
    assert code == "ValidationException" and "not a model-package-group ARN of this service" in message
    arn = register(
        client,
        "rules",
        [{"Image": "example.com/other:1", "ModelDataUrl": "s3://bucket/elsewhere.tar.gz"}],
        ModelApprovalStatus="Approved",
    )
    code, message = error_of(lambda: client.update_model_package(ModelPackageArn=arn, SourceUri="s3://bucket/x"))
    assert code == "ValidationException" and message.startswith("SourceUri:")
    # Registered, but not a model this service can serve: refused at CreateModel, naming the container.
    code, message = error_of(
        lambda: client.create_model(
            ModelName="elsewhere", ExecutionRoleArn=ROLE, Containers=[{"ModelPackageName": arn}]
        )
    )
    assert code == "ValidationException" and message.startswith("Containers[0].ModelPackageName.ModelDataUrl:")
    # A retried create with the same ClientToken makes no second version.
    token_arn = register(client, "rules", containers(service, "first-job"), ClientToken="retry-1")
    assert register(client, "rules", containers(service, "first-job"), ClientToken="retry-1") == token_arn
    assert len(client.list_model_packages(ModelPackageGroupName="rules")["ModelPackageSummaryList"]) == 2
    # Regression: the token with another body (another group, even) returned the first package.
    client.create_model_package_group(ModelPackageGroupName="second-group")
    code, message = error_of(
        lambda: register(client, "second-group", containers(service, "first-job"), ClientToken="retry-1")
    )
    assert code == "ValidationException" and message.startswith("ClientToken: 'retry-1' already made")
    assert token_arn in message and "differs in ModelPackageGroupName" in message
    assert client.list_model_packages(ModelPackageGroupName="second-group")["ModelPackageSummaryList"] == []
    code, message = error_of(
        lambda: register(
            client, "rules", containers(service, "first-job"), ClientToken="retry-1", ModelApprovalStatus="Approved"
        )
    )
    assert code == "ValidationException" and "differs in ModelApprovalStatus" in message
    groups = client.list_model_package_groups(NameContains="rul")["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["rules"]
    assert client.describe_model_package_group(ModelPackageGroupName="rules")["ModelPackageGroupName"] == "rules"


def test_provider_register_model_version_operator_registers_a_jobs_best_model(service, dag_file):
    module = dag_file(
        "register_dag",
        f"""
        from datetime import datetime, timezone
        from airflow.sdk import DAG
        from airflow.providers.amazon.aws.operators.sagemaker import SageMakerRegisterModelVersionOperator
        from airflow.providers.amazon.aws.utils.sagemaker import ApprovalStatus

        with DAG("register_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)) as dag:
            first = SageMakerRegisterModelVersionOperator(
                task_id="register_first", image_uri={containers(service, "first-job")[0]["Image"]!r},
                model_url={containers(service, "first-job")[0]["ModelDataUrl"]!r},
                package_group_name="provider-group", package_desc="first",
            )
            second = SageMakerRegisterModelVersionOperator(
                task_id="register_second", image_uri="ignored", model_url="s3://ignored/model.tar.gz",
                package_group_name="provider-group", model_approval=ApprovalStatus.APPROVED,
                extras={{"InferenceSpecification": {{"Containers": {containers(service, "second-job")!r}}},
                         "CustomerMetadataProperties": {{"holdout_auc": "0.9"}}}},
            )
            first >> second
        """,
    )
    with mock.patch.dict(os.environ, aws_connection_env("aws_default", service.endpoint_url)):
        run = module.dag.test()
    assert set(task_states(run).values()) == {"success"}, task_states(run)
    assert xcom_value(run, "register_first") == f"{PREFIX}:model-package/provider-group/1"
    assert xcom_value(run, "register_second") == f"{PREFIX}:model-package/provider-group/2"
    client = service.client()
    second = client.describe_model_package(ModelPackageName=xcom_value(run, "register_second"))
    assert second["ModelApprovalStatus"] == "Approved"
    assert second["InferenceSpecification"]["Containers"] == containers(service, "second-job")
    assert second["CustomerMetadataProperties"] == {"holdout_auc": "0.9"}
    first = client.describe_model_package(ModelPackageName=xcom_value(run, "register_first"))
    assert first["ModelApprovalStatus"] == "PendingManualApproval"
