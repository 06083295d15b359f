"""The SageMaker API of the local service: every resource family's operations in one object.

Each family keeps its operations in its own module under operations/ (a class with one method
per SageMaker operation, named as botocore names client methods); this class combines them, and
the protocol layer (api/app.py) dispatches ``SageMaker.<Operation>`` to the method of that name.
Methods take the request as botocore's input shape describes it (timestamps already epoch
seconds) and return a dict in the output shape; they raise the errors of errors.py. A family that
uses another's lookup declares it (base.py); this class, having every family among its bases,
provides it.

A new resource family: a module under operations/ for its operations, one under store/ for its
persistence, and its class added to the bases below.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.operations.automl_jobs import AutoMLJobOperations
from airflow_automl.local.operations.candidate_steps import CandidateStepOperations
from airflow_automl.local.operations.endpoint_configs import EndpointConfigOperations
from airflow_automl.local.operations.endpoints import EndpointOperations, EndpointRegistry
from airflow_automl.local.operations.model_registry import ModelRegistryOperations
from airflow_automl.local.operations.models import ModelOperations
from airflow_automl.local.operations.search import SearchOperations
from airflow_automl.local.operations.tags import TagOperations
from airflow_automl.local.operations.transform_jobs import TransformJobOperations
from airflow_automl.local.store import Store


class SageMakerService(
    AutoMLJobOperations,
    CandidateStepOperations,
    TagOperations,
    TransformJobOperations,
    ModelOperations,
    EndpointConfigOperations,
    EndpointOperations,
    ModelRegistryOperations,
    SearchOperations,
):
    """SageMaker's operations over the store; training and batch transform happen in worker processes."""

    def __init__(self, config: ServiceConfig, store: Store, on_job_change: Callable[[], None] = lambda: None):
        self.config = config
        self.store = store
        self.on_job_change = on_job_change
        # Endpoints (CreateEndpoint, or a job's ModelDeployConfig); also serves InvokeEndpoint.
        self.endpoints = EndpointRegistry(config, store)
