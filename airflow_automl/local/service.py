"""The SageMaker AutoML operations of the local service: one method per API operation.

Methods take the request as botocore's input shape describes it (timestamps already turned
into epoch seconds by the protocol layer) and return a dict in the output shape. They raise
ServiceError subclasses carrying SageMaker's error codes; the protocol layer turns those into
HTTP 400 answers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from airflow_automl.apiversions import API_VERSIONS, V1, V2, convert_request, resolved_attributes_v2
from airflow_automl.local import jobspec
from airflow_automl.shapes import RequestValidationError
from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.endpoints import EndpointNotFound, EndpointRegistry
from airflow_automl.local.engine.torch_extra import missing_torch_message
from airflow_automl.local.store import (
    InvalidPageToken,
    JobNameInUse,
    JobRecord,
    Store,
    TooManyActiveJobs,
)

MAX_TAGS_PER_RESOURCE = 50
DEFAULT_LIST_JOBS_MAX_RESULTS = 10
DEFAULT_LIST_CANDIDATES_MAX_RESULTS = 10
DEFAULT_LIST_TAGS_MAX_RESULTS = 50
DEFAULT_LIST_ENDPOINTS_MAX_RESULTS = 10
TABULAR_PROBLEM_TYPE_CONFIG_NAME = "Tabular"


class ServiceError(Exception):
    code = "InternalFailure"
    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ValidationException(ServiceError):
    code = "ValidationException"


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceInUse(ServiceError):
    code = "ResourceInUse"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


def _page_scope(operation: str, request: dict) -> str:
    """What a page token is bound to: the operation and every filter and sort parameter."""
    fixed = {key: value for key, value in request.items() if key not in ("NextToken", "MaxResults")}
    digest = hashlib.sha256(json.dumps([operation, fixed], sort_keys=True, default=str).encode())
    return digest.hexdigest()[:16]


class AutoMLService:
    """SageMaker's AutoML operations over the store; training happens in worker processes."""

    def __init__(self, config: ServiceConfig, store: Store, on_job_change: Callable[[], None] = lambda: None):
        self.config = config
        self.store = store
        # Called after a create or stop so the supervisor acts at once instead of on its next tick.
        self._on_job_change = on_job_change
        # Endpoints that jobs with ModelDeployConfig deployed; also serves InvokeEndpoint.
        self.endpoints = EndpointRegistry(config, store)

    # -- helpers -----------------------------------------------------------------------------

    def _job(self, name: str) -> JobRecord:
        job = self.store.get_job(name)
        if job is None:
            raise ResourceNotFound(f"AutoMLJobName: no AutoML job named {name!r} exists")
        return job

    def _job_for_arn(self, arn: str) -> JobRecord:
        job = self.store.get_job_by_arn(arn.lower())
        if job is None:
            raise ValidationException(
                f"ResourceArn: no resource {arn!r} exists; the local service tags AutoML jobs "
                f"(arn:aws:sagemaker:{self.config.region}:{self.config.account_id}:automl-job/<name>)"
            )
        return job

    def _best_candidate(self, job: JobRecord) -> dict | None:
        if job.best_candidate_name is None:
            return None
        return self.store.get_candidate(job.name, job.best_candidate_name)

    @staticmethod
    def _translate(error: RequestValidationError) -> ValidationException:
        return ValidationException(str(error))

    def _create(self, operation: str, request: dict) -> dict:
        try:
            jobspec.require_tabular(request)
            spec = jobspec.job_spec_from_request(operation, request)
        except RequestValidationError as error:
            raise self._translate(error) from error
        self._check_local_uris(spec)
        self._check_algorithms_installed(spec, request)
        name = request["AutoMLJobName"]
        arn = self.config.job_arn(name)
        try:
            self.store.create_job(
                name=name,
                arn=arn,
                api_version=spec.api_version,
                request=request,
                spec=spec.to_dict(),
                max_active_jobs=self.config.max_active_jobs,
            )
        except JobNameInUse as error:
            existing = self.store.get_job(name)
            raise ResourceInUse(
                f"AutoMLJobName: an AutoML job named {existing.name if existing else name!r} already exists "
                "(names are unique case-insensitively); choose another name"
            ) from error
        except TooManyActiveJobs as error:
            raise ResourceLimitExceeded(
                f"The local service already has {error.args[0]} AutoML jobs InProgress or Stopping "
                f"(limit {self.config.max_active_jobs}, --max-active-jobs); wait for one to end or stop one"
            ) from error
        self._on_job_change()
        return {"AutoMLJobArn": arn}

    @staticmethod
    def _check_algorithms_installed(spec: jobspec.JobSpec, request: dict) -> None:
        """nn-torch and fastai need the optional torch extra: refuse them up front rather than
        fail the job minutes later."""
        reason = missing_torch_message(spec.algorithms)
        if reason:
            path = API_VERSIONS[spec.api_version].path("algorithms_config")
            raise ValidationException(f"{path}[0].AutoMLAlgorithms: {reason}")

    def _check_local_uris(self, spec: jobspec.JobSpec) -> None:
        """Refuse a job whose URIs name an unsupported scheme or a file:// path outside the
        --file-root directories before it exists, so no worker ever reads or writes there.
        The engine's storage checks again on every access (a symlink may change later)."""
        from airflow_automl.local.storage import Storage, StorageAccessError

        storage = Storage(list(self.config.file_roots))
        version = API_VERSIONS[spec.api_version]
        channels = version.path("channels")
        fields = [(f"{channels}[{i}].DataSource.S3DataSource.S3Uri", c.uri) for i, c in enumerate(spec.channels)]
        fields.append(("OutputDataConfig.S3OutputPath", spec.output_path))
        if spec.feature_specification_uri:
            fields.append((version.path("feature_specification"), spec.feature_specification_uri))
        for field, uri in fields:
            try:
                storage.check_uri(uri)
            except StorageAccessError as error:
                raise ValidationException(f"{field}: {error}") from error

    # -- operations --------------------------------------------------------------------------

    def create_auto_ml_job(self, request: dict) -> dict:
        return self._create(V1.create_operation, request)

    def create_auto_ml_job_v2(self, request: dict) -> dict:
        return self._create(V2.create_operation, request)

    def _describe_common(self, job: JobRecord) -> dict:
        return {
            "AutoMLJobName": job.name,
            "AutoMLJobArn": job.arn,
            "CreationTime": job.creation_time,
            "EndTime": job.end_time,
            "LastModifiedTime": job.last_modified_time,
            "FailureReason": job.failure_reason,
            "PartialFailureReasons": job.partial_failure_reasons,
            "BestCandidate": self._best_candidate(job),
            "AutoMLJobStatus": job.status,
            "AutoMLJobSecondaryStatus": job.secondary_status,
            "AutoMLJobArtifacts": job.artifacts,
            "ModelDeployResult": job.deploy_result,
        }

    def describe_auto_ml_job(self, request: dict) -> dict:
        job = self._job(request["AutoMLJobName"])
        v1 = job.request if job.api_version == 1 else convert_request(job.request, V1)
        response = {key: value for key, value in v1.items() if key not in ("Tags", "AutoMLJobName")}
        response.setdefault("GenerateCandidateDefinitionsOnly", False)
        response.update(self._describe_common(job))
        response["ResolvedAttributes"] = job.resolved_attributes
        return response

    def describe_auto_ml_job_v2(self, request: dict) -> dict:
        job = self._job(request["AutoMLJobName"])
        v2 = job.request if job.api_version == 2 else convert_request(job.request, V2)
        response = {key: value for key, value in v2.items() if key not in ("Tags", "AutoMLJobName")}
        response["AutoMLProblemTypeConfigName"] = TABULAR_PROBLEM_TYPE_CONFIG_NAME
        response.update(self._describe_common(job))
        if job.resolved_attributes is not None:
            response["ResolvedAttributes"] = resolved_attributes_v2(job.resolved_attributes)
        return response

    def list_auto_ml_jobs(self, request: dict) -> dict:
        try:
            page = self.store.list_jobs(
                creation_time_after=request.get("CreationTimeAfter"),
                creation_time_before=request.get("CreationTimeBefore"),
                last_modified_time_after=request.get("LastModifiedTimeAfter"),
                last_modified_time_before=request.get("LastModifiedTimeBefore"),
                name_contains=request.get("NameContains"),
                status_equals=request.get("StatusEquals"),
                sort_by=request.get("SortBy") or "Name",
                descending=(request.get("SortOrder") or "Descending") == "Descending",
                limit=request.get("MaxResults") or DEFAULT_LIST_JOBS_MAX_RESULTS,
                page_token=request.get("NextToken"),
                token_scope=_page_scope("ListAutoMLJobs", request),
            )
        except InvalidPageToken as error:
            raise ValidationException(str(error)) from error
        summaries = [
            {
                "AutoMLJobName": job.name,
                "AutoMLJobArn": job.arn,
                "AutoMLJobStatus": job.status,
                "AutoMLJobSecondaryStatus": job.secondary_status,
                "CreationTime": job.creation_time,
                "EndTime": job.end_time,
                "LastModifiedTime": job.last_modified_time,
                "FailureReason": job.failure_reason,
                "PartialFailureReasons": job.partial_failure_reasons,
            }
            for job in page.rows
        ]
        return {"AutoMLJobSummaries": summaries, "NextToken": page.next_token}

    def list_candidates_for_auto_ml_job(self, request: dict) -> dict:
        job = self._job(request["AutoMLJobName"])
        try:
            page = self.store.list_candidates(
                job.name,
                status_equals=request.get("StatusEquals"),
                candidate_name_equals=request.get("CandidateNameEquals"),
                sort_by=request.get("SortBy") or "CreationTime",
                descending=(request.get("SortOrder") or "Ascending") == "Descending",
                limit=request.get("MaxResults") or DEFAULT_LIST_CANDIDATES_MAX_RESULTS,
                page_token=request.get("NextToken"),
                token_scope=_page_scope("ListCandidatesForAutoMLJob", request),
            )
        except InvalidPageToken as error:
            raise ValidationException(str(error)) from error
        return {"Candidates": page.rows, "NextToken": page.next_token}

    def stop_auto_ml_job(self, request: dict) -> dict:
        job = self._job(request["AutoMLJobName"])
        if job.status in ("Completed", "Failed"):
            raise ValidationException(
                f"AutoMLJobName: job {job.name!r} has already ended with status {job.status}; "
                "only a job InProgress can be stopped"
            )
        self.store.request_stop(job.name)
        self._on_job_change()
        return {}

    def add_tags(self, request: dict) -> dict:
        job = self._job_for_arn(request["ResourceArn"])
        tags = request["Tags"]
        if self.store.count_tags_after_adding(job.arn, [tag["Key"] for tag in tags]) > MAX_TAGS_PER_RESOURCE:
            raise ResourceLimitExceeded(
                f"Tags: a resource can have at most {MAX_TAGS_PER_RESOURCE} tags; delete some before adding more"
            )
        self.store.add_tags(job.arn, tags)
        return {"Tags": tags}

    def list_tags(self, request: dict) -> dict:
        job = self._job_for_arn(request["ResourceArn"])
        try:
            page = self.store.list_tags(
                job.arn,
                limit=request.get("MaxResults") or DEFAULT_LIST_TAGS_MAX_RESULTS,
                page_token=request.get("NextToken"),
                token_scope=_page_scope("ListTags", request),
            )
        except InvalidPageToken as error:
            raise ValidationException(str(error)) from error
        return {"Tags": page.rows, "NextToken": page.next_token}

    def delete_tags(self, request: dict) -> dict:
        job = self._job_for_arn(request["ResourceArn"])
        self.store.delete_tags(job.arn, request["TagKeys"])
        return {}

    # -- endpoints (deployed by jobs with ModelDeployConfig) ---------------------------------

    def describe_endpoint(self, request: dict) -> dict:
        try:
            return self.endpoints.describe(request["EndpointName"])
        except EndpointNotFound as error:
            raise ValidationException(str(error)) from error

    def delete_endpoint(self, request: dict) -> dict:
        try:
            self.endpoints.delete(request["EndpointName"])
        except EndpointNotFound as error:
            raise ValidationException(str(error)) from error
        return {}

    def list_endpoints(self, request: dict) -> dict:
        try:
            page = self.store.list_endpoints(
                name_contains=request.get("NameContains"),
                status_equals=request.get("StatusEquals"),
                creation_time_after=request.get("CreationTimeAfter"),
                creation_time_before=request.get("CreationTimeBefore"),
                last_modified_time_after=request.get("LastModifiedTimeAfter"),
                last_modified_time_before=request.get("LastModifiedTimeBefore"),
                sort_by=request.get("SortBy") or "CreationTime",
                descending=(request.get("SortOrder") or "Descending") == "Descending",
                limit=request.get("MaxResults") or DEFAULT_LIST_ENDPOINTS_MAX_RESULTS,
                page_token=request.get("NextToken"),
                token_scope=_page_scope("ListEndpoints", request),
            )
        except InvalidPageToken as error:
            raise ValidationException(str(error)) from error
        return {"Endpoints": [self.endpoints.summary(record) for record in page.rows], "NextToken": page.next_token}
