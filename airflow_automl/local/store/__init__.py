"""The local service's persistence: one SQLite database, one store per resource family.

``Store(db_path).jobs`` holds AutoML jobs and their candidates, ``.tags`` tags by ARN,
``.endpoints`` endpoints, ``.models`` models, ``.endpoint_configs`` endpoint configs,
``.transform_jobs`` batch transform jobs and ``.model_registry`` model package groups and packages.
A new resource family adds a module here with its store, a
migration in database.py for its tables, and an attribute below.
"""

from __future__ import annotations

from pathlib import Path

from airflow_automl.local.store.automl_jobs import (
    ACTIVE_STATUSES,
    AutoMLJobStore,
    JobNameInUse,
    JobRecord,
    RunFenced,
    TooManyActiveJobs,
)
from airflow_automl.local.store.database import Database
from airflow_automl.local.store.endpoint_configs import (
    EndpointConfigNameInUse,
    EndpointConfigRecord,
    EndpointConfigStore,
)
from airflow_automl.local.store.endpoints import EndpointNameInUse, EndpointRecord, EndpointStore
from airflow_automl.local.store.model_registry import (
    GroupNameInUse,
    GroupNotFound,
    ModelPackageGroupRecord,
    ModelPackageRecord,
    ModelRegistryStore,
    PackageNameInUse,
)
from airflow_automl.local.store.models import ModelNameInUse, ModelRecord, ModelStore
from airflow_automl.local.store.page_tokens import InvalidPageToken
from airflow_automl.local.store.paging import ListQuery, Page
from airflow_automl.local.store.tags import TagStore
from airflow_automl.local.store.transform_jobs import (
    TRANSFORM_ACTIVE_STATUSES,
    TransformJobNameInUse,
    TransformJobRecord,
    TransformJobStore,
)

__all__ = [
    "ACTIVE_STATUSES",
    "EndpointConfigNameInUse",
    "EndpointConfigRecord",
    "EndpointNameInUse",
    "GroupNameInUse",
    "GroupNotFound",
    "EndpointRecord",
    "InvalidPageToken",
    "JobNameInUse",
    "JobRecord",
    "ListQuery",
    "ModelNameInUse",
    "ModelPackageGroupRecord",
    "ModelPackageRecord",
    "ModelRecord",
    "PackageNameInUse",
    "Page",
    "RunFenced",
    "Store",
    "TooManyActiveJobs",
    "TRANSFORM_ACTIVE_STATUSES",
    "TransformJobNameInUse",
    "TransformJobRecord",
]


class Store:
    """The database file and the stores of each resource family, sharing its connections."""

    def __init__(self, db_path: Path):
        self.database = Database(db_path)
        self.jobs = AutoMLJobStore(self.database)
        self.tags = TagStore(self.database)
        self.endpoints = EndpointStore(self.database)
        self.models = ModelStore(self.database)
        self.endpoint_configs = EndpointConfigStore(self.database)
        self.transform_jobs = TransformJobStore(self.database)
        self.model_registry = ModelRegistryStore(self.database)

    def close(self) -> None:
        self.database.close()

    def integrity_check(self) -> str:
        return self.database.integrity_check()
