"""CNN-QR's stand-in: one gradient-boosted model over every series (LightGBM), forecasting each step
of the horizon directly by quantile regression.

Like Amazon's CNN-QR it is a global model (one model learns from all the series), direct (every
step of the horizon is forecast from the history at the forecast's origin, not from forecasts of
the steps before it) and trained on the quantile loss, one model per ForecastQuantile plus p50,
the point forecast; it reads the related time series at the step it forecasts. Trees stand in for
the convolutional network, so it trains in seconds on a CPU without PyTorch.

A training row is one (origin, step ahead) pair of one series, subsampled to MAX_TRAINING_ROWS:
- the last values at the origin (recent_lags), and for each seasonal cycle the values at the same
  point one and two cycles before the step forecast (the latest known at the origin), the mean of
  up to SAME_POINTS such values, and the mean of the last cycle;
- the steps ahead, the calendar of the step forecast (hour, weekday, day, month, week of year, and
  the HolidayConfig country's public holidays in it), and the related time series at it;
- all of them divided by the series' mean absolute value over its recent history (the last
  recent_lags values, or its shortest cycle if longer), so one model fits series at any level; the
  forecast is multiplied back.

Trained twice like the neural forecasters: on the history before the first backtest window (then
applied to every window's history) and on all the data for the next horizon; a served model
trains on the history a request sends.
"""

from __future__ import annotations

import time

import lightgbm
import numpy as np
import pandas as pd

from airflow_automl.local.engine.forecasting.forecasters import (
    WINDOW,
    OutOfTime,
    Settings,
    concat_windows,
    forecast_frame,
    holiday_counts,
)
from airflow_automl.local.engine.forecasting.series import (
    SERIES_ID,
    STEP,
    TARGET,
    backtest_series,
    related_columns,
)

SEED = 0
# Enough (origin, step ahead) rows to learn from, few enough to train in seconds on two cores.
MAX_TRAINING_ROWS = 20_000
ROUNDS = 150
# For each seasonal cycle a row sees the same point of the cycle this many cycles back (their mean).
SAME_POINTS = 4
PARAMETERS = {
    "learning_rate": 0.1,
    "num_leaves": 15,
    "max_bin": 63,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "num_threads": 0,  # LightGBM's default: every core
    "seed": SEED,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
# Under a deadline each fit (its models together) may take an equal part of this share of the time
# left, the rest kept for building rows and forecasting; with less than MIN_FIT_SECONDS it does not start.
FIT_SHARE = 0.8
MIN_FIT_SECONDS = 0.5


def recent_lags(horizon: int) -> int:
    """How many of the latest values at the origin a row sees: two horizons, within 8 to 48."""
    return min(max(2 * horizon, 8), 48)


def gradient_boosting(
    frame: pd.DataFrame, horizon: int, cutoffs: list[int], settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The backtest windows' forecasts of a model trained before the first window, and the next
    horizon's from a model trained on all the history (see the module's docstring)."""
    periods = sorted({*settings.seasonal_periods(_history(frame)), settings.grid.season_length} - {1})
    backtests = []
    if cutoffs:
        evaluated = backtest_series(frame, cutoffs)
        models = _train(evaluated[evaluated[STEP] <= cutoffs[0]], horizon, periods, settings, fits_left=2)
        for window, cutoff in enumerate(cutoffs, start=1):
            known = evaluated[evaluated[STEP] <= cutoff + horizon].copy()
            known.loc[known[STEP] > cutoff, TARGET] = np.nan  # the window's related values stay: they are known
            backtests.append(_forecast(models, known, horizon, periods, settings).assign(**{WINDOW: window}))
    models = _train(frame, horizon, periods, settings, fits_left=1)
    return concat_windows(backtests), _forecast(models, frame, horizon, periods, settings)


def _history(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[frame[TARGET].notna()]


def _train(
    history: pd.DataFrame, horizon: int, periods: list[int], settings: Settings, fits_left: int
) -> dict[float, lightgbm.Booster]:
    """One booster per quantile level (and 0.5) on (origin, step ahead) rows of ``history``; under a
    deadline it grows fewer trees rather than leave no time for the ``fits_left - 1`` fits after it."""
    settings.check_time()
    started = time.monotonic()
    features, target = _training_rows(_history(history), horizon, periods, settings)
    if len(target) == 0:
        raise ValueError("no series holds two time steps to learn from")
    levels = sorted({*settings.levels(), 0.5})
    stop_at = None
    if settings.deadline is not None:
        seconds = (settings.deadline - time.monotonic()) * FIT_SHARE / fits_left
        if seconds < MIN_FIT_SECONDS:
            raise OutOfTime(f"{seconds:.1f} s left for a fit")
        stop_at = started + seconds
    models = {}
    dataset = lightgbm.Dataset(features, target, free_raw_data=False)
    for done, level in enumerate(levels):
        # Each model gets an equal part of what is left of the fit's time; past it, no more trees.
        until = None if stop_at is None else time.monotonic() + (stop_at - time.monotonic()) / (len(levels) - done)
        models[level] = lightgbm.train(
            {**PARAMETERS, "objective": "quantile", "alpha": level},
            dataset,
            num_boost_round=ROUNDS,
            callbacks=[_stop_at(until)] if until is not None else None,
        )
        settings.check_time()
    return models


def _stop_at(until: float):
    """A LightGBM callback that ends training at ``until`` (time.monotonic()), keeping the trees grown."""

    def callback(env) -> None:
        if time.monotonic() >= until:
            raise lightgbm.callback.EarlyStopException(env.iteration, env.evaluation_result_list or [])

    return callback


def _forecast(
    models: dict[float, lightgbm.Booster], frame: pd.DataFrame, horizon: int, periods: list[int], settings: Settings
) -> pd.DataFrame:
    """The next ``horizon`` steps of every series of ``frame`` (its history and any future rows)."""
    ids, origins, features, scales = [], [], [], []
    related = related_columns(frame)
    steps_ahead = np.arange(1, horizon + 1)
    calendar = Calendar(frame, horizon, settings)
    for series_id, values, extra, first in _series(frame, related):
        origin = _last_known(values)
        if origin < 0:
            continue
        rows = _rows(values, extra, np.full(horizon, origin), steps_ahead, first, horizon, periods, calendar)
        ids.append(series_id)
        origins.append(first + origin + 1)
        features.append(rows[0])
        scales.append(rows[1])
    if not ids:
        return forecast_frame(
            [], 0, horizon, np.empty((0, horizon)), {n: np.empty((0, horizon)) for n in settings.quantiles}
        )
    matrix, scale = np.vstack(features), np.concatenate(scales)
    predicted = {level: model.predict(matrix) * scale for level, model in models.items()}
    levels = sorted(predicted)
    ordered = np.sort(np.column_stack([predicted[level] for level in levels]), axis=1)  # no crossed quantiles
    by_level = {level: ordered[:, index].reshape(len(ids), horizon) for index, level in enumerate(levels)}
    quantiles = {name: by_level[int(name[1:]) / 100] for name in settings.quantiles}
    forecast = forecast_frame(ids, 0, horizon, by_level[0.5], quantiles)
    # Series may end at different steps: each forecasts the steps after its own last value.
    forecast[STEP] = np.repeat(np.asarray(origins), horizon) + np.tile(steps_ahead - 1, len(ids))
    return forecast


def _training_rows(
    history: pd.DataFrame, horizon: int, periods: list[int], settings: Settings
) -> tuple[np.ndarray, np.ndarray]:
    """Every (origin, step ahead) pair of every series whose target is known, as features and the
    scaled target, sampled down to MAX_TRAINING_ROWS (seeded: a job trained twice learns the same)."""
    series = list(_series(history, related_columns(history)))
    calendar = Calendar(history, horizon, settings)
    pairs = []
    for number, (_, values, _, _) in enumerate(series):
        origins = np.arange(0, len(values) - 1)
        for ahead in range(1, horizon + 1):
            kept = origins[origins + ahead < len(values)]
            pairs.append(np.column_stack([np.full(len(kept), number), kept, np.full(len(kept), ahead)]))
    every = np.vstack(pairs) if pairs else np.empty((0, 3), dtype=int)
    if len(every) > MAX_TRAINING_ROWS:
        every = every[np.random.default_rng(SEED).choice(len(every), MAX_TRAINING_ROWS, replace=False)]
    features, targets = [], []
    for number, (_, values, extra, first) in enumerate(series):
        chosen = every[every[:, 0] == number]
        if len(chosen) == 0:
            continue
        origins, ahead = chosen[:, 1], chosen[:, 2]
        rows, scale = _rows(values, extra, origins, ahead, first, horizon, periods, calendar)
        features.append(rows)
        targets.append(values[origins + ahead] / scale)
    if not features:
        return np.empty((0, 0)), np.empty(0)
    return np.vstack(features), np.concatenate(targets)


def _series(frame: pd.DataFrame, related: list[str]):
    """Each series as its target values on consecutive steps (NaN where unknown: future rows), its
    related values on the same steps (steps, related), and its first step."""
    for series_id, part in frame.groupby(SERIES_ID, sort=True):
        first, last = int(part[STEP].min()), int(part[STEP].max())
        positions = part[STEP].to_numpy(int) - first
        values = np.full(last - first + 1, np.nan)
        values[positions] = part[TARGET].to_numpy(float)
        extra = np.full((last - first + 1, len(related)), np.nan)
        if related:
            extra[positions] = part[related].to_numpy(float)
        yield series_id, values, extra, first


def _last_known(values: np.ndarray) -> int:
    known = np.flatnonzero(~np.isnan(values))
    return int(known[-1]) if len(known) else -1


def _rows(
    values: np.ndarray,
    extra: np.ndarray,
    origins: np.ndarray,
    ahead: np.ndarray,
    first: int,
    horizon: int,
    periods: list[int],
    calendar: Calendar,
) -> tuple[np.ndarray, np.ndarray]:
    """The features of forecasting position ``origins + ahead`` from the values up to ``origins``
    (positions in ``values``), and each row's scale."""
    known = np.where(np.isnan(values), 0.0, values)
    sums = np.concatenate([[0.0], np.cumsum(np.abs(known))])
    totals = np.concatenate([[0.0], np.cumsum(known)])
    # The level to scale by: recent enough to follow a drifting level, a whole shortest cycle at least.
    context = max(recent_lags(horizon), min(periods, default=1))
    start = np.maximum(origins + 1 - context, 0)
    scale = (sums[origins + 1] - sums[start]) / (origins + 1 - start)
    scale = np.where(scale > 0, scale, 1.0)

    def at(positions: np.ndarray) -> np.ndarray:
        inside = (positions >= 0) & (positions < len(values))
        return np.where(inside, values[np.clip(positions, 0, len(values) - 1)], np.nan)

    columns = [at(origins[:, None] - np.arange(recent_lags(horizon))[None, :]) / scale[:, None]]
    targets = origins + ahead
    for period in periods:
        back = np.ceil(ahead / period).astype(int) * period  # the latest same point of the cycle known
        same_points = np.column_stack([at(targets - back - k * period) for k in range(SAME_POINTS)])
        # The latest two, and the mean of up to SAME_POINTS cycles (less noisy than any one of them).
        known_points = ~np.isnan(same_points)
        mean = np.where(known_points, same_points, 0).sum(axis=1) / np.maximum(known_points.sum(axis=1), 1)
        mean[~known_points.any(axis=1)] = np.nan
        columns.append(np.column_stack([same_points[:, :2], mean]) / scale[:, None])
        begin = np.maximum(origins + 1 - period, 0)
        columns.append(((totals[origins + 1] - totals[begin]) / (origins + 1 - begin) / scale)[:, None])
    columns.append(ahead[:, None].astype(float))
    columns.append(calendar.of(first + targets))
    if extra.shape[1]:
        related = np.full((len(targets), extra.shape[1]), np.nan)
        inside = targets < len(extra)  # a series without future rows has no related values to forecast with
        related[inside] = extra[targets[inside]]
        columns.append(related)
    return np.column_stack(columns), scale


class Calendar:
    """Hour (with minutes), weekday, day of month, month and ISO week of each time step's start, and
    the public holidays of the HolidayConfig country in it, for the steps of a frame and the horizon
    after it (computed once, looked up by step)."""

    def __init__(self, frame: pd.DataFrame, horizon: int, settings: Settings) -> None:
        self.first = int(frame[STEP].min())
        steps = np.arange(self.first, int(frame[STEP].max()) + horizon + 1)
        stamps = settings.grid.timestamps(steps)
        columns = [
            stamps.hour + stamps.minute / 60,
            stamps.dayofweek,
            stamps.day,
            stamps.month,
            stamps.isocalendar().week.to_numpy(),
        ]
        if settings.holiday_country:
            columns.append(holiday_counts(settings.grid, steps, settings.holiday_country))
        self.table = np.column_stack([np.asarray(column, dtype=float) for column in columns])

    def of(self, steps: np.ndarray) -> np.ndarray:
        return self.table[steps - self.first]
