"""Rolling-window backtests and the forecasting metrics Autopilot reports.

The last horizons of the data are the test windows, one after another: at least three, and enough
to cover the longest seasonal cycle that eight can (seasons.py): for each, a forecaster sees only
the history before the window and forecasts it. The metrics pool
every window's points (per window too, in the backtest results):

- RMSE, WAPE (sum |error| / sum |actual|), MAPE (mean |error| / |actual| where actual is not 0),
  MASE (|error| scaled by each series' in-sample seasonal naive error, averaged over series), all
  of the mean forecast;
- wQL[p] = 2 * sum(pinball loss at p) / sum |actual|, and AverageWeightedQuantileLoss their mean.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from airflow_automl.local.engine.forecasting.forecasters import MEAN, WINDOW, Settings
from airflow_automl.local.engine.forecasting.seasons import MIN_BACKTEST_WINDOWS
from airflow_automl.local.engine.forecasting.series import MIN_HISTORY, SERIES_ID, STEP, TARGET, split_future

POINT_METRICS = ("RMSE", "WAPE", "MAPE", "MASE")


def windows(last_step: int, horizon: int, first_step: int, count: int = MIN_BACKTEST_WINDOWS) -> list[int]:
    """The cutoffs (last history step) of ``count`` backtest windows, oldest first."""
    cutoffs = [last_step - horizon * k for k in range(count, 0, -1)]
    return [c for c in cutoffs if c - first_step + 1 >= MIN_HISTORY]


def run_backtest(
    frame: pd.DataFrame,
    horizon: int,
    settings: Settings,
    algorithm: Callable[[pd.DataFrame, int, list[int], Settings], tuple[pd.DataFrame, pd.DataFrame]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The windows' forecasts joined to the actual values (unique_id, step, window, y, mean, p...),
    and the forecast of the next horizon from all the data. The windows lie in the history: future
    rows (related values of the next horizon) only inform the forecast."""
    history, _ = split_future(frame)
    cutoffs = windows(int(history[STEP].max()), horizon, int(history[STEP].min()), settings.windows)
    predicted, forecast = algorithm(frame, horizon, cutoffs, settings)
    joined = history[[SERIES_ID, STEP, TARGET]].merge(predicted, on=[SERIES_ID, STEP], how="inner")
    columns = [SERIES_ID, STEP, WINDOW, TARGET]
    return joined[columns + [c for c in joined.columns if c not in columns]], forecast


def seasonal_scale(frame: pd.DataFrame, before_step: int, season: int) -> pd.Series:
    """Per series: the mean absolute seasonal-naive error in its history before ``before_step``
    (MASE's denominator); the one-step naive error where the history is shorter than a season."""
    scales = {}
    for series_id, part in frame[frame[STEP] < before_step].groupby(SERIES_ID):
        values = part[TARGET].to_numpy()
        lag = season if len(values) > season else 1
        errors = np.abs(values[lag:] - values[:-lag]) if len(values) > lag else np.array([])
        scales[series_id] = float(errors.mean()) if errors.size else np.nan
    return pd.Series(scales, dtype=float)


def metrics(results: pd.DataFrame, quantiles: tuple[str, ...], scale: pd.Series) -> dict[str, float]:
    """The objective metrics of some backtest results (and wQL per quantile, as wQL[p10] ...)."""
    actual, mean = results[TARGET].to_numpy(float), results[MEAN].to_numpy(float)
    error = actual - mean
    total = float(np.abs(actual).sum())
    values: dict[str, float] = {"RMSE": float(np.sqrt(np.mean(error**2)))}
    values["WAPE"] = float(np.abs(error).sum() / total) if total > 0 else float("nan")
    nonzero = actual != 0
    values["MAPE"] = float(np.mean(np.abs(error[nonzero]) / np.abs(actual[nonzero]))) if nonzero.any() else float("nan")
    per_series = pd.Series(np.abs(error)).groupby(results[SERIES_ID].to_numpy()).mean()
    scaled = (per_series / scale.reindex(per_series.index)).replace([np.inf, -np.inf], np.nan).dropna()
    values["MASE"] = float(scaled.mean()) if not scaled.empty else float("nan")
    losses = []
    for name in quantiles:
        level = int(name[1:]) / 100
        forecast = results[name].to_numpy(float)
        pinball = np.maximum(level * (actual - forecast), (level - 1) * (actual - forecast))
        loss = float(2 * pinball.sum() / total) if total > 0 else float("nan")
        values[f"wQL[{name}]"] = loss
        losses.append(loss)
    values["AverageWeightedQuantileLoss"] = float(np.mean(losses))
    return values
