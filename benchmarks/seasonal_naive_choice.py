"""How the job's seasonal naive baseline chooses each series' cycle, against fixed cycles, on the
held-out steps of benchmarks/forecast_vs_direct.py's datasets. In process and without a budget
(seasonal naive takes milliseconds), so the figures do not depend on the machine's load.

    .venv/bin/python benchmarks/seasonal_naive_choice.py [--datasets hourly-load,vic-elec,store-daily,store-weekly]

Per dataset: the holdout WAPE of the job's SeasonalNaive candidate (each series' cycle chosen on the
backtest windows, as the job does; with its backtest WAPE and how many series chose each cycle), of
the cycle with the smallest error in each series' history (what the job chose before, and still
what a served model does for an item it did not train on), and of each cycle fixed for every series.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
from forecast_vs_direct import DATASETS, spec_for

from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS
from airflow_automl.local.engine.forecasting.backtest import run_backtest
from airflow_automl.local.engine.forecasting.forecasters import MEAN, SEASONAL_NAIVE, FittedSeries, Settings
from airflow_automl.local.engine.forecasting.seasons import backtest_window_count, seasonal_periods
from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET, load_series, split_future
from airflow_automl.local.storage import Storage

QUANTILES = ("p10", "p50", "p90")


def wape(forecast: pd.DataFrame, actual: pd.DataFrame) -> float:
    joined = actual.merge(forecast[[SERIES_ID, STEP, MEAN]], on=[SERIES_ID, STEP])
    return float((joined[TARGET] - joined[MEAN]).abs().sum() / joined[TARGET].abs().sum())


def compare(name: str, root: Path) -> None:
    dataset = DATASETS[name]()
    columns = dataset.config["TimeSeriesConfig"]
    target = columns["TargetAttributeName"]
    held_out = pd.to_datetime(dataset.frame[columns["TimestampAttributeName"]]) >= pd.Timestamp(dataset.holdout_start)
    for folder, frame in (
        ("full", dataset.frame),
        ("train", dataset.frame.assign(**{target: dataset.frame[target].where(~held_out)})),
    ):
        (root / folder).mkdir(parents=True)
        frame.to_csv(root / folder / "data.csv", index=False)
    storage, horizon = Storage([root]), dataset.config["ForecastHorizon"]
    full = load_series(storage, spec_for(root, "full", dataset, 60))
    train = load_series(storage, spec_for(root, "train", dataset, 60))
    last = train.last_step
    actual = full.frame[(full.frame[STEP] > last) & (full.frame[STEP] <= last + horizon)][[SERIES_ID, STEP, TARGET]]
    history, _ = split_future(train.frame)
    periods = seasonal_periods(train.grid, int(history.groupby(SERIES_ID).size().min()))
    settings = Settings(train.grid, QUANTILES, windows=backtest_window_count(periods, horizon))
    frame = train.frame[[SERIES_ID, STEP, TARGET]]
    naive = FORECASTERS[SEASONAL_NAIVE]

    chosen: dict[str, FittedSeries] = {}
    backtest, forecast = run_backtest(frame, horizon, replace(settings, fitted=chosen), naive)
    backtest_wape = float((backtest[TARGET] - backtest[MEAN]).abs().sum() / backtest[TARGET].abs().sum())
    counts = pd.Series({series: kept.model for series, kept in chosen.items()}).value_counts().to_dict()
    print(
        f"\n{name}: {actual[SERIES_ID].nunique()} series, horizon {horizon}, "
        f"{settings.windows} backtest windows, cycles {periods}"
    )
    print(f"  {'chosen on the backtests (the job)':<40} holdout WAPE {wape(forecast, actual):.4f}", end="")
    print(f"   backtest WAPE {backtest_wape:.4f}, series per cycle {counts}")
    _, by_history = naive(frame, horizon, [], replace(settings, fitted={}))
    print(f"  {'chosen on the history (the job before)':<40} holdout WAPE {wape(by_history, actual):.4f}")
    for period in sorted({*periods, train.grid.season_length} - {1}):
        fixed = {series: FittedSeries(period) for series in history[SERIES_ID].unique()}
        _, forecast = naive(frame, horizon, [], replace(settings, fitted=fixed))
        print(f"  {f'cycle {period} for every series':<40} holdout WAPE {wape(forecast, actual):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default="hourly-load,vic-elec,store-daily,store-weekly")
    for name in parser.parse_args().datasets.split(","):
        root = Path(tempfile.mkdtemp(prefix=f"seasonal-naive-{name}-"))
        try:
            compare(name, root)
        finally:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
