"""Loading a job's input channels into DataFrames and checking them against Autopilot's rules:
at least 500 training rows, the target present, more than one class for classification, the
same headers in every file and in the validation channel."""

from __future__ import annotations

import gzip
import io
import json
import zlib
from dataclasses import dataclass
from posixpath import basename
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.metrics import BINARY, MULTICLASS, REGRESSION

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

MIN_TRAINING_ROWS = 500
PARQUET_CONTENT_TYPE = "x-application/vnd.amazon+parquet"
# A numeric target with more distinct values than this is treated as a regression target.
REGRESSION_MIN_DISTINCT = 20


@dataclass
class Dataset:
    train: pd.DataFrame
    validation: pd.DataFrame
    target: str
    problem_type: str
    sample_weight: str | None
    input_bytes: int  # size of the training channel's objects as stored
    validation_from_channel: bool
    text_columns: tuple[str, ...] = ()  # forced to text by a feature specification

    @property
    def feature_columns(self) -> list[str]:
        return [c for c in self.train.columns if c not in (self.target, self.sample_weight)]


@dataclass
class ChannelData:
    frame: pd.DataFrame
    files: list[str]
    input_bytes: int


def channel_object_uris(storage: Storage, channel) -> list[str]:
    """The objects a channel names: all objects under an S3Prefix, or those a manifest lists."""
    try:
        if channel.data_type == "ManifestFile":
            return _manifest_entries(storage, channel.uri)
        uris = [u for u in storage.list_objects(channel.uri) if not _is_marker(u)]
    except StorageAccessError as error:
        raise JobFailed(f"{_channel_label(channel)} S3Uri {channel.uri}: {error}") from error
    if not uris:
        raise JobFailed(
            f"{_channel_label(channel)} S3Uri {channel.uri}: no objects found under this prefix; "
            "an S3Prefix channel needs at least one data file under its prefix"
        )
    return uris


def load_channel(storage: Storage, channel) -> ChannelData:
    uris = channel_object_uris(storage, channel)
    frames: list[pd.DataFrame] = []
    first_columns: list[str] | None = None
    total = 0
    for uri in uris:
        try:
            raw = storage.read_bytes(uri)
        except StorageAccessError as error:
            raise JobFailed(f"Cannot read input file {uri}: {error}") from error
        total += len(raw)
        frame = _parse(uri, raw, channel)
        columns = [str(c) for c in frame.columns]
        if first_columns is None:
            first_columns = columns
        elif columns != first_columns:
            raise JobFailed(
                f"Input files {uris[0]} and {uri} have different headers ({_header_difference(first_columns, columns)}); "
                "all files of a channel must share the same header"
            )
        frame.columns = columns
        frames.append(frame)
    return ChannelData(pd.concat(frames, ignore_index=True), uris, total)


def load_dataset(storage: Storage, spec: JobSpec) -> Dataset:
    """Training and validation frames for the job, with the problem type resolved."""
    training = [c for c in spec.channels if c.channel_type == "training"]
    validation = [c for c in spec.channels if c.channel_type == "validation"]
    if not training:
        raise JobFailed("InputDataConfig: no channel with ChannelType training; one training channel is required")
    train_data = load_channel(storage, training[0])
    train = train_data.frame
    target = spec.target
    if target not in train.columns:
        raise JobFailed(
            f"TargetAttributeName {target!r} is not a column of the training data ({train_data.files[0]}); "
            f"its columns are: {_column_list(train.columns)}"
        )
    weight = getattr(spec, "sample_weight", None) or training[0].sample_weight
    if weight is not None and weight not in train.columns:
        raise JobFailed(
            f"SampleWeightAttributeName {weight!r} is not a column of the training data ({train_data.files[0]}); "
            f"its columns are: {_column_list(train.columns)}"
        )

    if train[target].isna().all():
        raise JobFailed(f"Target column {target!r} of the training data ({train_data.files[0]}) has no values; every row is empty")
    features = [c for c in train.columns if c not in (target, weight)]
    if not features:
        raise JobFailed(
            f"Training data {train_data.files[0]} has no feature columns besides the target {target!r}"
            f"{' and the sample weight' if weight else ''}; at least one feature is required"
        )
    if train[features].isna().all().all():
        raise JobFailed(
            f"Feature columns {_column_list(features)} of the training data ({train_data.files[0]}) have no values; "
            "at least one feature needs values"
        )
    train = _drop_missing_target(train, target)
    if weight is not None:
        train = _drop_invalid_weights(train, weight, "training")

    validation_frame = None
    if validation:
        validation_data = load_channel(storage, validation[0])
        if list(validation_data.frame.columns) != list(train_data.frame.columns):
            raise JobFailed(
                f"Validation data {validation_data.files[0]} has different headers from the training data "
                f"{train_data.files[0]} ({_header_difference(list(train_data.frame.columns), list(validation_data.frame.columns))}); "
                "a validation dataset must contain the same headers as the training dataset"
            )
        validation_frame = _drop_missing_target(validation_data.frame, target)
        if weight is not None:
            validation_frame = _drop_invalid_weights(validation_frame, weight, "validation")
        if validation_frame.empty:
            raise JobFailed(f"Validation data {validation_data.files[0]} has no rows with a value in {target!r}")

    if len(train) < MIN_TRAINING_ROWS:
        raise JobFailed(
            f"Training data {train_data.files[0]} has {len(train)} usable rows"
            f"{' (rows without a target value or a valid sample weight are dropped)' if len(train) != len(train_data.frame) else ''}; "
            f"a minimum of {MIN_TRAINING_ROWS} rows is required for the training dataset"
        )

    problem_type = spec.problem_type or infer_problem_type(train[target])
    _check_target(train[target], target, problem_type)

    if validation_frame is None:
        train, validation_frame = split(train, target, problem_type, spec.validation_fraction or 0.2)
    return Dataset(
        train=train.reset_index(drop=True),
        validation=validation_frame.reset_index(drop=True),
        target=target,
        problem_type=problem_type,
        sample_weight=weight,
        input_bytes=train_data.input_bytes,
        validation_from_channel=bool(validation),
    )


def infer_problem_type(target: pd.Series) -> str:
    """Like Autopilot: two distinct values is binary classification; a numeric target with
    many distinct values (or non-integer values) is regression; anything else is multiclass."""
    values = target.dropna()
    distinct = values.nunique()
    if distinct == 2:
        return BINARY
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        non_integer = not np.all(np.mod(values.astype(float), 1) == 0)
        if distinct > REGRESSION_MIN_DISTINCT or (non_integer and distinct > 2):
            return REGRESSION
    return MULTICLASS


def split(frame: pd.DataFrame, target: str, problem_type: str, fraction: float):
    """Hold out `fraction` of the rows for validation, stratified by class for classification."""
    stratify = None
    if problem_type != REGRESSION:
        counts = frame[target].value_counts()
        # Stratifying needs two rows of each class; a rarer class falls back to a plain split.
        if counts.min() >= 2 and int(len(frame) * fraction) >= len(counts):
            stratify = frame[target]
    train, validation = train_test_split(frame, test_size=fraction, random_state=0, stratify=stratify)
    return train, validation


def _check_target(values: pd.Series, target: str, problem_type: str) -> None:
    distinct = values.nunique()
    if problem_type in (BINARY, MULTICLASS) and distinct < 2:
        raise JobFailed(
            f"Target column {target!r} has a single class ({values.iloc[0]!r}) in the training data; "
            f"{problem_type} needs at least two classes"
        )
    if problem_type in (BINARY, MULTICLASS) and distinct > len(values) / 2:
        raise JobFailed(
            f"Target column {target!r} has {distinct} classes in {len(values)} rows: most classes have a single row, "
            "so no model can learn them (is it an identifier? a numeric target with many values is Regression)"
        )
    if problem_type == BINARY and distinct != 2:
        raise JobFailed(
            f"Target column {target!r} has {distinct} classes; ProblemType BinaryClassification needs exactly two "
            "(use MulticlassClassification)"
        )
    if problem_type == REGRESSION:
        numeric = pd.to_numeric(values, errors="coerce")
        bad = values[numeric.isna()]
        if not bad.empty:
            raise JobFailed(
                f"Target column {target!r} has non-numeric values (e.g. {bad.iloc[0]!r}); "
                "ProblemType Regression needs a numeric target"
            )


def _drop_missing_target(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    values = frame[target]
    keep = values.notna()
    if values.dtype == object:
        keep &= values.astype(str).str.strip() != ""
    return frame[keep]


def _drop_invalid_weights(frame: pd.DataFrame, weight: str, channel: str) -> pd.DataFrame:
    """Rows with a missing, non-numeric, infinite or negative weight are excluded (the reference's rule)."""
    numeric = pd.to_numeric(frame[weight], errors="coerce")
    valid = numeric.notna() & np.isfinite(numeric) & (numeric >= 0)
    if not valid.any():
        raise JobFailed(
            f"SampleWeightAttributeName {weight!r}: no row of the {channel} data has a valid weight; "
            "sample weights must be numeric and non-negative"
        )
    frame = frame[valid].copy()
    frame[weight] = numeric[valid].astype(float)
    return frame


def _parse(uri: str, raw: bytes, channel) -> pd.DataFrame:
    if not raw:
        raise JobFailed(f"Input file {uri} is empty; every file of a channel must hold a header and data rows")
    if channel.compression == "Gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise JobFailed(f"Input file {uri} is not valid gzip data (CompressionType is Gzip): {error}") from error
    if channel.content_type == PARQUET_CONTENT_TYPE:
        try:
            frame = pd.read_parquet(io.BytesIO(raw))
        except (OSError, ValueError) as error:
            raise JobFailed(f"Input file {uri} cannot be parsed as Parquet: {error}") from error
    else:
        if b"\x00" in raw:
            raise JobFailed(
                f"Input file {uri} contains NUL bytes; a CSV file must be UTF-8 text "
                "(is it binary, or encoded in UTF-16?)"
            )
        try:
            frame = pd.read_csv(io.BytesIO(raw))
        except pd.errors.EmptyDataError as error:
            raise JobFailed(f"Input file {uri} is empty; a CSV file needs a header row and data rows") from error
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise JobFailed(f"Input file {uri} cannot be parsed as CSV with a header row: {error}") from error
    if frame.empty:
        raise JobFailed(f"Input file {uri} has a header but no data rows")
    if channel.content_type != PARQUET_CONTENT_TYPE:
        _check_header(uri, raw)
    return frame


def _check_header(uri: str, raw: bytes) -> None:
    """pandas renames duplicate headers (a, a.1) and names empty ones (Unnamed: 1): refuse both,
    as the names the user wrote are the ones a feature specification and a target refer to."""
    header = pd.read_csv(io.BytesIO(raw), header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    empty = [str(index + 1) for index, name in enumerate(header) if not str(name).strip()]
    if empty:
        raise JobFailed(f"Input file {uri} has an empty column name in its header (column {', '.join(empty)}); every column needs a name")
    seen: set[str] = set()
    duplicates = sorted({name for name in header if name in seen or seen.add(name)})
    if duplicates:
        raise JobFailed(
            f"Input file {uri} has duplicate column names in its header ({_column_list(duplicates)}); column names must be unique"
        )


def _manifest_entries(storage: Storage, uri: str) -> list[str]:
    """The reference's manifest: [{"prefix": "s3://bucket/folder/"}, "relative/key-1", ...]."""
    raw = storage.read_bytes(uri)
    try:
        entries = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise JobFailed(f"Manifest file {uri} is not valid JSON: {error}") from error
    if (
        not isinstance(entries, list)
        or not entries
        or not isinstance(entries[0], dict)
        or not isinstance(entries[0].get("prefix"), str)
        or not all(isinstance(e, str) for e in entries[1:])
    ):
        raise JobFailed(
            f"Manifest file {uri} must be a JSON list whose first item is {{\"prefix\": \"s3://bucket/folder/\"}} "
            "followed by object keys relative to that prefix"
        )
    prefix = entries[0]["prefix"]
    uris = [prefix + key for key in entries[1:]]
    if not uris:
        raise JobFailed(f"Manifest file {uri} lists no objects after its prefix")
    missing = []
    for item in uris:
        try:
            listed = storage.list_objects(item)
        except StorageAccessError as error:
            raise JobFailed(f"Manifest file {uri} lists {item}: {error}") from error
        if item not in listed:
            missing.append(item)
    if missing:
        raise JobFailed(f"Manifest file {uri} lists objects that do not exist: {', '.join(missing[:5])}")
    return uris


def _is_marker(uri: str) -> bool:
    # Job-output markers (_SUCCESS) and hidden temporaries are not data.
    return basename(uri).startswith(("_", "."))


def _channel_label(channel) -> str:
    return f"InputDataConfig ({channel.channel_type} channel)"


def _column_list(columns) -> str:
    names = [str(c) for c in columns]
    return ", ".join(names[:20]) + (f", ... ({len(names)} in all)" if len(names) > 20 else "")


def _header_difference(first: list[str], other: list[str]) -> str:
    only_first = [c for c in first if c not in other]
    only_other = [c for c in other if c not in first]
    if not only_first and not only_other:
        return "same columns in a different order"
    parts = []
    if only_first:
        parts.append(f"missing {', '.join(only_first[:5])}")
    if only_other:
        parts.append(f"extra {', '.join(only_other[:5])}")
    return "; ".join(parts)
