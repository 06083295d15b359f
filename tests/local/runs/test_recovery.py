"""What a service finds after a restart: jobs of every kind that were being stopped end Stopped,
as SageMaker documents a stop; the others a previous service process was running end Failed."""

from __future__ import annotations

import pytest

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.runs.supervisor import RESTART_FAILURE_REASON, TRANSFORM_RESTART_FAILURE_REASON, Supervisor
from airflow_automl.local.store import Store


@pytest.fixture
def service(tmp_path):
    config = ServiceConfig(data_dir=tmp_path / "data")
    store = Store(config.db_path)
    yield config, store
    store.close()


def _automl_job(config: ServiceConfig, store: Store, name: str, candidates: dict[str, float]) -> None:
    """A job a worker of the previous service process was training, with its candidates so far."""
    spec = JobSpec(name=name, api_version=2, channels=(), output_path="file:///out", target="y")
    store.jobs.create(spec=spec, arn=config.job_arn(name), request={}, max_active_jobs=50)
    store.jobs.claim(name, f"run-{name}")
    for candidate, value in candidates.items():
        metric = {"MetricName": "F1", "Value": value, "Type": "Maximize"}
        store.jobs.add_candidate(
            name, f"run-{name}", {"CandidateName": candidate, "FinalAutoMLJobObjectiveMetric": metric}
        )


def _transform_job(config: ServiceConfig, store: Store, name: str) -> None:
    store.transform_jobs.create(name=name, arn=config.arn("transform-job", name), request={}, model_job_name="source")
    store.transform_jobs.claim(name, f"run-{name}")


def test_automl_jobs_being_stopped_end_stopped_with_their_best_candidate(service):
    config, store = service
    _automl_job(config, store, "being-stopped", {"first": 0.4, "second": 0.7})
    _automl_job(config, store, "stopped-early", {})
    _automl_job(config, store, "training", {"only": 0.5})
    store.jobs.request_stop("being-stopped")
    store.jobs.request_stop("stopped-early")
    Supervisor(config, store).recover_after_restart()
    stopped = store.jobs.get("being-stopped")
    assert (stopped.status, stopped.secondary_status, stopped.failure_reason) == ("Stopped", "Stopped", None)
    assert stopped.best_candidate_name == "second" and stopped.end_time is not None
    early = store.jobs.get("stopped-early")
    assert (early.status, early.best_candidate_name) == ("Stopped", None)
    failed = store.jobs.get("training")
    assert (failed.status, failed.secondary_status) == ("Failed", "Failed")
    assert failed.failure_reason == RESTART_FAILURE_REASON
    assert failed.best_candidate_name == "only"  # kept, as for a job whose worker died


def test_transform_jobs_being_stopped_end_stopped_and_running_ones_failed(service):
    config, store = service
    _transform_job(config, store, "being-stopped")
    _transform_job(config, store, "running")
    store.transform_jobs.create(
        name="queued", arn=config.arn("transform-job", "queued"), request={}, model_job_name="s"
    )
    store.transform_jobs.request_stop("being-stopped")
    Supervisor(config, store).recover_after_restart()
    assert (
        store.transform_jobs.get("being-stopped").status,
        store.transform_jobs.get("being-stopped").failure_reason,
    ) == (
        "Stopped",
        None,
    )
    for name in ("running", "queued"):
        job = store.transform_jobs.get(name)
        assert (job.status, job.failure_reason) == ("Failed", TRANSFORM_RESTART_FAILURE_REASON)


def test_the_restart_reasons_say_what_to_do():
    assert RESTART_FAILURE_REASON == "The local service restarted while the job was running; start a new job"
    assert TRANSFORM_RESTART_FAILURE_REASON == (
        "The local service restarted while the transform job was running; start a new transform job"
    )
