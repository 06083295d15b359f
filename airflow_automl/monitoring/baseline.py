"""A data set's statistics and suggested constraints, in Model Monitor's documented schemas.

statistics.json: ``{"version": 0, "dataset": {"item_count"}, "features": [...]}`` where a numeric
feature has ``numerical_statistics`` (common counts, mean, sum, std_dev, min, max and a KLL
distribution: ten buckets and the sketch) and a string feature ``string_statistics`` (common
counts, distinct_count, categorical buckets). constraints.json: per feature the inferred type, the
completeness and, for a string of few values, its domain; plus ``monitoring_config`` with the
thresholds the checks read (airflow_automl.monitoring.checks).

The sketch is written the way a KLL sketch stores its items: the sorted values compacted (every
other item kept) until at most ``k`` remain, all at the level whose weight their compactions
give. Compacting a sorted array deterministically is exactly a KLL compaction, so the sketch is a
faithful (if unrandomised) one, and the checks compare against it rather than the raw data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

INTEGRAL, FRACTIONAL, STRING, UNKNOWN = "Integral", "Fractional", "String", "Unknown"
NUMERIC_TYPES = (INTEGRAL, FRACTIONAL)
BUCKETS = 10  # Model Monitor materialises distributions with ten buckets
SKETCH_K = 2048
SKETCH_C = 0.64
# A string feature with at most this many distinct values gets a domain constraint.
MAX_DOMAIN_SIZE = 32
# The share of values that may disagree with a column's majority type before it is a String.
TYPE_TOLERANCE = 0.1

DEFAULT_MONITORING_CONFIG: dict[str, Any] = {
    "evaluate_constraints": "Enabled",
    "emit_metrics": "Enabled",
    "datatype_check_threshold": 0.1,
    "domain_content_threshold": 0.1,
    "distribution_constraints": {
        "perform_comparison": "Enabled",
        "comparison_threshold": 0.1,
        "comparison_method": "Robust",
        "categorical_comparison_threshold": 0.1,
        "categorical_drift_method": "LInfinity",
    },
}


def as_numbers(column: pd.Series) -> pd.Series:
    """The column as floats; values that are not numbers become NaN."""
    if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
        return column.astype(float)
    return pd.to_numeric(column, errors="coerce").astype(float)


def infer_type(column: pd.Series) -> str:
    """Integral, Fractional or String, as Model Monitor infers a column's type; Unknown when empty."""
    present = column.dropna()
    if present.empty:
        return UNKNOWN
    # A text column whose first values are mostly not numbers is a String: no need to parse it all.
    if not pd.api.types.is_numeric_dtype(present) and as_numbers(present.iloc[:1000]).notna().mean() < 0.5:
        return STRING
    numbers = as_numbers(present)
    parsed = numbers.notna()
    if parsed.mean() < 1 - TYPE_TOLERANCE:
        return STRING
    values = numbers[parsed].to_numpy()
    return INTEGRAL if np.all(np.mod(values, 1) == 0) else FRACTIONAL


def kll_sketch(values: np.ndarray, k: int = SKETCH_K) -> dict[str, Any]:
    """The sorted values compacted to at most k items, placed at the level their weight says."""
    items = np.sort(values.astype(float))
    level = 0
    while len(items) > k:
        items = items[::2]
        level += 1
    data: list[list[float]] = [[] for _ in range(level)] + [[float(v) for v in items]]
    return {"parameters": {"c": SKETCH_C, "k": float(k)}, "data": data}


def sketch_items(statistics_feature: dict[str, Any]) -> np.ndarray:
    """A numeric feature's baseline sample: the items of its KLL sketch, each repeated by its level's
    weight (2**level) relative to the lowest level present; empty without a sketch."""
    sketch = statistics_feature.get("numerical_statistics", {}).get("distribution", {}).get("kll", {}).get("sketch")
    if not sketch or not sketch.get("data"):
        return np.array([])
    levels = [(level, np.asarray(items, dtype=float)) for level, items in enumerate(sketch["data"]) if len(items)]
    if not levels:
        return np.array([])
    lowest = levels[0][0]
    return np.concatenate([np.repeat(items, 2 ** (level - lowest)) for level, items in levels])


def _buckets(values: np.ndarray) -> list[dict[str, float]]:
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [{"lower_bound": low, "upper_bound": high, "count": float(len(values))}]
    counts, edges = np.histogram(values, bins=BUCKETS, range=(low, high))
    return [
        {"lower_bound": float(edges[i]), "upper_bound": float(edges[i + 1]), "count": float(counts[i])}
        for i in range(len(counts))
    ]


def feature_statistics(name: str, column: pd.Series, inferred_type: str | None = None) -> dict[str, Any]:
    """One feature's entry of statistics.json. ``inferred_type`` forces the baseline's type, so a
    current data set is summarised the way its baseline was."""
    kind = inferred_type or infer_type(column)
    missing = int(column.isna().sum())
    if kind in NUMERIC_TYPES:
        numbers = as_numbers(column)
        values = numbers.dropna().to_numpy()
        common = {"num_present": int(len(values)), "num_missing": int(len(column) - len(values))}
        if len(values) == 0:
            return {"name": name, "inferred_type": kind, "numerical_statistics": {"common": common}}
        return {
            "name": name,
            "inferred_type": kind,
            "numerical_statistics": {
                "common": common,
                "mean": float(values.mean()),
                "sum": float(values.sum()),
                "std_dev": float(values.std()),
                "min": float(values.min()),
                "max": float(values.max()),
                "distribution": {"kll": {"buckets": _buckets(values), "sketch": kll_sketch(values)}},
            },
        }
    text = column.dropna().astype(str)
    counts = text.value_counts()
    return {
        "name": name,
        "inferred_type": kind,
        "string_statistics": {
            "common": {"num_present": int(len(text)), "num_missing": missing},
            "distinct_count": float(len(counts)),
            "distribution": {
                "categorical": {"buckets": [{"value": str(v), "count": float(c)} for v, c in counts.items()]}
            },
        },
    }


def dataset_statistics(frame: pd.DataFrame, types: dict[str, str] | None = None) -> dict[str, Any]:
    """statistics.json for ``frame``; ``types`` (feature name to baseline type) forces types."""
    types = types or {}
    return {
        "version": 0,
        "dataset": {"item_count": int(len(frame))},
        "features": [feature_statistics(str(name), frame[name], types.get(str(name))) for name in frame.columns],
    }


def completeness(feature: dict[str, Any]) -> float:
    block = feature.get("numerical_statistics") or feature.get("string_statistics") or {}
    common = block.get("common", {})
    total = common.get("num_present", 0) + common.get("num_missing", 0)
    return common.get("num_present", 0) / total if total else 0.0


def suggest_constraints(statistics: dict[str, Any], monitoring_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """constraints.json suggested from baseline statistics, as Model Monitor's baselining job does."""
    features = []
    for feature in statistics["features"]:
        entry: dict[str, Any] = {
            "name": feature["name"],
            "inferred_type": feature["inferred_type"],
            # Rounded down so that a current sample as complete as the baseline passes.
            "completeness": math.floor(completeness(feature) * 100) / 100,
        }
        numeric = feature.get("numerical_statistics")
        if numeric is not None and "min" in numeric:
            entry["num_constraints"] = {"is_non_negative": numeric["min"] >= 0}
        strings = feature.get("string_statistics")
        if strings is not None and strings["distinct_count"] <= MAX_DOMAIN_SIZE:
            buckets = strings["distribution"]["categorical"]["buckets"]
            entry["string_constraints"] = {"domains": sorted(bucket["value"] for bucket in buckets)}
        features.append(entry)
    return {"version": 0, "features": features, "monitoring_config": merged_config(monitoring_config)}


THRESHOLDS = ("datatype_check_threshold", "domain_content_threshold")
DISTRIBUTION_THRESHOLDS = ("comparison_threshold", "categorical_comparison_threshold")


def _threshold(value: Any, name: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 <= number <= 1:
        raise ValueError(f"monitoring_config.{name}: must be a number from 0 to 1, got {value!r}")
    return number


def merged_config(overrides: dict[str, Any] | None) -> dict[str, Any]:
    """Model Monitor's default monitoring_config with ``overrides`` applied (distribution_constraints
    merged); thresholds given as text (a rendered template) become numbers."""
    config = {**DEFAULT_MONITORING_CONFIG, **(overrides or {})}
    distribution = {
        **DEFAULT_MONITORING_CONFIG["distribution_constraints"],
        **(overrides or {}).get("distribution_constraints", {}),
    }
    for name in THRESHOLDS:
        config[name] = _threshold(config[name], name)
    for name in DISTRIBUTION_THRESHOLDS:
        distribution[name] = _threshold(distribution[name], f"distribution_constraints.{name}")
    config["distribution_constraints"] = distribution
    return config


def suggest_baseline(
    frame: pd.DataFrame, monitoring_config: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(statistics.json, constraints.json) for a baseline data set (the features, without the target)."""
    if frame.empty or len(frame.columns) == 0:
        raise ValueError("baseline: the data set has no rows or no columns; a baseline needs the training features")
    statistics = dataset_statistics(frame)
    return statistics, suggest_constraints(statistics, monitoring_config)
