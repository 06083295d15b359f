"""The local service's time-series forecasting job against statsforecast's AutoETS and AutoARIMA
fitted directly and a seasonal-naive baseline, on datasets with many series that need no download.

    nice -n 10 .venv/bin/python benchmarks/forecast_vs_direct.py [--budget 300] [--datasets store-weekly,hourly-load]

For each dataset the last ForecastHorizon steps of every series are held out. The job (the
engine's run_job, as the service's worker runs it, with MaxAutoMLJobRuntimeInSeconds = --budget)
trains on the rest and its best candidate's forecast is scored on the holdout; the direct models
fit the same history, put on the same grid by the job's own loader (same aggregation and
filling), and forecast the same steps. Scores: WAPE and MASE of the mean forecast, and the
average weighted quantile loss over p10, p50, p90 (the engine's metric code), with wall times.

Datasets (generated, deterministic):
- store-weekly: daily unit sales of 120 products over 3 years (trend, weekly and yearly
  seasonality, US holidays, promotions), forecast weekly (the job sums days into weeks), 8 weeks;
  the promotions are a related time series the job's ARIMA and Prophet use (their planned values
  for the held-out weeks are given as future rows), which the direct models do not;
- hourly-load: hourly electricity load of 40 meters over 4 weeks (daily and weekly cycles,
  weather-like drifts), forecast hourly, 24 hours.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from airflow_automl.datasets import store_demand
from airflow_automl.local.engine import run_job
from airflow_automl.local.engine.forecasting.backtest import metrics, seasonal_scale
from airflow_automl.local.engine.forecasting.forecasters import MEAN
from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET, load_series
from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.local.storage import Storage

QUANTILES = ("p10", "p50", "p90")


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame          # the raw rows, as a user's CSV holds them
    holdout_start: str           # first timestamp held out
    config: dict                 # TimeSeriesForecastingJobConfig without CompletionCriteria


def store_weekly() -> Dataset:
    end = date(2026, 11, 23)  # a Monday: weeks run Monday to Sunday
    start = end - timedelta(weeks=156)
    frame = store_demand(120, start, end)
    return Dataset("store-weekly", frame, str(end - timedelta(weeks=8)), {
        "ForecastFrequency": "W", "ForecastHorizon": 8,
        "TimeSeriesConfig": {"TargetAttributeName": "units", "TimestampAttributeName": "date",
                             "ItemIdentifierAttributeName": "sku"},
        # futurefill lets the full data (read for the holdout's actual values) load without future rows.
        "Transformations": {"Aggregation": {"units": "sum"}, "Filling": {"promotion": {"futurefill": "zero"}}},
        "HolidayConfig": [{"CountryCode": "US"}],
    })


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
        frames.append(pd.DataFrame({"meter": f"meter-{number:03d}", "hour": hours.strftime("%Y-%m-%d %H:00"),
                                    "kwh": load.round(2)}))
    return Dataset("hourly-load", pd.concat(frames, ignore_index=True), str(hours[-24]), {
        "ForecastFrequency": "H", "ForecastHorizon": 24,
        "TimeSeriesConfig": {"TargetAttributeName": "kwh", "TimestampAttributeName": "hour",
                             "ItemIdentifierAttributeName": "meter"},
    })


DATASETS = {"store-weekly": store_weekly, "hourly-load": hourly_load}


@dataclass
class BenchContext:
    storage: Storage
    work_dir: Path
    model_dir: Path
    candidates: list = field(default_factory=list)
    failures: list = field(default_factory=list)
    best: str | None = None

    def set_secondary_status(self, status):
        pass

    def set_resolved_attributes(self, resolved):
        pass

    def add_candidate(self, candidate):
        self.candidates.append(candidate)

    def set_best_candidate(self, name):
        self.best = name

    def set_artifacts(self, artifacts):
        pass

    def add_partial_failure(self, message):
        self.failures.append(message)

    def should_stop(self):
        return False


def spec_for(root: Path, folder: str, dataset: Dataset, budget: int, objective: str = "AverageWeightedQuantileLoss"):
    config = {**dataset.config, "ForecastQuantiles": list(QUANTILES),
              "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": budget}}
    return job_spec_from_request("CreateAutoMLJobV2", {
        "AutoMLJobName": f"bench-{dataset.name}",
        "AutoMLJobInputDataConfig": [{"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": (root / folder).as_uri()}}}],
        "OutputDataConfig": {"S3OutputPath": (root / "output").as_uri()},
        "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": config},
        "AutoMLJobObjective": {"MetricName": objective},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
    })


def direct(model, history: pd.DataFrame, horizon: int) -> pd.DataFrame:
    """A statsforecast model fitted on the grid's history, with p10/p50/p90 from its 80 % interval."""
    from statsforecast import StatsForecast

    data = history[[SERIES_ID, STEP, TARGET]].rename(columns={STEP: "ds"})
    result = StatsForecast(models=[model], freq=1, n_jobs=1).forecast(df=data, h=horizon, level=[80])
    name = repr(model)
    return pd.DataFrame({SERIES_ID: result[SERIES_ID], STEP: result["ds"], MEAN: result[name],
                         "p10": result[f"{name}-lo-80"], "p50": result[name], "p90": result[f"{name}-hi-80"]})


def score(forecast: pd.DataFrame, actual: pd.DataFrame, scale: pd.Series) -> dict[str, float]:
    joined = actual[[SERIES_ID, STEP, TARGET]].merge(forecast, on=[SERIES_ID, STEP], how="left")
    missing = int(joined[MEAN].isna().sum())
    if missing:
        raise RuntimeError(f"{missing} holdout points have no forecast")
    return metrics(joined, QUANTILES, scale)


def run(dataset: Dataset, budget: int, root: Path) -> None:
    from statsforecast.models import AutoARIMA, AutoETS, SeasonalNaive

    series_config = dataset.config["TimeSeriesConfig"]
    held_out = pd.to_datetime(dataset.frame[series_config["TimestampAttributeName"]]) >= pd.Timestamp(dataset.holdout_start)
    # The job trains on the rest; the held-out rows stay as future rows (target empty), which
    # carry the related time series' values (the planned promotions) for the steps forecast.
    train_frame = dataset.frame.assign(**{series_config["TargetAttributeName"]: dataset.frame[
        series_config["TargetAttributeName"]].where(~held_out)})
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
    print(f"\n{dataset.name}: {train.frame[SERIES_ID].nunique()} series, {train.time_steps} time steps of "
          f"{dataset.config['ForecastFrequency']} for training, {horizon} held out, season {season}, "
          f"job budget {budget} s")
    rows = []

    (root / "work").mkdir()
    (root / "model").mkdir()
    ctx = BenchContext(storage, root / "work", root / "model")
    started = time.monotonic()
    outcome = run_job(spec_for(root, "train", dataset, budget), ctx)
    job_wall = time.monotonic() - started
    job_forecast = pd.read_csv(root / "output" / f"bench-{dataset.name}" / "forecasts" / ctx.best / "forecast.csv")
    item, timestamp = (dataset.config["TimeSeriesConfig"][key] for key in
                       ("ItemIdentifierAttributeName", "TimestampAttributeName"))
    job_forecast = job_forecast.rename(columns={item: SERIES_ID})
    job_forecast[STEP] = train.grid.step_index(pd.to_datetime(job_forecast[timestamp]))
    rows.append((f"job (best: {ctx.best.split('-')[-2]})", score(job_forecast, actual, scale), job_wall))
    leaderboard = ", ".join(
        f"{c['CandidateName'].split('-')[-2]} {c['FinalAutoMLJobObjectiveMetric']['Value']:.4f}" for c in ctx.candidates)
    print(f"  job: {outcome.secondary_status}, backtest AverageWeightedQuantileLoss: {leaderboard}"
          + (f"; partial failures: {ctx.failures}" if ctx.failures else ""))

    for label, model in (("AutoETS direct", AutoETS(season_length=season)),
                         ("AutoARIMA direct", AutoARIMA(season_length=season)),
                         ("seasonal naive", SeasonalNaive(season_length=season))):
        started = time.monotonic()
        forecast = direct(model, train.frame[train.frame[TARGET].notna()], horizon)
        rows.append((label, score(forecast, actual, scale), time.monotonic() - started))

    print(f"  {'method':<24} {'WAPE':>8} {'MASE':>8} {'avg wQL':>8} {'wall s':>8}")
    for label, values, wall in rows:
        print(f"  {label:<24} {values['WAPE']:8.4f} {values['MASE']:8.4f} "
              f"{values['AverageWeightedQuantileLoss']:8.4f} {wall:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=300, help="the job's MaxAutoMLJobRuntimeInSeconds")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    args = parser.parse_args()
    for name in args.datasets.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"forecast-bench-{name}-"))
        try:
            run(DATASETS[name](), args.budget, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
