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
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed, summary
from airflow_automl.local.store import ClientTokenReused, GroupNotFound, ModelPackageGroupRecord, ModelPackageRecord
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


GROUP_NOT_FOUND = NotFound(ValidationException, "{member}: ModelPackageGroup {arn} does not exist.")
PACKAGE_NOT_FOUND = NotFound(ValidationException, "{member}: ModelPackage {arn} does not exist.")
# The prefixes of summary members named after the family (ModelPackageArn, ModelApprovalStatus).
GROUP_PREFIXES = ("ModelPackageGroup",)
PACKAGE_PREFIXES = ("ModelPackage", "Model")


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
        record = None if version is not None else self.store.model_package_groups.get(name)
        return found(record, GROUP_NOT_FOUND, member=member, arn=self.config.arn("model-package-group", name))

    def model_package_record(self, value: str, member: str = "ModelPackageName") -> ModelPackageRecord:
        name, version = self._parse_arn_or_name(value, member, "model-package")
        key = package_key(name, version)
        return found(
            self.store.model_packages.get(key),
            PACKAGE_NOT_FOUND,
            member=member,
            arn=self.config.arn("model-package", key),
        )

    # -- groups ----------------------------------------------------------------------------

    def create_model_package_group(self, request: dict) -> dict:
        name = request["ModelPackageGroupName"]
        arn = self.config.arn("model-package-group", name)
        # The Amazon provider's hook recognises an existing group by this message's start.
        with creating(lambda _: ValidationException(f"Model Package Group already exists: {arn}")):
            self.store.model_package_groups.create(name=name, arn=arn, request=request, tags=request.get("Tags") or ())
        return {"ModelPackageGroupArn": arn}

    def describe_model_package_group(self, request: dict) -> dict:
        record = self.model_package_group_record(request["ModelPackageGroupName"])
        return {**summary("ListModelPackageGroups", record, *GROUP_PREFIXES), "CreatedBy": {}}

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
        return listed("ListModelPackageGroups", self.store.model_package_groups.page(query), *GROUP_PREFIXES)

    def delete_model_package_group(self, request: dict) -> dict:
        record = self.model_package_group_record(request["ModelPackageGroupName"])
        held = self.store.model_package_groups.delete_empty(record.name)
        if held:
            raise ValidationException(
                f"ModelPackageGroupName: {record.arn} still holds {held} model package(s); delete them "
                "(DeleteModelPackage) before the group"
            )
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
        assert isinstance(name, str)  # one of the two is required above
        try:
            with creating(
                lambda taken: ValidationException(
                    f"ModelPackageName: model package {self.config.arn('model-package', taken)} already exists"
                )
            ):
                record = self.store.model_packages.create(
                    name=name,
                    group_name=group_name,
                    arn_of=lambda key: self.config.arn("model-package", key),
                    request=request,
                    approval_status=(approval or DEFAULT_APPROVAL_STATUS) if group_name else None,
                    client_token=request.get("ClientToken"),
                    tags=request.get("Tags") or (),
                )
        except GroupNotFound as error:  # deleted since the check above
            raise GROUP_NOT_FOUND(
                member="ModelPackageGroupName", arn=self.config.arn("model-package-group", name)
            ) from error
        except ClientTokenReused as error:
            made, differing = error.args
            raise ValidationException(
                f"ClientToken: {request['ClientToken']!r} already made {made.arn} from a request that differs in "
                f"{', '.join(differing)}; a retry must repeat the request as it was, a new package needs a new "
                "ClientToken"
            ) from error
        return {"ModelPackageArn": record.arn}

    def describe_model_package(self, request: dict) -> dict:
        record = self.model_package_record(request["ModelPackageName"])
        described = {key: value for key, value in record.request.items() if key not in ("Tags", "ClientToken")}
        return {
            **described,
            **summary("ListModelPackages", record, *PACKAGE_PREFIXES),
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
        page = self.store.model_packages.filtered_page(
            query, group_name=group_name, versioned=versioned, approval_status=request.get("ModelApprovalStatus")
        )
        return listed("ListModelPackages", page, *PACKAGE_PREFIXES)

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
        updated = self.store.model_packages.update(
            record.key,
            approval_status=request.get("ModelApprovalStatus"),
            approval_description=request.get("ApprovalDescription"),
            metadata_to_add=request.get("CustomerMetadataProperties"),
            metadata_to_remove=request.get("CustomerMetadataPropertiesToRemove") or [],
        )
        updated = found(updated, PACKAGE_NOT_FOUND, member="ModelPackageArn", arn=record.arn)  # deleted since read
        return {"ModelPackageArn": updated.arn}

    def delete_model_package(self, request: dict) -> dict:
        self.store.model_packages.delete(self.model_package_record(request["ModelPackageName"]).key)
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
