"""Endpoints: CreateEndpoint, UpdateEndpoint, DescribeEndpoint, ListEndpoints, DeleteEndpoint,
and the runtime's InvokeEndpoint.

An endpoint serves an endpoint config's variants (CreateEndpoint, or an AutoML job's
ModelDeployConfig, see runs/deployment.py). Their records live in the store, so endpoints survive a
restart. ``EndpointRegistry`` loads models in a background thread of the service process
(Creating -> InService or Failed) and serves InvokeEndpoint, keeping a bounded number of models
loaded. UpdateEndpoint loads the new config's models while the old ones keep answering, then
switches in one write: no request is refused or lost for the swap; a new config whose model
fails to load leaves the endpoint InService on the old one with a FailureReason. An endpoint whose
config has DataCaptureConfig hands sampled invocations to the data capture writer
(serving/data_capture.py); the capture settings switch with the config.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.session import get_session

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.errors import ModelError, ValidationError, ValidationException
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed, summary
from airflow_automl.local.serving.data_capture import (
    CapturedCall,
    CaptureSettings,
    DataCaptureWriter,
    described_capture,
)
from airflow_automl.local.serving.formats import ACCEPT_TYPES, CONTENT_TYPES, CSV, JSON, JSON_LINES, ModelInputError
from airflow_automl.local.serving.loading import load_job_model
from airflow_automl.local.storage import Storage
from airflow_automl.local.store import EndpointConfigRecord, EndpointRecord, Store

log = logging.getLogger(__name__)

VARIANT_NAME = "AllTraffic"  # the one production variant Autopilot's one-click deployment creates
# States in which InvokeEndpoint answers (while Updating, from the config being replaced).
SERVING_STATUSES = ("InService", "Updating")
DEFAULT_LIST_ENDPOINTS_MAX_RESULTS = 10
# Predictors kept loaded in the service process; the least recently used one is dropped first.
MAX_LOADED_MODELS_ENV_VAR = "AIRFLOW_AUTOML_MAX_LOADED_MODELS"
DEFAULT_MAX_LOADED_MODELS = 4
ENDPOINT_NOT_FOUND = NotFound(ValidationException, '{member}: could not find endpoint "{arn}".')
# The runtime's own words (InvokeEndpoint is SageMaker Runtime's, not SageMaker's).
INVOKED_ENDPOINT_NOT_FOUND = NotFound(ValidationError, "Endpoint {name} of account {account} not found.")


def _runtime_limits() -> tuple[int, str]:
    """InvokeEndpoint's body limit and endpoint name pattern, from botocore's runtime model."""
    members = get_session().get_service_model("sagemaker-runtime").operation_model("InvokeEndpoint").input_shape.members
    return members["Body"].metadata["max"], members["EndpointName"].metadata["pattern"]


MAX_PAYLOAD_BYTES, _NAME_PATTERN = _runtime_limits()
NAME_MAX_LENGTH = 63
ENDPOINT_NAME_RE = re.compile(_NAME_PATTERN.lstrip("^") + r"\Z")
# InvokeEndpoint's InferenceId: 1 to 64 printable ASCII characters, the first not a space
# (botocore's \A\S[\p{Print}]*\z with Java's ASCII \p{Print}).
INFERENCE_ID_MAX_LENGTH = 64
INFERENCE_ID_RE = re.compile(r"[\x21-\x7e][\x20-\x7e]*\Z")


def payload_too_large(size: int) -> ValidationError:
    return ValidationError(
        f"Body: {size} bytes is more than InvokeEndpoint accepts ({MAX_PAYLOAD_BYTES} bytes, 6 MB); "
        "send fewer rows per request"
    )


class ModelLoadFailed(Exception):
    """A model could not be loaded; the message says which and why."""


@dataclass
class _Loaded:
    model: Any
    lock: threading.Lock  # predictors are not promised to be thread-safe


def served_variants(record: EndpointRecord) -> list[dict]:
    """The variants an endpoint serves (endpoints made before endpoint configs: its job's model)."""
    if record.variants:
        return record.variants
    return [
        {
            "VariantName": VARIANT_NAME,
            "ModelName": record.name,
            "JobName": record.job_name,
            "CandidateName": record.candidate_name,
            "Weight": 1.0,
            "InstanceCount": 1,
            "InstanceType": None,
        }
    ]


class EndpointRegistry:
    """The endpoints' records and the models loaded for InvokeEndpoint, keyed by the AutoML job and
    candidate whose kept model they are (a candidate's model never changes once it is kept)."""

    def __init__(
        self,
        config: ServiceConfig,
        store: Store,
        max_loaded: int | None = None,
        capture: DataCaptureWriter | None = None,
    ):
        self.config = config
        self.store = store
        # Its own Storage: the writer's thread alone uses it.
        self.capture = capture or DataCaptureWriter(
            lambda: Storage(list(config.file_roots), config.s3_endpoint_url, s3_config=Storage.BACKGROUND_S3_CONFIG),
            flush_seconds=config.capture_flush_seconds,
        )
        self.max_loaded = max_loaded or int(os.environ.get(MAX_LOADED_MODELS_ENV_VAR) or DEFAULT_MAX_LOADED_MODELS)
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}

    def record(self, name: str) -> EndpointRecord:
        arn = self.config.endpoint_arn(name)
        return found(self.store.endpoints.get(name), ENDPOINT_NOT_FOUND, member="EndpointName", arn=arn)

    def delete(self, name: str) -> None:
        self.store.endpoints.delete(self.record(name).name)

    # -- deployment: Creating -> InService | Failed, Updating -> InService ---------------------

    def deploy_in_background(self, name: str) -> None:
        threading.Thread(target=self._deploy, args=(name,), name=f"deploy-{name}", daemon=True).start()

    def _deploy(self, name: str) -> None:
        record = self.store.endpoints.get(name)
        if record is None or record.status not in ("Creating", "Updating"):
            return
        updating = record.status == "Updating"
        variants = record.pending_variants if updating else served_variants(record)
        try:
            for variant in variants or []:
                self.load(
                    variant["JobName"],
                    variant["CandidateName"],
                    f"model {variant['ModelName']} of variant {variant['VariantName']}",
                )
        except ModelLoadFailed as error:
            reason = str(error)
            if updating:
                log.warning("endpoint %s: update to %s rolled back: %s", name, record.pending_config_name, reason)
                self.store.endpoints.finish_update(
                    name,
                    f"Update to {record.pending_config_name} failed, "
                    f"the endpoint kept {record.endpoint_config_name}: {reason}",
                )
            else:
                self.store.endpoints.set_status(name, "Failed", reason)
            return
        except Exception as error:  # a bug must still end the endpoint's transition, never leave it stuck
            log.exception("endpoint %s: deployment failed", name)
            reason = f"The local service failed while loading the models: {type(error).__name__}: {error}"
            if updating:
                self.store.endpoints.finish_update(name, reason)
            else:
                self.store.endpoints.set_status(name, "Failed", reason)
            return
        if updating:
            self.store.endpoints.finish_update(name)
        else:
            self.store.endpoints.set_status(name, "InService")
        log.info("endpoint %s: InService on %s", name, record.pending_config_name or record.endpoint_config_name)

    def load(self, job_name: str, candidate_name: str, what: str) -> _Loaded:
        """The loaded model of a job's candidate (loading it once if needed); ModelLoadFailed naming what."""
        key = f"{job_name.lower()}/{candidate_name}"
        with self._lock:
            loaded = self._loaded.get(key)
            if loaded is not None:
                self._loaded.move_to_end(key)
                return loaded
            load_lock = self._load_locks.setdefault(key, threading.Lock())
        with load_lock:  # one load per model at a time; others wait for it
            with self._lock:
                loaded = self._loaded.get(key)
                if loaded is not None:
                    return loaded
            try:
                model = load_job_model(self.config, job_name, candidate_name)
            except Exception as error:  # whatever the loader raises is this model's failure to load
                log.exception("loading %s (AutoML job %s, candidate %s) failed", what, job_name, candidate_name)
                raise ModelLoadFailed(
                    f"{what} (AutoML job {job_name}, candidate {candidate_name}) could not be loaded: {error}"
                ) from error
            loaded = _Loaded(model, threading.Lock())
            with self._lock:
                self._loaded[key] = loaded
                while len(self._loaded) > self.max_loaded:
                    evicted, _ = self._loaded.popitem(last=False)
                    log.info("model of %s unloaded (more than %d loaded)", evicted, self.max_loaded)
            return loaded

    # -- InvokeEndpoint -----------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        body: bytes,
        content_type: str | None,
        accept: str | None,
        target_variant: str | None = None,
        inference_id: str | None = None,
        observed_content_type: str | None = None,
    ) -> tuple[bytes, str, str]:
        """Predictions for the rows in body, in the media type accept names (both media types
        without parameters; None: CSV), and the variant that answered. observed_content_type: the
        Content-Type header as sent (with its parameters), which data capture records."""
        if not ENDPOINT_NAME_RE.match(name) or len(name) > NAME_MAX_LENGTH:
            raise ValidationError(
                f"EndpointName: {name!r} must match {_NAME_PATTERN} and have at most {NAME_MAX_LENGTH} characters"
            )
        if inference_id is not None and (
            len(inference_id) > INFERENCE_ID_MAX_LENGTH or not INFERENCE_ID_RE.match(inference_id)
        ):
            raise ValidationError(
                f"InferenceId: {inference_id!r} must be 1 to {INFERENCE_ID_MAX_LENGTH} printable ASCII characters, "
                "the first not a space"
            )
        if len(body) > MAX_PAYLOAD_BYTES:
            raise payload_too_large(len(body))
        record = found(
            self.store.endpoints.get(name), INVOKED_ENDPOINT_NOT_FOUND, name=name, account=self.config.account_id
        )
        if record.status not in SERVING_STATUSES:
            reason = f": {record.failure_reason}" if record.failure_reason else ""
            raise ValidationError(f"Endpoint {record.name} is {record.status}, not InService{reason}")
        variant = _route(record, target_variant)
        # The model container's answers to media types it cannot read or write.
        kind = content_type or CSV
        if kind not in CONTENT_TYPES:
            raise ModelError(f"ContentType {content_type!r} is not supported; use {CSV} or {JSON}", 415)
        wanted = accept or CSV
        if wanted not in ACCEPT_TYPES:
            raise ModelError(f"Accept {accept!r} is not supported; use {CSV}, {JSON} or {JSON_LINES}", 406)
        try:
            loaded = self.load(
                variant["JobName"], variant["CandidateName"], f"model {variant['ModelName']} of endpoint {record.name}"
            )
        except ModelLoadFailed as error:  # reported to the caller as the model's failure to start
            raise ModelError(str(error), 500) from error
        with loaded.lock:
            try:
                frame = loaded.model.parse(body, kind)
                payload, answered_type = loaded.model.render(frame, wanted, variant.get("InferenceKeys"))
            except ModelInputError as error:
                raise ModelError(str(error), 400) from error
            except Exception as error:  # the model failed on this input: answered like a container's 500
                log.exception("endpoint %s: prediction failed", record.name)
                raise ModelError(f"The model failed on the request: {type(error).__name__}: {error}", 500) from error
        capture = CaptureSettings.of(record.data_capture)
        if capture is not None and capture.sampled():
            self.capture.offer(
                CapturedCall(
                    settings=capture,
                    endpoint_name=record.name,
                    variant_name=variant["VariantName"],
                    when=datetime.now(UTC),
                    inference_id=inference_id,
                    body=body,
                    content_type=observed_content_type or content_type,
                    answer=payload,
                    answer_type=answered_type,
                )
            )
        return payload, answered_type, variant["VariantName"]


def _route(record: EndpointRecord, target_variant: str | None) -> dict:
    """The variant that answers: TargetVariant's, or one drawn by the variants' weights."""
    variants = served_variants(record)
    if target_variant is not None:
        for variant in variants:
            if variant["VariantName"] == target_variant:
                return variant
        raise ValidationError(
            f"TargetVariant: endpoint {record.name} has no variant {target_variant!r}; "
            f"its variants are {', '.join(v['VariantName'] for v in variants)}"
        )
    return random.choices(variants, weights=[v["Weight"] for v in variants])[0]


def _described_variants(variants: list[dict], in_service: bool) -> list[dict]:
    described = []
    for variant in variants:
        entry: dict[str, Any] = {"VariantName": variant["VariantName"]}
        if in_service:
            entry.update(
                CurrentWeight=float(variant["Weight"]),
                DesiredWeight=float(variant["Weight"]),
                CurrentInstanceCount=variant["InstanceCount"],
                DesiredInstanceCount=variant["InstanceCount"],
            )
        described.append(entry)
    return described


class EndpointOperations(Operations):
    endpoints: EndpointRegistry
    # Provided by EndpointConfigOperations (endpoint_configs.py): a config, or its not-found
    # error, and its variants with their models resolved.
    endpoint_config_record: Callable[[str], EndpointConfigRecord]
    resolved_variants: Callable[[EndpointConfigRecord], list[dict]]

    def create_endpoint(self, request: dict) -> dict:
        name = request["EndpointName"]
        arn = self.config.endpoint_arn(name)
        in_use = ValidationException(f'Cannot create already existing endpoint "{arn}".')
        # A taken name is answered before the config is looked up; the create checks again.
        if self.store.endpoints.get(name) is not None:
            raise in_use
        config = self.endpoint_config_record(request["EndpointConfigName"])
        with creating(lambda _: in_use):
            self.store.endpoints.create(
                name=name,
                arn=arn,
                endpoint_config_name=config.name,
                variants=self.resolved_variants(config),
                tags=request.get("Tags") or (),
                data_capture=config.request.get("DataCaptureConfig"),
            )
        self.endpoints.deploy_in_background(name)
        return {"EndpointArn": arn}

    def update_endpoint(self, request: dict) -> dict:
        record = self.endpoints.record(request["EndpointName"])
        config = self.endpoint_config_record(request["EndpointConfigName"])
        variants = self.resolved_variants(config)
        if not self.store.endpoints.begin_update(
            record.name, config.name, variants, config.request.get("DataCaptureConfig")
        ):
            raise ValidationException(
                f'EndpointName: cannot update in-progress endpoint "{record.arn}": it is {record.status}; '
                "wait until it is InService"
            )
        self.endpoints.deploy_in_background(record.name)
        return {"EndpointArn": record.arn}

    def describe_endpoint(self, request: dict) -> dict:
        record = self.endpoints.record(request["EndpointName"])
        described = {
            **summary("ListEndpoints", record, "Endpoint"),
            # Endpoints made before endpoint configs existed share their job-made config's name.
            "EndpointConfigName": record.endpoint_config_name or record.name,
            "ProductionVariants": _described_variants(served_variants(record), record.status in SERVING_STATUSES),
            "FailureReason": record.failure_reason,
        }
        capture = described_capture(record.data_capture)
        if capture is not None:
            described["DataCaptureConfig"] = capture
        if record.status == "Updating" and record.pending_config_name:
            described["PendingDeploymentSummary"] = {
                "EndpointConfigName": record.pending_config_name,
                "ProductionVariants": [
                    {
                        "VariantName": v["VariantName"],
                        "DesiredWeight": float(v["Weight"]),
                        "DesiredInstanceCount": v["InstanceCount"],
                    }
                    for v in record.pending_variants or []
                ],
                "StartTime": record.last_modified_time,
            }
        return described

    def delete_endpoint(self, request: dict) -> dict:
        self.endpoints.delete(request["EndpointName"])
        return {}

    def list_endpoints(self, request: dict) -> dict:
        query = list_query(
            "ListEndpoints",
            request,
            sort_by="CreationTime",
            sort_order="Descending",
            max_results=DEFAULT_LIST_ENDPOINTS_MAX_RESULTS,
        )
        return listed("ListEndpoints", self.store.endpoints.page(query), "Endpoint")
