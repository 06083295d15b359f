"""The job's reports as self-contained HTML files with inline plots: data exploration (before
training), and for the best candidate explainability (permutation feature importance on the
validation data) and model insights (metrics, confusion matrix / ROC, or residuals)."""

from __future__ import annotations

import base64
import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm

from airflow_automl.local.engine.data import Dataset
from airflow_automl.presentation.templating import environment
from airflow_automl.sagemaker.metric_values import compute_metrics
from airflow_automl.sagemaker.metrics import BINARY, REGRESSION, greater_is_better

DATA_EXPLORATION_PATH = "documentation/data-exploration/DataExplorationReport.html"
EXPLAINABILITY_PATH = "documentation/explainability/{candidate}/explainability_report.html"
MODEL_INSIGHTS_PATH = "documentation/model-insights/{candidate}/model_insights_report.html"
# Importance is measured on at most this many validation rows, within this many seconds.
IMPORTANCE_ROWS = 1000
IMPORTANCE_SECONDS = 60.0
# Time kept for the model insights report when the job's end is near.
INSIGHTS_SECONDS = 3.0

log = logging.getLogger(__name__)

# Shared layout and stylesheet (inline: a report is a file opened on its own), report.html.
_TEMPLATES = environment()


@dataclass
class Predictions:
    """A candidate's predictions on the validation rows, in the job's own labels."""

    y_true: np.ndarray
    prediction: np.ndarray
    probabilities: np.ndarray | None  # one column per entry of classes
    classes: np.ndarray | None


# ---- data exploration -------------------------------------------------------------------


def data_exploration_report(job_name: str, dataset: Dataset) -> str:
    frame = pd.concat([dataset.train, dataset.validation], ignore_index=True)
    target = frame[dataset.target]
    validation_source = "validation channel" if dataset.validation_from_channel else "held out from the training data"
    sections = [
        _section(
            "Dataset",
            _table(
                ["Item", "Value"],
                [
                    ["Problem type", dataset.problem_type],
                    ["Target column", dataset.target],
                    ["Training rows", len(dataset.train)],
                    [
                        "Validation rows",
                        f"{len(dataset.validation)} ({validation_source})",
                    ],
                    ["Feature columns", len(dataset.feature_columns)],
                    ["Sample weight column", dataset.sample_weight or "none"],
                    ["Duplicate rows", int(frame.duplicated().sum())],
                ],
            ),
        )
    ]
    fig, axis = _subplots(figsize=(7, 3.2))
    if dataset.problem_type == REGRESSION:
        axis.hist(pd.to_numeric(target, errors="coerce").dropna(), bins=40, color="#3b6fd8")
        axis.set_xlabel(dataset.target)
        axis.set_ylabel("rows")
    else:
        counts = target.astype(str).value_counts().head(30)
        axis.bar(counts.index, counts.values, color="#3b6fd8")
        axis.set_ylabel("rows")
        axis.tick_params(axis="x", rotation=45)
    axis.set_title(f"Distribution of {dataset.target}")
    sections.append(_section("Target", _image(fig)))

    rows = []
    for column in dataset.feature_columns:
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        statistics = ["", "", "", ""]
        if numeric:
            described = values.describe()
            statistics = [_number(described[name]) for name in ("mean", "std", "min", "max")]
        rows.append(
            [
                str(column),
                "numeric" if numeric else str(values.dtype),
                f"{values.isna().mean():.1%}",
                values.nunique(),
                *statistics,
                ", ".join(map(str, values.dropna().astype(str).unique()[:3])),
            ]
        )
    sections.append(
        _section(
            "Columns", _table(["Column", "Type", "Missing", "Distinct", "Mean", "Std", "Min", "Max", "Examples"], rows)
        )
    )

    missing = frame[dataset.feature_columns].isna().mean().sort_values(ascending=False)
    missing = missing[missing > 0].head(30)
    if not missing.empty:
        fig, axis = _subplots(figsize=(7, max(2.0, 0.25 * len(missing))))
        axis.barh(missing.index[::-1], missing.values[::-1] * 100, color="#d8873b")
        axis.set_xlabel("% missing")
        sections.append(_section("Missing values", _image(fig)))

    correlations = _target_correlations(frame, dataset)
    if correlations is not None and not correlations.empty:
        top = correlations.head(20)
        fig, axis = _subplots(figsize=(7, max(2.0, 0.3 * len(top))))
        axis.barh(top.index[::-1], top.values[::-1], color="#3bb08f")
        axis.set_xlabel(f"|correlation| with {dataset.target}")
        sections.append(_section("Numeric features most correlated with the target", _image(fig)))
    return _page(f"Data exploration: {job_name}", sections)


def _target_correlations(frame: pd.DataFrame, dataset: Dataset) -> pd.Series | None:
    numeric = [
        c
        for c in dataset.feature_columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]
    if not numeric:
        return None
    if dataset.problem_type == REGRESSION:
        target = pd.to_numeric(frame[dataset.target], errors="coerce")
    elif dataset.problem_type == BINARY:
        target = pd.Series(pd.factorize(frame[dataset.target])[0], index=frame.index).astype(float)
    else:
        return None
    return frame[numeric].corrwith(target).abs().dropna().sort_values(ascending=False)


# ---- explainability ---------------------------------------------------------------------


def permutation_importance(
    score: Callable[[pd.DataFrame], float],
    features: pd.DataFrame,
    objective: str,
    time_budget: float = IMPORTANCE_SECONDS,
    seed: int = 0,
) -> tuple[pd.Series, bool]:
    """How much the objective worsens when one feature's values are shuffled (positive = the
    model relies on it). Returns (importance per feature, whether every feature was measured)."""
    rng = np.random.default_rng(seed)
    if len(features) > IMPORTANCE_ROWS:
        features = features.sample(IMPORTANCE_ROWS, random_state=seed)
    baseline = score(features)
    sign = 1.0 if greater_is_better(objective) else -1.0
    started = time.monotonic()
    importance: dict[str, float] = {}
    for column in features.columns:
        if importance and time.monotonic() - started > time_budget:
            break
        shuffled = features.copy()
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
        importance[column] = sign * (baseline - score(shuffled))
    result = pd.Series(importance, dtype=float).sort_values(ascending=False)
    return result, len(importance) == len(features.columns)


def explainability_report(candidate_name: str, objective: str, importance: pd.Series, complete: bool) -> str:
    top = importance.head(30)
    fig, axis = _subplots(figsize=(7, max(2.0, 0.3 * len(top))))
    axis.barh(top.index[::-1].astype(str), top.values[::-1], color="#3b6fd8")
    axis.set_xlabel(f"drop in {objective} when the feature is shuffled")
    note = (
        "Permutation importance on the validation data: each feature's values are shuffled in turn "
        f"and the loss in {objective} is measured. Larger means the model relies more on the feature."
    )
    if not complete:
        note += " The time budget ran out before every feature was measured; the rest are not listed."
    rows = [[name, _number(value)] for name, value in importance.items()]
    return _page(
        f"Explainability: {candidate_name}",
        [
            _section("Feature importance", _image(fig), note=note),
            _section("All features", _table(["Feature", f"Importance ({objective})"], rows)),
        ],
    )


# ---- model insights ---------------------------------------------------------------------


def model_insights_report(
    candidate_name: str, problem_type: str, objective: str, predictions: Predictions, sample_weight=None
) -> str:
    values = compute_metrics(
        problem_type,
        predictions.y_true,
        predictions.prediction,
        predictions.probabilities,
        sample_weight=sample_weight,
        classes=predictions.classes,
    )
    sections = [
        _section(
            "Validation metrics",
            _table(
                ["Metric", "Value"],
                [[f"{k} (objective)" if k == objective else k, _number(v)] for k, v in values.items()],
            ),
        )
    ]
    if problem_type == REGRESSION:
        y, p = predictions.y_true.astype(float), predictions.prediction.astype(float)
        fig, (left, right) = _subplots(1, 2, figsize=(10, 4))
        left.scatter(y, p, s=8, alpha=0.6, color="#3b6fd8")
        low, high = float(min(y.min(), p.min())), float(max(y.max(), p.max()))
        left.plot([low, high], [low, high], color="#999", linewidth=1)
        left.set_xlabel("actual")
        left.set_ylabel("predicted")
        left.set_title("Predicted vs actual")
        right.hist(p - y, bins=40, color="#d8873b")
        right.set_xlabel("residual (predicted - actual)")
        right.set_title("Residuals")
        sections.append(_section("Residuals", _image(fig)))
    else:
        assert predictions.classes is not None, "a classifier's predictions carry its classes"
        labels = [str(c) for c in predictions.classes]
        matrix = skm.confusion_matrix(predictions.y_true.astype(str), predictions.prediction.astype(str), labels=labels)
        size = min(12, 2 + 0.5 * len(labels))
        fig, axis = _subplots(figsize=(size, size * 0.85))
        axis.imshow(matrix, cmap="Blues")
        axis.set_xticks(range(len(labels)), labels, rotation=45)
        axis.set_yticks(range(len(labels)), labels)
        axis.set_xlabel("predicted")
        axis.set_ylabel("actual")
        for i in range(len(labels)):
            for j in range(len(labels)):
                axis.text(j, i, matrix[i, j], ha="center", va="center", color="#111")
        axis.set_title("Confusion matrix (validation)")
        sections.append(_section("Confusion matrix", _image(fig)))
        if problem_type == BINARY and predictions.probabilities is not None and len(np.unique(predictions.y_true)) == 2:
            positive = predictions.classes[1]
            truth = predictions.y_true.astype(str) == str(positive)
            fpr, tpr, _ = skm.roc_curve(truth, predictions.probabilities[:, 1])
            precision, recall, _ = skm.precision_recall_curve(truth, predictions.probabilities[:, 1])
            fig, (left, right) = _subplots(1, 2, figsize=(10, 4))
            left.plot(fpr, tpr, color="#3b6fd8")
            left.plot([0, 1], [0, 1], color="#999", linewidth=1)
            left.set_xlabel("false positive rate")
            left.set_ylabel("true positive rate")
            left.set_title(f"ROC (AUC {skm.auc(fpr, tpr):.3f}), positive class {positive}")
            right.plot(recall, precision, color="#3bb08f")
            right.set_xlabel("recall")
            right.set_ylabel("precision")
            right.set_title("Precision-recall")
            sections.append(_section("ROC and precision-recall curves", _image(fig)))
    return _page(f"Model insights: {candidate_name}", sections)


# ---- HTML -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    header: list[str]
    rows: list[list[tuple[str, bool]]]  # (text, numeric) per cell


@dataclass(frozen=True)
class _Section:
    title: str
    content: _Table | str  # a table, or an image's data: URI
    note: str | None = None


def _page(title: str, sections: list[_Section]) -> str:
    return _TEMPLATES.get_template("report.html").render(title=title, sections=sections)


def _section(title: str, content: _Table | str, note: str | None = None) -> _Section:
    return _Section(title, content, note)


def _table(header: list[str], rows: list[list]) -> _Table:
    def cell(value) -> tuple[str, bool]:
        return str(value), isinstance(value, (int, float, np.number)) or _looks_numeric(value)

    return _Table(header, [[cell(value) for value in row] for row in rows])


def _looks_numeric(value) -> bool:
    try:
        float(str(value).replace(",", ""))
    except ValueError:
        return False
    return True


def _subplots(*grid: int, figsize: tuple[float, float]):
    """A figure of its own, outside pyplot's global state: the data exploration report renders in a
    thread while the job trains, and may overlap the best candidate's reports."""
    fig = Figure(figsize=figsize)
    return fig, fig.subplots(*grid)


def _image(fig) -> str:
    """The figure as a PNG data: URI."""
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=90)
    return f"data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}"


def _number(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    value = float(value)
    return f"{value:.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


# ---- publishing -------------------------------------------------------------------------


def publish(ctx, uri: str, render: Callable[[], str], what: str) -> bool:
    """Renders and writes one report. A report that cannot be made does not fail a job whose
    models are trained: it is logged and recorded as a partial failure, as SageMaker does."""
    try:
        ctx.storage.write_bytes(uri, render().encode())
    except Exception as error:
        log.exception("%s could not be generated", what)
        record = getattr(ctx, "add_partial_failure", None)
        if record is not None:
            record(f"{what} could not be generated: {type(error).__name__}: {error}")
        return False
    return True


def publish_best_candidate_reports(
    ctx, placement, candidate: dict, model, dataset: Dataset, objective: str, deadline
) -> None:
    """Explainability and model insights for the best candidate; their locations go into its
    CandidateArtifactLocations. `model` has predict(frame), predict_proba(frame) and classes;
    `deadline` (time.monotonic(), or None) is when the job must have ended."""
    name = candidate["CandidateName"]
    features = dataset.validation[dataset.feature_columns]
    weights = dataset.validation[dataset.sample_weight].to_numpy(dtype=float) if dataset.sample_weight else None
    classes = None if dataset.problem_type == REGRESSION else np.asarray(model.classes)
    y_true = dataset.validation[dataset.target].to_numpy()

    def predictions(frame: pd.DataFrame, truth: np.ndarray) -> Predictions:
        probabilities = None if classes is None else np.asarray(model.predict_proba(frame))
        return Predictions(truth, np.asarray(model.predict(frame)), probabilities, classes)

    def score(frame: pd.DataFrame) -> float:
        result = predictions(frame, dataset.validation.loc[frame.index, dataset.target].to_numpy())
        frame_weights = (
            None
            if weights is None
            else dataset.validation.loc[frame.index, dataset.sample_weight].to_numpy(dtype=float)
        )
        values = compute_metrics(
            dataset.problem_type, result.y_true, result.prediction, result.probabilities, frame_weights, classes
        )
        return values[objective]

    budget = IMPORTANCE_SECONDS
    if deadline is not None:
        # What is left until the job must end, less the insights report's time (a second, three
        # on a busy machine); at least one feature is always measured.
        budget = min(budget, max(0.0, deadline - time.monotonic() - INSIGHTS_SECONDS))

    locations = {}
    ctx.set_secondary_status("GeneratingExplainabilityReport")
    explainability_uri = placement.uri(EXPLAINABILITY_PATH.format(candidate=name))

    def render_explainability() -> str:
        importance, complete = permutation_importance(score, features, objective, budget)
        return explainability_report(name, objective, importance, complete)

    if publish(ctx, explainability_uri, render_explainability, "The explainability report"):
        locations["Explainability"] = explainability_uri

    ctx.set_secondary_status("GeneratingModelInsightsReport")
    insights_uri = placement.uri(MODEL_INSIGHTS_PATH.format(candidate=name))

    def render_insights() -> str:
        return model_insights_report(name, dataset.problem_type, objective, predictions(features, y_true), weights)

    if publish(ctx, insights_uri, render_insights, "The model insights report"):
        locations["ModelInsights"] = insights_uri
    # CandidateArtifactLocations requires Explainability.
    if "Explainability" in locations:
        updated = dict(candidate)
        updated["CandidateProperties"] = {
            **candidate.get("CandidateProperties", {}),
            "CandidateArtifactLocations": locations,
        }
        ctx.add_candidate(updated)
