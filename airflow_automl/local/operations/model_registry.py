"""The model registry: model package groups and model packages.

CreateModelPackageGroup, DescribeModelPackageGroup, ListModelPackageGroups,
DeleteModelPackageGroup; CreateModelPackage, DescribeModelPackage, ListModelPackages,
UpdateModelPackage, DeleteModelPackage. A package made in a group is its next version
(``arn:...:model-package/<group>/<version>``); one made with ``ModelPackageName`` is unversioned.
A package records its ``InferenceSpecification`` as given; CreateModel serves a package's
containers (``ModelPackageName`` in the container) when they are an AutoML candidate's and, for
a versioned package, once it is Approved, as SageMaker deploys only approved versions.
"""

from __future__ import annotations

import re

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import Operations, list_query
from airflow_automl.local.operations.tags import MAX_TAGS_PER_RESOURCE
from airflow_automl.local.store import (
    GroupNameInUse,
    GroupNotFound,
    ModelPackageGroupRecord,
    ModelPackageRecord,
    PackageNameInUse,
)
from airflow_automl.local.store.model_registry import package_key

DEFAULT_LIST_MAX_RESULTS = 10
DEFAULT_APPROVAL_STATUS = "PendingManualApproval"
# What UpdateModelPackage changes on the local service; the other members are refused.
UPDATABLE_MEMBERS = (
    "ModelApprovalStatus",
    "ApprovalDescription",
    "CustomerMetadataProperties",
    "CustomerMetadataPropertiesToRemove",
    "ClientToken",
)
# "<name>" or "<name>/<version>", optionally after "arn:<partition>:sagemaker:<region>:<account>:<resource>/".
_ARN_OR_NAME = re.compile(
    r"(?:arn:aws[a-z\-]*:sagemaker:(?P<region>[a-z0-9\-]*):(?P<account>[0-9]{12}):(?P<resource>[a-z\-]*)/)?"
    r"(?P<name>[a-zA-Z0-9](?:[a-zA-Z0-9-]){0,62})(?:/(?P<version>[0-9]{1,9}))?"
)


def _package_summary(record: ModelPackageRecord) -> dict:
    return {
        "ModelPackageName": record.name,
        "ModelPackageGroupName": record.group_name,
        "ModelPackageVersion": record.version,
        "ModelPackageArn": record.arn,
        "ModelPackageDescription": record.request.get("ModelPackageDescription"),
        "CreationTime": record.creation_time,
        "ModelPackageStatus": "Completed",
        "ModelApprovalStatus": record.approval_status,
    }


class ModelRegistryOperations(Operations):
    # -- names and ARNs --------------------------------------------------------------------

    def _parse_arn_or_name(self, value: str, member: str, resource: str) -> tuple[str, int | None]:
        """(name, version) of a name, ``name/version`` or an ARN of this service's resource kind."""
        match = _ARN_OR_NAME.fullmatch(value)
        if match is None:
            raise ValidationException(f"{member}: {value!r} is neither a name nor an ARN of a {resource}")
        if match["resource"] is not None and (
            match["resource"] != resource
            or match["region"] != self.config.region
            or match["account"] != self.config.account_id
        ):
            raise ValidationException(
                f"{member}: {value!r} is not a {resource} ARN of this service "
                f"(arn:aws:sagemaker:{self.config.region}:{self.config.account_id}:{resource}/...)"
            )
        return match["name"], int(match["version"]) if match["version"] else None

    def model_package_group_record(self, value: str, member: str = "ModelPackageGroupName") -> ModelPackageGroupRecord:
        name, version = self._parse_arn_or_name(value, member, "model-package-group")
        record = None if version is not None else self.store.model_registry.group(name)
        if record is None:
            raise ValidationException(
                f"{member}: ModelPackageGroup {self.config.arn('model-package-group', name)} does not exist."
            )
        return record

    def model_package_record(self, value: str, member: str = "ModelPackageName") -> ModelPackageRecord:
        name, version = self._parse_arn_or_name(value, member, "model-package")
        record = self.store.model_registry.package(package_key(name, version))
        if record is None:
            raise ValidationException(
                f"{member}: ModelPackage {self.config.arn('model-package', package_key(name, version))} does not exist."
            )
        return record

    # -- groups ----------------------------------------------------------------------------

    def create_model_package_group(self, request: dict) -> dict:
        name = request["ModelPackageGroupName"]
        arn = self.config.arn("model-package-group", name)
        try:
            self.store.model_registry.create_group(name=name, arn=arn, request=request)
        except GroupNameInUse as error:
            # The Amazon provider's hook recognises an existing group by this message's start.
            raise ValidationException(f"Model Package Group already exists: {arn}") from error
        if request.get("Tags"):
            self.store.tags.add(arn, request["Tags"], max_tags=MAX_TAGS_PER_RESOURCE)
        return {"ModelPackageGroupArn": arn}

    def describe_model_package_group(self, request: dict) -> dict:
        record = self.model_package_group_record(request["ModelPackageGroupName"])
        return {
            "ModelPackageGroupName": record.name,
            "ModelPackageGroupArn": record.arn,
            "ModelPackageGroupDescription": record.request.get("ModelPackageGroupDescription"),
            "ManagedConfiguration": record.request.get("ManagedConfiguration"),
            "CreationTime": record.creation_time,
            "CreatedBy": {},
            "ModelPackageGroupStatus": "Completed",
        }

    def list_model_package_groups(self, request: dict) -> dict:
        if request.get("CrossAccountFilterOption") == "CrossAccount":
            # The local service is one account: no group is shared with it by another.
            return {"ModelPackageGroupSummaryList": []}
        query = list_query(
            "ListModelPackageGroups",
            request,
            sort_by="CreationTime",
            sort_order="Ascending",
            max_results=DEFAULT_LIST_MAX_RESULTS,
        )
        page = self.store.model_registry.group_page(query)
        groups = [
            {
                "ModelPackageGroupName": group.name,
                "ModelPackageGroupArn": group.arn,
                "ModelPackageGroupDescription": group.request.get("ModelPackageGroupDescription"),
                "CreationTime": group.creation_time,
                "ModelPackageGroupStatus": "Completed",
            }
            for group in page.rows
        ]
        return {"ModelPackageGroupSummaryList": groups, "NextToken": page.next_token}

    def delete_model_package_group(self, request: dict) -> dict:
        record = self.model_package_group_record(request["ModelPackageGroupName"])
        held = self.store.model_registry.delete_group(record.name)
        if held:
            raise ValidationException(
                f"ModelPackageGroupName: {record.arn} still holds {held} model package(s); delete them "
                "(DeleteModelPackage) before the group"
            )
        self.store.tags.delete_all(record.arn)
        return {}

    # -- packages --------------------------------------------------------------------------

    def create_model_package(self, request: dict) -> dict:
        unversioned_name, group_member = request.get("ModelPackageName"), request.get("ModelPackageGroupName")
        if unversioned_name and group_member:
            raise ValidationException(
                "ModelPackageName: give ModelPackageGroupName for a new version of a group, or ModelPackageName "
                "for an unversioned package, not both"
            )
        if not unversioned_name and not group_member:
            raise ValidationException(
                "ModelPackageGroupName: required (or ModelPackageName, for an unversioned package)"
            )
        approval = request.get("ModelApprovalStatus")
        if unversioned_name and approval:
            raise ValidationException("ModelApprovalStatus: applies to versioned packages (ModelPackageGroupName) only")
        group_name = self.model_package_group_record(group_member).name if group_member else None
        name = group_name or unversioned_name
        try:
            record = self.store.model_registry.create_package(
                name=name,
                group_name=group_name,
                arn_of=lambda key: self.config.arn("model-package", key),
                request=request,
                approval_status=(approval or DEFAULT_APPROVAL_STATUS) if group_name else None,
                client_token=request.get("ClientToken"),
            )
        except GroupNotFound as error:  # deleted since the check above
            raise ValidationException(
                f"ModelPackageGroupName: ModelPackageGroup {self.config.arn('model-package-group', name)} does not exist."
            ) from error
        except PackageNameInUse as error:
            raise ValidationException(
                f"ModelPackageName: model package {self.config.arn('model-package', name)} already exists"
            ) from error
        if request.get("Tags"):
            self.store.tags.add(record.arn, request["Tags"], max_tags=MAX_TAGS_PER_RESOURCE)
        return {"ModelPackageArn": record.arn}

    def describe_model_package(self, request: dict) -> dict:
        record = self.model_package_record(request["ModelPackageName"])
        described = {key: value for key, value in record.request.items() if key not in ("Tags", "ClientToken")}
        return {
            **described,
            **_package_summary(record),
            "ModelPackageStatusDetails": {"ValidationStatuses": [], "ImageScanStatuses": []},
            "ApprovalDescription": record.approval_description,
            "CustomerMetadataProperties": record.customer_metadata,
            "LastModifiedTime": record.last_modified_time,
            "CreatedBy": {},
        }

    def list_model_packages(self, request: dict) -> dict:
        query = list_query(
            "ListModelPackages",
            request,
            sort_by="CreationTime",
            sort_order="Ascending",
            max_results=DEFAULT_LIST_MAX_RESULTS,
        )
        group_name = None
        if request.get("ModelPackageGroupName"):
            # A group that does not exist holds no versions; SageMaker lists none rather than failing.
            name, _ = self._parse_arn_or_name(
                request["ModelPackageGroupName"], "ModelPackageGroupName", "model-package-group"
            )
            group_name = name
        # SageMaker's default kind is Unversioned; a group filter lists that group's versions.
        kind = request.get("ModelPackageType") or "Unversioned"
        versioned = {"Versioned": True, "Unversioned": False, "Both": None}[kind]
        page = self.store.model_registry.package_page(
            query, group_name=group_name, versioned=versioned, approval_status=request.get("ModelApprovalStatus")
        )
        return {"ModelPackageSummaryList": [_package_summary(r) for r in page.rows], "NextToken": page.next_token}

    def update_model_package(self, request: dict) -> dict:
        record = self.model_package_record(request["ModelPackageArn"], "ModelPackageArn")
        refused = sorted(key for key in request if key not in (*UPDATABLE_MEMBERS, "ModelPackageArn"))
        if refused:
            raise ValidationException(
                f"{refused[0]}: the local service updates {', '.join(UPDATABLE_MEMBERS[:-1])} only; "
                "register a new version for other changes"
            )
        if record.version is None and (request.get("ModelApprovalStatus") or "ApprovalDescription" in request):
            raise ValidationException(
                f"ModelApprovalStatus: applies to versioned packages only; {record.arn} is an unversioned package"
            )
        updated = self.store.model_registry.update_package(
            record.key,
            approval_status=request.get("ModelApprovalStatus"),
            approval_description=request.get("ApprovalDescription"),
            metadata_to_add=request.get("CustomerMetadataProperties"),
            metadata_to_remove=request.get("CustomerMetadataPropertiesToRemove") or [],
        )
        if updated is None:  # deleted since it was read
            raise ValidationException(f"ModelPackageArn: ModelPackage {record.arn} does not exist.")
        return {"ModelPackageArn": updated.arn}

    def delete_model_package(self, request: dict) -> dict:
        record = self.model_package_record(request["ModelPackageName"])
        self.store.model_registry.delete_package(record.key)
        self.store.tags.delete_all(record.arn)
        return {}

    # -- what CreateModel serves -----------------------------------------------------------

    def package_containers(self, value: str, where: str) -> list[dict]:
        """The containers a model made from package ``value`` serves; refused unless deployable."""
        record = self.model_package_record(value, f"{where}.ModelPackageName")
        if record.version is not None and record.approval_status != "Approved":
            raise ValidationException(
                f"{where}.ModelPackageName: {record.arn} is {record.approval_status}; only an Approved model "
                "package version can be deployed (UpdateModelPackage with ModelApprovalStatus=Approved)"
            )
        containers = (record.request.get("InferenceSpecification") or {}).get("Containers") or []
        if not containers:
            raise ValidationException(f"{where}.ModelPackageName: {record.arn} has no InferenceSpecification to serve")
        return containers
