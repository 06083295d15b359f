"""The local service's persistence: one SQLite database, one store per resource family.

``Store(db_path).jobs`` holds AutoML jobs and their candidates, ``.candidate_steps`` the steps
the candidates name (read-only training, processing and transform jobs), ``.transform_jobs`` batch transform
jobs, ``.models`` models, ``.endpoint_configs`` endpoint configs, ``.endpoints`` endpoints,
``.model_package_groups`` and ``.model_packages`` the model registry, and ``.tags`` tags by ARN.

Every family's store is a ResourceStore (resources.py): its rows are read as its record type by
one mapping (records.py), and its create writes the resource and its tags in one transaction.
Jobs run by workers share one lifecycle in a RunStore (runs.py). A new resource family adds a
module here with its store, a migration at the end of migrations.py for its tables, and an
attribute below.
"""

from __future__ import annotations

from pathlib import Path

from airflow_automl.local.store.automl_jobs import AutoMLJobStore, JobNameInUse, JobRecord, TooManyActiveJobs
from airflow_automl.local.store.candidate_steps import CandidateStepStore, StepRecord
from airflow_automl.local.store.database import Database
from airflow_automl.local.store.endpoint_configs import (
    EndpointConfigNameInUse,
    EndpointConfigRecord,
    EndpointConfigStore,
)
from airflow_automl.local.store.endpoints import EndpointNameInUse, EndpointRecord, EndpointStore
from airflow_automl.local.store.model_registry import (
    ClientTokenReused,
    GroupNameInUse,
    GroupNotFound,
    ModelPackageGroupRecord,
    ModelPackageGroupStore,
    ModelPackageRecord,
    ModelPackageStore,
    PackageNameInUse,
)
from airflow_automl.local.store.models import ModelNameInUse, ModelRecord, ModelStore
from airflow_automl.local.store.page_tokens import InvalidPageToken
from airflow_automl.local.store.paging import ListQuery, Page
from airflow_automl.local.store.resources import NameInUse, ResourceStore
from airflow_automl.local.store.runs import ACTIVE_STATUSES, RunFenced, RunRecord, RunStore
from airflow_automl.local.store.tags import MAX_TAGS_PER_RESOURCE, TagStore, TooManyTags
from airflow_automl.local.store.transform_jobs import TransformJobNameInUse, TransformJobRecord, TransformJobStore

__all__ = [
    "ACTIVE_STATUSES",
    "MAX_TAGS_PER_RESOURCE",
    "ClientTokenReused",
    "EndpointConfigNameInUse",
    "EndpointConfigRecord",
    "EndpointNameInUse",
    "EndpointRecord",
    "GroupNameInUse",
    "GroupNotFound",
    "InvalidPageToken",
    "JobNameInUse",
    "JobRecord",
    "ListQuery",
    "ModelNameInUse",
    "ModelPackageGroupRecord",
    "ModelPackageRecord",
    "ModelRecord",
    "NameInUse",
    "PackageNameInUse",
    "Page",
    "ResourceStore",
    "RunFenced",
    "RunRecord",
    "RunStore",
    "StepRecord",
    "Store",
    "TooManyActiveJobs",
    "TooManyTags",
    "TransformJobNameInUse",
    "TransformJobRecord",
]


class Store:
    """The database file and the stores of each resource family, sharing its connections."""

    def __init__(self, db_path: Path):
        self.database = Database(db_path)
        self.jobs = AutoMLJobStore(self.database)
        self.candidate_steps = CandidateStepStore(self.database)
        self.transform_jobs = TransformJobStore(self.database)
        self.models = ModelStore(self.database)
        self.endpoint_configs = EndpointConfigStore(self.database)
        self.endpoints = EndpointStore(self.database)
        self.model_package_groups = ModelPackageGroupStore(self.database)
        self.model_packages = ModelPackageStore(self.database)
        self.tags = TagStore(self.database)

    def close(self) -> None:
        self.database.close()

    def integrity_check(self) -> str:
        return self.database.integrity_check()
