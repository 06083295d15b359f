"""The rules of CreateAutoMLJobV2's TimeSeriesForecastingJobConfig that botocore's model states in
prose (its patterns and limits are checked by airflow_automl.sagemaker.shapes first), as small rule functions
that airflow_automl.sagemaker.rules runs for time-series requests.

Also the settings' documented defaults and units, shared by the local service's engine.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from airflow_automl.sagemaker.automl_request import AutoMLRequest
from airflow_automl.sagemaker.shapes import RequestValidationError, got_value

TIME_SERIES_CONFIG = "TimeSeriesForecastingJobConfig"
CONFIG_PATH = f"AutoMLProblemTypeConfig.{TIME_SERIES_CONFIG}"

MAX_FORECAST_HORIZON = 500
# When ForecastQuantiles is left out, the job forecasts p10, p50 and p90.
DEFAULT_QUANTILES: tuple[str, ...] = ("p10", "p50", "p90")
# ForecastFrequency units, smallest first, with the values each takes: a value must not overlap
# the next larger unit (1H, not 60min).
FREQUENCY_UNITS: dict[str, range] = {
    "min": range(1, 60),
    "H": range(1, 24),
    "D": range(1, 7),
    "W": range(1, 5),
    "M": range(1, 12),
    "Y": range(1, 2),
}
FREQUENCY_UNIT_NAMES = {"min": "Minute", "H": "Hour", "D": "Day", "W": "Week", "M": "Month", "Y": "Year"}
_FREQUENCY = re.compile(r"^(?P<count>\d*)(?P<unit>min|H|D|W|M|Y)$")

# Filling methods and the values each takes (the column's own statistics, zero, or a given value).
FILLING_METHODS = ("frontfill", "middlefill", "backfill", "futurefill")
FILLING_VALUES = ("zero", "value", "median", "mean", "min", "max")
AGGREGATION_METHODS = ("sum", "avg", "first", "min", "max")


def parse_frequency(frequency: str) -> tuple[int, str]:
    """'15min' -> (15, 'min'); 'D' -> (1, 'D'). Raises ValueError for anything else."""
    match = _FREQUENCY.match(frequency or "")
    if match is None:
        raise ValueError(f"{frequency!r} is not an integer followed by one of {', '.join(FREQUENCY_UNITS)}")
    return int(match["count"] or 1), match["unit"]


def explain_frequency(request: Mapping[str, Any]) -> None:
    """A ForecastFrequency that overlaps the next larger unit (60min, 24H, 7D, ...) breaks the
    shape's pattern too; say which rule it breaks, before the pattern does."""
    # Runs before the shape check: any member may still have the wrong type.
    problem_configs = request.get("AutoMLProblemTypeConfig")
    config = problem_configs.get(TIME_SERIES_CONFIG) if isinstance(problem_configs, Mapping) else None
    frequency = config.get("ForecastFrequency") if isinstance(config, Mapping) else None
    if not isinstance(frequency, str):
        return
    try:
        count, unit = parse_frequency(frequency)
    except ValueError:
        return  # not a count and unit at all: the pattern's message says what is expected
    allowed = FREQUENCY_UNITS[unit]
    if count not in allowed:
        raise RequestValidationError(
            f"{CONFIG_PATH}.ForecastFrequency",
            f"must not overlap the next larger unit: {FREQUENCY_UNIT_NAMES[unit]} takes "
            f"{allowed.start}-{allowed.stop - 1} (e.g. 1H, not 60min) {got_value(frequency)}",
        )


def _config(job: AutoMLRequest) -> Mapping[str, Any]:
    return (job.request.get("AutoMLProblemTypeConfig") or {}).get(TIME_SERIES_CONFIG) or {}


def _rule_horizon(job: AutoMLRequest) -> None:
    horizon = _config(job).get("ForecastHorizon")
    if horizon is not None and horizon > MAX_FORECAST_HORIZON:
        raise RequestValidationError(
            f"{CONFIG_PATH}.ForecastHorizon",
            f"must be at most {MAX_FORECAST_HORIZON} time steps (and at most a quarter of the time steps "
            f"in the data) {got_value(horizon)}",
        )


def _rule_quantiles(job: AutoMLRequest) -> None:
    seen: dict[str, int] = {}
    for index, quantile in enumerate(_config(job).get("ForecastQuantiles") or ()):
        if quantile in seen:
            raise RequestValidationError(
                f"{CONFIG_PATH}.ForecastQuantiles[{index}]",
                f"must be unique: {quantile!r} is also ForecastQuantiles[{seen[quantile]}]",
            )
        seen[quantile] = index


def _rule_series_columns(job: AutoMLRequest) -> None:
    """Target, timestamp, item identifier and grouping columns are distinct columns."""
    series = _config(job).get("TimeSeriesConfig") or {}
    seen: dict[str, str] = {}
    named = [
        (key, series.get(key))
        for key in ("TargetAttributeName", "TimestampAttributeName", "ItemIdentifierAttributeName")
    ]
    named += [
        (f"GroupingAttributeNames[{i}]", name) for i, name in enumerate(series.get("GroupingAttributeNames") or ())
    ]
    for key, column in named:
        if column is None:
            continue
        if column in seen:
            raise RequestValidationError(
                f"{CONFIG_PATH}.TimeSeriesConfig.{key}",
                f"must name a column of its own: {column!r} is also {seen[column]}",
            )
        seen[column] = key


def _rule_filling(job: AutoMLRequest) -> None:
    """Each column's filling: known methods, frontfill 'none' on the target only, a '<method>_value'
    exactly when the method is 'value', and that value a number."""
    config = _config(job)
    target = (config.get("TimeSeriesConfig") or {}).get("TargetAttributeName")
    filling = (config.get("Transformations") or {}).get("Filling") or {}
    for column, methods in filling.items():
        path = f"{CONFIG_PATH}.Transformations.Filling.{column}"
        for method, value in methods.items():
            if method.endswith("_value"):
                base = method.removesuffix("_value")
                if methods.get(base) != "value":
                    raise RequestValidationError(
                        f"{path}.{method}",
                        f"is only allowed with {base!r}: 'value' (got {base!r}: {methods.get(base)!r})",
                    )
                try:
                    float(value)
                except ValueError:
                    raise RequestValidationError(f"{path}.{method}", f"must be a number {got_value(value)}") from None
            elif method == "frontfill":
                if column != target:
                    raise RequestValidationError(
                        f"{path}.frontfill", f"is supported for the target column {target!r} only"
                    )
                if value != "none":
                    raise RequestValidationError(f"{path}.frontfill", f"must be 'none' {got_value(value)}")
            else:
                if value not in FILLING_VALUES:
                    raise RequestValidationError(
                        f"{path}.{method}", f"must be one of {', '.join(FILLING_VALUES)} {got_value(value)}"
                    )
                if value == "value" and f"{method}_value" not in methods:
                    raise RequestValidationError(
                        f"{path}.{method}_value", f"is required when {method} is 'value' (the value to fill with)"
                    )


def _rule_aggregation(job: AutoMLRequest) -> None:
    config = _config(job)
    target = (config.get("TimeSeriesConfig") or {}).get("TargetAttributeName")
    for column in (config.get("Transformations") or {}).get("Aggregation") or {}:
        if column != target:
            raise RequestValidationError(
                f"{CONFIG_PATH}.Transformations.Aggregation.{column}",
                f"aggregation is supported for the target column {target!r} only",
            )


def _rule_no_data_split(job: AutoMLRequest) -> None:
    if job.request.get("DataSplitConfig") is not None:
        raise RequestValidationError(
            "DataSplitConfig",
            "must not be set for time-series forecasting: the job splits the data into backtest windows itself",
        )


def _rule_channels(job: AutoMLRequest) -> None:
    """Time series come from an S3Prefix, uncompressed, in one training channel."""
    for path, channel in job.channels():
        data_type = ((channel.get("DataSource") or {}).get("S3DataSource") or {}).get("S3DataType")
        if data_type not in (None, "S3Prefix"):
            raise RequestValidationError(
                f"{path}.DataSource.S3DataSource.S3DataType",
                f"must be S3Prefix for time-series forecasting {got_value(data_type)}",
            )
        if (channel.get("CompressionType") or "None") != "None":
            raise RequestValidationError(
                f"{path}.CompressionType", "must be None for time-series forecasting (Gzip is for tabular data only)"
            )
        if (channel.get("ChannelType") or "training") != "training":
            raise RequestValidationError(
                f"{path}.ChannelType",
                "must be training for time-series forecasting: the job takes its "
                "backtest windows from the training data",
            )


TIME_SERIES_RULES = (
    _rule_channels,
    _rule_no_data_split,
    _rule_horizon,
    _rule_quantiles,
    _rule_series_columns,
    _rule_filling,
    _rule_aggregation,
)


def check_time_series(job: AutoMLRequest) -> None:
    """Run the time-series rules on a CreateAutoMLJobV2 request of that problem type."""
    if job.problem_config != TIME_SERIES_CONFIG:
        return
    for rule in TIME_SERIES_RULES:
        rule(job)
