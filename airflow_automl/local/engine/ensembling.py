"""ENSEMBLING mode: AutoGluon Tabular trains the selected algorithms and a weighted ensemble of
them; every model it finishes becomes a candidate, scored on the validation data.

Selection and refit: every candidate is scored on the validation rows, the best is chosen on that
score, and then the best is refit on the training and validation rows together (AutoGluon's
refit_full: the same models, their iteration counts as found with early stopping, no rows held
out), so the served model learns from every row it was given. Candidate metrics stay the
validation metrics of the models as selected; the refit model has none of its own.

Time: training gets all of MaxAutoMLJobRuntimeInSeconds that is left once the data is analysed,
less REFIT_SHARE of it kept for the refit; the refit runs only when its estimate (REFIT_COST of the
fit times of the models it refits, scaled to the added rows) fits before the deadline. Each base model is
archived and uploaded while the next ones train; what needs the finished predictor (the
ensembles' archives, the leaderboard, the best candidate's reports) comes after the deadline,
within FINISHING_GRACE_SECONDS. The API's meaning allows it: a job that reaches its maximum
runtime "is stopped automatically and its processing is ended gracefully", with the best model
whose training completed as its best candidate; nothing is trained past the deadline.
"""

from __future__ import annotations

import gzip
import json
import logging
import shutil
import tarfile
import time
from collections.abc import Set
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from autogluon.core.callbacks import AbstractCallback
from autogluon.tabular import TabularPredictor
from autogluon.tabular import __version__ as autogluon_version
from autogluon.tabular.configs.hyperparameter_configs import get_hyperparameter_config

from airflow_automl.local.engine.candidates import (
    AUTOGLUON_IMAGE,
    INFERENCE_SUPPORTED,
    Placement,
    build_candidate,
    candidate_name,
)
from airflow_automl.local.engine.data import Dataset
from airflow_automl.local.engine.job import (
    MODEL_MANIFEST,
    CandidateTraining,
    JobContext,
    JobFailed,
    JobOutcome,
    StageTimes,
    write_candidate_manifest,
)
from airflow_automl.local.engine.metrics import AUTOGLUON_METRIC, AUTOGLUON_PROBLEM_TYPE
from airflow_automl.local.engine.reports import publish_best_candidate_reports
from airflow_automl.local.engine.torch_extra import TORCH_ALGORITHMS, missing_torch_message, torch_available
from airflow_automl.sagemaker.metric_values import compute_metrics
from airflow_automl.sagemaker.metrics import REGRESSION, greater_is_better, is_better

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

log = logging.getLogger(__name__)

# The reference's ENSEMBLING algorithms and the AutoGluon model families that implement them.
ALGORITHM_MODELS = {
    "xgboost": "XGB",
    "lightgbm": "GBM",
    "catboost": "CAT",
    "randomforest": "RF",
    "extra-trees": "XT",
    "linear-learner": "LR",
    "nn-torch": "NN_TORCH",
    "fastai": "FASTAI",
}
PREDICTOR_DIR = "predictor"
# How long past MaxAutoMLJobRuntimeInSeconds a job may take to end gracefully: archive the
# ensembles, write the leaderboard and the best candidate's reports (their time shrinks to fit).
FINISHING_GRACE_SECONDS = 8.0
# AutoGluon's time limit is soft (the model in training may overrun its estimate a little, and the
# weighted ensemble is fitted after it): training is asked to end this much before the deadline.
TRAINING_MARGIN_SECONDS = 2.0
# The share of the training time kept for refitting the best candidate on all rows: the
# refit of an ensemble costs about the fit times of its members (early-stopped iterations only).
REFIT_SHARE = 0.25
# A refit costs a fraction of the first fit: each boosted model trains only the iterations early
# stopping chose (not the patience rounds past them) and nothing is scored on validation rows.
# Measured: refits of 4 to 10 s after 35 to 49 s of fitting (docs/local-service/tabular-quality.md);
# half the fit times leaves twice that as margin. Counting the whole fit times, the estimate of an
# ensemble's refit took more than the reserve, and the refit never ran.
REFIT_COST = 0.5


def select_algorithms(requested: tuple[str, ...]) -> list[str]:
    """The algorithms to train. Asked-for torch algorithms without torch installed fail the job;
    when the list is left empty (all algorithms), they are left out instead."""
    if requested:
        reason = missing_torch_message(requested)
        if reason:
            raise JobFailed(reason)
        return list(dict.fromkeys(requested))
    return [a for a in ALGORITHM_MODELS if a not in TORCH_ALGORITHMS or torch_available()]


def hyperparameters_for(algorithms: list[str]) -> dict:
    """AutoGluon's default model configurations, restricted to the chosen algorithms."""
    defaults = get_hyperparameter_config("default")
    chosen = {}
    for algorithm in algorithms:
        key = ALGORITHM_MODELS[algorithm]
        chosen[key] = defaults.get(key, {})
    return chosen


def planned_model_count(hyperparameters: dict, ag_problem_type: str) -> int:
    count = 0
    for configs in hyperparameters.values():
        for config in configs if isinstance(configs, list) else [configs]:
            if isinstance(config, str):
                count += 1
                continue
            problem_types = config.get("ag_args", {}).get("problem_types")
            if problem_types is None or ag_problem_type in problem_types:
                count += 1
    return count


@dataclass
class TrainedModel:
    model: str
    candidate_name: str
    metrics: dict[str, float]
    fit_time: float | None
    is_ensemble: bool
    candidate: dict
    refit_of: str | None = None  # the model, fitted without the validation rows, it was selected as


@dataclass
class _Progress:
    """Shared between the AutoGluon callback and the job: what was trained, why training ended."""

    trained: list[TrainedModel] = field(default_factory=list)
    core_fitted: int = 0
    stopped: bool = False
    limit_reached: bool = False


def run_ensembling(
    spec: JobSpec,
    ctx: JobContext,
    dataset: Dataset,
    objective: str,
    deadline: float | None,
    stages: StageTimes | None = None,
) -> JobOutcome:
    stages = stages or StageTimes()
    placement = Placement.for_job(spec, ctx)
    predictor_path = Path(ctx.model_dir) / PREDICTOR_DIR
    with _Archiver(ctx, placement, predictor_path, stages) as archiver:
        job = _Job(spec, ctx, dataset, objective, deadline, stages, placement, predictor_path, archiver)
        return _train_and_finish(job)


@dataclass(frozen=True)
class _Job:
    """One ENSEMBLING job, as its steps share it."""

    spec: JobSpec
    ctx: JobContext
    dataset: Dataset
    objective: str
    deadline: float | None  # time.monotonic() at MaxAutoMLJobRuntimeInSeconds
    stages: StageTimes
    placement: Placement
    predictor_path: Path
    archiver: _Archiver


@dataclass(frozen=True)
class _Plan:
    """What AutoGluon is asked to train."""

    ag_problem_type: str
    hyperparameters: dict
    planned: int  # base models the hyperparameters make for this problem type
    fit_ensemble: bool
    max_core: int | None  # base models MaxCandidates leaves room for; None: no limit


@dataclass(frozen=True)
class _Training:
    """How training went: the predictor, the seconds its fit took and the time it was given."""

    predictor: TabularPredictor
    elapsed: float
    time_limit: float | None


def _train_and_finish(job: _Job) -> JobOutcome:
    plan = _plan(job.spec, job.dataset)
    progress = _Progress()
    training = _train(job, plan, progress)
    if not progress.trained:
        if progress.stopped:
            return JobOutcome("Stopped")
        raise JobFailed(
            "No candidate finished training"
            + (f" within MaxAutoMLJobRuntimeInSeconds={job.spec.max_job_runtime}" if job.spec.max_job_runtime else "")
            + "; allow more time or check the training data"
        )
    best = _best_candidate(progress.trained, job.objective)
    if not (progress.stopped or job.ctx.should_stop()):
        best = _refit_on_all_rows(job, training.predictor, progress.trained, best)
    _keep_models(job, training, progress.trained, best)
    if progress.stopped or job.ctx.should_stop():
        return JobOutcome("Stopped")
    finish_by = None if job.deadline is None else job.deadline + FINISHING_GRACE_SECONDS
    with job.stages.stage("reports"):
        publish_best_candidate_reports(
            job.ctx,
            job.placement,
            best.candidate,
            # The reports score the validation rows: the model as selected, which never saw them.
            AutoGluonCandidate(training.predictor, best.refit_of or best.model),
            job.dataset,
            job.objective,
            finish_by,
        )
    return _ending(job.spec, plan, progress, training)


def _plan(spec: JobSpec, dataset: Dataset) -> _Plan:
    algorithms = select_algorithms(tuple(spec.algorithms))
    ag_problem_type = AUTOGLUON_PROBLEM_TYPE[dataset.problem_type]
    hyperparameters = hyperparameters_for(algorithms)
    planned = planned_model_count(hyperparameters, ag_problem_type)
    # MaxCandidates counts every candidate, the weighted ensemble included; an ensemble of
    # fewer than two models adds nothing, so small limits train base models only.
    max_candidates = spec.max_candidates
    fit_ensemble = planned >= 2 and (max_candidates is None or max_candidates >= 3)
    max_core = None if max_candidates is None else (max_candidates - 1 if fit_ensemble else max_candidates)
    return _Plan(ag_problem_type, hyperparameters, planned, fit_ensemble, max_core)


def _train(job: _Job, plan: _Plan, progress: _Progress) -> _Training:
    """AutoGluon's fit, every finished model scored and reported as a candidate as it comes."""
    scorer = _ValidationScorer(
        job.dataset, job.objective, job.placement, job.ctx, progress, job.spec.name, job.archiver
    )
    fit_kwargs: dict = {}
    if job.spec.max_runtime_per_training_job:
        fit_kwargs["ag_args_fit"] = {"max_time_limit": float(job.spec.max_runtime_per_training_job)}
    time_limit = None
    if job.deadline is not None:
        left = job.deadline - time.monotonic() - TRAINING_MARGIN_SECONDS
        time_limit = max(1.0, left * (1 - REFIT_SHARE))

    job.ctx.set_secondary_status("TrainingModels")
    started = time.monotonic()
    predictor = TabularPredictor(
        label=job.dataset.target,
        problem_type=plan.ag_problem_type,
        eval_metric=AUTOGLUON_METRIC[job.objective],
        path=str(job.predictor_path),
        sample_weight=job.dataset.sample_weight,
        weight_evaluation=job.dataset.sample_weight is not None,
        verbosity=1,
    )
    if job.dataset.text_columns:
        fit_kwargs["feature_metadata"] = _feature_metadata(job.dataset)
    predictor.fit(
        job.dataset.train,
        tuning_data=job.dataset.validation,
        time_limit=time_limit,
        hyperparameters=plan.hyperparameters,
        fit_weighted_ensemble=plan.fit_ensemble,
        calibrate_decision_threshold=False,  # keep predictions the same as the ones scored
        callbacks=[JobCallback(scorer, job.ctx.should_stop, plan.max_core)],
        **fit_kwargs,
    )
    elapsed = time.monotonic() - started
    preprocessing = getattr(predictor._learner, "_time_fit_preprocessing", None) or 0.0
    job.stages.add("feature work", preprocessing)
    job.stages.add("training", elapsed - preprocessing)
    return _Training(predictor, elapsed, time_limit)


def _best_candidate(trained: list[TrainedModel], objective: str) -> TrainedModel:
    best = None
    for model in trained:
        value = model.metrics.get(objective)
        if value is not None and (best is None or is_better(objective, value, best.metrics[objective])):
            best = model
    if best is None:
        raise JobFailed(f"No candidate could be scored on the objective metric {objective}")
    return best


def refit_estimate(trainer, model: str, train_rows: int, validation_rows: int) -> float:
    """Seconds the refit of ``model`` on train + validation rows should take: REFIT_COST of the fit
    times of the models it needs, scaled to the added rows."""
    fit_times = [trainer.get_model_attribute(m, "fit_time") or 0.0 for m in trainer.get_minimum_model_set(model)]
    return REFIT_COST * sum(fit_times) * (train_rows + validation_rows) / max(train_rows, 1)


def _refit_on_all_rows(job: _Job, predictor, trained: list[TrainedModel], best: TrainedModel) -> TrainedModel:
    """The best candidate refit on the training and validation rows, when that fits in the time
    left; its metrics stay those of the model selected on the validation rows."""
    dataset = job.dataset
    estimate = refit_estimate(predictor._trainer, best.model, len(dataset.train), len(dataset.validation))
    if job.deadline is not None and time.monotonic() + estimate > job.deadline:
        log.info("best candidate not refit on all rows: about %.1f s needed, the deadline is nearer", estimate)
        return best
    with job.stages.stage("refit"):
        refit_model = predictor.refit_full(model=best.model, set_best_to_refit_full=False)[best.model]
    log.info("refit %s on all %d rows as %s", best.model, len(dataset.train) + len(dataset.validation), refit_model)
    container = best.candidate["InferenceContainers"][0]
    candidate = {
        **best.candidate,
        "InferenceContainers": [
            {**container, "Environment": {**container["Environment"], "AUTOGLUON_MODEL": refit_model}},
            *best.candidate["InferenceContainers"][1:],
        ],
    }
    refit = TrainedModel(
        refit_model, best.candidate_name, best.metrics, best.fit_time, best.is_ensemble, candidate, best.model
    )
    trained[trained.index(best)] = refit
    job.ctx.add_candidate(candidate)
    if not refit.is_ensemble:  # an ensemble's archive is made once the predictor is final
        job.archiver.submit(refit)
    return refit


def _keep_models(job: _Job, training: _Training, trained: list[TrainedModel], best: TrainedModel) -> None:
    """The best model as the predictor's own, the manifests the service serves from (every
    candidate's: AutoGluon keeps every model it trained), every candidate's archive uploaded, and
    the leaderboard."""
    predictor = training.predictor
    # AutoGluon may have calibrated its own best model after training: archive that one again.
    calibrated = predictor.model_best
    predictor.set_model_best(best.model, save_trainer=True)
    job.ctx.set_best_candidate(best.candidate_name)

    log.info("trained %d candidates in %.1f s (time limit %s)", len(trained), training.elapsed, training.time_limit)
    _write_model_manifests(Path(job.ctx.model_dir), job.dataset, job.objective, trained, best)
    for model in trained:
        if model.is_ensemble or model.model == calibrated:
            job.archiver.submit(model)
    job.archiver.finish()
    with job.stages.stage("candidate archives"):
        job.ctx.storage.write_bytes(
            job.placement.uri("leaderboard.csv"), leaderboard_csv(trained, job.objective).encode()
        )


def _ending(spec: JobSpec, plan: _Plan, progress: _Progress, training: _Training) -> JobOutcome:
    """Why the job ended: MaxCandidates, the time limit, or everything planned was trained."""
    max_candidates = spec.max_candidates
    if progress.limit_reached or (max_candidates is not None and len(progress.trained) >= max_candidates):
        return JobOutcome("MaxCandidatesReached")
    core_trained = sum(1 for t in progress.trained if not t.is_ensemble)
    time_limit = training.time_limit
    if time_limit is not None and (training.elapsed >= 0.98 * time_limit or core_trained < plan.planned):
        return JobOutcome("MaxAutoMLJobRuntimeReached")
    return JobOutcome("Completed")


class AutoGluonCandidate:
    """One of the predictor's models, predicting in the job's own labels."""

    def __init__(self, predictor, model: str):
        self.predictor = predictor
        self.model = model
        self.classes = list(predictor.class_labels) if predictor.problem_type != "regression" else None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return self.predictor.predict(frame, model=self.model).to_numpy()

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        probabilities = self.predictor.predict_proba(frame, model=self.model, as_multiclass=True)
        return probabilities[self.classes].to_numpy()


def _feature_metadata(dataset: Dataset):
    """AutoGluon's own inference of types, with the columns a feature specification calls text."""
    from autogluon.common.features.feature_metadata import FeatureMetadata

    metadata = FeatureMetadata.from_df(dataset.train[dataset.feature_columns])
    return metadata.add_special_types({column: ["text"] for column in dataset.text_columns})


class _ValidationScorer:
    """Scores each model AutoGluon finishes on the validation rows (as AutoGluon holds them,
    already transformed) and reports it as a candidate at once."""

    def __init__(
        self, dataset: Dataset, objective: str, placement: Placement, ctx, progress: _Progress, job_name, archiver
    ):
        self.archiver = archiver
        self.dataset = dataset
        self.objective = objective
        self.placement = placement
        self.ctx = ctx
        self.progress = progress
        self.job_name = job_name
        self._validation: tuple[Any, np.ndarray] | None = None  # (features, labels), loaded once
        if dataset.sample_weight is not None:
            self.weights = dataset.validation[dataset.sample_weight].to_numpy(dtype=float)
        else:
            self.weights = None

    def score(self, trainer, model: str, is_ensemble: bool) -> None:
        if self._validation is None:
            self._validation = (trainer.load_X_val(), np.asarray(trainer.load_y_val()))
        x_val, y_val = self._validation
        weights = self.weights if self.weights is not None and len(self.weights) == len(y_val) else None
        if self.dataset.problem_type == REGRESSION:
            metrics = compute_metrics(REGRESSION, y_val, trainer.predict(x_val, model=model), sample_weight=weights)
        else:
            probabilities = np.asarray(trainer.predict_proba(x_val, model=model))
            if probabilities.ndim == 1:  # binary: probability of the positive class (internal label 1)
                probabilities = np.column_stack([1 - probabilities, probabilities])
            classes = np.arange(probabilities.shape[1])
            prediction = probabilities.argmax(axis=1)
            metrics = compute_metrics(
                self.dataset.problem_type, y_val, prediction, probabilities, sample_weight=weights, classes=classes
            )
        number = len(self.progress.trained) + 1
        name = candidate_name(self.job_name, model, number)
        fit_time = trainer.get_model_attribute(model, "fit_time")
        candidate = build_candidate(
            self.placement,
            name,
            self.objective,
            metrics,
            image=_autogluon_image(self.placement.region),
            environment={
                "AUTOGLUON_MODEL": model,
                **(INFERENCE_SUPPORTED if self.dataset.problem_type != REGRESSION else {}),
            },
        )
        trained = TrainedModel(model, name, metrics, fit_time, is_ensemble, candidate)
        self.progress.trained.append(trained)
        fitted = trainer.load_model(model)  # loaded for the predictions above already
        self.ctx.add_candidate(
            candidate, CandidateTraining(f"AutoGluon {type(fitted).__name__}", dict(fitted.params or {}), fit_time)
        )
        if (
            not is_ensemble
        ):  # a base model's files are final once fitted; an ensemble's archive needs the whole predictor
            self.archiver.submit(trained)


def _autogluon_image(region: str) -> str:
    return AUTOGLUON_IMAGE.format(region=region, version=autogluon_version)


class JobCallback(AbstractCallback):
    """Stops training when the job is stopped, skips base models beyond MaxCandidates, and
    scores each finished model as soon as AutoGluon reports it."""

    def __init__(self, scorer: _ValidationScorer, should_stop, max_core: int | None):
        super().__init__()
        self.scorer = scorer
        self.should_stop = should_stop
        self.max_core = max_core

    def __getstate__(self):
        # AutoGluon pickles its trainer, callbacks included, while it trains; the job's
        # context (store connections) stays out of the pickle.
        state = dict(self.__dict__)
        state["scorer"] = state["should_stop"] = None
        return state

    def _before_model_fit(self, trainer, model, time_limit=None, stack_name="core", level=1, **kwargs):
        progress = self.scorer.progress
        if self.should_stop():
            progress.stopped = True
            return True, False
        if stack_name == "core" and self.max_core is not None and progress.core_fitted >= self.max_core:
            progress.limit_reached = True
            return False, True
        return False, False

    def _after_model_fit(self, trainer, model_names, stack_name="core", level=1, **kwargs):
        progress = self.scorer.progress
        for model in model_names:
            if stack_name == "core":
                progress.core_fitted += 1
            self.scorer.score(trainer, model, is_ensemble=stack_name != "core")
        if self.should_stop():
            progress.stopped = True
            return True
        return False


def _write_model_manifests(model_dir: Path, dataset: Dataset, objective: str, trained, best: TrainedModel) -> None:
    """What the service needs to serve the job's models without knowing AutoGluon's layout: one
    manifest per candidate (each names its model in the one predictor all candidates share) and
    the best candidate's as the job's own."""
    common = {
        "framework": "autogluon",
        "predictor_path": PREDICTOR_DIR,
        "target": dataset.target,
        "problem_type": dataset.problem_type,
        "objective": objective,
        "feature_columns": dataset.feature_columns,
    }
    for model in trained:
        write_candidate_manifest(model_dir, model.candidate_name, {**common, "model": model.model})
    manifest = {
        **common,
        "best_candidate": best.candidate_name,
        "candidates": {t.candidate_name: t.model for t in trained},
    }
    (model_dir / MODEL_MANIFEST).write_text(json.dumps(manifest, indent=2))


class _Archiver:
    """Archives and uploads candidates' models in a background thread, in the order submitted: base
    models while training goes on, ensembles once the predictor is final. ``finish()`` waits for all
    and raises the first failure; leaving the ``with`` block without it (a failed or stopped job)
    drops what has not started.

    Every archive holds tar entries named as in the predictor directory, as concatenated gzip
    members (gzip allows it; tar, gzip and Python read them as one stream). A base model's entries
    are compressed once, when it has trained, into a member that makes up its own archive and, with
    the predictor's own files, each ensemble's archive (an ensemble needs the whole predictor): after
    training only those few files are compressed, not every model again.
    """

    def __init__(self, ctx, placement: Placement, predictor_path: Path, stages: StageTimes):
        self.ctx = ctx
        self.placement = placement
        self.predictor_path = predictor_path
        self.stages = stages
        self.archive_dir = Path(ctx.work_dir) / "archives"
        self.members: dict[str, Path] = {}  # base model -> its compressed tar entries
        # One thread: it shares the cores with training; zlib releases the GIL while it compresses.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="candidate-archives")
        self.futures: list[Future[None]] = []

    def __enter__(self) -> _Archiver:
        (self.archive_dir / "members").mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(self, *exc_info) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def submit(self, model: TrainedModel) -> None:
        self.futures.append(self.pool.submit(self._archive_and_upload, model))

    def finish(self) -> None:
        started = time.monotonic()
        for future in self.futures:
            future.result()
        log.info("the last candidate archives took %.1f s after training", time.monotonic() - started)

    def _archive_and_upload(self, model: TrainedModel) -> None:
        with self.stages.stage("candidate archives"):
            if model.is_ensemble:
                others = self._compress(self.predictor_path, ".", model.candidate_name, exclude=set(self.members))
                parts = [*self.members.values(), others]
            else:
                member = self._compress(
                    self.predictor_path / "models" / model.model, f"./models/{model.model}", model.model
                )
                self.members[model.model] = member
                parts = [member]
            archive = self.archive_dir / f"{model.candidate_name}.tar.gz"
            with open(archive, "wb") as out:
                for part in parts:
                    with open(part, "rb") as source:
                        shutil.copyfileobj(source, out)
                out.write(_END_OF_ARCHIVE)
            self.ctx.storage.upload_file(archive, self.placement.model_uri(model.candidate_name))

    def _compress(self, source: Path, arcname: str, label: str, exclude: Set[str] = frozenset()) -> Path:
        """Tar entries of ``source`` (named under ``arcname``, less ``./models/<name>`` for the names in
        ``exclude``) as one gzip member, without the end-of-archive blocks so that members concatenate."""
        excluded = {f"./models/{name}" for name in exclude}
        path = self.archive_dir / "members" / f"{label}.gz"
        # Fast compression: tree ensembles make archives of tens of MB.
        with gzip.open(path, "wb", compresslevel=1) as out:
            writer = _EntriesOnly(out)
            # The ignore: typeshed asks read(), seek() and close() of any fileobj; writing, a TarFile calls none.
            with tarfile.open(fileobj=writer, mode="w") as tar:  # type: ignore[call-overload]
                tar.add(source, arcname=arcname, filter=lambda entry: None if entry.name in excluded else entry)
                writer.entries_done = True  # close() appends the end-of-archive blocks: drop them
        return path


# The end of a tar archive: two zero blocks (readers need no more), as its own gzip member.
_END_OF_ARCHIVE = gzip.compress(bytes(2 * tarfile.BLOCKSIZE), compresslevel=1)


class _EntriesOnly:
    """The file a TarFile writes to: passes its entries on, and nothing once ``entries_done``."""

    def __init__(self, out):
        self.out = out
        self.entries_done = False

    def write(self, data: bytes) -> int:
        if not self.entries_done:
            self.out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.out.tell()


def leaderboard_csv(trained, objective: str) -> str:
    rows = []
    for t in trained:
        row = {"CandidateName": t.candidate_name, "Model": t.model, "ObjectiveMetric": objective}
        row[objective] = t.metrics.get(objective)
        row.update({k: v for k, v in t.metrics.items() if k != objective})
        row["FitTimeSeconds"] = t.fit_time
        rows.append(row)
    frame = pd.DataFrame(rows)
    frame = frame.sort_values(objective, ascending=not greater_is_better(objective), kind="stable")
    return frame.to_csv(index=False)
