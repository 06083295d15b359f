"""Batch inference over a transform job's input, streamed: one `<input file name>.out` per input.

Each input file is read in blocks, split into records (SplitType Line: one per line; None: the
whole file, which is what a forecasting model reads: its items' history with a header row),
grouped into requests to the model (BatchStrategy, MaxPayloadInMB), and the model's
answers are written as they come to a scratch file that is uploaded when the input file is done,
so memory holds one request at a time whatever the input's size. Output keys keep the input's
key relative to the S3Uri prefix (or the manifest's prefix), as SageMaker names them. A record
the model cannot read fails the job with a reason naming the file and the line.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

from airflow_automl.local.engine.input_limits import DEFAULT_LIMITS, read_small_object
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.local.transform.data_processing import RecordError, RecordProcessor, read_csv_record
from airflow_automl.local.transform.settings import CSV, DEFAULT_MAX_PAYLOAD_MB, IMAGE_TYPES, MB, TransformSettings

log = logging.getLogger(__name__)

_BLOCK = 1024 * 1024
# Requests of a MultiRecord job whose MaxPayloadInMB is 0 (no limit) hold this much.
_UNLIMITED_BATCH_BYTES = DEFAULT_MAX_PAYLOAD_MB * MB
# The longest record read when MaxPayloadInMB is 0: SageMaker's largest MaxPayloadInMB.
_LONGEST_RECORD = 100 * MB

Line = tuple[int, bytes]  # (line number in its file, the record without its newline)


class TransformStopped(Exception):
    """StopTransformJob was called; the job ends Stopped."""


def input_uris(storage: Storage, settings: TransformSettings) -> list[tuple[str, str]]:
    """(object URI, its name relative to the input prefix) of every input object, in order."""
    try:
        if settings.data_type == "ManifestFile":
            # Imported here: the training data module pulls in scikit-learn, seconds of start-up
            # that an S3Prefix transform does not need.
            from airflow_automl.local.engine.data import manifest_entries

            uris = manifest_entries(storage, settings.input_uri, DEFAULT_LIMITS)
            base = _manifest_prefix(storage, settings.input_uri)
        else:
            uris = [uri for uri in storage.list_objects(settings.input_uri) if not _is_marker(uri)]
            base = _prefix_folder(settings.input_uri, uris)
    except StorageAccessError as error:
        raise JobFailed(f"TransformInput.DataSource.S3DataSource.S3Uri {settings.input_uri}: {error}") from error
    if not uris:
        raise JobFailed(
            f"TransformInput.DataSource.S3DataSource.S3Uri {settings.input_uri}: no objects found under this prefix"
        )
    return [(uri, _relative(uri, base)) for uri in uris]


def output_uri(settings: TransformSettings, relative: str) -> str:
    """S3OutputPath/<relative input key>.out, as SageMaker names a transform's output."""
    base = settings.output_path.rstrip("/")
    name = f"{relative}.out"
    return f"{base}/{quote(name) if urlsplit(base).scheme == 'file' else name}"


def run_transform(
    settings: TransformSettings, model, storage: Storage, scratch_dir: Path, should_stop: Callable[[], bool]
) -> dict:
    """Transform every input file; returns counts for the log. JobFailed names the file and line."""
    counts = {"files": 0, "records": 0, "seconds": 0.0}
    started = time.monotonic()
    scratch_dir.mkdir(parents=True, exist_ok=True)
    for uri, relative in input_uris(storage, settings):
        with tempfile.NamedTemporaryFile("wb", dir=scratch_dir, suffix=".out", delete=False) as out:
            scratch = Path(out.name)
            try:
                counts["records"] += _transform_file(settings, model, storage, uri, out, should_stop)
            except BaseException:
                out.close()
                scratch.unlink(missing_ok=True)
                raise
        try:
            storage.upload_file(scratch, output_uri(settings, relative))
        except StorageAccessError as error:
            raise JobFailed(f"TransformOutput.S3OutputPath: {error}") from error
        finally:
            scratch.unlink(missing_ok=True)
        counts["files"] += 1
    counts["seconds"] = time.monotonic() - started
    return counts


def _transform_file(settings: TransformSettings, model, storage: Storage, uri: str, out, should_stop) -> int:
    processor = RecordProcessor(
        settings.input_filter,
        settings.output_filter,
        settings.join_input,
        input_is_csv=settings.content_type == CSV,
        prediction_is_csv=settings.accept == CSV,
    )
    records = 0
    try:
        with storage.open_read(uri) as stored:
            # The ignore: typeshed wants seek() of a GzipFile's source, which it calls only to rewind.
            stream = gzip.GzipFile(fileobj=stored, mode="rb") if settings.compression == "Gzip" else stored  # type: ignore[call-overload]
            for batch in _batches(settings, uri, _records(settings, uri, stream)):
                if should_stop():
                    raise TransformStopped()
                if settings.processes_records:
                    _write_processed(settings, model, processor, uri, batch, out)
                else:
                    answer = _predict(settings, model, uri, batch)
                    out.write(answer if settings.assemble_with == "None" or answer.endswith(b"\n") else answer + b"\n")
                records += len(batch)
    except StorageAccessError as error:
        raise JobFailed(f"Cannot read input file {uri}: {error}") from error
    except (gzip.BadGzipFile, EOFError, zlib.error) as error:
        raise JobFailed(f"Input file {uri} is not valid gzip data (CompressionType is Gzip): {error}") from error
    return records


def _records(settings: TransformSettings, uri: str, stream) -> Iterator[Line]:
    """The file's records with their line numbers: each non-blank line, or the whole file."""
    limit = settings.max_payload_bytes or _LONGEST_RECORD
    if settings.split_type == "None":
        data = stream.read(limit + 1)
        if len(data) > limit:
            raise JobFailed(
                f"Input file {uri} is larger than {_cap(settings.max_payload_bytes)} and SplitType is None, so the "
                f"whole file is one record; {_remedy(settings.max_payload_bytes)} or, for a model that reads rows, "
                "set SplitType to Line"
            )
        if settings.content_type in IMAGE_TYPES:
            yield 1, data  # an image, byte for byte
            return
        _refuse_binary(uri, data)
        if data.strip():
            yield 1, data.rstrip(b"\r\n")
        return
    number, leftover = 0, b""
    while True:
        block = stream.read(_BLOCK)
        if not block:
            break
        _refuse_binary(uri, block)
        lines = (leftover + block).split(b"\n")
        leftover = lines.pop()
        for line in lines:
            number += 1
            if line.strip():
                yield number, line[:-1] if line.endswith(b"\r") else line
        if len(leftover) > limit:
            raise _record_too_large(uri, number + 1, settings.max_payload_bytes)
    if leftover.strip():
        yield number + 1, leftover.rstrip(b"\r")


def _batches(settings: TransformSettings, uri: str, records: Iterator[Line]) -> Iterator[list[Line]]:
    """Requests to the model: one record each (SingleRecord), or as many as fit in MaxPayloadInMB."""
    limit = settings.max_payload_bytes
    batch_limit = limit or _UNLIMITED_BATCH_BYTES
    batch: list[Line] = []
    size = 0
    for number, line in records:
        if limit and len(line) > limit:
            raise _record_too_large(uri, number, limit)
        if settings.batch_strategy == "SingleRecord":
            yield [(number, line)]
            continue
        if batch and size + len(line) + 1 > batch_limit:
            yield batch
            batch, size = [], 0
        batch.append((number, line))
        size += len(line) + 1
    if batch:
        yield batch


def _predict(settings: TransformSettings, model, uri: str, batch: list[Line]) -> bytes:
    """The model's answer to one request; a record it cannot read fails the job naming its line."""
    if settings.content_type == CSV and not model.forecasts_from_history and model.fixed_csv_fields:
        _check_csv_fields(model, uri, batch)
    try:
        return _invoke(settings, model, batch)
    except Exception as error:  # whatever the model raises on this input: find the record at fault
        if settings.split_type == "None":
            raise JobFailed(
                f"Input file {uri}: the model cannot read it (SplitType None: the whole file is one "
                f"request): {type(error).__name__}: {error}"
            ) from error
        number, reason = _first_failing_record(settings, model, batch, error)
        raise JobFailed(f"Input file {uri}, line {number}: the model cannot read this record: {reason}") from error


def _invoke(settings: TransformSettings, model, batch: list[Line]) -> bytes:
    if settings.content_type in IMAGE_TYPES:
        (_, payload), *_ = batch  # SplitType None: one image per request
    else:
        payload = b"\n".join(line for _, line in batch) + b"\n"
    frame = model.parse(payload, settings.content_type)
    answer, _ = model.render(frame, settings.accept, settings.inference_keys)
    return answer


def _first_failing_record(settings: TransformSettings, model, batch: list[Line], error: Exception) -> tuple[int, str]:
    """Halve the request until one record fails on its own (a handful of model calls)."""
    while len(batch) > 1:
        half = len(batch) // 2
        for part in (batch[:half], batch[half:]):
            try:
                _invoke(settings, model, part)
            except Exception as part_error:  # noqa: BLE001 - any error of the model's: this half holds the record at fault
                batch, error = part, part_error
                break
        else:
            first, last = batch[0][0], batch[-1][0]
            return first, f"lines {first}-{last} fail together though each half is read: {error}"
    return batch[0][0], f"{type(error).__name__}: {error}"


def _check_csv_fields(model, uri: str, batch: list[Line]) -> None:
    """Every CSV record has the model's number of features; the first line is not a header."""
    expected = len(model.feature_columns)
    for number, line in batch:
        count = line.count(b",") + 1 if b'"' not in line else len(read_csv_record(line))
        if count != expected:
            raise JobFailed(
                f"Input file {uri}, line {number}: {count} values, but the model reads {expected} "
                f"({', '.join(model.feature_columns[:20])}) without the target column; drop other columns, or "
                "pick the model's columns with DataProcessing.InputFilter (e.g. $[1:])"
            )
    number, line = batch[0]
    if number == 1 and read_csv_record(line) == list(model.feature_columns):
        raise JobFailed(
            f"Input file {uri}, line 1 is a header row (the model's feature names); batch transform input "
            "has no header row: remove it"
        )


def _write_processed(settings: TransformSettings, model, processor: RecordProcessor, uri: str, batch, out) -> None:
    """InputFilter each record, ask the model, join and OutputFilter each prediction."""
    records, model_lines = [], []
    for number, line in batch:
        try:
            record = processor.read_input(line)
            records.append(record)
            model_lines.append((number, processor.model_input(record)))
        except RecordError as error:
            raise JobFailed(f"Input file {uri}, line {number}: {error}") from error
    predictions = _predict(settings, model, uri, model_lines).splitlines()
    if len(predictions) != len(records):
        raise JobFailed(
            f"Input file {uri}, lines {batch[0][0]}-{batch[-1][0]}: the model answered {len(predictions)} "
            f"predictions for {len(records)} records"
        )
    separator = b"\n" if settings.assemble_with == "Line" else b""
    for (number, _), record, prediction in zip(batch, records, predictions, strict=True):
        try:
            out.write(processor.output(record, prediction) + separator)
        except RecordError as error:
            raise JobFailed(f"Input file {uri}, line {number}: {error}") from error


def _refuse_binary(uri: str, data: bytes) -> None:
    if b"\x00" in data:
        raise JobFailed(
            f"Input file {uri} contains NUL bytes; text/csv and JSON Lines input must be UTF-8 text "
            "(is it binary or compressed? set CompressionType Gzip for gzip files)"
        )


def _cap(max_payload_bytes: int | None) -> str:
    """The limit a record met: MaxPayloadInMB's, or with 0 ("no limit") the longest record read."""
    if max_payload_bytes:
        return f"MaxPayloadInMB ({max_payload_bytes // MB} MB)"
    return f"{_LONGEST_RECORD // MB} MB, the longest record the local service reads (MaxPayloadInMB is 0, no limit)"


def _remedy(max_payload_bytes: int | None) -> str:
    if max_payload_bytes and max_payload_bytes < _LONGEST_RECORD:
        cap = _LONGEST_RECORD // MB
        return f"raise MaxPayloadInMB (at most {cap}; 0: no limit, records up to {cap} MB)"
    return "split the input into smaller records"


def _record_too_large(uri: str, number: int, max_payload_bytes: int | None) -> JobFailed:
    return JobFailed(
        f"Input file {uri}, line {number}: the record is larger than {_cap(max_payload_bytes)}; "
        f"{_remedy(max_payload_bytes)}"
    )


def _is_marker(uri: str) -> bool:
    # Job-output markers (_SUCCESS) and hidden temporaries are not data, as for training.
    return uri.rsplit("/", 1)[-1].startswith(("_", "."))


def _manifest_prefix(storage: Storage, manifest_uri: str) -> str:
    """The manifest's {"prefix": ...}, which its entries are relative to (manifest_entries checked its form)."""
    return json.loads(read_small_object(storage, manifest_uri, DEFAULT_LIMITS, "Manifest file"))[0]["prefix"]


def _prefix_folder(prefix: str, uris: list[str]) -> str:
    """The folder output names are relative to: the prefix itself when it names a folder (with or
    without its trailing slash), else the folder it lies in (a prefix of file names)."""
    folder = prefix.rstrip("/") + "/"
    if urlsplit(prefix).scheme == "file":
        names_folder = os.path.isdir(os.path.realpath(unquote(urlsplit(prefix).path)))
    else:
        names_folder = bool(uris) and all(uri.startswith(folder) for uri in uris)
    return folder if names_folder else prefix.rsplit("/", 1)[0] + "/"


def _relative(uri: str, base: str) -> str:
    """uri's name below base; file:// URIs compared as real paths (listings resolve symlinks and
    percent-encode)."""
    if urlsplit(uri).scheme == "file":
        path = Path(os.path.realpath(unquote(urlsplit(uri).path)))
        root = Path(os.path.realpath(unquote(urlsplit(base).path)))
        return path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
    return uri[len(base) :] if uri.startswith(base) else uri.rsplit("/", 1)[-1]
