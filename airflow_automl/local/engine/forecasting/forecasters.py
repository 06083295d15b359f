"""The forecasting algorithms behind the API's names (algorithms.py maps each name to its
forecaster), each giving a mean and quantile forecasts for every series of a history:

- ets, arima: statsforecast's AutoETS and AutoARIMA (quantiles from their prediction intervals);
  ARIMA takes the related time series as exogenous regressors;
- npts: gluonts' NPTSPredictor (non-parametric, sample based; no PyTorch);
- prophet: Prophet, one model per series, with the HolidayConfig country's public holidays (from
  the holidays package) as a regressor counting the holidays in each time step, one regressor
  per related time series, and quantiles from its predictive samples;
- cnn-qr: standing in for CNN-QR, a global gradient-boosted quantile regression over all the
  series (LightGBM; gradient_boosting.py), with the related time series; trained twice, not once
  per window;
- deepar (the torch extra): gluonts' PyTorch DeepAR (quantiles from its sample paths), trained
  twice, not once per window.

A forecaster reads a series frame (series.py): the history, and, when the data has related time
series, their values for the steps to forecast as future rows (target empty). ETS, NPTS and
DeepAR ignore related time series.

A forecast is a frame with unique_id, step, mean and one column per quantile name (p10, ...);
backtest predictions add the window's number.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd

from airflow_automl.local.engine.forecasting.seasons import MIN_BACKTEST_WINDOWS, seasonal_cycles, seasonal_periods
from airflow_automl.local.engine.forecasting.series import (
    SERIES_ID,
    STEP,
    TARGET,
    TIMESTAMP,
    Grid,
    as_of,
    backtest_series,
    related_columns,
    split_future,
)

log = logging.getLogger(__name__)

MEAN = "mean"
WINDOW = "backtest_window"
PROPHET_SAMPLES = 200
NPTS_SAMPLES = 200
SEASONAL_NAIVE = "seasonal-naive"
# Prophet reserves "holidays"; the regressor counting public holidays per time step.
HOLIDAY_REGRESSOR = "public_holidays"
# The algorithms that use related time series (the others forecast from the target alone).
USES_RELATED = ("arima", "prophet", "cnn-qr")
# The neural forecasters: small networks and few epochs, sized for a CPU; seeded, so a job
# trained twice on the same data gives the same forecasts.
NEURAL_SEED = 0
NEURAL_MAX_EPOCHS = 10
NEURAL_BATCHES_PER_EPOCH = 25
NEURAL_BATCH_SIZE = 32
DEEPAR_SAMPLES = 200
# One fit may take at most this share of the job's time left, so the second fit, the forecasts
# and the algorithms after it get some too; with less than NEURAL_MIN_FIT_SECONDS it does not start.
NEURAL_FIT_SHARE = 0.5
NEURAL_MIN_FIT_SECONDS = 1.0
# An algorithm is stopped early only when its projected time is this many times the time it has
# left: the first series also pays for compiling statsforecast's numba code.
PROGRESS_SLACK = 1.5


# A single seasonal period up to this many steps is modelled by AutoETS and AutoARIMA themselves
# (statsforecast's ETS takes no longer season); longer ones, and several, by MSTL: the seasonal
# components are decomposed (STL, one per period) and ETS or ARIMA models what is left.
DIRECT_SEASON_LIMIT = 24
# MSTL's decompositions and the model fitted on what they leave take time in proportion to the history,
# once when fitted and again for each window it forecasts: it sees the last MSTL_CYCLES of the longest
# cycle only. On 150 days of hourly demand (21 weeks; benchmarks/forecast_vs_direct.py's vic-elec) the
# last 8 weeks forecast the next day as well as the whole history (mean WAPE over 21 one-day windows
# 0.0243 against 0.0242) in 60 % of the time, and a loaded machine finishes ETS within its share.
MSTL_CYCLES = 8


class OutOfTime(BaseException):
    """The deadline of the job, or of the algorithm's share of it, came before the forecaster
    finished. A BaseException, so a library's own ``except Exception`` around a fit cannot swallow
    it when it is raised in the middle of that fit (budget.py)."""


@dataclass(frozen=True)
class FittedSeries:
    """A statsforecast model chosen and fitted on one series in training, and the related time
    series it regresses on (its X columns, in order)."""

    model: Any  # statsforecast's AutoETS or AutoARIMA (statsforecast has no type information)
    regressors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Settings:
    grid: Grid
    quantiles: tuple[str, ...]  # p10, p50, ...
    holiday_country: str | None = None
    deadline: float | None = None  # time.monotonic() value
    # ETS and ARIMA models by series id: those given are applied (a served model reuses training's),
    # those fitted are added (training keeps them for serving). None: neither.
    fitted: dict[str, FittedSeries] | None = None
    windows: int = MIN_BACKTEST_WINDOWS  # backtest windows (seasons.backtest_window_count)

    def levels(self) -> list[float]:
        return [int(name[1:]) / 100 for name in self.quantiles]

    def check_time(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise OutOfTime()

    def check_progress(self, started: float, done: int, total: int) -> None:
        """Stops an algorithm early when, at the pace of its first ``done`` of ``total`` series (or
        windows), it cannot finish before the deadline: the time is left to the next algorithms."""
        self.check_time()
        if self.deadline is None or done == 0 or done >= total:
            return
        now = time.monotonic()
        projected = (now - started) / done * (total - done)
        if projected > PROGRESS_SLACK * (self.deadline - now):
            raise OutOfTime(f"at its pace it needed {projected:.0f} s more for {total - done} of {total} series")

    def seasonal_periods(self, history: pd.DataFrame) -> list[int]:
        """The periods of the frequency's cycles that every series of ``history`` holds twice."""
        return seasonal_periods(self.grid, int(history.groupby(SERIES_ID).size().min()))

    def seasonal_cycles(self, history: pd.DataFrame) -> dict[str, int]:
        return seasonal_cycles(self.grid, int(history.groupby(SERIES_ID).size().min()))

    def season_length(self, history: pd.DataFrame) -> int:
        """The grid's season, when every series holds two full cycles of it."""
        season = self.grid.season_length
        shortest = int(history.groupby(SERIES_ID).size().min())
        return season if season > 1 and shortest >= 2 * season else 1


def forecast_frame(
    series_ids, first_step: int, horizon: int, mean: np.ndarray, quantiles: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Rows series by series, horizon steps each, from arrays shaped (series, horizon)."""
    frame = pd.DataFrame(
        {
            SERIES_ID: np.repeat(np.asarray(series_ids), horizon),
            STEP: np.tile(np.arange(first_step, first_step + horizon), len(series_ids)),
            MEAN: np.asarray(mean, dtype=float).reshape(-1),
        }
    )
    for name, values in quantiles.items():
        frame[name] = np.asarray(values, dtype=float).reshape(-1)
    return frame


def concat_windows(backtests: list[pd.DataFrame]) -> pd.DataFrame:
    """The windows' predictions; none when there are no windows (a served model's forecast)."""
    return pd.concat(backtests, ignore_index=True) if backtests else pd.DataFrame()


def statistical(
    model_name: str,
) -> Callable[[pd.DataFrame, int, list[int], Settings], tuple[pd.DataFrame, pd.DataFrame]]:
    """AutoETS or AutoARIMA: the model is chosen and fitted once per series, on the history before
    the first backtest window, then applied to each longer history (statsforecast's ``forward``,
    its cross-validation without refitting) for the later windows and the forecast of the next
    horizon. One fit per series instead of one per window keeps ARIMA within a job's budget.
    AutoARIMA regresses on the related time series: their values in each history, and in the
    steps it forecasts. A series with a model in ``settings.fitted`` is not fitted again: that
    model is applied, unless it cannot forecast this history (then the series is fitted afresh)."""

    def run(
        frame: pd.DataFrame, horizon: int, cutoffs: list[int], settings: Settings
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        history, _ = split_future(frame)
        eligible = set(backtest_series(history, cutoffs)[SERIES_ID].unique()) if cutoffs else set()
        # Series in the backtests are fitted on the history before the first window; the few too
        # short for it, on all of theirs (they are only forecast).
        fit_data = history[~history[SERIES_ID].isin(eligible) | (history[STEP] <= cutoffs[0])] if cutoffs else history
        periods = settings.seasonal_periods(fit_data)
        levels = sorted({abs(100 - 2 * int(name[1:])) for name in settings.quantiles} - {0})
        last = int(history[STEP].max())
        related = related_columns(frame) if model_name == "AutoARIMA" else []
        fitted = settings.fitted if settings.fitted is not None else {}
        backtests, forecasts = [], []
        started, total = time.monotonic(), fit_data[SERIES_ID].nunique()
        for done, (series_id, fit_part) in enumerate(fit_data.groupby(SERIES_ID, sort=True)):
            # The deadline is checked between series (and the pace measured), so a long job stops soon after it.
            settings.check_progress(started, done, total)
            values = frame[frame[SERIES_ID] == series_id].sort_values(STEP)
            windows = list(enumerate(cutoffs, start=1)) if series_id in eligible else []
            kept = fitted.get(series_id)
            predictions = None
            if kept is not None:
                try:
                    predictions = _apply(kept, series_id, values, windows, last, horizon, levels, settings)
                # statsforecast raises a plain Exception for regressors that do not match the model's,
                # ValueError and others for a history it does not fit: any error of forward means this
                # model cannot be applied here; it is logged and the series fitted afresh.
                except Exception as error:  # noqa: BLE001 - see above: any error means refit, and is logged
                    log.warning(
                        "%s fitted in training for series %s cannot forecast the history sent (%s: %s); "
                        "fitting it afresh",
                        _LABELS[model_name],
                        series_id,
                        type(error).__name__,
                        error,
                    )
            if predictions is None:
                fitted[series_id] = _fit(model_name, series_id, fit_part, related, periods)
                predictions = _apply(fitted[series_id], series_id, values, windows, last, horizon, levels, settings)
            for window, rows in predictions:
                if window is None:
                    forecasts.append(rows)
                else:
                    backtests.append(rows.assign(**{WINDOW: window}))
        return concat_windows(backtests), pd.concat(forecasts, ignore_index=True)

    return run


_LABELS = {"AutoETS": "ETS", "AutoARIMA": "ARIMA"}  # the candidates' labels (algorithms.LABELS)


def _model(model_name: str, periods: list[int]):
    """AutoETS or AutoARIMA with the seasonal period, or, for a long period or several, MSTL with
    AutoETS (no seasonal component) or a non-seasonal AutoARIMA on the deseasonalised series."""
    from statsforecast.models import MSTL, AutoARIMA, AutoETS

    if len(periods) <= 1 and (not periods or periods[0] <= DIRECT_SEASON_LIMIT):
        season = periods[0] if periods else 1
        return (AutoETS if model_name == "AutoETS" else AutoARIMA)(season_length=season)
    trend = AutoETS(model="ZZN") if model_name == "AutoETS" else AutoARIMA(season_length=1)
    return MSTL(season_length=periods, trend_forecaster=trend)


def _fit(
    model_name: str, series_id: str, fit_part: pd.DataFrame, related: list[str], periods: list[int]
) -> FittedSeries:
    """One series' AutoETS or AutoARIMA model (see _model), chosen and fitted on ``fit_part``."""
    model = _model(model_name, periods)
    fit_part = _recent(model, fit_part)
    # A regressor that does not vary in the fitted history says nothing and makes the
    # regression singular: that series goes without it.
    regressors = [c for c in related if fit_part[c].nunique() > 1]
    try:
        model.fit(fit_part[TARGET].to_numpy(float), _regressors(fit_part, regressors))
    except (ValueError, np.linalg.LinAlgError) as error:
        if not regressors:
            raise
        # Regressors that depend on each other (rank deficient): the series' own history still fits.
        log.warning(
            "ARIMA of series %s goes without its related time series %s: %s", series_id, ", ".join(regressors), error
        )
        regressors = []
        model.fit(fit_part[TARGET].to_numpy(float))
    return FittedSeries(model, tuple(regressors))


def _apply(
    fitted: FittedSeries,
    series_id: str,
    values: pd.DataFrame,
    windows: list[tuple[int, int]],
    last: int,
    horizon: int,
    levels: list[int],
    settings: Settings,
) -> list[tuple[int | None, pd.DataFrame]]:
    """The fitted model's forecast after each backtest window's cutoff (window number) and after
    the history's last step (None), each from the series' values up to that step."""
    regressors = list(fitted.regressors)
    predictions = []
    for window, cutoff in [*windows, (None, last)]:
        seen = _recent(fitted.model, values[values[STEP] <= cutoff])
        ahead = values[(values[STEP] > cutoff) & (values[STEP] <= cutoff + horizon)]
        result = fitted.model.forward(
            y=seen[TARGET].to_numpy(float),
            h=horizon,
            X=_regressors(seen, regressors),
            X_future=_regressors(ahead, regressors),
            level=levels or None,
        )
        quantiles = {}
        for name in settings.quantiles:
            percent = int(name[1:])
            level = abs(100 - 2 * percent)
            quantiles[name] = result["mean"] if level == 0 else result[f"{'lo' if percent < 50 else 'hi'}-{level}"]
        predictions.append((window, forecast_frame([series_id], cutoff + 1, horizon, result["mean"], quantiles)))
    return predictions


def _recent(model: Any, rows: pd.DataFrame) -> pd.DataFrame:
    """Of one series' rows (in step order, as the grid and _apply hold them): for an MSTL model (several
    seasons), the last MSTL_CYCLES of the longest; for the others, all of them."""
    seasons = getattr(model, "season_length", None)
    return rows.tail(MSTL_CYCLES * max(seasons)) if isinstance(seasons, list) else rows


def _regressors(rows: pd.DataFrame, columns: list[str]) -> np.ndarray | None:
    return rows[columns].to_numpy(float) if columns else None


def rolling(forecast: Callable[[pd.DataFrame, int, Settings], pd.DataFrame]):
    """An algorithm that fits anew for each backtest window and for the next horizon."""

    def run(
        frame: pd.DataFrame, horizon: int, cutoffs: list[int], settings: Settings
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        backtests = []
        evaluated = backtest_series(frame, cutoffs) if cutoffs else frame
        started = time.monotonic()
        for window, cutoff in enumerate(cutoffs, start=1):
            # One more fit (the next horizon's) follows the windows'.
            settings.check_progress(started, window - 1, len(cutoffs) + 1)
            backtests.append(forecast(as_of(evaluated, cutoff, horizon), horizon, settings).assign(**{WINDOW: window}))
        return concat_windows(backtests), forecast(frame, horizon, settings)

    return run


def _gluonts_dataset(frame: pd.DataFrame, settings: Settings):
    """The series' history as a gluonts dataset, in unique_id order (the order gluonts forecasts them)."""
    from gluonts.dataset.common import ListDataset

    history, _ = split_future(frame)

    frequency = settings.grid.pandas_frequency
    return ListDataset(
        [
            {
                "start": pd.Period(part[TIMESTAMP].iloc[0], freq=frequency),
                "target": part[TARGET].to_numpy(),
                "item_id": series_id,
            }
            for series_id, part in history.groupby(SERIES_ID, sort=True)
        ],
        freq=frequency,
    )


def forecast_npts(frame: pd.DataFrame, horizon: int, settings: Settings) -> pd.DataFrame:
    from gluonts.model.npts import NPTSPredictor

    return _gluonts_forecast(NPTSPredictor(prediction_length=horizon), frame, horizon, settings, NPTS_SAMPLES)


def _gluonts_forecast(
    predictor, frame: pd.DataFrame, horizon: int, settings: Settings, num_samples: int | None
) -> pd.DataFrame:
    """A gluonts predictor's forecast of the next horizon of every series: the mean of its sample
    paths (num_samples) or, for a quantile model (None), its median; quantiles in level order."""
    history, _ = split_future(frame)
    means: list[np.ndarray] = []
    quantiles: dict[str, list[np.ndarray]] = {name: [] for name in settings.quantiles}
    for forecast in predictor.predict(_gluonts_dataset(history, settings), num_samples=num_samples):
        settings.check_time()
        means.append(forecast.mean if num_samples else forecast.quantile(0.5))
        for name, level in zip(settings.quantiles, settings.levels(), strict=True):
            quantiles[name].append(forecast.quantile(level))
    first = int(history[STEP].max()) + 1
    forecast = forecast_frame(
        sorted(history[SERIES_ID].unique()),
        first,
        horizon,
        np.array(means),
        {name: np.array(values) for name, values in quantiles.items()},
    )
    # A quantile network's outputs may cross; sample quantiles never do, so sorting changes nothing there.
    ordered = sorted(settings.quantiles, key=lambda name: int(name[1:]))
    forecast[ordered] = np.sort(forecast[ordered].to_numpy(), axis=1)
    return forecast


def holiday_counts(grid: Grid, steps: np.ndarray, country: str) -> np.ndarray:
    """How many of the country's public holidays fall within each time step (0 or 1 for daily
    data, 0 to 7 for weekly data, ...), so holidays mean the same at every ForecastFrequency."""
    import holidays

    starts = grid.timestamps(steps)
    ends = grid.timestamps(np.asarray(steps) + 1)
    calendar = holidays.country_holidays(country, years=range(starts.min().year, ends.max().year + 1))
    days = pd.DatetimeIndex(sorted(pd.Timestamp(day) for day in calendar))
    return np.array(
        [((days >= start) & (days < end)).sum() for start, end in zip(starts, ends, strict=True)], dtype=float
    )


# Prophet draws its weekly cycle with 3 Fourier terms by default, enough for daily data (7 points a week)
# but too smooth for steps shorter than a day: a weekend's different days blur into the weekdays beside
# them. With 10, one-day-ahead WAPE over a week of days fell from 0.066 to 0.054 on
# benchmarks/forecast_vs_direct.py's hourly-load (8 of its series) and from 0.062 to 0.053 on vic-elec;
# 6 to 20 terms did about as well.
SUBDAILY_WEEKLY_FOURIER_ORDER = 10


def forecast_prophet(frame: pd.DataFrame, horizon: int, settings: Settings) -> pd.DataFrame:
    from cmdstanpy.utils import get_logger
    from prophet import Prophet

    # cmdstanpy logs two lines per fit at INFO; its logger is set up on first use, so set it up first.
    get_logger().setLevel(logging.WARNING)
    history, future_rows = split_future(frame)
    related = related_columns(frame)
    first = int(history[STEP].max()) + 1
    future_steps = np.arange(first, first + horizon)
    country = settings.holiday_country
    if country:
        all_steps = np.arange(int(history[STEP].min()), first + horizon)
        counts = pd.Series(holiday_counts(settings.grid, all_steps, country), index=all_steps)
    # Prophet's seasonalities are the cycles the other algorithms model (its own rules differ: a
    # yearly one from two years of data on, and a daily one only for steps shorter than a day).
    cycles = settings.seasonal_cycles(history)
    weekly = "weekly" in cycles and (SUBDAILY_WEEKLY_FOURIER_ORDER if "daily" in cycles else True)
    series_ids: list[str] = []
    means: list[np.ndarray] = []
    quantiles: dict[str, list[np.ndarray]] = {name: [] for name in settings.quantiles}
    for series_id, part in history.groupby(SERIES_ID, sort=True):
        settings.check_time()
        model = Prophet(
            uncertainty_samples=PROPHET_SAMPLES,
            daily_seasonality="daily" in cycles,
            weekly_seasonality=weekly,
            yearly_seasonality="yearly" in cycles,
        )
        train = part[[TIMESTAMP, TARGET, *related]]
        future = pd.DataFrame({TIMESTAMP: settings.grid.timestamps(future_steps)})
        if country:
            train = train.assign(**{HOLIDAY_REGRESSOR: counts.loc[part[STEP]].to_numpy()})
            future[HOLIDAY_REGRESSOR] = counts.loc[future_steps].to_numpy()
            model.add_regressor(HOLIDAY_REGRESSOR)
        if related:
            # The related values of the steps forecast, from the series' future rows.
            ahead = future_rows[future_rows[SERIES_ID] == series_id].set_index(STEP)[related].reindex(future_steps)
            for column in related:
                model.add_regressor(column)
                future[column] = ahead[column].to_numpy()
        model.fit(train)
        samples = model.predictive_samples(future)["yhat"]  # (horizon, samples)
        series_ids.append(series_id)
        means.append(samples.mean(axis=1))
        for name, level in zip(settings.quantiles, settings.levels(), strict=True):
            quantiles[name].append(np.quantile(samples, level, axis=1))
    return forecast_frame(
        series_ids, first, horizon, np.array(means), {name: np.array(v) for name, v in quantiles.items()}
    )


def seasonal_naive(
    frame: pd.DataFrame, horizon: int, cutoffs: list[int], settings: Settings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each series' last cycle repeated, for the cycle (of the frequency's that the history before
    the first backtest window holds twice, or the grid's season) whose repetition had the smallest
    absolute error over that series' backtest windows: the windows cover the longest cycle they
    can (seasons.py), so a weekly cycle is chosen by the weekend too. Per series the smallest error
    of every period, so on the backtests it is at least as good as each fixed period. Quantiles
    from the spread of that period's errors in the history. The chosen periods are kept in
    ``settings.fitted`` (a served model repeats them); a series with none kept (a new item, or no
    windows) takes the period of the smallest error in its own history. The baseline a job must
    not lose to, and a candidate the ensemble may use."""
    history, _ = split_future(frame)
    chosen = settings.fitted if settings.fitted is not None else {}
    evaluated = set(backtest_series(history, cutoffs)[SERIES_ID].unique()) if cutoffs else set()
    before_first = history[history[STEP] <= cutoffs[0]] if cutoffs else history
    candidates = sorted({*settings.seasonal_periods(before_first), settings.grid.season_length} - {1}) or [1]
    offsets = np.array(settings.levels())
    windows: dict[int, list] = {window: [] for window in range(1, len(cutoffs) + 1)}
    forecasts = []
    for series_id, part in history.groupby(SERIES_ID, sort=True):
        part = part.sort_values(STEP)
        steps, values = part[STEP].to_numpy(), part[TARGET].to_numpy(float)
        if series_id in evaluated:
            errors = {}
            for period in [p for p in candidates if (steps <= cutoffs[0]).sum() >= p]:
                predicted = [_repeat_last_cycle(values[steps <= c], period, horizon) for c in cutoffs]
                actual = [values[(steps > c) & (steps <= c + horizon)] for c in cutoffs]
                errors[period] = sum(np.abs(a - f[: len(a)]).sum() for a, f in zip(actual, predicted, strict=True))
            if errors:
                chosen[series_id] = FittedSeries(min(errors, key=errors.__getitem__))
            for window, cutoff in enumerate(cutoffs, start=1):
                windows[window].append(
                    (series_id, _naive_rows(values[steps <= cutoff], chosen, series_id, candidates, horizon, offsets))
                )
        forecasts.append((series_id, _naive_rows(values, chosen, series_id, candidates, horizon, offsets)))
    backtests = [
        _stacked_frame(rows, cutoffs[window - 1] + 1, horizon, settings.quantiles).assign(**{WINDOW: window})
        for window, rows in windows.items()
        if rows
    ]
    first = int(history[STEP].max()) + 1
    return concat_windows(backtests), _stacked_frame(forecasts, first, horizon, settings.quantiles)


def _repeat_last_cycle(values: np.ndarray, period: int, horizon: int) -> np.ndarray:
    return np.resize(values[-period:], horizon)


def _naive_rows(
    values: np.ndarray,
    chosen: dict[str, FittedSeries],
    series_id: str,
    candidates: list[int],
    horizon: int,
    offsets: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """One series' seasonal naive mean (horizon,) and quantiles (horizon, quantiles): the period
    chosen for it when it has one and the values hold it, else the smallest error's in the values."""
    kept = chosen.get(series_id)
    if kept is not None and len(values) >= kept.model:
        period = int(kept.model)
    else:
        fits = [p for p in candidates if len(values) >= 2 * p] or [1]
        period = min(fits, key=lambda p: np.abs(values[p:] - values[:-p]).mean() if len(values) > p else np.inf)
    errors = values[period:] - values[:-period] if len(values) > period else np.zeros(1)
    mean = _repeat_last_cycle(values, period, horizon)
    return mean, mean[:, None] + np.quantile(errors, offsets)[None, :]


def _stacked_frame(
    rows: list[tuple[str, tuple[np.ndarray, np.ndarray]]], first_step: int, horizon: int, quantiles: tuple[str, ...]
) -> pd.DataFrame:
    bands = np.array([band for _, (_, band) in rows])  # (series, horizon, quantile)
    return forecast_frame(
        [series_id for series_id, _ in rows],
        first_step,
        horizon,
        np.array([mean for _, (mean, _) in rows]),
        {name: bands[:, :, index] for index, name in enumerate(quantiles)},
    )


def neural(build: Callable[[int, int, Settings, dict], Any], num_samples: int | None):
    """A PyTorch forecaster from gluonts: trained once on the history before the first backtest
    window and applied to each window's history (no refit per window), then trained again on all
    the data to forecast the next horizon: two fits whatever the number of windows (one, on the
    history sent, for a served model)."""

    def run(
        frame: pd.DataFrame, horizon: int, cutoffs: list[int], settings: Settings
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        backtests = []
        if cutoffs:
            evaluated = backtest_series(frame, cutoffs)
            predictor = _fit_network(build, evaluated[evaluated[STEP] <= cutoffs[0]], horizon, settings)
            for window, cutoff in enumerate(cutoffs, start=1):
                history = evaluated[evaluated[STEP] <= cutoff]
                _seed()  # DeepAR's sample paths
                backtests.append(
                    _gluonts_forecast(predictor, history, horizon, settings, num_samples).assign(**{WINDOW: window})
                )
        final = _fit_network(build, frame, horizon, settings)
        _seed()
        return concat_windows(backtests), _gluonts_forecast(final, frame, horizon, settings, num_samples)

    return run


def _seed() -> None:
    import lightning.pytorch as pl

    pl.seed_everything(NEURAL_SEED, verbose=False)


def _fit_network(
    build: Callable[[int, int, Settings, dict], Any], history: pd.DataFrame, horizon: int, settings: Settings
):
    """Trains a network on these series for at most NEURAL_MAX_EPOCHS and, under a deadline, at
    most a share of the time left (Lightning stops at the end of a batch and keeps the weights)."""
    import lightning.pytorch  # noqa: F401  (sets its loggers to INFO when first imported)

    settings.check_time()
    for name in ("lightning.pytorch", "lightning.fabric", "gluonts.torch.model.estimator"):
        logging.getLogger(name).setLevel(logging.WARNING)  # a few lines per fit at INFO
    trainer = {
        "max_epochs": NEURAL_MAX_EPOCHS,
        "accelerator": "cpu",
        "devices": 1,
        "logger": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    if settings.deadline is not None:
        seconds = (settings.deadline - time.monotonic()) * NEURAL_FIT_SHARE
        if seconds < NEURAL_MIN_FIT_SECONDS:
            raise OutOfTime()
        trainer["max_time"] = timedelta(seconds=seconds)
    # Enough context for two horizons and one seasonal cycle; shorter series are padded.
    context = max(2 * horizon, settings.grid.season_length)
    # gluonts keeps the best epoch's weights through a Lightning checkpoint file.
    with tempfile.TemporaryDirectory(prefix="automl-forecast-") as checkpoints:
        trainer["default_root_dir"] = checkpoints
        _seed()
        predictor = build(horizon, context, settings, trainer).train(_gluonts_dataset(history, settings))
    settings.check_time()
    return predictor


def deepar_estimator(horizon: int, context: int, settings: Settings, trainer: dict):
    from gluonts.torch.model.deepar import DeepAREstimator

    return DeepAREstimator(
        freq=settings.grid.pandas_frequency,
        prediction_length=horizon,
        context_length=context,
        num_layers=2,
        hidden_size=20,
        batch_size=NEURAL_BATCH_SIZE,
        num_batches_per_epoch=NEURAL_BATCHES_PER_EPOCH,
        trainer_kwargs=trainer,
    )


def ensemble(
    forecasts: list[pd.DataFrame],
    quantiles: tuple[str, ...],
    weights: list[float] | None = None,
    keys: tuple[str, ...] = (SERIES_ID, STEP),
) -> pd.DataFrame:
    """The weighted average of several forecasts, per point and quantile (quantiles kept in
    order); ``keys`` are the columns that say which point a row forecasts."""
    weights = weights or [1.0] * len(forecasts)
    columns = [MEAN, *quantiles]
    indexed = [f.set_index(list(keys))[columns] for f in forecasts]
    common = indexed[0].index
    for frame in indexed[1:]:
        common = common.intersection(frame.index)
    total = sum(w * frame.loc[common] for w, frame in zip(weights, indexed, strict=True) if w > 0) / sum(weights)
    averaged = total.reset_index().sort_values(list(keys), ignore_index=True)
    ordered = sorted(quantiles, key=lambda name: int(name[1:]))
    averaged[ordered] = np.sort(averaged[ordered].to_numpy(), axis=1)
    return averaged
