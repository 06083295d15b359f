"""The local service's time-series forecasting job against statsforecast's AutoETS and AutoARIMA
fitted directly and a seasonal-naive baseline, each with the same wall-clock budget, on datasets
with many series that need no download.

    nice -n 10 .venv/bin/python benchmarks/forecast_vs_direct.py [--budget 300] [--datasets store-weekly,store-daily]

For each dataset the last ForecastHorizon steps of every series are held out. The job (the
engine's run_job, as the service's worker runs it, with MaxAutoMLJobRuntimeInSeconds = --budget)
trains on the rest and its best candidate's forecast is scored on the holdout; the direct models
fit the same history, put on the same grid by the job's own loader (same aggregation and
filling), and forecast the same steps. Scores: WAPE and MASE of the mean forecast, and the
average weighted quantile loss over p10, p50, p90 (the engine's metric code), with wall times.

Same budget: each direct model runs in a child process that fits the series one by one and is
stopped when --budget seconds have passed since it started; a model stopped so is reported as
"did not finish in N s" with the number of series it had forecast, and is not scored.

Noise: the holdout WAPE and average wQL differences between the job and each direct model that
finished (and AutoGluon-TimeSeries' TimeSeriesPredictor, see AUTOGLUON_MODELS, at the same budget,
when the torch venv has it), with a 95 % interval from a bootstrap over series (2000 resamples of the series, with
replacement, fixed seed). The target is met on a dataset when the job beats seasonal naive (the
whole WAPE interval below 0) and is within noise of the best direct model, AutoETS, AutoARIMA or
AutoARIMA+related (AutoARIMA with the related time series as regressors, on datasets that have
them), whichever has the lower holdout WAPE (the WAPE interval reaches 0 or below). Picking the best on
the holdout favours the direct side.

Datasets (generated, deterministic):
- store-weekly: daily unit sales of 120 products over 3 years (trend, weekly and yearly
  seasonality, US holidays, promotions; airflow_automl.examples.datasets.store_demand), forecast weekly
  (the job sums days into weeks), 8 weeks held out, season 52; the promotions are a related time
  series the job's ARIMA and Prophet use (their planned values for the held-out weeks are given
  as future rows), and so does AutoARIMA+related direct;
- store-daily: daily unit sales of 100 other products of the same generator (products 121 to
  220) over 2 years, forecast daily, 14 days held out, season 7: item-level daily demand, noisier
  than the weekly sums, with promotions (a related time series, as above) and holidays seen day
  by day;
- vic-elec: a real series, the hourly electricity demand of Victoria (Australia) over 150 days,
  shipped inside statsmodels (its MSTL test data), daily and weekly cycles, 24 hours held out; one
  series, so its bootstrap resamples the held-out hours;
- hourly-load: hourly electricity load of 40 meters over 4 weeks (daily and weekly cycles,
  weather-like drifts), forecast hourly, 24 hours held out (a Sunday), season 24. Not in the
  default set: AutoARIMA with a season of 24 takes 8 to 40 s per series on an idle core (about
  100 s on a loaded one), so neither the job nor the direct AutoARIMA fits 40 series within a few
  minutes' budget.
"""

from __future__ import annotations

import argparse
import importlib.resources
import json
import multiprocessing
import os
import queue
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from memory_context import MemoryJobContext

from airflow_automl.examples.datasets import store_demand
from airflow_automl.local.engine import run_job
from airflow_automl.local.engine.forecasting.backtest import metrics, seasonal_scale
from airflow_automl.local.engine.forecasting.forecasters import MEAN
from airflow_automl.local.engine.forecasting.series import (
    SERIES_ID,
    STEP,
    TARGET,
    TIMESTAMP,
    load_series,
    related_columns,
    split_future,
)
from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.local.storage import Storage

QUANTILES = ("p10", "p50", "p90")
BOOTSTRAP_DRAWS = 2000
WITH_RELATED = "+related"
DIRECT_MODELS = ("AutoETS", "AutoARIMA", "AutoARIMA" + WITH_RELATED, "SeasonalNaive")
# AutoGluon-TimeSeries runs in the torch extra's venv (it needs PyTorch), with autogluon.timeseries
# installed there: `make .venv-torch/.installed && .tools/bin/uv pip install --python
# .venv-torch/bin/python autogluon.timeseries`. Its statistical and tree-based models (no neural
# network, no pretrained Chronos weights, which it would download), what its "fast_training" and
# "medium_quality" presets fit besides the neural models, with its own weighted ensemble.
# AUTOGLUON_PYTHON in the environment names another interpreter that has it (a throwaway venv).
AUTOGLUON_PYTHON = Path(
    os.environ.get("AUTOGLUON_PYTHON") or Path(__file__).resolve().parent.parent / ".venv-torch" / "bin" / "python"
)
AUTOGLUON_MODELS = {
    "SeasonalNaive": {},
    "ETS": {},
    "AutoARIMA": {},
    "Theta": {},
    "RecursiveTabular": {},
    "DirectTabular": {},
}
AUTOGLUON_LABEL = "AutoGluon-TS direct"
_AUTOGLUON_SCRIPT = """
import json, sys
import pandas as pd
from autogluon.timeseries import TimeSeriesDataFrame, TimeSeriesPredictor

history_csv, future_csv, out_csv, horizon, budget, models, related, work = sys.argv[1:9]
related = json.loads(related)
history = pd.read_csv(history_csv, parse_dates=["timestamp"])
data = TimeSeriesDataFrame.from_data_frame(history, id_column="item_id", timestamp_column="timestamp")
predictor = TimeSeriesPredictor(
    prediction_length=int(horizon),
    quantile_levels=[0.1, 0.5, 0.9],
    eval_metric="WQL",
    known_covariates_names=related or None,
    path=work,
    verbosity=0,
)
predictor.fit(data, hyperparameters=json.loads(models), time_limit=int(budget), random_seed=0)
known = None
if related:
    future = pd.read_csv(future_csv, parse_dates=["timestamp"])
    known = TimeSeriesDataFrame.from_data_frame(future, id_column="item_id", timestamp_column="timestamp")
predictor.predict(data, known_covariates=known).reset_index().to_csv(out_csv, index=False)
print(predictor.model_best)
"""


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame  # the raw rows, as a user's CSV holds them
    holdout_start: str  # first timestamp held out
    config: dict  # TimeSeriesForecastingJobConfig without CompletionCriteria


def store_weekly() -> Dataset:
    end = date(2026, 11, 23)  # a Monday: weeks run Monday to Sunday
    start = end - timedelta(weeks=156)
    frame = store_demand(120, start, end)
    return Dataset(
        "store-weekly",
        frame,
        str(end - timedelta(weeks=8)),
        {
            "ForecastFrequency": "W",
            "ForecastHorizon": 8,
            "TimeSeriesConfig": {
                "TargetAttributeName": "units",
                "TimestampAttributeName": "date",
                "ItemIdentifierAttributeName": "sku",
            },
            # futurefill lets the full data (read for the holdout's actual values) load without future rows.
            "Transformations": {"Aggregation": {"units": "sum"}, "Filling": {"promotion": {"futurefill": "zero"}}},
            "HolidayConfig": [{"CountryCode": "US"}],
        },
    )


def store_daily() -> Dataset:
    end = date(2026, 11, 23)
    frame = store_demand(220, end - timedelta(days=728), end)
    # Products 121 to 220: none of them is in store-weekly.
    frame = frame[frame["sku"].isin(sorted(frame["sku"].unique())[120:])].reset_index(drop=True)
    return Dataset(
        "store-daily",
        frame,
        str(end - timedelta(days=14)),
        {
            "ForecastFrequency": "D",
            "ForecastHorizon": 14,
            "TimeSeriesConfig": {
                "TargetAttributeName": "units",
                "TimestampAttributeName": "date",
                "ItemIdentifierAttributeName": "sku",
            },
            # futurefill lets the full data (read for the holdout's actual values) load without future rows.
            "Transformations": {"Filling": {"promotion": {"futurefill": "zero"}}},
            "HolidayConfig": [{"CountryCode": "US"}],
        },
    )


def hourly_load() -> Dataset:
    hours = pd.date_range("2026-10-05", periods=28 * 24, freq="h")
    hour, weekday = hours.hour.to_numpy(), hours.dayofweek.to_numpy()
    frames = []
    for number in range(40):
        rng = np.random.default_rng(200 + number)
        base = rng.uniform(20, 200)
        daily = 1 + rng.uniform(0.2, 0.6) * np.sin(2 * np.pi * (hour - 7) / 24)
        weekly = 1 - rng.uniform(0.05, 0.3) * (weekday >= 5)
        weather = 1 + 0.1 * np.cumsum(rng.normal(0, 0.05, len(hours))).clip(-2, 2)
        load = base * daily * weekly * weather * rng.lognormal(0, 0.05, len(hours))
        frames.append(
            pd.DataFrame(
                {"meter": f"meter-{number:03d}", "hour": hours.strftime("%Y-%m-%d %H:00"), "kwh": load.round(2)}
            )
        )
    return Dataset(
        "hourly-load",
        pd.concat(frames, ignore_index=True),
        str(hours[-24]),
        {
            "ForecastFrequency": "H",
            "ForecastHorizon": 24,
            "TimeSeriesConfig": {
                "TargetAttributeName": "kwh",
                "TimestampAttributeName": "hour",
                "ItemIdentifierAttributeName": "meter",
            },
        },
    )


def vic_elec() -> Dataset:
    """Half-hourly electricity demand of Victoria, Australia (tsibbledata's vic_elec), summed to hours:
    150 days from 2012-01-01, as statsmodels ships it for its MSTL tests. Daily and weekly cycles."""
    source = importlib.resources.files("statsmodels.tsa.stl.tests.results") / "mstl_elec_vic.csv"
    with importlib.resources.as_file(source) as path:
        frame = pd.read_csv(path)
    frame = frame.rename(columns={"ds": "hour", "y": "demand"}).assign(region="VIC")[["region", "hour", "demand"]]
    return Dataset(
        "vic-elec",
        frame,
        str(pd.Timestamp(frame["hour"].iloc[-1]) - pd.Timedelta(hours=23)),
        {
            "ForecastFrequency": "H",
            "ForecastHorizon": 24,
            "TimeSeriesConfig": {
                "TargetAttributeName": "demand",
                "TimestampAttributeName": "hour",
                "ItemIdentifierAttributeName": "region",
            },
        },
    )


DATASETS = {"store-weekly": store_weekly, "store-daily": store_daily, "hourly-load": hourly_load, "vic-elec": vic_elec}
DEFAULT_DATASETS = ("store-weekly", "store-daily")


def spec_for(root: Path, folder: str, dataset: Dataset, budget: int, objective: str = "AverageWeightedQuantileLoss"):
    config = {
        **dataset.config,
        "ForecastQuantiles": list(QUANTILES),
        "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget},
    }
    return job_spec_from_request(
        "CreateAutoMLJobV2",
        {
            "AutoMLJobName": f"bench-{dataset.name}",
            "AutoMLJobInputDataConfig": [
                {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (root / folder).as_uri()}}}
            ],
            "OutputDataConfig": {"S3OutputPath": (root / "output").as_uri()},
            "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": config},
            "AutoMLJobObjective": {"MetricName": objective},
            "RoleArn": "arn:aws:iam::123456789012:role/automl",
        },
    )


def _forecast_series_by_series(
    model_name: str, season: int, frame: pd.DataFrame, horizon: int, results: multiprocessing.Queue
) -> None:
    """In the child process: one statsforecast fit per series, each forecast sent as soon as it
    is made (p10/p50/p90 from the 80 % interval), then None. A model name ending in WITH_RELATED
    fits with the related time series as exogenous regressors (their future rows give the values
    of the steps forecast), as the job's ARIMA does; a series whose regressors are constant in its
    history, or that statsforecast cannot fit with them, is fitted without."""
    import statsforecast.models
    from statsforecast import StatsForecast

    base_name = model_name.removesuffix(WITH_RELATED)
    related = related_columns(frame) if model_name.endswith(WITH_RELATED) else []
    data = frame[[SERIES_ID, STEP, TARGET, *related]].rename(columns={STEP: "ds"})
    for _, part in data.groupby(SERIES_ID, sort=True):
        history, future = part[part[TARGET].notna()], part[part[TARGET].isna()].head(horizon)
        regressors = [c for c in related if history[c].nunique() > 1] if len(future) == horizon else []
        model = getattr(statsforecast.models, base_name)(season_length=season)
        forecaster = StatsForecast(models=[model], freq=1, n_jobs=1)
        try:
            result = forecaster.forecast(
                df=history[[SERIES_ID, "ds", TARGET, *regressors]],
                h=horizon,
                level=[80],
                X_df=future[[SERIES_ID, "ds", *regressors]] if regressors else None,
            )
        except Exception:
            if not regressors:
                raise
            result = forecaster.forecast(df=history[[SERIES_ID, "ds", TARGET]], h=horizon, level=[80])
        name = repr(model)
        results.put(
            pd.DataFrame(
                {
                    SERIES_ID: result[SERIES_ID],
                    STEP: result["ds"],
                    MEAN: result[name],
                    "p10": result[f"{name}-lo-80"],
                    "p50": result[name],
                    "p90": result[f"{name}-hi-80"],
                }
            )
        )
    results.put(None)


@dataclass
class DirectRun:
    forecast: pd.DataFrame | None  # None: stopped at the budget
    series_done: int
    wall: float


def direct(model_name: str, season: int, history: pd.DataFrame, horizon: int, budget: float) -> DirectRun:
    """A statsforecast model fitted directly on the grid's history, in a child process that is
    stopped once ``budget`` seconds have passed since it started (its start-up counts, as the
    job's does)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process holding numba's threads
    results = context.Queue()
    started = time.monotonic()
    child = context.Process(target=_forecast_series_by_series, args=(model_name, season, history, horizon, results))
    child.start()
    forecasts = []
    try:
        while True:
            remaining = started + budget - time.monotonic()
            if remaining <= 0:
                return DirectRun(None, len(forecasts), time.monotonic() - started)
            try:
                part = results.get(timeout=min(remaining, 5))
            except queue.Empty:
                if not child.is_alive() and child.exitcode != 0:
                    raise RuntimeError(f"direct {model_name} ended with exit code {child.exitcode}") from None
                continue
            if part is None:
                return DirectRun(pd.concat(forecasts, ignore_index=True), len(forecasts), time.monotonic() - started)
            forecasts.append(part)
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def autogluon(train, horizon: int, budget: int, root: Path) -> DirectRun | str:
    """AutoGluon-TimeSeries' TimeSeriesPredictor on the grid's history, with the related time series
    as known covariates (their future rows give the steps forecast), as the job has them, and
    time_limit = budget, in the torch venv; wall time includes its start-up. A string says why not."""
    if not AUTOGLUON_PYTHON.exists():
        return f"no {AUTOGLUON_PYTHON.parent.parent.name} venv (see AUTOGLUON_PYTHON)"
    history, future = split_future(train.frame)
    related = related_columns(train.frame)
    folder = root / "autogluon"
    folder.mkdir()
    names = {SERIES_ID: "item_id", TIMESTAMP: "timestamp", TARGET: "target"}
    history.rename(columns=names)[["item_id", "timestamp", "target", *related]].to_csv(
        folder / "history.csv", index=False
    )
    future.rename(columns=names)[["item_id", "timestamp", *related]].to_csv(folder / "future.csv", index=False)
    started = time.monotonic()
    arguments = [
        folder / "history.csv",
        folder / "future.csv",
        folder / "forecast.csv",
        horizon,
        budget,
        json.dumps(AUTOGLUON_MODELS),
        json.dumps(related),
    ]
    command = [str(AUTOGLUON_PYTHON), "-c", _AUTOGLUON_SCRIPT, *map(str, arguments), str(folder / "work")]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget * 2 + 120, check=False)
    except subprocess.TimeoutExpired:
        return f"did not finish in {budget * 2 + 120} s"
    wall = time.monotonic() - started
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    forecast = pd.read_csv(folder / "forecast.csv", parse_dates=["timestamp"])
    forecast = pd.DataFrame(
        {
            SERIES_ID: forecast["item_id"].astype(str),
            STEP: train.grid.step_index(forecast["timestamp"]),
            MEAN: forecast["mean"],
            "p10": forecast["0.1"],
            "p50": forecast["0.5"],
            "p90": forecast["0.9"],
        }
    )
    print(f"  (AutoGluon-TS best model: {done.stdout.strip().splitlines()[-1]})")
    return DirectRun(forecast, forecast[SERIES_ID].nunique(), wall)


def score(forecast: pd.DataFrame, actual: pd.DataFrame, scale: pd.Series) -> dict[str, float]:
    joined = actual[[SERIES_ID, STEP, TARGET]].merge(forecast, on=[SERIES_ID, STEP], how="left")
    missing = int(joined[MEAN].isna().sum())
    if missing:
        raise RuntimeError(f"{missing} holdout points have no forecast")
    return metrics(joined, QUANTILES, scale)


def run(dataset: Dataset, budget: int, root: Path) -> None:
    series_config = dataset.config["TimeSeriesConfig"]
    held_out = pd.to_datetime(dataset.frame[series_config["TimestampAttributeName"]]) >= pd.Timestamp(
        dataset.holdout_start
    )
    # The job trains on the rest; the held-out rows stay as future rows (target empty), which
    # carry the related time series' values (the planned promotions) for the steps forecast.
    train_frame = dataset.frame.assign(
        **{series_config["TargetAttributeName"]: dataset.frame[series_config["TargetAttributeName"]].where(~held_out)}
    )
    for folder, frame in (("full", dataset.frame), ("train", train_frame)):
        (root / folder).mkdir(parents=True)
        frame.to_csv(root / folder / "data.csv", index=False)
    storage = Storage([root])
    horizon = dataset.config["ForecastHorizon"]
    full = load_series(storage, spec_for(root, "full", dataset, budget))
    train = load_series(storage, spec_for(root, "train", dataset, budget))
    last = train.last_step
    actual = full.frame[(full.frame[STEP] > last) & (full.frame[STEP] <= last + horizon)]
    season = train.grid.season_length
    scale = seasonal_scale(train.frame, last + 1, season)
    series_count = train.frame[SERIES_ID].nunique()
    print(
        f"\n{dataset.name}: {series_count} series, {train.time_steps} time steps of "
        f"{dataset.config['ForecastFrequency']} for training, {horizon} held out, season {season}, "
        f"budget {budget} s for the job and for each direct model"
    )

    (root / "work").mkdir()
    (root / "model").mkdir()
    ctx = MemoryJobContext(storage, root / "work", root / "model")
    started = time.monotonic()
    outcome = run_job(spec_for(root, "train", dataset, budget), ctx)
    job_wall = time.monotonic() - started
    job_forecast = pd.read_csv(root / "output" / f"bench-{dataset.name}" / "forecasts" / ctx.best / "forecast.csv")
    item, timestamp = (
        dataset.config["TimeSeriesConfig"][key] for key in ("ItemIdentifierAttributeName", "TimestampAttributeName")
    )
    job_forecast = job_forecast.rename(columns={item: SERIES_ID})
    job_forecast[STEP] = train.grid.step_index(pd.to_datetime(job_forecast[timestamp]))

    def label(candidate_name: str) -> str:  # bench-<dataset>-CNN-QR-003: CNN-QR
        return candidate_name.removeprefix(f"bench-{dataset.name}-").rsplit("-", 1)[0]

    job_label = f"job (best: {label(ctx.best)})"
    leaderboard = ", ".join(
        f"{label(c['CandidateName'])} {c['FinalAutoMLJobObjectiveMetric']['Value']:.4f}" for c in ctx.candidates
    )
    print(
        f"  job: {outcome.secondary_status} in {job_wall:.1f} s, backtest AverageWeightedQuantileLoss: {leaderboard}"
        + (f"; partial failures: {ctx.failures}" if ctx.failures else "")
    )

    forecasts = {job_label: job_forecast}
    print(f"  {'method':<24} {'WAPE':>8} {'MASE':>8} {'avg wQL':>8} {'wall s':>8}")
    print(f"  {job_label:<24} {_row(score(job_forecast, actual, scale))} {job_wall:8.1f}")
    labels = {
        "AutoETS": "AutoETS direct",
        "AutoARIMA": "AutoARIMA direct",
        "AutoARIMA" + WITH_RELATED: "AutoARIMA+related direct",
        "SeasonalNaive": "seasonal naive",
    }
    for model_name in DIRECT_MODELS:
        if model_name.endswith(WITH_RELATED) and not related_columns(train.frame):
            continue
        fitted = direct(model_name, season, train.frame, horizon, budget)
        label = labels[model_name]
        if fitted.forecast is None:
            print(
                f"  {label:<24} did not finish in {budget} s ({fitted.series_done} of {series_count} series forecast)"
            )
            continue
        forecasts[label] = fitted.forecast
        print(f"  {label:<24} {_row(score(fitted.forecast, actual, scale))} {fitted.wall:8.1f}")
    rival = autogluon(train, horizon, budget, root)
    if isinstance(rival, str):
        print(f"  {AUTOGLUON_LABEL:<24} {rival}")
    else:
        assert rival.forecast is not None
        forecasts[AUTOGLUON_LABEL] = rival.forecast
        print(f"  {AUTOGLUON_LABEL:<24} {_row(score(rival.forecast, actual, scale))} {rival.wall:8.1f}")
    print(f"  load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    verdict(job_label, forecasts, actual)


def _row(values: dict[str, float]) -> str:
    return f"{values['WAPE']:8.4f} {values['MASE']:8.4f} {values['AverageWeightedQuantileLoss']:8.4f}"


def series_losses(forecast: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Per series: the sums that pooled WAPE and average wQL divide (absolute error, weighted
    quantile loss as 2 * mean pinball loss over the quantiles, absolute actual value)."""
    joined = actual[[SERIES_ID, STEP, TARGET]].merge(forecast, on=[SERIES_ID, STEP], how="left")
    y = joined[TARGET].to_numpy(float)
    pinball = sum(
        np.maximum(level * (y - joined[name]), (level - 1) * (y - joined[name]))
        for name, level in ((q, int(q[1:]) / 100) for q in QUANTILES)
    )
    parts = pd.DataFrame(
        {
            SERIES_ID: joined[SERIES_ID],
            "error": np.abs(y - joined[MEAN]),
            "quantile_loss": 2 * pinball / len(QUANTILES),
            "actual": np.abs(y),
        }
    )
    # One series (vic-elec): the bootstrap resamples its held-out points instead.
    unit = parts[SERIES_ID] if joined[SERIES_ID].nunique() > 1 else joined[STEP].rename("point")
    return parts.drop(columns=SERIES_ID).groupby(unit).sum().sort_index()


def bootstrap_difference(
    job: pd.DataFrame, other: pd.DataFrame, column: str, rng: np.random.Generator
) -> tuple[float, float, float]:
    """The job's pooled ratio (WAPE for "error", average wQL for "quantile_loss") minus the
    other's, and a 95 % percentile interval of it over resampled series."""
    draws = rng.integers(0, len(job), size=(BOOTSTRAP_DRAWS, len(job)))
    actual = job["actual"].to_numpy()[draws].sum(axis=1)
    differences = (job[column].to_numpy()[draws].sum(axis=1) - other[column].to_numpy()[draws].sum(axis=1)) / actual
    point = (job[column].sum() - other[column].sum()) / job["actual"].sum()
    low, high = np.percentile(differences, [2.5, 97.5])
    return float(point), float(low), float(high)


def verdict(job_label: str, forecasts: dict[str, pd.DataFrame], actual: pd.DataFrame) -> None:
    """The bootstrap differences and whether the target is met."""
    losses = {label: series_losses(forecast, actual) for label, forecast in forecasts.items()}
    job = losses.pop(job_label)
    wape = {label: part["error"].sum() / part["actual"].sum() for label, part in losses.items()}
    rng = np.random.default_rng(0)
    intervals = {}
    unit = "series" if job.index.name == SERIES_ID else "held-out points of the one series"
    print(f"  job minus each, 95 % bootstrap interval over {len(job)} {unit} (below 0: the job is better):")
    for label, part in losses.items():
        assert part.index.equals(job.index)
        intervals[label] = bootstrap_difference(job, part, "error", rng)
        quantile = bootstrap_difference(job, part, "quantile_loss", rng)
        print(
            f"    {label:<22} WAPE {intervals[label][0]:+.4f} [{intervals[label][1]:+.4f}, {intervals[label][2]:+.4f}]"
            f"   avg wQL {quantile[0]:+.4f} [{quantile[1]:+.4f}, {quantile[2]:+.4f}]"
        )
    job_wape = job["error"].sum() / job["actual"].sum()
    if "seasonal naive" in wape:
        print(f"  job WAPE at most seasonal naive's: {'yes' if job_wape <= wape['seasonal naive'] else 'no'}")
    if AUTOGLUON_LABEL in wape:
        ratio = job_wape / wape[AUTOGLUON_LABEL]
        print(f"  job WAPE / AutoGluon-TS WAPE: {ratio:.3f} (within 5 %: {'yes' if ratio <= 1.05 else 'no'})")
    fitted = [label for label in ("AutoETS direct", "AutoARIMA direct", "AutoARIMA+related direct") if label in wape]
    if "seasonal naive" not in intervals or not fitted:
        print("  target: not measurable (seasonal naive or both AutoETS and AutoARIMA did not finish in the budget)")
        return
    best = min(fitted, key=wape.get)
    beats_naive = intervals["seasonal naive"][2] < 0
    within_noise = intervals[best][1] <= 0
    print(
        f"  target: beats seasonal naive: {'yes' if beats_naive else 'no'}; within noise of the best direct model "
        f"({best}): {'yes' if within_noise else 'no'} -> {'met' if beats_naive and within_noise else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--budget",
        type=int,
        default=300,
        help="the job's MaxAutoMLJobRuntimeInSeconds, and each direct model's time limit",
    )
    parser.add_argument("--datasets", default=",".join(DEFAULT_DATASETS), help=f"any of {', '.join(DATASETS)}")
    args = parser.parse_args()
    for name in args.datasets.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"forecast-bench-{name}-"))
        try:
            run(DATASETS[name](), args.budget, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
