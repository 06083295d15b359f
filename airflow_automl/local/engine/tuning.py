"""HYPERPARAMETER_TUNING mode: Bayesian search (Optuna's TPE) over the mode's algorithms,
xgboost, linear-learner and mlp. Each trial trains one scikit-learn pipeline in a child process,
so MaxRuntimePerTrainingJobInSeconds and the job's deadline can end it; each trial is a candidate."""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import pickle
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import optuna
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from xgboost import XGBClassifier, XGBRegressor

from airflow_automl.local.engine.candidates import (
    INFERENCE_SUPPORTED,
    SKLEARN_IMAGE,
    XGBOOST_IMAGE,
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
    write_candidate_manifest,
)
from airflow_automl.local.engine.reports import publish_best_candidate_reports
from airflow_automl.local.runs.parentdeath import kill_with_parent
from airflow_automl.sagemaker.metric_values import compute_metrics
from airflow_automl.sagemaker.metrics import REGRESSION, greater_is_better, is_better

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

log = logging.getLogger(__name__)

HPO_ALGORITHMS = ("xgboost", "linear-learner", "mlp")
DEFAULT_TRIALS = 250  # SageMaker's default MaxCandidates
MODEL_FILE = "model.pkl"
# Trials run in children of a fork server: a fresh process, unlike the job's own, has no
# OpenMP/BLAS thread pools that a plain fork would copy in a locked state.
_CHILDREN = multiprocessing.get_context("forkserver")
_CHILDREN.set_forkserver_preload(["airflow_automl.local.engine.tuning"])
_POLL_SECONDS = 0.2


class TabularModel:
    """A fitted preprocessing + estimator pipeline that takes and returns the job's own columns
    and labels (the form kept for the service's endpoints)."""

    def __init__(self, pipeline: Pipeline, feature_columns: list[str], classes: list | None):
        self.pipeline = pipeline
        self.feature_columns = feature_columns
        self.classes = classes  # original labels by encoded index; None for regression

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self.classes is None:
            return self.pipeline.predict(frame[self.feature_columns])
        return np.asarray(self.classes)[self.predict_proba(frame).argmax(axis=1)]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """One column per entry of `classes`, zeros for classes the training data lacked."""
        assert self.classes is not None, "only a classifier has class probabilities"
        raw = self.pipeline.predict_proba(frame[self.feature_columns])
        full = np.zeros((len(frame), len(self.classes)))
        full[:, self.pipeline.classes_.astype(int)] = raw
        return full


@dataclass(frozen=True)
class Range:
    """One hyperparameter's search range, as Optuna samples it and as candidate definitions show it."""

    kind: str  # int | float | choice
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()

    def sample(self, trial: optuna.Trial, name: str):
        if self.kind in ("int", "float"):
            assert self.low is not None and self.high is not None, f"{name}: an {self.kind} range has bounds"
            if self.kind == "int":
                return trial.suggest_int(name, int(self.low), int(self.high), log=self.log)
            return trial.suggest_float(name, self.low, self.high, log=self.log)
        return trial.suggest_categorical(name, list(self.choices))

    def describe(self) -> dict:
        if self.kind == "choice":
            return {"Type": "Categorical", "Values": list(self.choices)}
        return {
            "Type": "Integer" if self.kind == "int" else "Continuous",
            "MinValue": self.low,
            "MaxValue": self.high,
            "ScalingType": "Logarithmic" if self.log else "Linear",
        }


# Search spaces per algorithm; linear-learner differs by problem type (Ridge vs logistic regression).
SEARCH_SPACES: dict[str, dict[str, Range]] = {
    "xgboost": {
        "n_estimators": Range("int", 50, 500, log=True),
        "max_depth": Range("int", 2, 10),
        "learning_rate": Range("float", 0.01, 0.3, log=True),
        "subsample": Range("float", 0.5, 1.0),
        "colsample_bytree": Range("float", 0.5, 1.0),
        "min_child_weight": Range("float", 1.0, 10.0, log=True),
        "reg_lambda": Range("float", 1e-3, 10.0, log=True),
    },
    "linear-learner/classification": {"C": Range("float", 1e-3, 1e2, log=True)},
    "linear-learner/regression": {"alpha": Range("float", 1e-4, 1e2, log=True)},
    "mlp": {
        "width": Range("choice", choices=(32, 64, 128, 256)),
        "depth": Range("int", 1, 3),
        "alpha": Range("float", 1e-6, 1e-1, log=True),
        "learning_rate_init": Range("float", 1e-4, 1e-2, log=True),
    },
}


def space_for(algorithm: str, problem_type: str) -> dict[str, Range]:
    if algorithm == "linear-learner":
        return SEARCH_SPACES["linear-learner/" + ("regression" if problem_type == REGRESSION else "classification")]
    return SEARCH_SPACES[algorithm]


def estimator_description(algorithm: str, problem_type: str) -> str:
    regression = problem_type == REGRESSION
    return {
        "xgboost": "xgboost.XGBRegressor" if regression else "xgboost.XGBClassifier",
        "linear-learner": "sklearn.linear_model.Ridge" if regression else "sklearn.linear_model.LogisticRegression",
        "mlp": "sklearn.neural_network.MLPRegressor" if regression else "sklearn.neural_network.MLPClassifier",
    }[algorithm]


def make_estimator(algorithm: str, problem_type: str, params: dict):
    regression = problem_type == REGRESSION
    if algorithm == "xgboost":
        cls = XGBRegressor if regression else XGBClassifier
        return cls(**params, n_jobs=min(4, os.cpu_count() or 1), random_state=0, verbosity=0)
    if algorithm == "linear-learner":
        return Ridge(**params) if regression else LogisticRegression(**params, max_iter=2000)
    params = dict(params)
    params["hidden_layer_sizes"] = tuple([params.pop("width")] * params.pop("depth"))
    cls = MLPRegressor if regression else MLPClassifier
    return cls(**params, early_stopping=True, max_iter=300, random_state=0)


def search_space(trial: optuna.Trial, algorithms: list[str], problem_type: str):
    """Samples an algorithm and its hyperparameters; returns (algorithm, params, estimator)."""
    algorithm = trial.suggest_categorical("algorithm", algorithms)
    params = {
        name: value_range.sample(trial, f"{algorithm}.{name}")
        for name, value_range in space_for(algorithm, problem_type).items()
    }
    return algorithm, params, make_estimator(algorithm, problem_type, params)


def _as_text(frame: pd.DataFrame) -> pd.Series:
    return frame.iloc[:, 0].fillna("").astype(str)


def _as_epoch_seconds(frame: pd.DataFrame) -> np.ndarray:
    return np.column_stack(
        [pd.to_datetime(frame[c], errors="coerce").astype("int64").where(frame[c].notna()) / 1e9 for c in frame.columns]
    ).astype(float)


def preprocessor(
    frame: pd.DataFrame, feature_columns: list[str], scale: bool, text_columns: tuple[str, ...] = ()
) -> ColumnTransformer:
    """Numeric: median-imputed (and scaled for linear models and MLPs); datetime: seconds since
    the epoch; text: TF-IDF of words; everything else: one-hot categories."""
    text = [c for c in feature_columns if c in text_columns]
    dates = [c for c in feature_columns if c not in text and pd.api.types.is_datetime64_any_dtype(frame[c])]
    numeric = [
        c
        for c in feature_columns
        if c not in text and pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    categorical = [c for c in feature_columns if c not in text and c not in dates and c not in numeric]
    scaling = [StandardScaler()] if scale else []
    parts = [
        ("numeric", make_pipeline(SimpleImputer(strategy="median"), *scaling), numeric),
        (
            "categorical",
            make_pipeline(
                SimpleImputer(strategy="most_frequent"),
                OneHotEncoder(handle_unknown="ignore", max_categories=50),
            ),
            categorical,
        ),
    ]
    if dates:
        parts.append(
            (
                "datetime",
                make_pipeline(FunctionTransformer(_as_epoch_seconds), SimpleImputer(strategy="median"), *scaling),
                dates,
            )
        )
    for column in text:
        parts.append(
            (
                f"text:{column}",
                make_pipeline(FunctionTransformer(_as_text), TfidfVectorizer(max_features=500)),
                [column],
            )
        )
    return ColumnTransformer(parts)


@dataclass
class Trial:
    number: int
    candidate_name: str
    algorithm: str
    params: dict
    metrics: dict[str, float]
    model_path: Path | None
    status: str  # Completed | Failed | Stopped
    failure: str | None = None
    candidate: dict | None = None
    seconds: float | None = None  # how long the trial's fit took


def run_tuning(spec: JobSpec, ctx: JobContext, dataset: Dataset, objective: str, deadline: float | None) -> JobOutcome:
    algorithms = _algorithms(spec)
    max_trials = spec.max_candidates or DEFAULT_TRIALS
    placement = Placement.for_job(spec, ctx)
    ctx.set_secondary_status("FeatureEngineering")
    data = _trial_data(dataset)
    ctx.set_secondary_status("ModelTuning")
    study = _study(objective, max_trials)
    job = _TuningJob(spec, ctx, dataset, objective, deadline, algorithms, placement, data)

    search = _search(job, study, max_trials)
    best = search.best
    if best is None:
        if search.ending == "Stopped":
            return JobOutcome("Stopped")
        raise JobFailed(_no_candidate_message(spec, search))
    ctx.set_best_candidate(best.candidate_name)
    _keep_best(Path(ctx.model_dir), best, dataset, objective, search.trials)
    _upload(ctx, placement, search.trials, objective)
    if search.ending != "Stopped" and not ctx.should_stop():
        assert best.model_path is not None and best.candidate is not None, "the best trial is a completed candidate"
        best_model = pickle.loads(best.model_path.read_bytes())
        publish_best_candidate_reports(ctx, placement, best.candidate, best_model, dataset, objective, deadline)
    return JobOutcome(search.ending)


@dataclass(frozen=True)
class _TuningJob:
    """One HYPERPARAMETER_TUNING job, as its steps share it."""

    spec: JobSpec
    ctx: JobContext
    dataset: Dataset
    objective: str
    deadline: float | None  # time.monotonic() at MaxAutoMLJobRuntimeInSeconds
    algorithms: list[str]
    placement: Placement
    data: TrialData


@dataclass
class _Search:
    """The trials so far, the best completed one, and why the search ends."""

    trials: list[Trial] = field(default_factory=list)
    best: Trial | None = None
    ending: str = "MaxCandidatesReached"


def _algorithms(spec: JobSpec) -> list[str]:
    algorithms = list(dict.fromkeys(spec.algorithms)) or list(HPO_ALGORITHMS)
    unknown = [a for a in algorithms if a not in HPO_ALGORITHMS]
    if unknown:
        raise JobFailed(
            f"AutoMLAlgorithms {', '.join(unknown)} cannot be used in HYPERPARAMETER_TUNING mode; "
            f"choose from {', '.join(HPO_ALGORITHMS)}"
        )
    return algorithms


def _trial_data(dataset: Dataset) -> TrialData:
    """The features as they are, the labels as floats (regression) or class indexes."""
    features = dataset.feature_columns
    x_train, x_val = dataset.train[features], dataset.validation[features]
    classes = None
    if dataset.problem_type == REGRESSION:
        y_train = dataset.train[dataset.target].astype(float).to_numpy()
        y_val = dataset.validation[dataset.target].astype(float).to_numpy()
    else:
        classes = sorted(
            pd.concat([dataset.train[dataset.target], dataset.validation[dataset.target]]).unique().tolist(), key=str
        )
        index = {label: i for i, label in enumerate(classes)}
        y_train = dataset.train[dataset.target].map(index).to_numpy(dtype=int)
        y_val = dataset.validation[dataset.target].map(index).to_numpy(dtype=int)
    return TrialData(x_train, y_train, x_val, y_val, features, classes, dataset.problem_type)


def _study(objective: str, max_trials: int) -> optuna.Study:
    sampler = optuna.samplers.TPESampler(seed=0, n_startup_trials=min(10, max(3, max_trials // 4)))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(direction="maximize" if greater_is_better(objective) else "minimize", sampler=sampler)


def _search(job: _TuningJob, study: optuna.Study, max_trials: int) -> _Search:
    """Trials one after the other until MaxCandidates, the deadline or StopAutoMLJob; each is a candidate."""
    search = _Search()
    for number in range(1, max_trials + 1):
        if job.ctx.should_stop():
            search.ending = "Stopped"
            break
        if job.deadline is not None and time.monotonic() >= job.deadline:
            search.ending = "MaxAutoMLJobRuntimeReached"
            break
        trial, interruption = _run_trial(job, study, number)
        trial.candidate = _candidate(job.placement, trial, job.objective, job.dataset.problem_type)
        search.trials.append(trial)
        estimator = estimator_description(trial.algorithm, job.dataset.problem_type)
        job.ctx.add_candidate(trial.candidate, CandidateTraining(estimator, trial.params, trial.seconds))
        if interruption is not None:
            search.ending = interruption
            break
        best = search.best
        if trial.status == "Completed" and (
            best is None or is_better(job.objective, trial.metrics[job.objective], best.metrics[job.objective])
        ):
            search.best = trial
    return search


# How a trial that StopAutoMLJob or the job's deadline interrupted ends the job.
_INTERRUPTION_ENDINGS = {"stop": "Stopped", "deadline": "MaxAutoMLJobRuntimeReached"}


def _run_trial(job: _TuningJob, study: optuna.Study, number: int) -> tuple[Trial, str | None]:
    """One trial, told to the study; and the job's ending when a stop or the deadline interrupted it."""
    optuna_trial = study.ask()
    algorithm, params, estimator = search_space(optuna_trial, job.algorithms, job.dataset.problem_type)
    features = preprocessor(job.data.x_train, job.data.features, algorithm != "xgboost", job.dataset.text_columns)
    pipeline = Pipeline([("features", features), ("model", estimator)])
    name = candidate_name(job.spec.name, algorithm, number)
    started = time.monotonic()
    result, failure, interrupted = _fit_in_child(
        pipeline, job.data, job.spec.max_runtime_per_training_job, job.deadline, job.ctx.should_stop
    )
    seconds = time.monotonic() - started
    if result is None:
        study.tell(optuna_trial, state=optuna.trial.TrialState.FAIL)
        status = "Stopped" if interrupted in _INTERRUPTION_ENDINGS else "Failed"
        trial = Trial(number, name, algorithm, _jsonable(params), {}, None, status, failure, seconds=seconds)
        return trial, _INTERRUPTION_ENDINGS.get(interrupted or "")
    model_bytes, metrics = result
    study.tell(optuna_trial, metrics[job.objective])
    # Kept for serving at once: every completed trial is a servable candidate.
    model_path = job.ctx.candidate_model_dir(name) / MODEL_FILE
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model_path.write_bytes(model_bytes)
    model_dir = Path(job.ctx.model_dir)
    write_candidate_manifest(model_dir, name, _manifest(model_path.relative_to(model_dir), job.dataset, job.objective))
    return Trial(number, name, algorithm, _jsonable(params), metrics, model_path, "Completed", seconds=seconds), None


def _no_candidate_message(spec: JobSpec, search: _Search) -> str:
    failures = "; ".join(f"{t.candidate_name}: {t.failure}" for t in search.trials[:3])
    return (
        "No candidate finished training"
        + (
            f" within MaxAutoMLJobRuntimeInSeconds={spec.max_job_runtime}"
            if search.ending == "MaxAutoMLJobRuntimeReached"
            else ""
        )
        + (f" ({failures})" if failures else "")
    )


@dataclass
class TrialData:
    x_train: pd.DataFrame
    y_train: np.ndarray
    x_val: pd.DataFrame
    y_val: np.ndarray
    features: list[str]
    classes: list | None
    problem_type: str


def _child_fit(connection, pipeline: Pipeline, data: TrialData) -> None:
    """Fits and scores in the child, so the job's process never runs the estimators itself."""
    # A trial never outlives its job: the fork server exits with the job's process, and the
    # kernel then kills the trial (Linux; elsewhere a trial ends at its own pace).
    kill_with_parent()
    try:
        pipeline.fit(data.x_train, data.y_train)
        model = TabularModel(pipeline, data.features, data.classes)
        connection.send(("ok", (pickle.dumps(model), score(model, data))))
    except Exception as error:  # noqa: BLE001 - reported to the parent as the trial's FailureReason
        connection.send(("error", f"{type(error).__name__}: {error}"))
    finally:
        connection.close()


def score(model: TabularModel, data: TrialData) -> dict[str, float]:
    if data.classes is None:
        return compute_metrics(REGRESSION, data.y_val, model.pipeline.predict(data.x_val))
    probabilities = model.predict_proba(data.x_val)
    return compute_metrics(
        data.problem_type,
        data.y_val,
        probabilities.argmax(axis=1),
        probabilities,
        classes=np.arange(len(data.classes)),
    )


def _fit_in_child(pipeline, data: TrialData, per_trial_limit: int | None, deadline: float | None, should_stop):
    """Fits in a forked child that is killed when the trial's limit or the job's deadline passes
    or the job is stopped. Returns (fitted pipeline | None, failure reason | None,
    interrupted: None | "stop" | "deadline" | "limit")."""
    receiver, sender = _CHILDREN.Pipe(duplex=False)
    process = _CHILDREN.Process(target=_child_fit, args=(sender, pipeline, data), daemon=True)
    started = time.monotonic()
    process.start()
    sender.close()
    try:
        while True:
            if receiver.poll(_POLL_SECONDS):
                try:
                    kind, payload = receiver.recv()
                except EOFError:
                    return None, f"training process exited with code {process.exitcode}", None
                if kind == "ok":
                    return payload, None, None
                return None, payload, None
            if not process.is_alive() and not receiver.poll(0):
                return None, f"training process exited with code {process.exitcode}", None
            if should_stop():
                return None, "stopped by StopAutoMLJob", "stop"
            now = time.monotonic()
            if deadline is not None and now > deadline:
                return None, "stopped at MaxAutoMLJobRuntimeInSeconds", "deadline"
            if per_trial_limit and now - started > per_trial_limit:
                return None, f"training exceeded MaxRuntimePerTrainingJobInSeconds ({per_trial_limit} s)", "limit"
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()


def _candidate(placement: Placement, trial: Trial, objective: str, problem_type: str) -> dict:
    image = XGBOOST_IMAGE if trial.algorithm == "xgboost" else SKLEARN_IMAGE
    candidate = build_candidate(
        placement,
        trial.candidate_name,
        objective,
        trial.metrics,
        image=image.format(region=placement.region),
        environment={
            "AUTOML_ALGORITHM": trial.algorithm,
            "AUTOML_HYPERPARAMETERS": json.dumps(trial.params),
            **(INFERENCE_SUPPORTED if problem_type != REGRESSION else {}),
        },
        status=trial.status,
    )
    if trial.failure:
        candidate["FailureReason"] = trial.failure
    return candidate


def _jsonable(params: dict) -> dict:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items()}


def _manifest(model_path: Path, dataset: Dataset, objective: str) -> dict:
    """A kept pipeline's manifest; model_path relative to the job's model_dir."""
    return {
        "framework": "sklearn",
        "model_path": str(model_path),
        "target": dataset.target,
        "problem_type": dataset.problem_type,
        "objective": objective,
        "feature_columns": dataset.feature_columns,
    }


def _keep_best(model_dir: Path, best: Trial, dataset: Dataset, objective: str, trials: list[Trial]) -> None:
    """The job's own manifest: the best candidate's, naming the model its trial kept."""
    assert best.model_path is not None, "the best trial is a completed one, which keeps its model"
    manifest = {
        **_manifest(best.model_path.relative_to(model_dir), dataset, objective),
        "best_candidate": best.candidate_name,
        "candidates": {t.candidate_name: t.algorithm for t in trials if t.status == "Completed"},
    }
    (model_dir / MODEL_MANIFEST).write_text(json.dumps(manifest, indent=2))


def _upload(ctx, placement: Placement, trials: list[Trial], objective: str) -> None:
    archives = Path(ctx.work_dir) / "trials"
    for trial in trials:
        if trial.model_path is None:
            continue
        archive = archives / trial.candidate_name / "model.tar.gz"
        archive.parent.mkdir(parents=True, exist_ok=True)
        with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
            tar.add(trial.model_path, arcname=MODEL_FILE)
        ctx.storage.upload_file(archive, placement.model_uri(trial.candidate_name))
    rows = []
    for trial in trials:
        row = {
            "CandidateName": trial.candidate_name,
            "Algorithm": trial.algorithm,
            "CandidateStatus": trial.status,
            "ObjectiveMetric": objective,
            objective: trial.metrics.get(objective),
        }
        row.update({k: v for k, v in trial.metrics.items() if k != objective})
        row["Hyperparameters"] = json.dumps(trial.params)
        rows.append(row)
    frame = pd.DataFrame(rows).sort_values(
        objective, ascending=not greater_is_better(objective), na_position="last", kind="stable"
    )
    ctx.storage.write_bytes(placement.uri("leaderboard.csv"), frame.to_csv(index=False).encode())
