"""The run lifecycle every job kind shares (store/runs.py), held for AutoML and transform jobs alike."""

from __future__ import annotations

import pytest

from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.store import RunFenced, Store

KINDS = ["jobs", "transform_jobs"]


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "automl.sqlite3")
    yield store
    store.close()


def create(store: Store, kind: str, name: str):
    """A queued job of the kind."""
    if kind == "jobs":
        spec = JobSpec(name=name, api_version=1, channels=(), output_path="file:///out", target="y")
        return store.jobs.create(spec=spec, arn=f"arn:job/{name.lower()}", request={}, max_active_jobs=50)
    return store.transform_jobs.create(
        name=name, arn=f"arn:transform-job/{name.lower()}", request={}, model_job_name="source"
    )


def secondary(store: Store, kind: str, name: str) -> str | None:
    """The AutoML job's secondary status (transform jobs have none)."""
    return store.jobs.get(name).secondary_status if kind == "jobs" else None


@pytest.mark.parametrize("kind", KINDS)
def test_a_claimed_job_starts_its_clock_and_only_its_run_ends_it(store, kind):
    runs = getattr(store, kind)
    create(store, kind, "Job-1")
    assert [job.name for job in runs.queued(10)] == ["Job-1"] and runs.running() == []
    assert runs.claim("job-1", "run-a")
    assert not runs.claim("job-1", "run-b")  # one run per job
    job = runs.get("job-1")
    assert job.run_id == "run-a" and job.start_time is not None and job.start_time >= job.creation_time
    assert runs.queued(10) == [] and [job.name for job in runs.running()] == ["Job-1"]
    assert not runs.finish("job-1", "run-b", "Completed")  # another run's write changes nothing
    assert runs.finish("job-1", "run-a", "Completed")
    assert runs.status("job-1") == "Completed" and runs.get("job-1").end_time is not None
    assert not runs.finish("job-1", "run-a", "Failed", "too late")  # an ended job stays as it ended
    assert runs.get("job-1").status == "Completed" and runs.get("job-1").failure_reason is None


@pytest.mark.parametrize("kind", KINDS)
def test_a_stop_before_any_worker_took_the_job_stops_it_at_once(store, kind):
    runs = getattr(store, kind)
    create(store, kind, "early")
    assert runs.request_stop("early").status == "Stopped"
    assert not runs.claim("early", "run-a")
    assert secondary(store, kind, "early") in ("Stopped", None)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("reported", "reason", "ended"),
    [("Completed", None, "Stopped"), ("Stopped", None, "Stopped"), ("Failed", "it broke", "Failed")],
)
def test_a_job_asked_to_stop_ends_stopped_unless_it_failed(store, kind, reported, reason, ended):
    runs = getattr(store, kind)
    create(store, kind, "asked")
    runs.claim("asked", "run-a")
    assert runs.request_stop("asked").status == "Stopping"
    assert runs.finish("asked", "run-a", reported, reason)
    job = runs.get("asked")
    assert (job.status, job.failure_reason) == (ended, reason)
    assert secondary(store, kind, "asked") in (ended, None)


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_whose_worker_is_gone_fails_unless_it_was_asked_to_stop(store, kind):
    runs = getattr(store, kind)
    for name in ("running", "stopping"):
        create(store, kind, name)
        runs.claim(name, f"run-{name}")
    runs.request_stop("stopping")
    assert runs.end_orphaned("running", "run-other", "gone") is None  # fenced by the run id
    assert runs.end_orphaned("running", "run-running", "the worker died") == "Failed"
    assert runs.end_orphaned("stopping", "run-stopping", "the worker died") == "Stopped"
    assert (runs.get("running").status, runs.get("running").failure_reason) == ("Failed", "the worker died")
    assert (runs.get("stopping").status, runs.get("stopping").failure_reason) == ("Stopped", None)
    assert secondary(store, kind, "running") in ("Failed", None)
    assert secondary(store, kind, "stopping") in ("Stopped", None)


@pytest.mark.parametrize("kind", KINDS)
def test_a_restart_ends_stopping_jobs_stopped_and_the_others_failed(store, kind):
    runs = getattr(store, kind)
    for name in ("queued", "running", "stopping", "done"):
        create(store, kind, name)
    for name in ("running", "stopping", "done"):
        runs.claim(name, f"run-{name}")
    runs.request_stop("stopping")
    runs.finish("done", "run-done", "Completed")
    ended = runs.end_interrupted("restarted")
    assert ended == [("queued", "Failed"), ("running", "Failed"), ("stopping", "Stopped")]
    assert [(runs.get(n).status, runs.get(n).failure_reason) for n in ("queued", "running", "stopping", "done")] == [
        ("Failed", "restarted"),
        ("Failed", "restarted"),
        ("Stopped", None),
        ("Completed", None),
    ]
    assert all(runs.get(n).end_time is not None for n in ("queued", "running", "stopping"))
    assert runs.end_interrupted("restarted") == []


def test_an_automl_job_keeps_its_best_completed_candidate_and_late_writes_are_fenced(store):
    create(store, "jobs", "ranked")
    store.jobs.claim("ranked", "run-a")
    for name, value, status in (("low", 0.2, "Completed"), ("high", 0.9, "Completed"), ("odd", 5.0, "Failed")):
        candidate = {
            "CandidateName": name,
            "CandidateStatus": status,
            "FinalAutoMLJobObjectiveMetric": {"MetricName": "F1", "Value": value, "Type": "Maximize"},
        }
        store.jobs.add_candidate("ranked", "run-a", candidate)
    assert store.jobs.keep_best_candidate("ranked", "run-a") == "high"
    store.jobs.end_orphaned("ranked", "run-a", "gone")
    assert store.jobs.get("ranked").best_candidate_name == "high"
    with pytest.raises(RunFenced):
        store.jobs.add_candidate("ranked", "run-a", {"CandidateName": "late"})
    assert store.jobs.get_candidate("ranked", "late") is None
