"""Loading a job's input channels into DataFrames and checking them against Autopilot's rules:
at least 500 training rows, the target present, more than one class for classification, the
same headers in every file and in the validation channel."""

from __future__ import annotations

import functools
import gzip
import io
import json
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from posixpath import basename
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sklearn.model_selection import train_test_split

from airflow_automl.local.engine.input_limits import (
    DEFAULT_LIMITS,
    ChannelBudget,
    CountingReader,
    CsvTextGuard,
    InputLimits,
    read_small_object,
)
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.sagemaker.metrics import BINARY, MULTICLASS, REGRESSION

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

MIN_TRAINING_ROWS = 500
PARQUET_CONTENT_TYPE = "x-application/vnd.amazon+parquet"
# A numeric target with more distinct values than this is treated as a regression target.
REGRESSION_MIN_DISTINCT = 20
# Rows parsed at a time: with the line limit, this bounds the memory one parsing step takes
# (at most 10,000 lines of 128 KiB; ordinary rows of a few hundred bytes take a few MB).
CHUNK_ROWS = 10_000
_BLOCK = 1024 * 1024


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


def channel_object_uris(storage: Storage, channel, limits: InputLimits = DEFAULT_LIMITS) -> list[str]:
    """The objects a channel names: all objects under an S3Prefix, or those a manifest lists."""
    try:
        if channel.data_type == "ManifestFile":
            return manifest_entries(storage, channel.uri, limits)
        uris = [u for u in storage.list_objects(channel.uri) if not _is_marker(u)]
    except StorageAccessError as error:
        raise JobFailed(f"{_channel_label(channel)} S3Uri {channel.uri}: {error}") from error
    if not uris:
        raise JobFailed(
            f"{_channel_label(channel)} S3Uri {channel.uri}: no objects found under this prefix; "
            "an S3Prefix channel needs at least one data file under its prefix"
        )
    return uris


def load_channel(storage: Storage, channel, limits: InputLimits = DEFAULT_LIMITS) -> ChannelData:
    """Every file of a channel, streamed and counted against the input limits as it is read."""
    uris = channel_object_uris(storage, channel, limits)
    budget = ChannelBudget(limits, channel.channel_type)
    frames: list[pd.DataFrame] = []
    first_columns: list[str] | None = None
    for uri in uris:
        try:
            with storage.open_read(uri) as stream:
                stored = CountingReader(stream, functools.partial(budget.add_stored, uri))
                if channel.content_type == PARQUET_CONTENT_TYPE:
                    frame = _read_parquet(uri, stored, channel, budget)
                else:
                    frame = _read_csv(uri, stored, channel, budget)
        except StorageAccessError as error:
            raise JobFailed(f"Cannot read input file {uri}: {error}") from error
        columns = [str(c) for c in frame.columns]
        if first_columns is None:
            first_columns = columns
        elif columns != first_columns:
            difference = _header_difference(first_columns, columns)
            raise JobFailed(
                f"Input files {uris[0]} and {uri} have different headers ({difference}); "
                "all files of a channel must share the same header"
            )
        frame.columns = columns
        frames.append(frame)
    return ChannelData(pd.concat(frames, ignore_index=True), uris, budget.stored)


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
        raise JobFailed(
            f"Target column {target!r} of the training data ({train_data.files[0]}) has no values; every row is empty"
        )
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
            difference = _header_difference(list(train_data.frame.columns), list(validation_data.frame.columns))
            raise JobFailed(
                f"Validation data {validation_data.files[0]} has different headers from the training data "
                f"{train_data.files[0]} ({difference}); "
                "a validation dataset must contain the same headers as the training dataset"
            )
        validation_frame = _drop_missing_target(validation_data.frame, target)
        if weight is not None:
            validation_frame = _drop_invalid_weights(validation_frame, weight, "validation")
        if validation_frame.empty:
            raise JobFailed(f"Validation data {validation_data.files[0]} has no rows with a value in {target!r}")

    if len(train) < MIN_TRAINING_ROWS:
        dropped = len(train) != len(train_data.frame)
        raise JobFailed(
            f"Training data {train_data.files[0]} has {len(train)} usable rows"
            f"{' (rows without a target value or a valid sample weight are dropped)' if dropped else ''}; "
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


def _decompressed(stored: CountingReader, channel):
    source = io.BufferedReader(stored, _BLOCK)
    if channel.compression == "Gzip":
        return gzip.GzipFile(fileobj=source, mode="rb")
    return source


# What a gzip stream that is not gzip, or is cut short, raises while it is read.
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)


def _not_gzip(uri: str, error: Exception) -> JobFailed:
    return JobFailed(f"Input file {uri} is not valid gzip data (CompressionType is Gzip): {error}")


def _read_csv(uri: str, stored: CountingReader, channel, budget: ChannelBudget) -> pd.DataFrame:
    """Parse a CSV file CHUNK_ROWS at a time, counting rows and the table's memory as it grows."""
    text = CsvTextGuard(_decompressed(stored, channel), uri, budget)
    chunks: list[pd.DataFrame] = []
    try:
        with pd.read_csv(io.BufferedReader(text, _BLOCK), chunksize=CHUNK_ROWS) as reader:
            for chunk in reader:
                if not chunks:
                    budget.check_columns(uri, len(chunk.columns))
                budget.add_rows(uri, len(chunk))
                budget.add_table_bytes(uri, int(chunk.memory_usage(index=False, deep=True).sum()))
                chunks.append(chunk)
    except _GZIP_ERRORS as error:
        raise _not_gzip(uri, error) from error
    except pd.errors.EmptyDataError as error:
        raise JobFailed(f"Input file {uri} is empty; a CSV file needs a header row and data rows") from error
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
        raise JobFailed(f"Input file {uri} cannot be parsed as CSV with a header row: {error}") from error
    if not chunks or sum(len(chunk) for chunk in chunks) == 0:
        raise JobFailed(f"Input file {uri} has a header but no data rows")
    _check_header(uri, bytes(text.header))
    return pd.concat(chunks, ignore_index=True) if len(chunks) > 1 else chunks[0]


def _read_parquet(uri: str, stored: CountingReader, channel, budget: ChannelBudget) -> pd.DataFrame:
    """Copy the file to a private temporary file (Parquet needs random access), check its
    schema and sizes from the footer, then convert it one record batch at a time."""
    limit = budget.limits.parquet_file_bytes
    with tempfile.TemporaryFile() as copy:
        size = 0
        try:
            source = _decompressed(stored, channel)
            while block := source.read(_BLOCK):
                size += len(block)
                if size > limit:
                    raise JobFailed(
                        f"Input file {uri} is larger than {limit // 1000**3} GB; Autopilot's limit for a single "
                        f"Parquet file is {limit // 1000**3} GB"
                    )
                if channel.compression == "Gzip":
                    budget.add_decompressed(uri, len(block))
                copy.write(block)
        except _GZIP_ERRORS as error:
            raise _not_gzip(uri, error) from error
        if size == 0:
            raise JobFailed(f"Input file {uri} is empty; every file of a channel must hold a header and data rows")
        copy.seek(0)
        try:
            parquet = pq.ParquetFile(copy)
            _check_parquet_footer(uri, parquet, budget)
            frames = []
            for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
                frame = pa.Table.from_batches([batch]).to_pandas()
                budget.add_table_bytes(uri, int(frame.memory_usage(index=False, deep=True).sum()))
                frames.append(frame)
        except (OSError, ValueError, pa.ArrowException) as error:
            raise JobFailed(f"Input file {uri} cannot be parsed as Parquet: {error}") from error
    if not frames or sum(len(frame) for frame in frames) == 0:
        raise JobFailed(f"Input file {uri} has a header but no data rows")
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


def _check_parquet_footer(uri: str, parquet: pq.ParquetFile, budget: ChannelBudget) -> None:
    """Refuse from the footer, before any data is read: too many columns or rows, a table
    larger than the limit, or columns that hold lists, structs or maps (Autopilot reads a
    table of scalar values: numbers, strings, booleans, dates)."""
    schema = parquet.schema_arrow
    budget.check_columns(uri, len(schema))
    for field in schema:
        if pa.types.is_nested(field.type):
            raise JobFailed(
                f"Input file {uri}: column {field.name!r} holds {field.type} values; a column must hold scalar "
                "values (numbers, strings, booleans, dates), not lists, structs or maps: flatten it or drop it"
            )
    metadata = parquet.metadata
    budget.add_rows(uri, metadata.num_rows)
    uncompressed = sum(metadata.row_group(index).total_byte_size for index in range(metadata.num_row_groups))
    if budget.table_bytes + uncompressed > budget.limits.table_bytes:
        # Checked ahead: the converted table is at least as large as the data uncompressed.
        budget.add_table_bytes(uri, uncompressed)


def _check_header(uri: str, header: bytes) -> None:
    """pandas renames duplicate headers (a, a.1) and names empty ones (Unnamed: 1): refuse both,
    as the names the user wrote are the ones a feature specification and a target refer to."""
    names: list[str] = (
        pd.read_csv(io.BytesIO(header), header=None, nrows=1, dtype=str, keep_default_na=False).iloc[0].tolist()
    )
    empty = [str(index + 1) for index, name in enumerate(names) if not str(name).strip()]
    if empty:
        raise JobFailed(
            f"Input file {uri} has an empty column name in its header (column {', '.join(empty)}); "
            "every column needs a name"
        )
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise JobFailed(
            f"Input file {uri} has duplicate column names in its header ({_column_list(duplicates)}); "
            "column names must be unique"
        )


def manifest_entries(storage: Storage, uri: str, limits: InputLimits) -> list[str]:
    """The reference's manifest: [{"prefix": "s3://bucket/folder/"}, "relative/key-1", ...]."""
    raw = read_small_object(storage, uri, limits, "Manifest file")
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
            f'Manifest file {uri} must be a JSON list whose first item is {{"prefix": "s3://bucket/folder/"}} '
            "followed by object keys relative to that prefix"
        )
    prefix = entries[0]["prefix"]
    uris = [prefix + key for key in entries[1:]]
    if not uris:
        raise JobFailed(f"Manifest file {uri} lists no objects after its prefix")
    missing = []
    for item in uris:
        # Entries are raw keys ("my file.csv"), so look each one up as written rather than
        # compare it with a listing's URIs, which file:// percent-encodes.
        try:
            if not storage.object_exists(item):
                missing.append(item)
        except StorageAccessError as error:
            raise JobFailed(f"Manifest file {uri} lists {item}: {error}") from error
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
