"""The time series of a forecasting job: read from its training channel (or, for a served
model, from the history a request sends), checked, put on the ForecastFrequency grid
(Aggregation) and completed (Filling).

Every other column of the data is a related time series (a covariate such as a price or a
promotion flag): numeric, averaged within a time step, its gaps filled with its own Filling
rules. Rows after the target's last value, with the target empty, carry the related values of
the next ForecastHorizon steps (future rows); in the series frame they keep an empty target.

Data that breaks a rule ends the job (SeriesDataError, a JobFailed) with a reason naming the
column: a column the request names that the data lacks, a target or related column that is not
numeric, timestamps that do not parse, an item and timestamp given twice, a horizon longer than a
quarter of the time steps (training data only), a related value missing where no Filling rule
fills it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from airflow_automl.local.engine.data import load_channel
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.sagemaker.forecasting_rules import parse_frequency

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec, TimeSeriesSpec
    from airflow_automl.local.storage import Storage

# Column names of the long frame every forecaster reads (statsforecast's convention).
SERIES_ID, TIMESTAMP, TARGET = "unique_id", "ds", "y"
STEP = "step"  # the grid's time step number of ds
# Seasonal period per frequency unit, in time steps of one unit (a day's week, an hour's day, ...).
SEASON_STEPS = {"min": 60, "H": 24, "D": 7, "W": 52, "M": 12, "Y": 1}
PANDAS_UNITS = {"min": "min", "H": "h", "D": "D", "W": "W", "M": "M", "Y": "Y"}
# A series takes part in the backtests when it has at least this much history before them.
MIN_HISTORY = 3
_AGGREGATIONS = {"sum": "sum", "avg": "mean", "first": "first", "min": "min", "max": "max"}


class SeriesDataError(JobFailed):
    """Data that breaks a rule of the series (a missing column, a timestamp that does not parse,
    ...): a job fails with it, a served model answers it as a client error. The reason names the
    column and the rule."""


@dataclass(frozen=True)
class Grid:
    """The ForecastFrequency as a calendar: counts of a unit from an origin."""

    count: int
    unit: str
    origin: pd.Timestamp

    def step_index(self, timestamps: pd.Series) -> pd.Series:
        """Which time step of the grid each timestamp falls in (floored)."""
        if self.unit in ("M", "Y"):
            months = (timestamps.dt.year - self.origin.year) * 12 + (timestamps.dt.month - self.origin.month)
            per_step = self.count * (12 if self.unit == "Y" else 1)
            return (months // per_step).astype(int)
        return ((timestamps - self.origin) // self.step).astype(int)

    @property
    def step(self) -> pd.Timedelta:
        return pd.Timedelta({"min": "1min", "H": "1h", "D": "1D", "W": "7D"}[self.unit]) * self.count

    def timestamps(self, steps) -> pd.DatetimeIndex:
        steps = np.asarray(steps, dtype=int)
        if self.unit in ("M", "Y"):
            months = steps * self.count * (12 if self.unit == "Y" else 1)
            return pd.DatetimeIndex([self.origin + pd.DateOffset(months=int(m)) for m in months])
        return pd.DatetimeIndex(self.origin + steps * self.step)

    @property
    def season_length(self) -> int:
        """Time steps in one seasonal cycle (1: no seasonality to model)."""
        steps = SEASON_STEPS[self.unit]
        return steps // self.count if self.count < steps and steps % self.count == 0 else 1

    @property
    def pandas_frequency(self) -> str:
        """The grid as a pandas period frequency (for gluonts and Prophet)."""
        return f"{self.count}{PANDAS_UNITS[self.unit]}"


@dataclass
class SeriesData:
    """Every series on the grid: ``frame`` has unique_id, step, ds (the step's timestamp), y."""

    frame: pd.DataFrame
    grid: Grid
    items: pd.DataFrame  # unique_id -> the item identifier and grouping columns, as in the data
    item_columns: list[str]
    time_steps: int  # distinct grid timestamps in the data
    source: str  # the first input file (or what the data is), for messages

    @property
    def last_step(self) -> int:
        """The last time step of the history (future rows come after it)."""
        return int(self.frame.loc[self.frame[TARGET].notna(), STEP].max())

    @property
    def related(self) -> list[str]:
        return related_columns(self.frame)


def related_columns(frame: pd.DataFrame) -> list[str]:
    """The related time series of a series frame: its columns beyond unique_id, step, ds and y."""
    return [column for column in frame.columns if column not in (SERIES_ID, STEP, TIMESTAMP, TARGET)]


def split_future(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The history (target known) and the future rows (target empty) of a series frame."""
    future = frame[TARGET].isna()
    return frame[~future], frame[future]


def target_only(frame: pd.DataFrame) -> pd.DataFrame:
    """The history without related time series: what an algorithm that forecasts from the target
    alone reads."""
    history, _ = split_future(frame)
    return history[[SERIES_ID, STEP, TIMESTAMP, TARGET]]


def as_of(frame: pd.DataFrame, cutoff: int, horizon: int) -> pd.DataFrame:
    """The series as they looked at ``cutoff`` (a backtest window's last history step): the history
    up to it and, when there are related time series, the window's steps as future rows, with
    their actual related values (known in the past) and the target emptied."""
    if not related_columns(frame):
        return frame[frame[STEP] <= cutoff]
    window = frame[frame[STEP] <= cutoff + horizon].copy()
    window.loc[window[STEP] > cutoff, TARGET] = np.nan
    return window


def backtest_series(frame: pd.DataFrame, cutoffs: list[int]) -> pd.DataFrame:
    """The series every backtest window evaluates: those with MIN_HISTORY steps before the first
    window (the same points for every algorithm, so their scores compare)."""
    before = frame[frame[STEP] <= cutoffs[0]].groupby(SERIES_ID).size()
    return frame[frame[SERIES_ID].isin(before[before >= MIN_HISTORY].index)]


def time_series_settings(spec: JobSpec) -> TimeSeriesSpec:
    """The job's TimeSeriesForecastingJobConfig settings."""
    assert spec.time_series is not None, f"job {spec.name} has no time-series settings: it is not a forecasting job"
    return spec.time_series


def load_series(storage: Storage, spec: JobSpec) -> SeriesData:
    """A job's training channel on the grid; JobFailed (SeriesDataError) names the file and column."""
    series = time_series_settings(spec)
    channel = next(c for c in spec.channels if c.channel_type == "training")
    data = load_channel(storage, channel)
    source = data.files[0]
    related = None
    if spec.feature_specification_uri:
        related = _specified_related(storage, spec, spec.feature_specification_uri, list(data.frame.columns))
    loaded = series_from_frame(data.frame, spec.target, series, f"the training data ({source})", related=related)
    loaded.source = source
    horizon = series.horizon
    if horizon * 4 > loaded.time_steps:
        raise SeriesDataError(
            f"ForecastHorizon {horizon} is more than a quarter of the {loaded.time_steps} time steps "
            f"of {series.frequency} in column {series.timestamp!r} of the training data "
            f"({source}); the horizon can be at most {loaded.time_steps // 4} for this data"
        )
    return loaded


def series_from_frame(
    frame: pd.DataFrame,
    target: str,
    series: TimeSeriesSpec,
    where: str,
    origin: pd.Timestamp | None = None,
    related: list[str] | None = None,
) -> SeriesData:
    """Rows in the training data's schema, checked, put on the ForecastFrequency grid and filled.
    ``where`` names the data in messages (e.g. "the training data (file://...)"); ``origin`` is the
    grid's start (default: from the data's first timestamp), so a served model keeps its job's grid;
    ``related`` the related time series to keep (default: every column TimeSeriesConfig leaves)."""
    item_columns = [series.item_id, *series.grouping]
    named = {
        "TargetAttributeName": target,
        "TimestampAttributeName": series.timestamp,
        "ItemIdentifierAttributeName": series.item_id,
    }
    named.update({f"GroupingAttributeNames[{i}]": column for i, column in enumerate(series.grouping)})
    named.update({f"Transformations.Filling.{column}": column for column in series.filling or {}})
    for setting, column in named.items():
        if column not in frame.columns:
            raise SeriesDataError(
                f"{setting} {column!r} is not a column of {where}; "
                f"its columns are: {', '.join(map(str, frame.columns))}"
            )

    timestamps = _parse_timestamps(frame[series.timestamp], series.timestamp, where)
    values = _numeric_target(frame[target], target, where)
    for column in item_columns:
        if frame[column].isna().any():
            row = int(np.flatnonzero(frame[column].isna().to_numpy())[0])
            raise SeriesDataError(
                f"Column {column!r} of {where} has no value in data row {row + 1}; "
                "every row needs its item identifier and grouping attributes"
            )
    if related is None:
        related = _other_columns(list(frame.columns), target, series)
    for column in related:
        if column in (SERIES_ID, STEP, TIMESTAMP, TARGET):
            raise SeriesDataError(
                f"Column {column!r} of {where} is a related time series whose name the "
                f"forecasting engine keeps for itself ({SERIES_ID}, {STEP}, {TIMESTAMP}, {TARGET}); "
                "rename it"
            )
    keys = frame[item_columns].astype(str)
    unique_id = keys[item_columns[0]] if len(item_columns) == 1 else keys.agg("/".join, axis=1)
    long = pd.DataFrame(
        {
            SERIES_ID: unique_id,
            TIMESTAMP: timestamps,
            TARGET: values,
            **{column: _numeric_related(frame[column], column, where) for column in related},
        }
    )
    duplicated = long.duplicated([SERIES_ID, TIMESTAMP])
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise SeriesDataError(
            f"Columns {', '.join(repr(c) for c in item_columns)} and {series.timestamp!r} of {where}: "
            f"item {long[SERIES_ID].iloc[row]!r} has timestamp {frame[series.timestamp].iloc[row]!r} "
            f"more than once (data row {row + 1}); each item takes one value per timestamp"
        )

    count, unit = parse_frequency(series.frequency)
    grid = Grid(count, unit, origin if origin is not None else _origin(long[TIMESTAMP].min(), unit))
    long["step"] = grid.step_index(long[TIMESTAMP])
    method = _AGGREGATIONS[(series.aggregation or {}).get(target, "sum")]
    # Values of one item within one time step become one (sum by default); an all-empty step stays
    # empty. Related values are averaged: a price or a promotion flag keeps its meaning per step.
    aggregated = (
        long.groupby([SERIES_ID, "step"])
        .agg(
            {
                TARGET: method if method != "sum" else (lambda v: v.sum(min_count=1)),
                **{column: "mean" for column in related},
            }
        )
        .reset_index()
    )
    # The history ends at the data's last target value; later rows are future rows, and only the
    # next ForecastHorizon steps of them are used. They are not time steps of the history.
    history_end = int(aggregated.loc[aggregated[TARGET].notna(), "step"].max())
    time_steps = int(aggregated.loc[aggregated["step"] <= history_end, "step"].nunique())
    filled = _fill(aggregated, target, series, where, related, history_end, grid)
    filled[TIMESTAMP] = grid.timestamps(filled["step"])
    items = keys.assign(**{SERIES_ID: unique_id}).drop_duplicates(SERIES_ID).set_index(SERIES_ID)
    items.columns = item_columns
    return SeriesData(
        filled[[SERIES_ID, STEP, TIMESTAMP, TARGET, *related]].reset_index(drop=True),
        grid,
        items,
        item_columns,
        time_steps,
        where,
    )


def _other_columns(columns: list[str], target: str, series: TimeSeriesSpec) -> list[str]:
    return [column for column in columns if column not in (series.item_id, *series.grouping, target, series.timestamp)]


def _specified_related(storage: Storage, spec: JobSpec, uri: str, columns: list[str]) -> list[str]:
    """The related time series a FeatureSpecificationS3Uri chooses: its FeatureAttributeNames (every
    other column when it names none), less those its FeatureDataTypes type as other than numeric,
    which this engine does not model (they are left out, not refused)."""
    from airflow_automl.local.engine.features import FORECASTING_FIELD, load_feature_specification

    series = time_series_settings(spec)
    features = load_feature_specification(
        storage,
        uri,
        columns,
        spec.target,
        "time-series forecasting",
        FORECASTING_FIELD,
        declared=(series.item_id, *series.grouping, series.timestamp),
    )
    chosen = list(features.names) if features.names is not None else _other_columns(columns, spec.target, series)
    return [column for column in chosen if features.types.get(column, "numeric") == "numeric"]


def _parse_timestamps(values: pd.Series, column: str, where: str) -> pd.Series:
    parsed = pd.to_datetime(values, errors="coerce", format="mixed")
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeriesDataError(
            f"Timestamp column {column!r} of {where} has a value that is not a "
            f"timestamp: {values.iloc[row]!r} in data row {row + 1}; use e.g. 2024-01-31 or "
            "2024-01-31 13:00:00"
        )
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed


def _numeric_target(values: pd.Series, column: str, where: str) -> pd.Series:
    numbers = _numbers(values, f"Target column {column!r} of {where} must be numeric")
    if numbers.isna().all():
        raise SeriesDataError(f"Target column {column!r} of {where} has no values")
    return numbers


def _numeric_related(values: pd.Series, column: str, where: str) -> pd.Series:
    return _numbers(
        values,
        f"Column {column!r} of {where} is a related time series and must be numeric",
        hint="; a column that identifies the item belongs in TimeSeriesConfig.GroupingAttributeNames",
    )


def _numbers(values: pd.Series, rule: str, hint: str = "") -> pd.Series:
    """The values as floats (empty ones NaN); the first value that is not a number fails the job."""
    numbers = pd.to_numeric(values, errors="coerce")
    bad = numbers.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise SeriesDataError(f"{rule}: {values.iloc[row]!r} in data row {row + 1} is not a number{hint}")
    return numbers.astype(float)


def _origin(first: pd.Timestamp, unit: str) -> pd.Timestamp:
    """Where the grid starts: the first timestamp, floored to its unit (weeks keep their weekday)."""
    if unit in ("M", "Y"):
        return pd.Timestamp(year=first.year, month=first.month if unit == "M" else 1, day=1)
    return first.floor({"min": "min", "H": "h", "D": "D", "W": "D"}[unit])


def _fill_value(values: pd.Series, how: str, given: str | None) -> float:
    if how == "value":
        assert given is not None, "the request's validation requires a '<method>_value' with 'value'"
        return float(given)
    if how == "zero" or values.dropna().empty:
        return 0.0
    return float(getattr(values.dropna(), {"median": "median", "mean": "mean", "min": "min", "max": "max"}[how])())


def _fill(
    aggregated: pd.DataFrame,
    target: str,
    series: TimeSeriesSpec,
    where: str,
    related: list[str],
    history_end: int,
    grid: Grid,
) -> pd.DataFrame:
    """Each series on every step from its first value to the history's end (and, with related time
    series, ForecastHorizon steps past it). Missing target values inside a series take middlefill,
    those after its last value backfill (zero by default, as Autopilot's); series are not extended
    before their first value (frontfill none). Future steps keep an empty target."""
    filling = series.filling or {}
    rules = filling.get(target, {})
    end = history_end + (series.horizon if related else 0)
    pieces = []
    for series_id, part in aggregated.groupby(SERIES_ID, sort=True):
        part = part.set_index("step")
        observed = part[TARGET].dropna()
        if observed.empty:
            continue  # an item without any target value has nothing to learn from
        first, last_seen = int(observed.index.min()), int(observed.index.max())
        values = part[TARGET].reindex(range(first, end + 1))
        middle = values.loc[:last_seen].isna()
        values.loc[middle[middle].index] = _fill_value(
            observed, rules.get("middlefill", "zero"), rules.get("middlefill_value")
        )
        if last_seen < history_end:
            values.loc[last_seen + 1 : history_end] = _fill_value(
                observed, rules.get("backfill", "zero"), rules.get("backfill_value")
            )
        piece = pd.DataFrame({SERIES_ID: series_id, "step": values.index, TARGET: values.to_numpy()})
        for column in related:
            piece[column] = _fill_related(
                part[column].reindex(values.index), column, filling.get(column, {}), history_end, series_id, grid, where
            ).to_numpy()
        pieces.append(piece)
    if not pieces:
        raise SeriesDataError(f"Target column {target!r} of {where} has no values")
    return pd.concat(pieces, ignore_index=True)


def _fill_related(
    values: pd.Series, column: str, rules: dict, history_end: int, series_id: str, grid: Grid, where: str
) -> pd.Series:
    """One item's related time series on its steps: gaps up to its last value take middlefill,
    those after it up to the history's end backfill, the future steps futurefill. As for Amazon
    Forecast's related time series, no method is applied unless the request sets it: a gap with
    no rule fails the job naming the column, the item and the first step it lacks."""
    observed = values.dropna()
    last_seen = int(observed.index.max()) if not observed.empty else int(values.index.min()) - 1
    steps = values.index.to_series()
    spans = (
        ("middlefill", steps <= last_seen, "in its history"),
        ("backfill", (steps > last_seen) & (steps <= history_end), "in its history"),
        (
            "futurefill",
            steps > history_end,
            "for each of the ForecastHorizon steps after the target's last value (future rows: item, timestamp "
            "and this column's value, the target empty)",
        ),
    )
    for method, span, needed in spans:
        missing = span & values.isna()
        if not missing.any():
            continue
        if method not in rules:
            step = int(steps[missing].iloc[0])
            raise SeriesDataError(
                f"Column {column!r} of {where} is a related time series and has no value for item {series_id!r} "
                f"at {grid.timestamps([step])[0]}; it needs a value {needed}: add it to the data or set "
                f"TimeSeriesForecastingJobConfig.Transformations.Filling.{column}.{method}"
            )
        values[missing] = _fill_value(observed, rules[method], rules.get(f"{method}_value"))
    return values
