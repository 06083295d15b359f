"""The seasonal cycles a ForecastFrequency implies, and how many backtest windows see them.

A time step shorter than a day repeats daily and weekly (hourly data: 24 and 168 steps; half-hourly:
48 and 336); a day repeats weekly and yearly (7 and 365); a week and a month yearly (52, 12). A
cycle is modelled only when every series holds two full cycles of it: one to learn it from and one
to confirm it. The backtest windows together cover the longest such cycle that MAX_BACKTEST_WINDOWS
horizons can, so that hourly data is scored on weekends too, not on three weekdays.
"""

from __future__ import annotations

import math

import pandas as pd

from airflow_automl.local.engine.forecasting.series import Grid

MIN_BACKTEST_WINDOWS = 3
# More windows cost the rolling algorithms (Prophet, NPTS) one fit each: a yearly cycle of daily
# data is left to the fitted seasonality, not covered by 27 windows of two weeks.
MAX_BACKTEST_WINDOWS = 8
_DAY, _WEEK = pd.Timedelta(days=1), pd.Timedelta(days=7)
_DAYS_PER_YEAR = 365.25
_WEEKS_PER_YEAR = _DAYS_PER_YEAR / 7


def cycles(grid: Grid) -> dict[str, int]:
    """Every cycle the frequency implies ("daily", "weekly", "yearly") in time steps, shortest
    first; none for yearly data."""
    if grid.unit == "Y":
        return {}
    if grid.unit == "M":
        return {"yearly": 12 // grid.count} if grid.count < 12 and 12 % grid.count == 0 else {}
    if grid.unit == "W":
        year = round(_WEEKS_PER_YEAR / grid.count)
        return {"yearly": year} if year > 1 else {}
    found = {
        name: int(cycle // grid.step)
        for name, cycle in (("daily", _DAY), ("weekly", _WEEK))
        if cycle > grid.step and cycle % grid.step == pd.Timedelta(0)
    }
    if grid.unit == "D":
        found["yearly"] = round(_DAYS_PER_YEAR / grid.count)
    return {name: period for name, period in found.items() if period > 1}


def seasonal_cycles(grid: Grid, shortest_series: int) -> dict[str, int]:
    """The cycles of the frequency that the shortest series holds twice."""
    return {name: period for name, period in cycles(grid).items() if shortest_series >= 2 * period}


def seasonal_periods(grid: Grid, shortest_series: int) -> list[int]:
    """The periods of seasonal_cycles, shortest first."""
    return sorted(seasonal_cycles(grid, shortest_series).values())


def backtest_window_count(periods: list[int], horizon: int) -> int:
    """Enough windows of ``horizon`` steps to cover the longest period that MAX_BACKTEST_WINDOWS
    windows can cover, and at least MIN_BACKTEST_WINDOWS."""
    covered = [math.ceil(period / horizon) for period in periods if math.ceil(period / horizon) <= MAX_BACKTEST_WINDOWS]
    return max([MIN_BACKTEST_WINDOWS, *covered])
