"""How much a job may read: stored and decompressed bytes, line length, rows, columns and the
in-memory size of each channel's table, counted while the data streams in, so a decompression
bomb or a runaway file fails the job early with a reason naming the file and the limit instead
of exhausting the machine's memory.

The stored sizes are Autopilot's documented limits (the API reference: a training dataset under
100 GB, a validation dataset under 2 GB; Autopilot's quotas: a single Parquet file up to 2 GB).
The others bound one job's memory on the service's machine; Autopilot documents no such limits
because each of its jobs gets its own instances.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from airflow_automl.local.engine.job import JobFailed

KiB, MiB, GiB = 1024, 1024**2, 1024**3
GB = 1000**3


@dataclass(frozen=True)
class InputLimits:
    training_stored_bytes: int = 100 * GB  # reference: the training dataset must be less than 100 GB
    validation_stored_bytes: int = 2 * GB  # reference: the validation dataset is limited to less than 2 GB
    parquet_file_bytes: int = 2 * GB  # Autopilot quotas: size of a single Parquet file
    decompressed_bytes: int = 2 * GiB  # per channel, after gzip
    line_bytes: int = 128 * KiB  # one CSV line (the header too)
    rows: int = 10_000_000  # per channel
    columns: int = 10_000
    table_bytes: int = 512 * MiB  # per channel, the parsed table in memory
    manifest_bytes: int = 16 * MiB  # a manifest or feature specification file


DEFAULT_LIMITS = InputLimits()


def _size(count: int) -> str:
    for unit, size in (("GB", GB), ("GiB", GiB), ("MiB", MiB), ("KiB", KiB)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count:,} bytes"


class ChannelBudget:
    """What one channel has read so far, against its limits; a limit passed fails the job naming
    the file that passed it."""

    def __init__(self, limits: InputLimits, channel_type: str):
        self.limits = limits
        self.channel_type = channel_type
        self.stored_limit = (
            limits.training_stored_bytes if channel_type == "training" else limits.validation_stored_bytes
        )
        self.stored = self.decompressed = self.rows = self.table_bytes = 0

    def add_stored(self, uri: str, count: int) -> None:
        self.stored += count
        if self.stored > self.stored_limit:
            raise JobFailed(
                f"Input file {uri}: the {self.channel_type} dataset is larger than {_size(self.stored_limit)} "
                f"as stored; Autopilot's limit for a {self.channel_type} dataset is less than "
                f"{_size(self.stored_limit)}"
            )

    def add_decompressed(self, uri: str, count: int) -> None:
        self.decompressed += count
        if self.decompressed > self.limits.decompressed_bytes:
            raise JobFailed(
                f"Input file {uri}: the {self.channel_type} data is larger than "
                f"{_size(self.limits.decompressed_bytes)} once decompressed; the local service reads at most "
                f"{_size(self.limits.decompressed_bytes)} per channel"
            )

    def add_rows(self, uri: str, count: int) -> None:
        self.rows += count
        if self.rows > self.limits.rows:
            raise JobFailed(
                f"Input file {uri}: the {self.channel_type} data has more than {self.limits.rows:,} rows; "
                f"the local service reads at most {self.limits.rows:,} rows per channel"
            )

    def add_table_bytes(self, uri: str, count: int) -> None:
        self.table_bytes += count
        if self.table_bytes > self.limits.table_bytes:
            raise JobFailed(
                f"Input file {uri}: the {self.channel_type} data takes more than "
                f"{_size(self.limits.table_bytes)} in memory once parsed; the local service holds at most "
                f"{_size(self.limits.table_bytes)} per channel"
            )

    def check_columns(self, uri: str, count: int) -> None:
        if count > self.limits.columns:
            raise JobFailed(
                f"Input file {uri} has {count:,} columns; the local service reads at most "
                f"{self.limits.columns:,} columns"
            )


class CountingReader(io.RawIOBase):
    """A binary stream that reports every block it reads to ``count`` (which may raise)."""

    def __init__(self, source, count: Callable[[int], None]):
        super().__init__()
        self._source = source
        self._count = count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._source.read(len(buffer))
        size = len(data)
        buffer[:size] = data
        if size:
            self._count(size)
        return size


class CsvTextGuard(CountingReader):
    """The decompressed bytes of a CSV file: counted, refused at a NUL byte (binary or UTF-16
    data) or a line longer than the limit. Keeps the header line for the header checks."""

    def __init__(self, source, uri: str, budget: ChannelBudget):
        super().__init__(source, lambda count: budget.add_decompressed(uri, count))
        self.uri = uri
        self.line_limit = budget.limits.line_bytes
        self.header = bytearray()
        self._in_header = True
        self._run = 0  # bytes since the last newline

    def readinto(self, buffer) -> int:
        size = super().readinto(buffer)
        data = bytes(buffer[:size])
        if b"\x00" in data:
            raise JobFailed(
                f"Input file {self.uri} contains NUL bytes; a CSV file must be UTF-8 text "
                "(is it binary, or encoded in UTF-16?)"
            )
        newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
        end_of_first = int(newlines[0]) if len(newlines) else size
        # The line that continues from the previous block.
        self._run += end_of_first
        if self._in_header:
            self.header += data[:end_of_first]
        if self._run > self.line_limit:
            self._line_too_long()
        if not len(newlines):
            return size
        self._in_header = False
        # Lines wholly inside this block, then the one it leaves open.
        if len(newlines) > 1 and int(np.diff(newlines).max()) - 1 > self.line_limit:
            self._line_too_long()
        self._run = size - int(newlines[-1]) - 1
        if self._run > self.line_limit:
            self._line_too_long()
        return size

    def _line_too_long(self) -> None:
        if not self._in_header:
            raise JobFailed(
                f"Input file {self.uri} has a line longer than {_size(self.line_limit)}; "
                f"the local service reads lines of at most {_size(self.line_limit)}"
            )
        # A header this long is refused either way; skim to its end (still counted against the
        # decompressed limit, never kept) to say whether any data row follows it.
        while True:
            block = self._source.read(MiB)
            if not block:
                raise JobFailed(
                    f"Input file {self.uri} has a header but no data rows (its header line alone is longer "
                    f"than {_size(self.line_limit)})"
                )
            self._count(len(block))
            newline = block.find(b"\n")
            if newline >= 0 and (block[newline + 1 :].strip() or self._data_follows()):
                raise JobFailed(
                    f"Input file {self.uri} has a header line longer than {_size(self.line_limit)}; the local "
                    f"service reads lines of at most {_size(self.line_limit)}"
                )
            if newline >= 0:
                raise JobFailed(
                    f"Input file {self.uri} has a header but no data rows (its header line alone is longer "
                    f"than {_size(self.line_limit)})"
                )

    def _data_follows(self) -> bool:
        while True:
            block = self._source.read(MiB)
            if not block:
                return False
            self._count(len(block))
            if block.strip():
                return True


def read_small_object(storage, uri: str, limits: InputLimits, what: str) -> bytes:
    """A manifest or a feature specification, read whole but never more than its limit."""
    with storage.open_read(uri) as stream:
        data = stream.read(limits.manifest_bytes + 1)
    if len(data) > limits.manifest_bytes:
        raise JobFailed(f"{what} {uri} is larger than {_size(limits.manifest_bytes)}, the limit for such a file")
    return data
