"""FeatureSpecificationS3Uri: which columns are features (FeatureAttributeNames) and which
type each is (FeatureDataTypes), with the reference's rules on the keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace

import pandas as pd

from airflow_automl.local.engine.data import Dataset
from airflow_automl.local.engine.input_limits import DEFAULT_LIMITS, read_small_object
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.storage import Storage, StorageAccessError

FIELD = "AutoMLJobConfig.CandidateGenerationConfig.FeatureSpecificationS3Uri"
FORECASTING_FIELD = "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig.FeatureSpecificationS3Uri"
KEYS = ("FeatureAttributeNames", "FeatureDataTypes")
TYPES = {
    "ENSEMBLING": ("numeric", "categorical", "text", "datetime"),
    "HYPERPARAMETER_TUNING": ("numeric", "categorical", "text", "datetime", "sequence"),
    "time-series forecasting": ("numeric", "categorical", "text", "datetime"),
}


@dataclass(frozen=True)
class FeatureSpecification:
    names: tuple[str, ...] | None  # None: every column but the target (and sample weight)
    types: dict[str, str]

    def text_columns(self) -> list[str]:
        return [c for c, t in self.types.items() if t in ("text", "sequence")]


def load_feature_specification(
    storage: Storage,
    uri: str,
    columns: list[str],
    target: str,
    mode: str,
    field: str = FIELD,
    declared: tuple[str, ...] = (),
) -> FeatureSpecification:
    """``declared``: further columns the keys must not include (a forecasting job's TimeSeriesConfig
    columns besides the target); ``field`` names the setting in messages."""
    try:
        raw = read_small_object(storage, uri, DEFAULT_LIMITS, field)
    except StorageAccessError as error:
        raise JobFailed(f"{field} {uri}: {error}") from error
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise JobFailed(f"{field} {uri} is not valid JSON: {error}") from error
    if not isinstance(document, dict):
        raise JobFailed(f"{field} {uri} must hold a JSON object with the keys {' and/or '.join(KEYS)}")
    unknown = [key for key in document if key not in KEYS]
    if unknown:
        raise JobFailed(
            f"{field} {uri}: unknown key(s) {', '.join(map(repr, unknown))}; the key names are fixed: {', '.join(KEYS)}"
        )

    names = document.get("FeatureAttributeNames")
    if names is not None:
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise JobFailed(f"{field} {uri}: FeatureAttributeNames must be a non-empty list of column names")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise JobFailed(
                f"{field} {uri}: FeatureAttributeNames must hold unique values; repeated: {', '.join(duplicates)}"
            )
        _check_columns(
            field, uri, "FeatureAttributeNames", names, columns, target, "the input data's columns", declared
        )

    types = document.get("FeatureDataTypes", {})
    if not isinstance(types, dict) or not all(isinstance(v, str) for v in types.values()):
        raise JobFailed(f"{field} {uri}: FeatureDataTypes must be an object mapping column names to type names")
    allowed_types = TYPES.get(mode, TYPES["HYPERPARAMETER_TUNING"])
    bad = {c: t for c, t in types.items() if t not in allowed_types}
    if bad:
        column, kind = next(iter(bad.items()))
        raise JobFailed(
            f"{field} {uri}: FeatureDataTypes[{column!r}] is {kind!r}; in {mode if mode.islower() else mode + ' mode'} "
            f"the types are {', '.join(allowed_types)}"
        )
    if names is not None:
        _check_columns(field, uri, "FeatureDataTypes", list(types), names, target, "FeatureAttributeNames", declared)
    else:
        _check_columns(
            field, uri, "FeatureDataTypes", list(types), columns, target, "the input data's columns", declared
        )
    return FeatureSpecification(tuple(names) if names is not None else None, dict(types))


def apply_feature_specification(dataset: Dataset, features: FeatureSpecification) -> Dataset:
    """Keeps the chosen feature columns (plus target and sample weight) and forces the given types."""
    keep = list(features.names) if features.names is not None else dataset.feature_columns
    keep += [dataset.target] + ([dataset.sample_weight] if dataset.sample_weight else [])
    train = _convert(dataset.train[keep].copy(), features.types)
    validation = _convert(dataset.validation[keep].copy(), features.types)
    return replace(dataset, train=train, validation=validation, text_columns=tuple(features.text_columns()))


def _convert(frame: pd.DataFrame, types: dict[str, str]) -> pd.DataFrame:
    for column, kind in types.items():
        if kind == "numeric":
            frame[column] = pd.to_numeric(frame[column], errors="coerce")
        elif kind == "categorical":
            frame[column] = frame[column].astype("string").astype("category")
        elif kind == "datetime":
            frame[column] = pd.to_datetime(frame[column], errors="coerce", format="mixed")
        else:  # text, sequence
            frame[column] = frame[column].astype("string").astype(object)
    return frame


def _check_columns(field, uri, key, names, allowed, target, allowed_label, declared=()) -> None:
    if target in names:
        raise JobFailed(f"{field} {uri}: {key} must not include the target column {target!r}")
    for name in names:
        if name in declared:
            raise JobFailed(f"{field} {uri}: {key} must not include {name!r}, a column TimeSeriesConfig sets")
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise JobFailed(
            f"{field} {uri}: {key} names {', '.join(map(repr, unknown[:5]))}, not among {allowed_label}; "
            f"the keys must be a subset of {allowed_label}"
        )
