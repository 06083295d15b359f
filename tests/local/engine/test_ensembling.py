"""ENSEMBLING jobs trained for real with AutoGluon on small data, through run_job and an
in-memory JobContext. One classification job is shared by the tests that inspect it."""

from __future__ import annotations

import datetime
import json
import tarfile
from pathlib import Path
from urllib.parse import urlsplit

import botocore.session
import numpy as np
import pandas as pd
import pytest
from botocore.validate import ParamValidator
from sklearn.datasets import load_breast_cancer, make_regression
from sklearn.metrics import f1_score, mean_squared_error

from airflow_automl.local.engine import JobFailed, run_job
from airflow_automl.local.jobspec import Channel, JobSpec
from tests.fixtures.engine_context import make_context


def _path(uri: str) -> Path:
    return Path(urlsplit(uri).path)


def _autogluon_model(candidate: dict) -> str:
    return candidate["InferenceContainers"][0]["Environment"]["AUTOGLUON_MODEL"]


def _validate_shape(value: dict, shape_name: str) -> None:
    shape = botocore.session.get_session().get_service_model("sagemaker").shape_for(shape_name)
    report = ParamValidator().validate(value, shape)
    assert not report.has_errors(), report.generate_report()


@pytest.fixture(scope="module")
def classification_job(tmp_path_factory):
    root = tmp_path_factory.mktemp("ensembling")
    frame = load_breast_cancer(as_frame=True).frame
    frame["target"] = frame["target"].map({0: "malignant", 1: "benign"})
    (root / "data").mkdir()
    # Two files under the prefix: the engine reads every object.
    frame.iloc[:300].to_csv(root / "data" / "part-1.csv", index=False)
    frame.iloc[300:].to_csv(root / "data" / "part-2.csv", index=False)
    spec = JobSpec(
        name="cancer-ensemble",
        api_version=1,
        channels=(Channel(uri=(root / "data").as_uri(), target="target"),),
        output_path=(root / "output").as_uri() + "/",
        target="target",
        mode="ENSEMBLING",
        algorithms=("xgboost", "randomforest", "linear-learner"),
        # No job time limit: on a busy machine AutoGluon would skip models to keep a budget,
        # and this job must train them all (about ten seconds).
        max_runtime_per_training_job=30,
    )
    ctx = make_context(root)
    outcome = run_job(spec, ctx)
    return spec, ctx, outcome, frame


def test_job_completes_with_a_candidate_per_model_and_the_ensemble(classification_job):
    spec, ctx, outcome, _ = classification_job
    assert outcome.secondary_status == "Completed"
    assert ctx.statuses[:2] == ["AnalyzingData", "TrainingModels"]
    assert ctx.resolved["ProblemType"] == "BinaryClassification"  # inferred: two classes
    assert ctx.resolved["AutoMLJobObjective"] == {"MetricName": "F1"}  # the default for binary
    models = {name: _autogluon_model(ctx.candidate(name)) for name in ctx.candidate_names}
    # The best candidate serves its model refit on all rows (AutoGluon names it <model>_FULL).
    assert models[ctx.best_candidate].endswith("_FULL")
    assert {m.removesuffix("_FULL") for m in models.values()} == {
        "XGBoost",
        "LinearModel",
        "RandomForestGini",
        "RandomForestEntr",
        "WeightedEnsemble_L2",
    }
    names = ctx.candidate_names
    assert all(name.startswith("cancer-ensemble-") for name in names)


def test_candidates_have_sagemakers_shape(classification_job):
    _, ctx, _, _ = classification_job
    now = datetime.datetime.now(datetime.UTC)
    for candidate in map(ctx.candidate, ctx.candidate_names):
        _validate_shape({**candidate, "CreationTime": now, "LastModifiedTime": now}, "AutoMLCandidate")
        steps = {s["CandidateStepType"] for s in candidate["CandidateSteps"]}
        assert steps == {
            "AWS::SageMaker::ProcessingJob",
            "AWS::SageMaker::TrainingJob",
            "AWS::SageMaker::TransformJob",
        }
        metrics = {m["StandardMetricName"] for m in candidate["CandidateProperties"]["CandidateMetrics"]}
        assert {"Accuracy", "AUC", "BalancedAccuracy", "F1", "Precision", "Recall", "LogLoss"} <= metrics
        assert candidate["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "F1"
        assert candidate["FinalAutoMLJobObjectiveMetric"]["Type"] == "Maximize"


def test_objective_values_agree_with_autogluon_and_scikit_learn(classification_job):
    from autogluon.tabular import TabularPredictor
    from sklearn.model_selection import train_test_split

    _, ctx, _, frame = classification_job
    predictor = TabularPredictor.load(str(ctx.model_dir / "predictor"))
    selected = [m for m in predictor.model_names() if not m.endswith("_FULL")]
    assert len(selected) == len(ctx.candidate_names)
    autogluon_scores = predictor.leaderboard(silent=True).set_index("model")["score_val"]
    # The documented split: 20 % held out, stratified by class.
    _, validation = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame["target"])
    for candidate in map(ctx.candidate, ctx.candidate_names):
        # The best candidate's metrics stay those of its model as selected, before the refit.
        model = _autogluon_model(candidate).removesuffix("_FULL")
        value = candidate["FinalAutoMLJobObjectiveMetric"]["Value"]
        assert value == pytest.approx(autogluon_scores[model], abs=1e-9)
        predicted = predictor.predict(validation.drop(columns=["target"]), model=model)
        expected = f1_score(validation["target"], predicted, pos_label=predictor.positive_class)
        assert value == pytest.approx(expected, abs=1e-9)


def test_best_candidate_has_the_highest_objective(classification_job):
    _, ctx, _, _ = classification_job
    values = {c["CandidateName"]: c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in ctx.candidates}
    assert values[ctx.best_candidate] == max(values.values())


def test_models_and_leaderboard_are_written_under_the_output_path(classification_job):
    spec, ctx, _, _ = classification_job
    job_output = _path(spec.output_path) / spec.name
    for candidate in map(ctx.candidate, ctx.candidate_names):
        url = candidate["InferenceContainers"][0]["ModelDataUrl"]
        assert url.startswith(spec.output_path + spec.name + "/")
        with tarfile.open(_path(url)) as archive:
            assert archive.getnames()
    leaderboard = pd.read_csv(job_output / "leaderboard.csv")
    assert sorted(leaderboard["CandidateName"]) == sorted(ctx.candidate_names)
    assert list(leaderboard["F1"]) == sorted(leaderboard["F1"], reverse=True)


@pytest.mark.integration
def test_each_archive_is_a_self_contained_model_readable_by_tar(classification_job, tmp_path):
    import subprocess

    from autogluon.tabular import TabularPredictor

    _, ctx, _, frame = classification_job
    features = frame.drop(columns=["target"]).head(40)
    kept = TabularPredictor.load(str(ctx.model_dir / "predictor"))
    for candidate in map(ctx.candidate, ctx.candidate_names):
        model = _autogluon_model(candidate)
        archive = _path(candidate["InferenceContainers"][0]["ModelDataUrl"])
        # Concatenated gzip members: GNU tar reads them as one archive, as Python does.
        listing = subprocess.run(["tar", "-tzf", str(archive)], capture_output=True, text=True, check=True).stdout
        assert f"./models/{model}/" in listing.splitlines()
        if model.startswith("WeightedEnsemble"):
            # The ensemble's archive is a whole predictor: unpacked, it predicts as the kept one does.
            unpacked = tmp_path / model
            with tarfile.open(archive) as tar:
                tar.extractall(unpacked)
            restored = TabularPredictor.load(str(unpacked))
            assert list(restored.predict(features, model=model)) == list(kept.predict(features, model=model))


def test_kept_predictor_serves_the_best_candidate_with_original_labels(classification_job):
    from autogluon.tabular import TabularPredictor

    _, ctx, _, frame = classification_job
    predictor = TabularPredictor.load(str(ctx.model_dir / "predictor"))
    best = ctx.candidate(ctx.best_candidate)
    assert predictor.model_best == best["InferenceContainers"][0]["Environment"]["AUTOGLUON_MODEL"]
    predictions = predictor.predict(frame.drop(columns=["target"]).head(50))
    assert set(predictions) <= {"malignant", "benign"}
    assert f1_score(frame["target"].head(50), predictions, pos_label=predictor.positive_class) > 0.8


def test_every_candidate_is_kept_and_serves_its_own_model(classification_job):
    from autogluon.tabular import TabularPredictor

    from airflow_automl.local.serving.loading import load_model

    _, ctx, _, frame = classification_job
    predictor = TabularPredictor.load(str(ctx.model_dir / "predictor"))
    rows = frame.drop(columns=["target"]).head(50)
    for name in ctx.candidate_names:
        model_name = ctx.candidate(name)["InferenceContainers"][0]["Environment"]["AUTOGLUON_MODEL"]
        served = load_model(ctx.model_dir, name)
        assert served.candidate_name == name
        # The candidate's own model answers, the same as the predictor's model of its name.
        assert list(served.predict(rows)) == list(predictor.predict(rows, model=model_name))
        assert served.predict_proba(rows) == pytest.approx(
            predictor.predict_proba(rows, model=model_name, as_multiclass=True)[served.classes].to_numpy()
        )


def test_served_model_answers_csv_and_json_like_autopilot(classification_job):
    from airflow_automl.local.serving.formats import ModelInputError
    from airflow_automl.local.serving.loading import load_model

    _, ctx, _, frame = classification_job
    model = load_model(ctx.model_dir)
    assert model.candidate_name == ctx.best_candidate
    rows = frame.drop(columns=["target"]).head(5)
    body = rows.to_csv(index=False, header=False).encode()
    csv_out, content_type = model.render(model.parse(body, "text/csv"), "text/csv")
    assert content_type == "text/csv"
    assert csv_out.decode().split() == list(model.predict(rows))
    assert set(csv_out.decode().split()) <= {"malignant", "benign"}

    request = json.dumps({"instances": [{"features": list(r)} for r in rows.itertuples(index=False)]}).encode()
    json_out, content_type = model.render(model.parse(request, "application/json"), "application/json")
    predictions = json.loads(json_out)["predictions"]
    assert [p["predicted_label"] for p in predictions] == list(model.predict(rows))
    assert all(
        sorted(p["labels"]) == ["benign", "malignant"] and abs(sum(p["probabilities"]) - 1) < 1e-6 for p in predictions
    )
    with pytest.raises(ModelInputError, match="must have 30 values"):
        model.parse(b"1,2,3\n", "text/csv")


def test_reports_are_written_and_linked(classification_job):
    spec, ctx, _, _ = classification_job
    assert ctx.statuses[-2:] == ["GeneratingExplainabilityReport", "GeneratingModelInsightsReport"]
    assert ctx.partial_failures == []
    exploration = _path(ctx.artifacts["DataExplorationNotebookLocation"]).read_text()
    assert "Data exploration: cancer-ensemble" in exploration and "data:image/png;base64," in exploration
    assert "mean radius" in exploration
    notebook = json.loads(_path(ctx.artifacts["CandidateDefinitionNotebookLocation"]).read_text())
    assert notebook["nbformat"] == 4 and notebook["cells"]

    locations = ctx.candidate(ctx.best_candidate)["CandidateProperties"]["CandidateArtifactLocations"]
    explainability = _path(locations["Explainability"]).read_text()
    assert "Feature importance" in explainability and "data:image/png;base64," in explainability
    # Breast cancer's strongest signals are the "worst" size/shape measurements.
    assert "worst" in explainability
    insights = _path(locations["ModelInsights"]).read_text()
    assert "Confusion matrix" in insights and "ROC" in insights and "F1 (objective)" in insights
    assert all(uri.startswith(spec.output_path + spec.name + "/documentation/") for uri in locations.values())


# ---- regression with sample weights and a validation channel ---------------------------


def test_regression_with_weights_and_validation_channel(tmp_path):
    from autogluon.tabular import TabularPredictor

    features, target = make_regression(n_samples=800, n_features=6, noise=10.0, random_state=1)
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(6)])
    frame["price"] = target
    rng = np.random.default_rng(0)
    frame["weight"] = rng.uniform(0.5, 2.0, len(frame))
    frame.loc[:9, "weight"] = -1.0  # invalid: dropped
    frame.loc[10:19, "weight"] = np.nan  # missing: dropped
    (tmp_path / "train").mkdir()
    (tmp_path / "validation").mkdir()
    frame.iloc[:600].to_csv(tmp_path / "train" / "train.csv", index=False)
    validation = frame.iloc[600:]
    validation.to_csv(tmp_path / "validation" / "validation.csv", index=False)
    spec = JobSpec(
        name="weighted-regression",
        api_version=2,
        channels=(
            Channel(uri=(tmp_path / "train").as_uri(), target="price", sample_weight="weight"),
            Channel(
                uri=(tmp_path / "validation").as_uri(),
                target="price",
                channel_type="validation",
                sample_weight="weight",
            ),
        ),
        output_path=(tmp_path / "out").as_uri(),
        target="price",
        mode="ENSEMBLING",
        algorithms=("xgboost", "linear-learner"),
        max_candidates=2,
        max_job_runtime=60,
        sample_weight="weight",
    )
    ctx = make_context(tmp_path)
    outcome = run_job(spec, ctx)

    assert ctx.resolved["ProblemType"] == "Regression"  # inferred: continuous numeric target
    assert ctx.resolved["AutoMLJobObjective"] == {"MetricName": "MSE"}
    # MaxCandidates=2 trains two base models and no ensemble.
    assert outcome.secondary_status == "MaxCandidatesReached"
    assert len(ctx.candidate_names) == 2
    values = {c["CandidateName"]: c["FinalAutoMLJobObjectiveMetric"]["Value"] for c in ctx.candidates}
    assert ctx.candidate(ctx.best_candidate)["FinalAutoMLJobObjectiveMetric"]["Type"] == "Minimize"
    assert values[ctx.best_candidate] == min(values.values())

    # The objective is the weighted MSE on the validation channel, as scikit-learn computes it.
    predictor = TabularPredictor.load(str(ctx.model_dir / "predictor"))
    for candidate in map(ctx.candidate, ctx.candidate_names):
        model = _autogluon_model(candidate).removesuffix("_FULL")  # as selected, before the refit
        predicted = predictor.predict(validation.drop(columns=["price", "weight"]), model=model)
        expected = mean_squared_error(validation["price"], predicted, sample_weight=validation["weight"])
        assert candidate["FinalAutoMLJobObjectiveMetric"]["Value"] == pytest.approx(expected, rel=1e-6)


# ---- stopping and missing extras -------------------------------------------------------


def test_stop_keeps_the_best_candidate_so_far(tmp_path):
    frame = load_breast_cancer(as_frame=True).frame
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "train.csv", index=False)
    spec = JobSpec(
        name="stopped-job",
        api_version=1,
        channels=(Channel(uri=(tmp_path / "data").as_uri(), target="target"),),
        output_path=(tmp_path / "out").as_uri(),
        target="target",
        mode="ENSEMBLING",
        algorithms=("linear-learner", "lightgbm", "randomforest"),
        max_job_runtime=60,
    )
    ctx = make_context(tmp_path, stop_after_candidates=1)
    outcome = run_job(spec, ctx)
    assert outcome.secondary_status == "Stopped"
    assert "GeneratingExplainabilityReport" not in ctx.statuses
    assert len(ctx.candidates) == 1
    assert ctx.best_candidate == ctx.candidates[0]["CandidateName"]
    assert (tmp_path / "out" / "stopped-job" / "leaderboard.csv").exists()


def test_torch_algorithms_without_torch_name_the_extra(tmp_path, monkeypatch):
    from airflow_automl.local.engine import ensembling, torch_extra

    monkeypatch.setattr(torch_extra, "torch_available", lambda: False)
    monkeypatch.setattr(ensembling, "torch_available", lambda: False)
    frame = load_breast_cancer(as_frame=True).frame
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "train.csv", index=False)
    spec = JobSpec(
        name="torch-job",
        api_version=1,
        channels=(Channel(uri=(tmp_path / "data").as_uri(), target="target"),),
        output_path=(tmp_path / "out").as_uri(),
        target="target",
        mode="ENSEMBLING",
        algorithms=("lightgbm", "nn-torch"),
    )
    with pytest.raises(JobFailed, match=r"nn-torch.*airflow-automl\[torch\]"):
        run_job(spec, make_context(tmp_path))
    # Left to choose every algorithm, the job trains without the torch ones instead.
    assert "nn-torch" not in ensembling.select_algorithms(())
    assert "fastai" not in ensembling.select_algorithms(())


# ---- the refit of the best candidate and its share of the budget ------------------------


class _FitTimes:
    """A trainer as refit_estimate reads it: the models an ensemble needs and their fit times."""

    def __init__(self, fit_times: dict[str, float], needs: dict[str, list[str]]):
        self.fit_times = fit_times
        self.needs = needs

    def get_minimum_model_set(self, model: str) -> list[str]:
        return self.needs.get(model, [model])

    def get_model_attribute(self, model: str, attribute: str) -> float:
        assert attribute == "fit_time"
        return self.fit_times[model]


def test_refit_estimate_counts_the_ensembles_members_scaled_to_all_rows():
    from airflow_automl.local.engine.ensembling import REFIT_COST, refit_estimate

    trainer = _FitTimes({"GBM": 4.0, "CAT": 10.0, "RF": 6.0, "Ensemble": 0.5}, {"Ensemble": ["GBM", "CAT", "Ensemble"]})
    # 800 training rows and 200 validation rows: the refit sees 25 % more rows.
    assert refit_estimate(trainer, "Ensemble", 800, 200) == pytest.approx(REFIT_COST * 14.5 * 1.25)
    assert refit_estimate(trainer, "RF", 800, 200) == pytest.approx(REFIT_COST * 7.5)


def test_best_candidate_is_not_refit_when_the_refit_would_pass_the_deadline():
    import time
    from types import SimpleNamespace

    from airflow_automl.local.engine.ensembling import TrainedModel, _refit_on_all_rows

    class NoRefit:
        _trainer = _FitTimes({"CAT": 30.0}, {})

        def refit_full(self, **kwargs):
            raise AssertionError("refit past the deadline")

    best = TrainedModel("CAT", "job-CAT-1", {"MSE": 1.0}, 30.0, False, {"CandidateName": "job-CAT-1"})
    dataset = SimpleNamespace(train=range(800), validation=range(200))
    # Ten seconds left; the refit would take about 18.75 (half of 30 s for 25 % more rows).
    job = SimpleNamespace(dataset=dataset, deadline=time.monotonic() + 10)
    trained = [best]
    assert _refit_on_all_rows(job, NoRefit(), trained, best) is best
    assert trained == [best]
