"""Time-series forecasting jobs (CreateAutoMLJobV2 TimeSeriesForecastingJobConfig).

Every chosen algorithm is backtested over rolling windows and then fitted on all the data to
forecast the next ForecastHorizon steps; a weighted average of the algorithms that finished
(greedy ensemble selection on the backtests) is one more candidate (Ensemble); the best by the
objective is the job's best candidate. Each candidate's artifacts are written under the job's
output, where its CandidateArtifactLocations point:

  <S3OutputPath>/<job>/leaderboard.csv                             every candidate, best first
  <S3OutputPath>/<job>/backtest-results/<candidate>/accuracy-metrics-values/accuracy-metrics.csv
  <S3OutputPath>/<job>/backtest-results/<candidate>/forecasted-values/forecasts.csv
  <S3OutputPath>/<job>/forecasts/<candidate>/forecast.csv          the next horizon
  <S3OutputPath>/<job>/explainability/<candidate>/candidate.json   what the candidate is made of
  <S3OutputPath>/<job>/models/<candidate>/model.tar.gz            model.json and forecast.csv

Every candidate is kept in the job's model directory as soon as it is trained (its model.json
of kind "forecasting" under candidates/<candidate>/, with the ETS and ARIMA models fitted per
series; see engine/job.py), and the best candidate's model.json as the job's own, from which
endpoints and batch transform forecast the history they are sent.

Every job also trains a seasonal naive candidate first (SeasonalNaive: the last cycle repeated,
each series' cycle chosen on the backtest windows), so the ensemble may use it and the job's best
candidate, chosen by the objective on the same windows, is never worse than it there.

MaxAutoMLJobRuntimeInSeconds bounds the training (budget.py): each algorithm, cheapest first, gets
a fair share of the time left; one that cannot finish in it is stopped inside the worker, even in
the middle of a fit, and listed in PartialFailureReasons; the job then ends by itself,
MaxAutoMLJobRuntimeReached, with the candidates that finished, its best described and servable.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from airflow_automl.local.engine.candidates import Placement, build_candidate, candidate_name
from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS, LABELS, import_libraries
from airflow_automl.local.engine.forecasting.backtest import (
    WINDOW,
    metrics,
    run_backtest,
    seasonal_scale,
    windows,
)
from airflow_automl.local.engine.forecasting.budget import interrupted_at, share_deadline
from airflow_automl.local.engine.forecasting.forecasters import (
    SEASONAL_NAIVE,
    USES_RELATED,
    FittedSeries,
    OutOfTime,
    Settings,
    ensemble,
)
from airflow_automl.local.engine.forecasting.manifest import keep_candidate, write_manifest
from airflow_automl.local.engine.forecasting.seasons import backtest_window_count, seasonal_periods
from airflow_automl.local.engine.forecasting.series import (
    SERIES_ID,
    STEP,
    TARGET,
    SeriesData,
    load_series,
    target_only,
    time_series_settings,
)
from airflow_automl.local.engine.job import (
    MODEL_MANIFEST,
    CandidateTraining,
    JobContext,
    JobFailed,
    JobOutcome,
    StageTimes,
    resolved_completion_criteria,
)
from airflow_automl.local.engine.torch_extra import TORCH_FORECAST_ALGORITHMS, neural_forecasting_available
from airflow_automl.sagemaker.metrics import NON_TABULAR_DEFAULT_OBJECTIVE, greater_is_better, is_better

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

log = logging.getLogger(__name__)

# Stands for Autopilot's forecasting inference image (recorded, never run: the service serves the model itself).
FORECAST_IMAGE = "{account}.dkr.ecr.{region}.amazonaws.com/sagemaker-automl-forecasting:local"
DEFAULT_MAX_CANDIDATES = 1
ENSEMBLE_ROUNDS = 10
REPORTED_METRICS = ("RMSE", "WAPE", "MAPE", "MASE", "AverageWeightedQuantileLoss")
# Errors a forecasting library raises on data it cannot model (a singular matrix, too few points):
# that algorithm's candidate fails, the others go on.
MODEL_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError)


@dataclass
class Trained:
    name: str
    algorithm: str
    backtest: pd.DataFrame
    forecast: pd.DataFrame
    metrics: dict[str, float]
    seconds: float
    members: dict[str, float] | None = None  # the ensemble's: candidate name -> weight
    fitted: dict[str, FittedSeries] | None = None  # ETS's and ARIMA's models by series, kept for serving


def run_forecasting(spec: JobSpec, ctx: JobContext, deadline: float | None, stages: StageTimes) -> JobOutcome:
    series = time_series_settings(spec)
    with stages.stage("data analysis"):
        data = load_series(ctx.storage, spec)
    objective = spec.metric_name or NON_TABULAR_DEFAULT_OBJECTIVE["TimeSeriesForecastingJobConfig"]
    ctx.set_resolved_attributes(
        {
            "AutoMLJobObjective": {"MetricName": objective},
            "CompletionCriteria": resolved_completion_criteria(spec, DEFAULT_MAX_CANDIDATES),
        }
    )
    if ctx.should_stop():
        return JobOutcome("Stopped")
    ctx.set_secondary_status("TrainingModels")
    history_lengths = data.frame[data.frame[TARGET].notna()].groupby(SERIES_ID).size()
    periods = seasonal_periods(data.grid, int(history_lengths.min()))
    settings = Settings(
        data.grid,
        series.quantiles,
        series.holiday_country,
        deadline,
        windows=backtest_window_count(periods, series.horizon),
    )
    placement = Placement.for_job(spec, ctx)
    first_window = windows(data.last_step, series.horizon, int(data.frame[STEP].min()), settings.windows)[0]
    scale = seasonal_scale(data.frame, first_window + 1, data.grid.season_length)

    trained: list[Trained] = []
    out_of_time = False
    number = 0
    # The baseline first: every job has a seasonal naive candidate for the ensemble to use and
    # its best candidate to beat; then the chosen algorithms, cheapest first.
    algorithms = [SEASONAL_NAIVE, *_algorithms(spec)]
    with stages.stage("training"):
        for index, algorithm in enumerate(algorithms):
            if ctx.should_stop():
                return _finish(spec, ctx, data, trained, objective, "Stopped")
            number += 1
            name = candidate_name(spec.name, LABELS[algorithm], number)
            # The baseline takes milliseconds: it is trained even when the worker's start-up took the
            # job's time, so that every job ends with a servable candidate.
            if algorithm != SEASONAL_NAIVE and deadline is not None and time.monotonic() >= deadline:
                out_of_time = True
                ctx.add_partial_failure(
                    f"Candidate {name}: {LABELS[algorithm]} was not trained: the job reached "
                    f"MaxAutoMLJobRuntimeInSeconds ({spec.max_job_runtime} s) before its turn"
                )
                continue
            # The baseline is not timed; the others get a fair share of the time left.
            share = None if algorithm == SEASONAL_NAIVE else share_deadline(deadline, len(algorithms) - index)
            started = time.monotonic()
            try:
                # Related time series (and their future rows) go to the algorithms that use them only.
                frame = data.frame if algorithm in USES_RELATED else target_only(data.frame)
                # The models ETS and ARIMA fit land in fitted, for serving to apply them again.
                fitted: dict[str, FittedSeries] = {}
                import_libraries(algorithm)
                with interrupted_at(share):
                    backtest, forecast = run_backtest(
                        frame, series.horizon, replace(settings, fitted=fitted, deadline=share), FORECASTERS[algorithm]
                    )
            except OutOfTime as stopped:
                out_of_time = True
                allowed = f"{share - started:.0f} s" if share is not None else "its time"
                reason = (
                    f"{LABELS[algorithm]} did not finish its backtests within its share of "
                    f"MaxAutoMLJobRuntimeInSeconds ({allowed} of {spec.max_job_runtime} s) and was stopped "
                    f"after {time.monotonic() - started:.0f} s ({stopped}); raise MaxAutoMLJobRuntimeInSeconds "
                    f"or choose fewer algorithms for it to finish"
                )
                log.info("job %s: %s", spec.name, reason)
                ctx.add_partial_failure(f"Candidate {name}: {reason}")
                continue
            except MODEL_ERRORS as error:
                reason = f"{LABELS[algorithm]} could not model the data: {type(error).__name__}: {error}"
                log.warning("job %s: %s", spec.name, reason)
                ctx.add_partial_failure(f"Candidate {name}: {reason}")
                continue
            result = Trained(
                name,
                algorithm,
                backtest,
                forecast,
                metrics(backtest, series.quantiles, scale),
                time.monotonic() - started,
                fitted=fitted,
            )
            # Kept before it is reported: a listed candidate can be served.
            _keep_candidate(spec, ctx, data, result, trained)
            _publish(spec, ctx, placement, data, result, objective, scale, members=None, periods=periods)
            trained.append(result)
        if len(trained) >= 2:
            number += 1
            name = candidate_name(spec.name, LABELS["ensemble"], number)
            started = time.monotonic()
            weights = ensemble_weights(trained, objective, series.quantiles, scale)
            backtest = ensemble(
                [t.backtest for t in trained], series.quantiles, weights, keys=(SERIES_ID, STEP, WINDOW, TARGET)
            )
            forecast = ensemble([t.forecast for t in trained], series.quantiles, weights)
            members = {t.name: round(w, 4) for t, w in zip(trained, weights, strict=True) if w > 0}
            result = Trained(
                name,
                "ensemble",
                backtest,
                forecast,
                metrics(backtest, series.quantiles, scale),
                time.monotonic() - started,
                members,
            )
            # Kept before it is reported: a listed candidate can be served.
            _keep_candidate(spec, ctx, data, result, trained)
            _publish(spec, ctx, placement, data, result, objective, scale, members=members, periods=periods)
            trained.append(result)
        _write_leaderboard(ctx, placement, trained, objective)
    if not trained:
        if out_of_time:
            raise JobFailed(
                f"No candidate finished within MaxAutoMLJobRuntimeInSeconds "
                f"({spec.max_job_runtime} s); raise it for this data"
            )
        raise JobFailed("No forecasting algorithm could model the data; see PartialFailureReasons")
    return _finish(spec, ctx, data, trained, objective, "MaxAutoMLJobRuntimeReached" if out_of_time else "Completed")


def ensemble_weights(
    trained: list[Trained], objective: str, quantiles: tuple[str, ...], scale: pd.Series, rounds: int = ENSEMBLE_ROUNDS
) -> list[float]:
    """Greedy ensemble selection (Caruana et al., as AutoGluon weights its ensembles): add, with
    replacement, the candidate whose addition gives the best backtest objective; weights are
    how often each was picked."""
    keys = (SERIES_ID, STEP, WINDOW, TARGET)
    counts = [0] * len(trained)
    for _ in range(rounds):
        best_index, best_value = None, None
        for index in range(len(trained)):
            trial = counts.copy()
            trial[index] += 1
            combined = ensemble([t.backtest for t in trained], quantiles, [float(c) for c in trial], keys=keys)
            value = metrics(combined, quantiles, scale)[objective]
            if not np.isnan(value) and (best_value is None or is_better(objective, value, best_value)):
                best_index, best_value = index, value
        if best_index is None:
            return [1.0] * len(trained)  # no objective value to choose by: a plain average
        counts[best_index] += 1
    return [c / rounds for c in counts]


def _write_leaderboard(ctx: JobContext, placement: Placement, trained: list[Trained], objective: str) -> None:
    """leaderboard.csv, best first: every candidate's backtest metrics and training seconds."""
    if not trained:
        return
    rows = [
        {
            "CandidateName": t.name,
            "Algorithm": t.algorithm,
            **{name: t.metrics[name] for name in REPORTED_METRICS},
            "FitTimeSeconds": round(t.seconds, 3),
        }
        for t in trained
    ]
    ascending = not greater_is_better(objective)
    frame = pd.DataFrame(rows).sort_values(objective, ascending=ascending, na_position="last")
    ctx.storage.write_bytes(placement.uri("leaderboard.csv"), _csv(frame))


def _algorithms(spec: JobSpec) -> list[str]:
    """The chosen algorithms in training order; when none is chosen, all of them (the neural ones
    only where PyTorch is installed)."""
    chosen = (
        [a for a in spec.algorithms if a in FORECASTERS]
        if spec.algorithms
        else [a for a in FORECASTERS if a not in TORCH_FORECAST_ALGORITHMS or neural_forecasting_available()]
    )
    return [a for a in FORECASTERS if a in chosen and a != SEASONAL_NAIVE]


def _finish(
    spec: JobSpec, ctx: JobContext, data: SeriesData, trained: list[Trained], objective: str, status: str
) -> JobOutcome:
    best = None
    for result in trained:
        value = result.metrics.get(objective)
        if (
            value is not None
            and not np.isnan(value)
            and (best is None or is_better(objective, value, best.metrics[objective]))
        ):
            best = result
    if best is not None:
        _keep_best(spec, ctx, data, best, trained)
        ctx.set_best_candidate(best.name)
    return JobOutcome(status)


def _members(result: Trained, trained: list[Trained]) -> list[dict]:
    """What a candidate forecasts with: its algorithm, or the ensemble's members and weights."""
    if result.members is None:
        return [{"candidate": result.name, "algorithm": result.algorithm, "weight": 1.0}]
    algorithms = {t.name: t.algorithm for t in trained}
    return [
        {"candidate": name, "algorithm": algorithms[name], "weight": weight} for name, weight in result.members.items()
    ]


def _keep_candidate(spec: JobSpec, ctx: JobContext, data: SeriesData, result: Trained, trained: list[Trained]) -> None:
    """What serving this candidate needs, kept as soon as it is trained (see engine/job.py)."""
    members = _members(result, trained)
    keep_candidate(ctx.model_dir, spec.target, time_series_settings(spec), data, result.name, members, result.fitted)


def _keep_best(spec: JobSpec, ctx: JobContext, data: SeriesData, best: Trained, trained: list[Trained]) -> None:
    """What serving the best candidate needs, in the job's model directory: its algorithm, or
    the ensemble's members and weights, the models ETS and ARIMA fitted per series, and the job's
    series settings and grid."""
    fitted = {t.name: t.fitted for t in trained if t.fitted}
    members = _members(best, trained)
    write_manifest(ctx.model_dir, spec.target, time_series_settings(spec), data, best.name, members, fitted)


def _item_frame(data: SeriesData, frame: pd.DataFrame, timestamp_column: str) -> pd.DataFrame:
    """unique_id/step -> the data's own item, grouping and timestamp columns."""
    items = data.items.reindex(frame[SERIES_ID]).reset_index(drop=True)
    rest = frame.drop(columns=[SERIES_ID, STEP]).reset_index(drop=True)
    stamps = pd.Series(data.grid.timestamps(frame[STEP]), name=timestamp_column)
    return pd.concat([items, stamps, rest], axis=1)


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _publish(
    spec: JobSpec,
    ctx: JobContext,
    placement: Placement,
    data: SeriesData,
    result: Trained,
    objective: str,
    scale: pd.Series,
    members: dict[str, float] | None,
    periods: list[int],
) -> None:
    """Writes the candidate's artifacts and reports it."""
    series, name = time_series_settings(spec), result.name
    backtest_prefix = placement.uri(f"backtest-results/{name}")
    explainability_prefix = placement.uri(f"explainability/{name}")
    per_window = [
        {"window": int(w), **metrics(part, series.quantiles, scale)} for w, part in result.backtest.groupby(WINDOW)
    ]
    accuracy = pd.DataFrame([*per_window, {"window": "all", **result.metrics}])
    ctx.storage.write_bytes(f"{backtest_prefix}/accuracy-metrics-values/accuracy-metrics.csv", _csv(accuracy))
    backtest = _item_frame(data, result.backtest.rename(columns={TARGET: spec.target}), series.timestamp)
    ctx.storage.write_bytes(f"{backtest_prefix}/forecasted-values/forecasts.csv", _csv(backtest))
    forecast_csv = _csv(_item_frame(data, result.forecast, series.timestamp))
    ctx.storage.write_bytes(placement.uri(f"forecasts/{name}/forecast.csv"), forecast_csv)
    description = {
        "candidate": name,
        "algorithm": result.algorithm,
        "library": _LIBRARIES[result.algorithm],
        "ensemble_weights": members,
        "forecast_frequency": series.frequency,
        "forecast_horizon": series.horizon,
        "forecast_quantiles": list(series.quantiles),
        "season_length": data.grid.season_length,
        "seasonal_periods": periods,
        "holiday_country": series.holiday_country if result.algorithm in ("prophet", "ensemble") else None,
        "related_time_series": data.related if result.algorithm in (*USES_RELATED, "ensemble") else [],
        "backtest_windows": int(result.backtest[WINDOW].nunique()),
        "series": int(data.frame[SERIES_ID].nunique()),
        "metrics": result.metrics,
        "training_seconds": round(result.seconds, 3),
    }
    ctx.storage.write_bytes(f"{explainability_prefix}/candidate.json", json.dumps(description, indent=2).encode())
    ctx.storage.write_bytes(placement.model_uri(name), _model_archive(description, forecast_csv))
    reported = {key: value for key, value in result.metrics.items() if key in REPORTED_METRICS and not np.isnan(value)}
    image = FORECAST_IMAGE.format(account=placement.account_id, region=placement.region)
    settings = {
        key: description[key]
        for key in (
            "forecast_frequency",
            "forecast_horizon",
            "forecast_quantiles",
            "season_length",
            "seasonal_periods",
            "holiday_country",
        )
    }
    if members:
        settings["ensemble_weights"] = members
    ctx.add_candidate(
        build_candidate(
            placement,
            name,
            objective,
            reported,
            image,
            environment={"FORECAST_ALGORITHM": result.algorithm, "FORECAST_QUANTILES": ",".join(series.quantiles)},
            artifact_locations={"Explainability": explainability_prefix, "BacktestResults": backtest_prefix},
        ),
        CandidateTraining(_LIBRARIES[result.algorithm], settings, result.seconds),
    )


_LIBRARIES = {
    SEASONAL_NAIVE: "the last cycle repeated (seasonal naive)",
    "npts": "gluonts NPTSPredictor",
    "ets": "statsforecast AutoETS (MSTL with AutoETS for a long or several seasonal periods)",
    "arima": "statsforecast AutoARIMA (MSTL with AutoARIMA for a long or several seasonal periods)",
    "prophet": "prophet Prophet",
    "deepar": "gluonts DeepAREstimator (PyTorch)",
    "cnn-qr": "lightgbm quantile regression over every series, standing in for CNN-QR",
    "ensemble": "weighted average of the other candidates",
}


def _model_archive(description: dict, forecast_csv: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for member, content in (
            (MODEL_MANIFEST, json.dumps(description, indent=2).encode()),
            ("forecast.csv", forecast_csv),
        ):
            info = tarfile.TarInfo(member)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()
