"""AutoML jobs: CreateAutoMLJob(V2), DescribeAutoMLJob(V2), ListAutoMLJobs, StopAutoMLJob,
ListCandidatesForAutoMLJob.

A create stores the job with its typed JobSpec and its tags and wakes the supervisor, which
trains it in a worker process (runs/supervisor.py, runs/training.py); the other operations read
what the worker stored.
"""

from __future__ import annotations

from airflow_automl.local.engine.torch_extra import missing_torch_forecast_message, missing_torch_message
from airflow_automl.local.errors import ResourceInUse, ResourceLimitExceeded, ResourceNotFound, ValidationException
from airflow_automl.local.jobspec import JobSpec, check_holiday_country, job_spec_from_request, require_trainable
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed
from airflow_automl.local.store import JobRecord, TooManyActiveJobs
from airflow_automl.sagemaker.api_versions import API_VERSIONS, V1, V2, convert_request, resolved_attributes_v2
from airflow_automl.sagemaker.forecasting_rules import CONFIG_PATH as TIME_SERIES_PATH
from airflow_automl.sagemaker.shapes import RequestValidationError

DEFAULT_LIST_JOBS_MAX_RESULTS = 10
DEFAULT_LIST_CANDIDATES_MAX_RESULTS = 10
TABULAR_PROBLEM_TYPE_CONFIG_NAME = "Tabular"
TIME_SERIES_PROBLEM_TYPE_CONFIG_NAME = "TimeSeriesForecasting"
TEXT_CLASSIFICATION_PROBLEM_TYPE_CONFIG_NAME = "TextClassification"
IMAGE_CLASSIFICATION_PROBLEM_TYPE_CONFIG_NAME = "ImageClassification"
AUTOML_JOB_NOT_FOUND = NotFound(ResourceNotFound, "{member}: no AutoML job named {name!r} exists")


def _name_in_use(taken: str) -> ResourceInUse:
    return ResourceInUse(
        f"AutoMLJobName: an AutoML job named {taken!r} already exists (names are unique case-insensitively); "
        "choose another name"
    )


class AutoMLJobOperations(Operations):
    # -- helpers -----------------------------------------------------------------------------

    def automl_job_record(self, name: str) -> JobRecord:
        return found(self.store.jobs.get(name), AUTOML_JOB_NOT_FOUND, member="AutoMLJobName", name=name)

    def _best_candidate(self, job: JobRecord) -> dict | None:
        if job.best_candidate_name is None:
            return None
        return self.store.jobs.get_candidate(job.name, job.best_candidate_name)

    def _create(self, operation: str, request: dict) -> dict:
        try:
            require_trainable(request)
            spec = job_spec_from_request(operation, request)
            check_holiday_country(spec)
        except RequestValidationError as error:
            raise ValidationException(str(error)) from error
        self._check_local_uris(spec)
        self._check_algorithms_installed(spec, request)
        name = request["AutoMLJobName"]
        arn = self.config.job_arn(name)
        try:
            with creating(_name_in_use):
                self.store.jobs.create(
                    spec=spec,
                    arn=arn,
                    request=request,
                    max_active_jobs=self.config.max_active_jobs,
                    tags=request.get("Tags") or (),
                )
        except TooManyActiveJobs as error:
            raise ResourceLimitExceeded(
                f"The local service already has {error.args[0]} AutoML jobs InProgress or Stopping "
                f"(limit {self.config.max_active_jobs}, --max-active-jobs); wait for one to end or stop one"
            ) from error
        self.on_job_change()
        return {"AutoMLJobArn": arn}

    @staticmethod
    def _check_algorithms_installed(spec: JobSpec, request: dict) -> None:
        """nn-torch and fastai (tabular) and deepar (forecasting) need the optional torch extra:
        refuse them up front rather than fail the job minutes later."""
        if spec.time_series is not None:
            reason = missing_torch_forecast_message(spec.algorithms)
            path = f"{TIME_SERIES_PATH}.CandidateGenerationConfig.AlgorithmsConfig"
        else:
            reason = missing_torch_message(spec.algorithms)
            path = API_VERSIONS[spec.api_version].path("algorithms_config")
        if reason:
            raise ValidationException(f"{path}[0].AutoMLAlgorithms: {reason}")

    def _check_local_uris(self, spec: JobSpec) -> None:
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
        job = self.automl_job_record(request["AutoMLJobName"])
        if job.spec.time_series is not None or job.spec.text is not None or job.spec.image_classification:
            kind = (
                "time-series forecasting"
                if job.spec.time_series is not None
                else "text classification"
                if job.spec.text is not None
                else "image classification"
            )
            raise ValidationException(
                f"AutoMLJobName: job {job.name!r} is a {kind} job, which only DescribeAutoMLJobV2 describes"
            )
        v1 = job.request if job.api_version == 1 else convert_request(job.request, V1)
        response = {key: value for key, value in v1.items() if key not in ("Tags", "AutoMLJobName")}
        response.setdefault("GenerateCandidateDefinitionsOnly", False)
        response.update(self._describe_common(job))
        response["ResolvedAttributes"] = job.resolved_attributes
        return response

    def describe_auto_ml_job_v2(self, request: dict) -> dict:
        job = self.automl_job_record(request["AutoMLJobName"])
        v2 = job.request if job.api_version == 2 else convert_request(job.request, V2)
        response = {key: value for key, value in v2.items() if key not in ("Tags", "AutoMLJobName")}
        response["AutoMLProblemTypeConfigName"] = (
            TIME_SERIES_PROBLEM_TYPE_CONFIG_NAME
            if job.spec.time_series is not None
            else TEXT_CLASSIFICATION_PROBLEM_TYPE_CONFIG_NAME
            if job.spec.text is not None
            else IMAGE_CLASSIFICATION_PROBLEM_TYPE_CONFIG_NAME
            if job.spec.image_classification
            else TABULAR_PROBLEM_TYPE_CONFIG_NAME
        )
        response.update(self._describe_common(job))
        if job.resolved_attributes is not None:
            response["ResolvedAttributes"] = resolved_attributes_v2(job.resolved_attributes)
        return response

    def list_auto_ml_jobs(self, request: dict) -> dict:
        query = list_query(
            "ListAutoMLJobs",
            request,
            sort_by="Name",
            sort_order="Descending",
            max_results=DEFAULT_LIST_JOBS_MAX_RESULTS,
        )
        return listed("ListAutoMLJobs", self.store.jobs.page(query), "AutoMLJob")

    def list_candidates_for_auto_ml_job(self, request: dict) -> dict:
        job = self.automl_job_record(request["AutoMLJobName"])
        query = list_query(
            "ListCandidatesForAutoMLJob",
            request,
            sort_by="CreationTime",
            sort_order="Ascending",
            max_results=DEFAULT_LIST_CANDIDATES_MAX_RESULTS,
        )
        page = self.store.jobs.candidates_page(job.name, query, request.get("CandidateNameEquals"))
        return {"Candidates": page.rows, "NextToken": page.next_token}

    def stop_auto_ml_job(self, request: dict) -> dict:
        job = self.automl_job_record(request["AutoMLJobName"])
        if job.status in ("Completed", "Failed"):
            raise ValidationException(
                f"AutoMLJobName: job {job.name!r} has already ended with status {job.status}; "
                "only a job InProgress can be stopped"
            )
        self.store.jobs.request_stop(job.name)
        self.on_job_change()
        return {}
