"""Batch transform jobs: CreateTransformJob, DescribeTransformJob, ListTransformJobs,
StopTransformJob.

A create checks what the local service can carry out (transform/settings.py), resolves the
model (CreateModel's record: the AutoML job whose kept model it serves; a forecasting model reads
whole files, SplitType None), stores the job with its tags and wakes the supervisor, which runs
it in a worker process (runs/transform.py); the other operations read what the worker stored.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow_automl.local.errors import ResourceInUse, ValidationException
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed
from airflow_automl.local.serving.formats import CSV, IMAGE_TYPES, JSON_LINES
from airflow_automl.local.store import ModelRecord, TransformJobRecord
from airflow_automl.local.transform.settings import forecast_split_error, transform_settings
from airflow_automl.sagemaker.shapes import RequestValidationError

DEFAULT_LIST_TRANSFORM_JOBS_MAX_RESULTS = 10
# SageMaker words a missing transform job differently for a describe and for a stop.
TRANSFORM_JOB_NOT_FOUND = NotFound(ValidationException, "Could not find requested job with name {name}")
TRANSFORM_JOB_TO_STOP_NOT_FOUND = NotFound(ValidationException, "Could not find job to update with name {name}")


def _name_in_use(taken: str) -> ResourceInUse:
    return ResourceInUse(
        f"TransformJobName: a transform job named {taken!r} already exists (names are unique "
        "case-insensitively); choose another name"
    )


class TransformJobOperations(Operations):
    # Provided by ModelOperations (models.py): the model CreateModel made, or its not-found error.
    model_record: Callable[[str], ModelRecord]
    # Provided by CandidateStepOperations (candidate_steps.py): a candidate's transform step, if one is named so.
    candidate_transform_step: Callable[[str], dict | None]

    def transform_job_record(self, name: str, missing: NotFound = TRANSFORM_JOB_NOT_FOUND) -> TransformJobRecord:
        return found(self.store.transform_jobs.get(name), missing, member="TransformJobName", name=name)

    def _check_transform_uris(self, request: dict) -> None:
        """Refuse a file:// URI outside the --file-root directories (or an unsupported scheme)
        before the job exists; the worker's storage checks again on every access."""
        from airflow_automl.local.storage import Storage, StorageAccessError

        storage = Storage(list(self.config.file_roots))
        for field, uri in (
            (
                "TransformInput.DataSource.S3DataSource.S3Uri",
                request["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"],
            ),
            ("TransformOutput.S3OutputPath", request["TransformOutput"]["S3OutputPath"]),
        ):
            try:
                storage.check_uri(uri)
            except StorageAccessError as error:
                raise ValidationException(f"{field}: {error}") from error

    def create_transform_job(self, request: dict) -> dict:
        name = request["TransformJobName"]
        arn = self.config.arn("transform-job", name)
        try:
            settings = transform_settings(request)
        except RequestValidationError as error:
            raise ValidationException(str(error)) from error
        self._check_transform_uris(request)
        model = self.model_record(request["ModelName"])
        job = self.store.jobs.get(model.job_name)
        if job is not None and job.spec.time_series is not None and settings.split_type != "None":
            raise ValidationException(str(forecast_split_error(model.name, settings.split_type)))
        if job is not None and (settings.content_type in IMAGE_TYPES) != job.spec.image_classification:
            reads = "images" if job.spec.image_classification else f"{CSV} or {JSON_LINES}"
            raise ValidationException(
                f"TransformInput.ContentType: {settings.content_type!r} does not fit model {model.name}, "
                f"which reads {reads} (it comes from job {job.name})"
            )
        with creating(_name_in_use):
            self.store.transform_jobs.create(
                name=name,
                arn=arn,
                request=request,
                model_job_name=model.job_name,
                model_candidate_name=model.candidate_name,
                tags=request.get("Tags") or (),
            )
        self.on_job_change()
        return {"TransformJobArn": arn}

    def describe_transform_job(self, request: dict) -> dict:
        if self.store.transform_jobs.get(request["TransformJobName"]) is None:
            step = self.candidate_transform_step(request["TransformJobName"])
            if step is not None:
                return step
        job = self.transform_job_record(request["TransformJobName"])
        described = {key: value for key, value in job.request.items() if key != "Tags"}
        described.update(
            TransformJobName=job.name,
            TransformJobArn=job.arn,
            TransformJobStatus=job.status,
            FailureReason=job.failure_reason,
            CreationTime=job.creation_time,
            TransformStartTime=job.start_time,
            TransformEndTime=job.end_time,
        )
        return described

    def list_transform_jobs(self, request: dict) -> dict:
        query = list_query(
            "ListTransformJobs",
            request,
            sort_by="CreationTime",
            sort_order="Descending",
            max_results=DEFAULT_LIST_TRANSFORM_JOBS_MAX_RESULTS,
        )
        return listed("ListTransformJobs", self.store.transform_jobs.page(query), "TransformJob", "Transform")

    def stop_transform_job(self, request: dict) -> dict:
        job = self.transform_job_record(request["TransformJobName"], TRANSFORM_JOB_TO_STOP_NOT_FOUND)
        if job.status in ("Completed", "Failed", "Stopped"):
            raise ValidationException(
                f"TransformJobName: transform job {job.name!r} has already ended with status {job.status}; "
                "only a job InProgress can be stopped"
            )
        self.store.transform_jobs.request_stop(job.name)
        self.on_job_change()
        return {}
