"""HYPERPARAMETER_TUNING jobs: Optuna trials as candidates, limits that end a running trial."""

from __future__ import annotations

import pickle
import tarfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import f1_score
from sklearn.model_selection import train_test_split

from airflow_automl.local.engine import JobFailed, run_job, tuning
from airflow_automl.local.jobspec import Channel, JobSpec
from tests.fixtures.engine_context import make_context


class SlowEstimator(ClassifierMixin, BaseEstimator):
    """Takes far longer than any limit the tests set (runs in the trial's child process)."""

    def fit(self, x, y):
        time.sleep(60)
        return self


def _slow_search_space(trial, algorithms, problem_type):
    trial.suggest_categorical("algorithm", algorithms)
    return "xgboost", {}, SlowEstimator()


def _spec(root, **options):
    values = dict(
        name="tuning-job",
        api_version=1,
        channels=(Channel(uri=(root / "data").as_uri(), target="target"),),
        output_path=(root / "out").as_uri(),
        target="target",
        mode="HYPERPARAMETER_TUNING",
    )
    values.update(options)
    return JobSpec(**values)


@pytest.fixture
def cancer_dir(tmp_path):
    frame = load_breast_cancer(as_frame=True).frame
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "train.csv", index=False)
    return tmp_path


def test_each_trial_is_a_candidate_and_the_best_is_kept(cancer_dir):
    spec = _spec(cancer_dir, algorithms=("linear-learner", "xgboost"), max_candidates=3, max_job_runtime=120)
    ctx = make_context(cancer_dir)
    outcome = run_job(spec, ctx)

    assert outcome.secondary_status == "MaxCandidatesReached"
    assert ctx.statuses == [
        "AnalyzingData",
        "FeatureEngineering",
        "ModelTuning",
        "GeneratingExplainabilityReport",
        "GeneratingModelInsightsReport",
    ]
    assert len(ctx.candidate_names) == 3
    assert all(c["CandidateStatus"] == "Completed" for c in ctx.candidates)
    locations = ctx.candidate(ctx.best_candidate)["CandidateProperties"]["CandidateArtifactLocations"]
    assert set(locations) == {"Explainability", "ModelInsights"}
    algorithms = {c["InferenceContainers"][0]["Environment"]["AUTOML_ALGORITHM"] for c in ctx.candidates}
    assert algorithms <= {"linear-learner", "xgboost"}
    values = {c["CandidateName"]: c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in ctx.candidates}
    assert values[ctx.best_candidate] == max(values.values())

    # Every candidate's archived model reproduces its reported F1 on the held-out 20 %.
    frame = load_breast_cancer(as_frame=True).frame
    _, validation = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame["target"])
    for candidate in map(ctx.candidate, ctx.candidate_names):
        archive_path = Path(urlsplit(candidate["InferenceContainers"][0]["ModelDataUrl"]).path)
        with tarfile.open(archive_path) as archive:
            model = pickle.loads(archive.extractfile(tuning.MODEL_FILE).read())
        predicted = model.predict(validation.drop(columns=["target"]))
        expected = f1_score(validation["target"], predicted.astype(int), pos_label=1)
        assert candidate["FinalAutoMLJobObjectiveMetric"]["Value"] == pytest.approx(expected)
    leaderboard = pd.read_csv(cancer_dir / "out" / "tuning-job" / "leaderboard.csv")
    assert leaderboard["CandidateName"].iloc[0] == ctx.best_candidate
    from airflow_automl.local.serving.loading import load_model

    served = load_model(ctx.model_dir)
    assert served.candidate_name == ctx.best_candidate
    rows = validation.drop(columns=["target"]).head(20)
    body = rows.to_csv(index=False, header=False).encode()
    output, _ = served.render(served.parse(body, "text/csv"), "text/csv")
    assert [int(v) for v in output.decode().split()] == list(served.predict(rows))

    # Every candidate is kept for serving, each its own model, not a copy of the best.
    for candidate in map(ctx.candidate, ctx.candidate_names):
        kept = load_model(ctx.model_dir, candidate["CandidateName"])
        assert kept.candidate_name == candidate["CandidateName"]
        predicted = kept.predict(validation.drop(columns=["target"]))
        expected = f1_score(validation["target"], predicted.astype(int), pos_label=1)
        assert candidate["FinalAutoMLJobObjectiveMetric"]["Value"] == pytest.approx(expected)


def test_trial_over_its_time_limit_is_ended_and_failed(cancer_dir, monkeypatch):
    monkeypatch.setattr(tuning, "search_space", _slow_search_space)
    spec = _spec(cancer_dir, max_candidates=2, max_runtime_per_training_job=1)
    ctx = make_context(cancer_dir)
    with pytest.raises(JobFailed, match="MaxRuntimePerTrainingJobInSeconds"):
        run_job(spec, ctx)
    # Each trial (60 s of fitting) was ended by its 1 s limit, not left to finish: no clock is read here, so a
    # busy machine cannot fail the test; a trial the limit missed would end Completed.
    assert [c["CandidateStatus"] for c in ctx.candidates] == ["Failed", "Failed"]
    for candidate in ctx.candidates:
        assert candidate["FailureReason"] == "training exceeded MaxRuntimePerTrainingJobInSeconds (1 s)"


def test_stop_ends_a_running_trial(cancer_dir, monkeypatch):
    monkeypatch.setattr(tuning, "search_space", _slow_search_space)
    ctx = make_context(cancer_dir)
    calls = {"n": 0}

    def stop_after_a_few_checks():
        calls["n"] += 1
        return calls["n"] > 5  # while the first trial runs

    ctx.should_stop = stop_after_a_few_checks
    outcome = run_job(_spec(cancer_dir, max_candidates=5), ctx)
    assert outcome.secondary_status == "Stopped"
    assert [c["CandidateStatus"] for c in ctx.candidates] == ["Stopped"]
