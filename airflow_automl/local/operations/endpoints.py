"""Endpoints: DescribeEndpoint, ListEndpoints, DeleteEndpoint, and the runtime's InvokeEndpoint.

Today the endpoints are the ones AutoML jobs deploy (ModelDeployConfig, see deployment.py).
Their records live in the store, so endpoints survive a restart; ``EndpointRegistry`` serves
InvokeEndpoint, loading a model lazily on first use and keeping a bounded number loaded.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from botocore.session import get_session

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.errors import ModelError, ValidationError, ValidationException
from airflow_automl.local.operations.base import Operations, list_query
from airflow_automl.local.served_models import load_job_model
from airflow_automl.local.store import EndpointRecord, Store

log = logging.getLogger(__name__)

VARIANT_NAME = "AllTraffic"  # the one production variant Autopilot's one-click deployment creates
DEFAULT_LIST_ENDPOINTS_MAX_RESULTS = 10
# Predictors kept loaded in the service process; the least recently used one is dropped first.
MAX_LOADED_MODELS_ENV_VAR = "AIRFLOW_AUTOML_MAX_LOADED_MODELS"
DEFAULT_MAX_LOADED_MODELS = 4

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


def payload_too_large(size: int) -> ValidationError:
    return ValidationError(
        f"Body: {size} bytes is more than InvokeEndpoint accepts ({MAX_PAYLOAD_BYTES} bytes, 6 MB); "
        "send fewer rows per request"
    )


@dataclass
class _Loaded:
    creation_time: float
    model: Any
    lock: threading.Lock  # predictors are not promised to be thread-safe


class EndpointRegistry:
    """The endpoints' records and the models loaded for InvokeEndpoint."""

    def __init__(self, config: ServiceConfig, store: Store, max_loaded: int | None = None):
        self.config = config
        self.store = store
        self.max_loaded = max_loaded or int(os.environ.get(MAX_LOADED_MODELS_ENV_VAR) or DEFAULT_MAX_LOADED_MODELS)
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()
        self._load_locks: dict[str, threading.Lock] = {}

    def record(self, name: str) -> EndpointRecord:
        record = self.store.endpoints.get(name)
        if record is None:
            raise ValidationException(f'EndpointName: could not find endpoint "{self.config.endpoint_arn(name)}"')
        return record

    def delete(self, name: str) -> None:
        record = self.record(name)
        self.store.endpoints.delete(record.name)
        with self._lock:
            self._loaded.pop(record.name.lower(), None)

    def invoke(self, name: str, body: bytes, content_type: str | None, accept: str | None) -> tuple[bytes, str]:
        """Predictions for the rows in body, in the media type accept names (both media types
        without parameters; None: CSV)."""
        if not ENDPOINT_NAME_RE.match(name) or len(name) > NAME_MAX_LENGTH:
            raise ValidationError(
                f"EndpointName: {name!r} must match {_NAME_PATTERN} and have at most {NAME_MAX_LENGTH} characters"
            )
        if len(body) > MAX_PAYLOAD_BYTES:
            raise payload_too_large(len(body))
        record = self.store.endpoints.get(name)
        if record is None:
            raise ValidationError(f"Endpoint {name} of account {self.config.account_id} not found.")
        if record.status != "InService":
            reason = f": {record.failure_reason}" if record.failure_reason else ""
            raise ValidationError(f"Endpoint {record.name} is {record.status}, not InService{reason}")
        # The model container's answers to media types it cannot read or write.
        kind = content_type or CSV
        if kind not in CONTENT_TYPES:
            raise ModelError(f"ContentType {content_type!r} is not supported; use {CSV} or {JSON}", 415)
        wanted = accept or CSV
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
                model = load_job_model(self.config, record.job_name)
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


def _summary(record: EndpointRecord) -> dict:
    return {
        "EndpointName": record.name,
        "EndpointArn": record.arn,
        "CreationTime": record.creation_time,
        "LastModifiedTime": record.last_modified_time,
        "EndpointStatus": record.status,
    }


class EndpointOperations(Operations):
    endpoints: EndpointRegistry

    def describe_endpoint(self, request: dict) -> dict:
        record = self.endpoints.record(request["EndpointName"])
        variant: dict[str, Any] = {"VariantName": VARIANT_NAME}
        if record.status == "InService":
            variant.update(CurrentWeight=1.0, DesiredWeight=1.0, CurrentInstanceCount=1, DesiredInstanceCount=1)
        return {
            **_summary(record),
            # Autopilot creates a model and an endpoint config for the endpoint; here they share its name.
            "EndpointConfigName": record.name,
            "ProductionVariants": [variant],
            "FailureReason": record.failure_reason,
        }

    def delete_endpoint(self, request: dict) -> dict:
        self.endpoints.delete(request["EndpointName"])
        return {}

    def list_endpoints(self, request: dict) -> dict:
        query = list_query(
            "ListEndpoints", request,
            sort_by="CreationTime", sort_order="Descending", max_results=DEFAULT_LIST_ENDPOINTS_MAX_RESULTS,
        )
        page = self.store.endpoints.page(query)
        return {"Endpoints": [_summary(record) for record in page.rows], "NextToken": page.next_token}
