"""The kinds of job the supervisor runs, and what each adds to the one lifecycle they share.

A kind is its store (a RunStore: its table), its worker module (the process that runs one job),
its jobs' directory, and rules of its own: what a job keeps when the supervisor ends it in its
worker's place, and the runtime limit a job may overrun. The supervisor (supervisor.py) runs
every kind in KINDS the same way. A new kind is a RunStore subclass in store/ (with a migration
for its table), a worker module here (started as worker.py starts every worker), and a JobKind
in KINDS.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.engine.job import keep_best_manifest
from airflow_automl.local.serving.loading import model_dir
from airflow_automl.local.store import JobRecord, RunFenced, RunRecord, RunStore, Store

log = logging.getLogger(__name__)


class JobKind:
    """One kind of job, as the supervisor runs it."""

    worker: str  # how failure reasons name its worker: "The <worker> worker ..."
    noun: str  # how messages name one job of the kind
    stop_operation: str  # the operation that asks it to stop
    worker_module: str

    def runs(self, store: Store) -> RunStore:
        raise NotImplementedError

    def job_dir(self, config: ServiceConfig, name: str) -> Path:
        raise NotImplementedError

    def restart_failure_reason(self) -> str:
        """The FailureReason of a job that was running when the service stopped."""
        return f"The local service restarted while the {self.noun} was running; start a new {self.noun}"

    def keep_results(self, config: ServiceConfig, store: Store, job: RunRecord) -> None:
        """Keep what a job produced before the supervisor ends it in its worker's place (the worker
        died, was killed, or went with the previous service process)."""

    def overrun(self, job: RunRecord, now: float, stop_grace: float) -> str | None:
        """The runtime limit a running job has overrun so far that its worker must be killed (e.g.
        "MaxAutoMLJobRuntimeInSeconds=60"); None while it has not, and for a kind without one."""
        return None

    def end_overrun(self, config: ServiceConfig, store: Store, job: RunRecord) -> None:
        """End a job whose worker was killed for an overrun."""
        raise NotImplementedError(f"{type(self).__name__} has no runtime limit")


class AutoMLJobs(JobKind):
    worker = "training"
    noun = "job"
    stop_operation = "StopAutoMLJob"
    worker_module = "airflow_automl.local.runs.training"

    def runs(self, store: Store) -> RunStore:
        return store.jobs

    def job_dir(self, config: ServiceConfig, name: str) -> Path:
        return config.job_dir(name)

    def keep_results(self, config: ServiceConfig, store: Store, job: RunRecord) -> None:
        """The job keeps the best of the candidates it trained, as one that ends by itself does:
        described as its BestCandidate, and its kept model made the job's own (every candidate's
        model is kept as soon as it is trained, so a killed worker leaves them behind)."""
        if job.run_id is None:
            return  # never started: no candidates
        try:
            best = store.jobs.keep_best_candidate(job.name, job.run_id)
        except RunFenced:
            log.info("job %s ended before its best candidate could be chosen", job.name)
            return
        if best is not None and not keep_best_manifest(model_dir(config, job.name), best):
            log.warning("job %s: its best candidate %s kept no model to serve", job.name, best)

    def overrun(self, job: RunRecord, now: float, stop_grace: float) -> str | None:
        """The engine ends a job at MaxAutoMLJobRuntimeInSeconds itself, at a model boundary; a job a
        tenth and twice the stop grace past it is stuck in a library call."""
        assert isinstance(job, JobRecord)
        max_runtime = job.spec.max_job_runtime
        if job.status != "InProgress" or not max_runtime or job.start_time is None:
            return None
        if now - job.start_time <= max_runtime * 1.1 + 2 * stop_grace:
            return None
        return f"MaxAutoMLJobRuntimeInSeconds={max_runtime}"

    def end_overrun(self, config: ServiceConfig, store: Store, job: RunRecord) -> None:
        """As SageMaker ends a job at its runtime limit: Completed with its best model, if it has one."""
        assert isinstance(job, JobRecord) and job.run_id is not None
        self.keep_results(config, store, job)
        refreshed = store.jobs.get(job.name)
        if refreshed is not None and refreshed.best_candidate_name is not None:
            with contextlib.suppress(RunFenced):  # the job ended meanwhile: it says how itself
                store.jobs.add_partial_failure(
                    job.name,
                    job.run_id,
                    f"The training worker was still in a fit at MaxAutoMLJobRuntimeInSeconds "
                    f"({job.spec.max_job_runtime} s) and was stopped; the candidate it was training is not "
                    f"listed, the ones it finished are kept",
                )
            store.jobs.finish(job.name, job.run_id, "Completed", secondary_status="MaxAutoMLJobRuntimeReached")
            return
        store.jobs.finish(
            job.name,
            job.run_id,
            "Failed",
            f"AutoMLJobConfig.CompletionCriteria.MaxAutoMLJobRuntimeInSeconds: the job ran past "
            f"{job.spec.max_job_runtime} s without finishing a candidate; allow more time or fewer, faster algorithms",
        )


class TransformJobs(JobKind):
    worker = "transform"
    noun = "transform job"
    stop_operation = "StopTransformJob"
    worker_module = "airflow_automl.local.runs.transform"

    def runs(self, store: Store) -> RunStore:
        return store.transform_jobs

    def job_dir(self, config: ServiceConfig, name: str) -> Path:
        return config.transform_job_dir(name)


AUTOML_JOBS = AutoMLJobs()
TRANSFORM_JOBS = TransformJobs()
# In the order the supervisor gives free worker slots to their queues.
KINDS: tuple[JobKind, ...] = (AUTOML_JOBS, TRANSFORM_JOBS)
