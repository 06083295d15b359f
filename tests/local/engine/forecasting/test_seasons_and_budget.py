"""The cycles a forecasting job models and backtests, the seasonal naive baseline it always
trains, and a job stopped at MaxAutoMLJobRuntimeInSeconds in the middle of a fit: it stops the
fit itself, says so, and keeps its best finished candidate servable."""

from __future__ import annotations

import json
import pickle
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine import run_job
from airflow_automl.local.engine.forecasting import forecasters
from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS, LIBRARIES
from airflow_automl.local.engine.forecasting.backtest import run_backtest
from airflow_automl.local.engine.forecasting.forecasters import (
    MEAN,
    MSTL_CYCLES,
    SEASONAL_NAIVE,
    WINDOW,
    Settings,
    forecast_prophet,
)
from airflow_automl.local.engine.forecasting.seasons import backtest_window_count, cycles, seasonal_periods
from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET, Grid, load_series
from airflow_automl.local.serving.loading import load_model
from tests.fixtures.forecasting import write_job

ORIGIN = pd.Timestamp("2024-03-04")


@pytest.mark.parametrize(
    ("count", "unit", "expected"),
    [
        (1, "H", {"daily": 24, "weekly": 168}),
        (30, "min", {"daily": 48, "weekly": 336}),
        (1, "D", {"weekly": 7, "yearly": 365}),
        (1, "W", {"yearly": 52}),
        (1, "M", {"yearly": 12}),
        (1, "Y", {}),
    ],
)
def test_the_frequency_implies_its_cycles(count, unit, expected):
    assert cycles(Grid(count, unit, ORIGIN)) == expected


def test_a_cycle_is_modelled_when_held_twice_and_the_backtests_cover_the_longest_they_can():
    hourly = Grid(1, "H", ORIGIN)
    assert seasonal_periods(hourly, 24 * 13) == [24]  # under two weeks: no weekly cycle
    assert seasonal_periods(hourly, 24 * 14) == [24, 168]
    assert backtest_window_count([24, 168], 24) == 7  # a whole week of days, weekend included
    assert backtest_window_count([7], 14) == 3  # at least three
    assert backtest_window_count([7, 365], 14) == 3  # a year would take 27 windows: not covered


def hourly_load(days: int, meters=("meter",), weekend: float = 0.0) -> pd.DataFrame:
    hours = 24 * days
    step = np.arange(hours)
    stamps = pd.date_range(ORIGIN, periods=hours, freq="h")
    rows = []
    for number, meter in enumerate(meters):
        noise = np.random.default_rng(number).normal(0, 2, hours)
        load = 100 + 20 * np.sin(2 * np.pi * step / 24) - weekend * (stamps.dayofweek >= 5) + noise
        rows.append(pd.DataFrame({"sku": meter, "day": stamps.strftime("%Y-%m-%d %H:%M:%S"), "units": load.round(2)}))
    return pd.concat(rows, ignore_index=True)


def test_hourly_data_is_modelled_and_backtested_with_its_daily_and_weekly_cycles(tmp_path):
    spec, ctx = write_job(
        tmp_path,
        hourly_load(days=21, weekend=40.0),
        ForecastFrequency="H",
        ForecastHorizon=24,
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets"]}]},
    )
    assert run_job(spec, ctx).secondary_status == "Completed"
    wape = {
        name.split("-")[-2]: ctx.candidate(name)["FinalAutoMLJobObjectiveMetric"]["Value"]
        for name in ctx.candidate_names
    }
    assert set(wape) == {"SeasonalNaive", "ETS", "Ensemble"}
    assert wape[ctx.best_candidate.split("-")[-2]] == min(wape.values())  # never worse than the baseline
    ets = next(name for name in ctx.candidate_names if "-ETS-" in name)
    description = json.loads((tmp_path / "out" / "demand" / "explainability" / ets / "candidate.json").read_text())
    assert description["seasonal_periods"] == [24, 168] and description["backtest_windows"] == 7
    fitted = pickle.loads((ctx.candidate_model_dir(ets) / "fitted.pkl").read_bytes())
    assert {type(series.model).__name__ for series in fitted.values()} == {"MSTL"}
    assert fitted["meter"].model.season_length == [24, 168]


def test_mstl_fits_and_forecasts_from_the_last_cycles_of_the_longest_season(tmp_path, monkeypatch):
    """Ten weeks of hourly data: MSTL (daily and weekly cycles) is fitted on the last MSTL_CYCLES weeks
    before the first window and forecasts each window and the next day from the last MSTL_CYCLES weeks."""
    from statsforecast.models import MSTL

    seen: dict[str, list[int]] = {"fit": [], "forward": []}
    fit, forward = MSTL.fit, MSTL.forward

    def counted_fit(self, y, *args, **kwargs):
        seen["fit"].append(len(y))
        return fit(self, y, *args, **kwargs)

    def counted_forward(self, y, *args, **kwargs):
        seen["forward"].append(len(y))
        return forward(self, y, *args, **kwargs)

    monkeypatch.setattr(MSTL, "fit", counted_fit)
    monkeypatch.setattr(MSTL, "forward", counted_forward)
    spec, ctx = write_job(tmp_path, hourly_load(days=70), ForecastFrequency="H", ForecastHorizon=24)
    data = load_series(ctx.storage, spec)
    _, forecast = run_backtest(data.frame, 24, Settings(data.grid, ("p50",), windows=7), FORECASTERS["ets"])
    recent = MSTL_CYCLES * 168
    assert len(data.frame) > recent + 7 * 24  # longer than what the model sees, windows included
    assert seen == {"fit": [recent], "forward": [recent] * 8}  # seven windows and the next day
    assert len(forecast) == 24 and forecast[MEAN].notna().all()


@pytest.mark.integration  # Prophet fits with cmdstan, a process of its own
def test_prophet_draws_the_weekend_of_hourly_data(tmp_path, monkeypatch):
    """Hourly load that drops by 40 on weekends: Prophet's default weekly cycle (3 Fourier terms) blurs the
    drop into the Friday before it; with SUBDAILY_WEEKLY_FOURIER_ORDER terms the Saturday's error is
    at least 40 % lower."""
    spec, ctx = write_job(tmp_path, hourly_load(days=20, weekend=40.0), ForecastFrequency="H", ForecastHorizon=24)
    data = load_series(ctx.storage, spec)
    saturday = int(data.frame[STEP].max()) - 23
    assert data.grid.timestamps(np.array([saturday]))[0] == pd.Timestamp("2024-03-23")
    history, actual = data.frame[data.frame[STEP] < saturday], data.frame[data.frame[STEP] >= saturday][TARGET]

    def saturday_wape() -> float:
        forecast = forecast_prophet(history, 24, Settings(data.grid, ("p50",)))
        return float(np.abs(forecast[MEAN].to_numpy() - actual.to_numpy()).sum() / actual.abs().sum())

    with_more_terms = saturday_wape()
    monkeypatch.setattr(forecasters, "SUBDAILY_WEEKLY_FOURIER_ORDER", True)  # Prophet's default
    assert with_more_terms < 0.6 * saturday_wape()  # measured: 0.083 against 0.162


def test_a_job_stopped_at_its_limit_in_the_middle_of_a_fit_keeps_its_best_candidate_servable(tmp_path):
    """AutoARIMA with a season of 24 takes many seconds on one series of ten days: a 3 s job
    interrupts it in the middle of that fit and ends by itself, with the baseline it trained first."""
    history = hourly_load(days=10)
    spec, ctx = write_job(
        tmp_path,
        history,
        ForecastFrequency="H",
        ForecastHorizon=12,
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["arima"]}]},
        CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": 3},
    )
    assert run_job(spec, ctx).secondary_status == "MaxAutoMLJobRuntimeReached"
    [reason] = ctx.partial_failures
    assert reason.startswith("Candidate demand-ARIMA-002: ARIMA did not finish its backtests within its share")
    assert "interrupted at its deadline" in reason  # in the fit: its only series had not finished
    assert ctx.candidate_names == ["demand-SeasonalNaive-001"] and ctx.best_candidate == "demand-SeasonalNaive-001"
    model = load_model(ctx.model_dir)  # the job's own model: what its endpoints serve
    answer, _ = model.render(model.parse(history.to_csv(index=False).encode(), "text/csv"), "text/csv")
    forecast = pd.read_csv(pd.io.common.BytesIO(answer))
    assert len(forecast) == 12 and forecast["day"].iloc[0] == "2024-03-14 00:00:00"
    # The last day repeated (its first twelve hours).
    assert np.allclose(forecast["mean"], history["units"].iloc[-24:-12])


def test_seasonal_naive_chooses_each_series_period_on_the_backtests_and_serves_it(tmp_path):
    """Per series, the period whose repetition did best over the backtest windows (a week of
    them): on those windows no fixed period does better, and a served model repeats that period."""
    history = pd.concat(
        [hourly_load(days=21, meters=("house",)), hourly_load(days=21, meters=("office",), weekend=40.0)]
    )
    spec, ctx = write_job(tmp_path, history, ForecastFrequency="H", ForecastHorizon=24)
    data = load_series(ctx.storage, spec)
    fitted: dict = {}
    settings = Settings(data.grid, ("p10", "p50", "p90"), windows=7, fitted=fitted)
    backtest, _ = run_backtest(data.frame, 24, settings, FORECASTERS[SEASONAL_NAIVE])

    def error(frame: pd.DataFrame, column: str) -> float:
        return float((frame[TARGET] - frame[column]).abs().sum())

    values = data.frame.set_index([SERIES_ID, STEP])[TARGET]
    cutoffs = backtest.groupby(WINDOW)[STEP].transform("min") - 1
    for period in (24, 168):
        # The last cycle before each window's cutoff, repeated.
        source = cutoffs - period + 1 + (backtest[STEP] - cutoffs - 1) % period
        backtest[f"naive{period}"] = values.reindex(list(zip(backtest[SERIES_ID], source, strict=True))).to_numpy()
    for _, part in backtest.groupby(SERIES_ID):
        assert error(part, MEAN) <= min(error(part, "naive24"), error(part, "naive168")) + 1e-9
    assert {series_id: kept.model for series_id, kept in fitted.items()} == {"house": 24, "office": 168}
    # Served: the period kept for each item, whatever its own history's errors say.
    _, served = FORECASTERS[SEASONAL_NAIVE](data.frame, 24, [], replace(settings, fitted=dict(fitted)))
    office = data.frame[data.frame[SERIES_ID] == "office"].sort_values(STEP)[TARGET].to_numpy()
    assert np.allclose(served[served[SERIES_ID] == "office"][MEAN], office[-168:-144])


def test_every_algorithm_names_the_libraries_it_imports_before_its_timer():
    # An interrupt inside an import would leave a half-initialised module for the rest of the worker.
    assert set(LIBRARIES) == set(FORECASTERS)
