"""Settings of one local service process, shared by the API, the supervisor and the workers."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# The training function a worker runs, as "module:function". Tests point this at a
# scripted engine to exercise the job lifecycle without training.
ENGINE_ENV_VAR = "AIRFLOW_AUTOML_ENGINE"
DEFAULT_ENGINE = "airflow_automl.local.engine:run_job"


@dataclass(frozen=True)
class ServiceConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 8787
    file_roots: tuple[Path, ...] = ()
    s3_endpoint_url: str | None = None
    region: str = "us-east-1"
    account_id: str = "123456789012"
    # Jobs training at once; the rest wait InProgress/Starting in creation order.
    max_concurrent_jobs: int = 2
    # Jobs InProgress or Stopping (running or queued) before CreateAutoMLJob answers ResourceLimitExceeded.
    max_active_jobs: int = 50
    # Seconds a worker gets to honour StopAutoMLJob before it is killed.
    stop_grace_seconds: float = 10.0
    # Seconds between writes of endpoint data capture files (and one more write at shutdown).
    capture_flush_seconds: float = 2.0
    engine: str = field(default_factory=lambda: os.environ.get(ENGINE_ENV_VAR) or DEFAULT_ENGINE)
    # With both set, every API request must carry a valid SigV4 signature made with them.
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)

    @property
    def db_path(self) -> Path:
        return self.data_dir / "automl.sqlite3"

    def job_dir(self, job_name: str) -> Path:
        """Private directory of one job (names are unique case-insensitively)."""
        return self.data_dir / "jobs" / job_name.lower()

    def transform_job_dir(self, job_name: str) -> Path:
        """Private directory of one batch transform job (its worker's log and scratch files)."""
        return self.data_dir / "transform-jobs" / job_name.lower()

    def job_arn(self, job_name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:automl-job/{job_name.lower()}"

    def arn(self, resource: str, name: str) -> str:
        """The ARN of a named resource (model, endpoint-config, ...); SageMaker lowercases names in ARNs."""
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}/{name.lower()}"

    def endpoint_arn(self, endpoint_name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:endpoint/{endpoint_name.lower()}"
