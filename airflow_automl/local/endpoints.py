"""Endpoints: a job's best model deployed (ModelDeployConfig) and served through InvokeEndpoint.

A job that asked for a deployment and completed with a best candidate gets an endpoint record
(`deploy_best_model`, run by the job's worker, which loads the model once to prove it serves).
The service answers SageMaker's DescribeEndpoint, ListEndpoints and DeleteEndpoint from those
records, and the runtime's InvokeEndpoint through `EndpointRegistry.invoke`, which loads a
model lazily, only from the service's own job directories, and keeps a bounded number loaded.
Records live in the service's database, so endpoints survive a restart; models reload on use.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.session import get_session

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.store import EndpointNameInUse, EndpointRecord, JobRecord, Store

log = logging.getLogger(__name__)

VARIANT_NAME = "AllTraffic"  # the one production variant Autopilot's one-click deployment creates
MODEL_DIR_NAME = "model"  # <job dir>/model, as the worker gives it to the engine
MANIFEST = "model.json"
# Jobs that ran to the end deploy; MaxAutoMLJobRuntimeReached leaves unfinished steps such as
# deployment undone (the reference), and a definitions-only job has no model.
DEPLOYING_OUTCOMES = ("Completed", "MaxCandidatesReached")
# Predictors kept loaded in the service process; the least recently used one is dropped first.
MAX_LOADED_MODELS_ENV_VAR = "AIRFLOW_AUTOML_MAX_LOADED_MODELS"
DEFAULT_MAX_LOADED_MODELS = 4

ENDPOINT_RESTART_FAILURE_REASON = (
    "The local service restarted while the endpoint was being created; delete it and deploy again with a new AutoML job"
)

CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES = (CSV, JSON, "application/jsonlines")
ACCEPT_TYPES = (CSV, JSON, "*/*")


def _runtime_limits() -> tuple[int, str]:
    """InvokeEndpoint's body limit and endpoint name pattern, from botocore's runtime model."""
    members = get_session().get_service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape.members
    return members["Body"].metadata["max"], members["EndpointName"].metadata["pattern"]


MAX_PAYLOAD_BYTES, _NAME_PATTERN = _runtime_limits()
NAME_MAX_LENGTH = 63
ENDPOINT_NAME_RE = re.compile(_NAME_PATTERN.lstrip("^") + r"\Z")


def model_dir(config: ServiceConfig, job_name: str) -> Path:
    return config.job_dir(job_name) / MODEL_DIR_NAME


def endpoint_arn(config: ServiceConfig, name: str) -> str:
    return f"arn:aws:sagemaker:{config.region}:{config.account_id}:endpoint/{name.lower()}"


def generated_endpoint_name(job_name: str) -> str:
    """AutoGenerateEndpointName: the job's name plus a short unique suffix (job names are at most
    32 characters, so the result fits EndpointName's 63 and its pattern)."""
    return f"{job_name}-ep-{uuid.uuid4().hex[:8]}"


def requested_endpoint_name(spec: dict) -> str | None:
    """The endpoint a job's ModelDeployConfig asks for, or None if it asks for no deployment."""
    if spec.get("endpoint_name"):
        return spec["endpoint_name"]
    if spec.get("auto_generate_endpoint_name"):
        return generated_endpoint_name(spec["name"])
    return None


# -- deployment (in the job's worker) ---------------------------------------------------------

@dataclass(frozen=True)
class Deployment:
    endpoint_name: str | None  # set when an endpoint record exists (InService or Failed)
    error: str | None  # the PartialFailureReason when the deployment failed


def deploy_best_model(config: ServiceConfig, store: Store, job: JobRecord) -> Deployment:
    """Create the job's endpoint and prove its model loads. Never raises for a deployment
    problem: the job keeps its candidates and reports the failure (ModelDeploymentError)."""
    name = requested_endpoint_name(job.spec)
    assert name is not None and job.best_candidate_name is not None
    try:
        store.create_endpoint(
            name=name, arn=endpoint_arn(config, name), job_name=job.name, candidate_name=job.best_candidate_name
        )
    except EndpointNameInUse:
        return Deployment(
            None,
            f"ModelDeployConfig.EndpointName: an endpoint named {name!r} already exists; the best candidate "
            f"{job.best_candidate_name} was not deployed (delete that endpoint or choose another name)",
        )
    try:
        _load(config, job.name)
    except Exception as error:  # any failure to load is the deployment's failure, reported on the job
        log.exception("job %s: deploying %s to endpoint %s failed", job.name, job.best_candidate_name, name)
        reason = f"The best candidate {job.best_candidate_name} could not be loaded for endpoint {name}: {error}"
        store.set_endpoint_status(name, "Failed", reason)
        return Deployment(name, reason)
    store.set_endpoint_status(name, "InService")
    return Deployment(name, None)


class ModelLoadError(Exception):
    """The model of an endpoint cannot be loaded; the message says why."""


def _load(config: ServiceConfig, job_name: str):
    """The job's served model, read only from the service's own job directory."""
    from airflow_automl.local.engine.serving import load_model

    directory = model_dir(config, job_name).resolve()
    jobs_root = (config.data_dir / "jobs").resolve()
    if not directory.is_relative_to(jobs_root):
        raise ModelLoadError(f"model directory of job {job_name!r} lies outside the service's data dir")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelLoadError(f"job {job_name} kept no model ({MANIFEST} missing from its model directory)")
    manifest = json.loads(manifest_path.read_text())
    for key in ("predictor_path", "model_path"):
        if key in manifest and not (directory / manifest[key]).resolve().is_relative_to(directory):
            raise ModelLoadError(f"{MANIFEST}: {key} {manifest[key]!r} points outside the job's model directory")
    return load_model(directory)


# -- the runtime's InvokeEndpoint ---------------------------------------------------------------

class InvocationError(Exception):
    """An InvokeEndpoint error in the sagemaker-runtime protocol's shape (code, HTTP status)."""

    code = "InternalFailure"
    status_code = 500

    def __init__(self, message: str, **members: Any):
        super().__init__(message)
        self.message = message
        self.members = members  # further members of the modeled error shape


class ValidationError(InvocationError):
    code = "ValidationError"
    status_code = 400


class ModelError(InvocationError):
    """The model rejected the request or failed on it, as a container answering non-2xx."""

    code = "ModelError"
    status_code = 424

    def __init__(self, message: str, original_status: int):
        super().__init__(message, OriginalStatusCode=original_status, OriginalMessage=message)


def payload_too_large(size: int) -> ValidationError:
    return ValidationError(
        f"Body: {size} bytes is more than InvokeEndpoint accepts ({MAX_PAYLOAD_BYTES} bytes, 6 MB); "
        "send fewer rows per request"
    )


class EndpointNotFound(LookupError):
    pass


def _media_type(header: str | None, default: str) -> str:
    first = (header or default).split(",")[0]
    return first.split(";")[0].strip().lower() or default


@dataclass
class _Loaded:
    creation_time: float
    model: Any
    lock: threading.Lock  # predictors are not promised to be thread-safe


class EndpointRegistry:
    """Endpoint records for the SageMaker API, and the loaded models for InvokeEndpoint."""

    def __init__(self, config: ServiceConfig, store: Store, max_loaded: int | None = None):
        self.config = config
        self.store = store
        self.max_loaded = max_loaded or int(os.environ.get(MAX_LOADED_MODELS_ENV_VAR) or DEFAULT_MAX_LOADED_MODELS)
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}

    # -- SageMaker API ---------------------------------------------------------------------

    def _record(self, name: str) -> EndpointRecord:
        record = self.store.get_endpoint(name)
        if record is None:
            raise EndpointNotFound(f'EndpointName: could not find endpoint "{endpoint_arn(self.config, name)}"')
        return record

    def describe(self, name: str) -> dict:
        record = self._record(name)
        variant: dict[str, Any] = {"VariantName": VARIANT_NAME}
        if record.status == "InService":
            variant.update(CurrentWeight=1.0, DesiredWeight=1.0, CurrentInstanceCount=1, DesiredInstanceCount=1)
        return {
            "EndpointName": record.name,
            "EndpointArn": record.arn,
            # Autopilot creates a model and an endpoint config for the endpoint; here they share its name.
            "EndpointConfigName": record.name,
            "ProductionVariants": [variant],
            "EndpointStatus": record.status,
            "FailureReason": record.failure_reason,
            "CreationTime": record.creation_time,
            "LastModifiedTime": record.last_modified_time,
        }

    def delete(self, name: str) -> None:
        record = self._record(name)
        self.store.delete_endpoint(record.name)
        with self._lock:
            self._loaded.pop(record.name.lower(), None)

    @staticmethod
    def summary(record: EndpointRecord) -> dict:
        return {
            "EndpointName": record.name,
            "EndpointArn": record.arn,
            "CreationTime": record.creation_time,
            "LastModifiedTime": record.last_modified_time,
            "EndpointStatus": record.status,
        }

    # -- InvokeEndpoint --------------------------------------------------------------------

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        """Predictions for the rows in body. Raises InvocationError subclasses."""
        if not ENDPOINT_NAME_RE.match(name) or len(name) > NAME_MAX_LENGTH:
            raise ValidationError(
                f"EndpointName: {name!r} must match {_NAME_PATTERN} and have at most {NAME_MAX_LENGTH} characters"
            )
        if len(body) > MAX_PAYLOAD_BYTES:
            raise payload_too_large(len(body))
        record = self.store.get_endpoint(name)
        if record is None:
            raise ValidationError(f"Endpoint {name} of account {self.config.account_id} not found.")
        if record.status != "InService":
            reason = f": {record.failure_reason}" if record.failure_reason else ""
            raise ValidationError(f"Endpoint {record.name} is {record.status}, not InService{reason}")
        kind = _media_type(content_type, CSV)
        if kind not in CONTENT_TYPES:
            raise ModelError(f"ContentType {content_type!r} is not supported; use {CSV} or {JSON}", 415)
        wanted = _media_type(accept, CSV)
        if wanted not in ACCEPT_TYPES:
            raise ModelError(f"Accept {accept!r} is not supported; use {CSV} or {JSON}", 406)
        loaded = self._model(record)
        from airflow_automl.local.engine.serving import ModelInputError

        with loaded.lock:
            try:
                frame = loaded.model.parse(body, kind)
                return loaded.model.render(frame, wanted)
            except ModelInputError as error:
                raise ModelError(str(error), 400) from error
            except Exception as error:  # the model failed on this input: answered like a container's 500
                log.exception("endpoint %s: prediction failed", record.name)
                raise ModelError(f"The model failed on the request: {type(error).__name__}: {error}", 500) from error

    def _model(self, record: EndpointRecord) -> _Loaded:
        key = record.name.lower()
        with self._lock:
            loaded = self._loaded.get(key)
            if loaded is not None and loaded.creation_time == record.creation_time:
                self._loaded.move_to_end(key)
                return loaded
            load_lock = self._load_locks.setdefault(key, threading.Lock())
        with load_lock:  # one load per endpoint at a time; others wait for it
            with self._lock:
                loaded = self._loaded.get(key)
                if loaded is not None and loaded.creation_time == record.creation_time:
                    return loaded
            try:
                model = _load(self.config, record.job_name)
            except Exception as error:  # reported to the caller as the model's failure to start
                log.exception("endpoint %s: loading job %s's model failed", record.name, record.job_name)
                raise ModelError(f"The model of endpoint {record.name} could not be loaded: {error}", 500) from error
            loaded = _Loaded(record.creation_time, model, threading.Lock())
            with self._lock:
                self._loaded[key] = loaded
                while len(self._loaded) > self.max_loaded:
                    evicted, _ = self._loaded.popitem(last=False)
                    log.info("endpoint %s: model unloaded (more than %d loaded)", evicted, self.max_loaded)
            return loaded
