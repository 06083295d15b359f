"""Bounded input: a job reads at most so many stored and decompressed bytes, rows, columns, bytes
per line and bytes of parsed table per channel, counted while it streams, and fails early with a
reason naming the file and the limit. A decompression bomb keeps the job's memory bounded: its
peak RSS is measured in a process of its own. Also: failure reasons that name the column and
the rule (nested Parquet columns, a huge header with no data rows), and manifest entries that are
raw keys (spaces included)."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine import JobFailed
from airflow_automl.local.engine.data import load_channel, load_dataset
from airflow_automl.local.engine.input_limits import InputLimits
from airflow_automl.local.jobspec import Channel, JobSpec
from airflow_automl.local.storage import Storage
from tests.fixtures.service import REPO_ROOT

pytestmark = pytest.mark.reliability

PARQUET = "x-application/vnd.amazon+parquet"
MiB = 1024 * 1024
# A job's process after loading pandas, scikit-learn and the engine takes a few hundred MB; the
# input limits let the parsed table grow to 512 MiB per channel. Before the limits, the strings
# bomb below drove the process to 3.1 GB and was accepted.
PEAK_RSS_BOUND_MB = 1500


def _bomb(path: Path, line: bytes, expanded_bytes: int, header: bytes = b"a,b,label\n") -> int:
    """A gzip file of `header` and `line` repeated up to expanded_bytes; returns its size. One
    compressed MiB written again and again: gzip readers take concatenated members as one stream."""
    member = gzip.compress(line * (MiB // len(line)), compresslevel=9)
    with open(path, "wb") as out:
        out.write(gzip.compress(header))
        for _ in range(expanded_bytes // MiB):
            out.write(member)
    return path.stat().st_size


_MEASURE = """
import json, resource, sys
from airflow_automl.local.engine import JobFailed, run_job
from airflow_automl.local.jobspec import Channel, JobSpec
from tests.fixtures.engine_context import make_context
from pathlib import Path

root = Path(sys.argv[1])
spec = JobSpec(name="bomb", api_version=2, target="label", mode="ENSEMBLING", max_candidates=1,
               channels=(Channel(uri=(root / "data").as_uri() + "/", target="label", compression="Gzip"),),
               output_path=(root / "out").as_uri())
try:
    outcome = run_job(spec, make_context(root, stop_after_candidates=0))
    reason = f"accepted: {outcome}"
except JobFailed as error:
    reason = error.reason
print(json.dumps({"reason": reason, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure_job(root: Path) -> dict:
    """Run the engine on root/data in a process of its own: its FailureReason and peak RSS."""
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(root)], cwd=REPO_ROOT, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


BOMBS = {
    # Short repeated strings: the parsed table passes its memory limit first.
    "strings": (b"xyz,abc,1\n", ("512 MiB", "in memory")),
    # One endless line of one value: the line limit.
    "one-endless-line": (b"0" * 1024, ("line longer than 128 KiB",)),
}


@pytest.mark.integration
@pytest.mark.timeout(600)
@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_decompression_bomb_fails_early_with_bounded_memory(tmp_path, bomb):
    line, words = BOMBS[bomb]
    data = tmp_path / "data"
    data.mkdir()
    size = _bomb(data / "train.csv.gz", line, 400 * MiB)
    assert size < MiB  # under 1 MB of gzip, 400 MiB of CSV
    measured = measure_job(tmp_path)
    print(
        f"\n{bomb}: {size / 1024:.0f} KB of gzip expanding to 400 MiB: peak RSS {measured['peak_rss_mb']:.0f} MB; "
        f"{measured['reason']}"
    )
    assert "train.csv.gz" in measured["reason"], measured
    for word in words:
        assert word in measured["reason"], measured
    assert measured["peak_rss_mb"] < PEAK_RSS_BOUND_MB, measured


# -- each limit, with small limits so the files stay small -----------------------------------------


def _rows(rows: int, extra_columns: int = 0) -> bytes:
    frame = pd.DataFrame({"a": np.arange(rows), "b": np.arange(rows) % 7, "label": np.arange(rows) % 2})
    for index in range(extra_columns):
        frame[f"x{index}"] = 1
    return frame.to_csv(index=False).encode()


def _load(tmp_path: Path, files: dict[str, bytes], limits: InputLimits, **channel_options) -> str:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    for name, content in files.items():
        (data / name).write_bytes(content)
    channel = Channel(uri=data.as_uri() + "/", target="label", **channel_options)
    with pytest.raises(JobFailed) as caught:
        load_channel(Storage([tmp_path]), channel, limits)
    return caught.value.reason


@pytest.mark.parametrize(
    "limit, files, options, words",
    [
        (
            "training_stored_bytes",
            {"part-1.csv": _rows(600), "part-2.csv": _rows(600)},
            {},
            ("part-2.csv", "training dataset is larger than", "as stored"),
        ),
        (
            "decompressed_bytes",
            {"train.csv.gz": gzip.compress(_rows(5000))},
            {"compression": "Gzip"},
            ("train.csv.gz", "once decompressed"),
        ),
        ("rows", {"train.csv": _rows(5000)}, {}, ("train.csv", "more than 3,000 rows")),
        ("columns", {"train.csv": _rows(600, extra_columns=20)}, {}, ("train.csv", "23 columns", "at most 10 columns")),
        (
            "line_bytes",
            {"train.csv": _rows(600) + b"1," + b"9" * 5000 + b",1\n"},
            {},
            ("train.csv", "line longer than"),
        ),
        ("table_bytes", {"train.csv": _rows(50_000)}, {}, ("train.csv", "in memory once parsed")),
    ],
)
def test_each_input_limit_fails_naming_the_file_and_the_limit(tmp_path, limit, files, options, words):
    small = {
        "training_stored_bytes": 6_000,
        "decompressed_bytes": 20_000,
        "rows": 3000,
        "columns": 10,
        "line_bytes": 1024,
        "table_bytes": 100_000,
    }
    reason = _load(tmp_path, files, InputLimits(**{limit: small[limit]}), **options)
    for word in words:
        assert word in reason, reason


def test_a_parquet_file_over_its_row_limit_fails_before_it_is_read(tmp_path):
    buffer = io.BytesIO()
    pd.DataFrame({"a": np.arange(5000), "label": np.arange(5000) % 2}).to_parquet(buffer)
    reason = _load(tmp_path, {"train.parquet": buffer.getvalue()}, InputLimits(rows=1000), content_type=PARQUET)
    assert "train.parquet" in reason and "more than 1,000 rows" in reason


# -- failure reasons that name the column and the rule (nested Parquet, a header without rows) -----


@pytest.mark.parametrize(
    "column, values, kind",
    [
        ("tags", [[1, 2], [3]] * 300, "list"),
        ("address", [{"city": "x", "zip": 1}] * 600, "struct"),
        ("scores", [[("a", 1.0)]] * 600, "map"),
    ],
)
def test_nested_parquet_columns_fail_naming_the_column(tmp_path, column, values, kind):
    import pyarrow as pa
    import pyarrow.parquet as pq

    value_type = pa.map_(pa.string(), pa.float64()) if kind == "map" else None
    table = pa.table({"a": np.arange(600), column: pa.array(values, type=value_type), "label": np.arange(600) % 2})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    reason = _load(tmp_path, {"train.parquet": buffer.getvalue()}, InputLimits(), content_type=PARQUET)
    assert "train.parquet" in reason and repr(column) in reason and kind in reason, reason
    assert "scalar" in reason and "unhashable" not in reason


@pytest.mark.timeout(120)
def test_a_huge_header_without_data_rows_fails_at_once_for_having_no_data_rows(tmp_path):
    header = b",".join(b"c%d" % index for index in range(5_500_000)) + b"\n"  # about 50 MB, 5.5 million columns
    reason = _load(tmp_path, {"train.csv": header}, InputLimits())
    assert "train.csv" in reason and "no data rows" in reason, reason


def test_a_huge_header_with_data_rows_fails_for_its_length(tmp_path):
    header = b",".join(b"c%d" % index for index in range(100_000)) + b",label\n"
    reason = _load(tmp_path, {"train.csv": header + b"1," * 100_000 + b"1\n"}, InputLimits())
    assert "train.csv" in reason and "header line longer than 128 KiB" in reason, reason


# -- manifests list raw keys ---------------------------------------------------------------------------


def _frame(rows: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({"a": rng.normal(size=rows), "label": rng.integers(0, 2, rows)})


def _spec(tmp_path: Path, manifest_uri: str) -> JobSpec:
    return JobSpec(
        name="manifest-job",
        api_version=1,
        target="label",
        mode="ENSEMBLING",
        channels=(Channel(uri=manifest_uri, target="label", data_type="ManifestFile"),),
        output_path=(tmp_path / "out").as_uri(),
    )


def test_file_manifest_entries_with_spaces_are_found(tmp_path):
    data = tmp_path / "my data"
    data.mkdir()
    _frame().iloc[:300].to_csv(data / "part one.csv", index=False)
    _frame().iloc[300:].to_csv(data / "part two.csv", index=False)
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": data.as_uri() + "/"}, "part one.csv", "part two.csv"]))
    dataset = load_dataset(Storage([tmp_path]), _spec(tmp_path, manifest.as_uri()))
    assert len(dataset.train) + len(dataset.validation) == 600

    manifest.write_text(json.dumps([{"prefix": data.as_uri() + "/"}, "part one.csv", "part three.csv"]))
    with pytest.raises(JobFailed) as caught:
        load_dataset(Storage([tmp_path]), _spec(tmp_path, manifest.as_uri()))
    assert "part three.csv" in caught.value.reason and "do not exist" in caught.value.reason


def test_s3_manifest_entries_with_spaces_are_found(tmp_path, s3_endpoint):
    import boto3

    endpoint = s3_endpoint
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="training")
    client.put_object(Bucket="training", Key="my data/part one.csv", Body=_frame().iloc[:300].to_csv(index=False))
    client.put_object(Bucket="training", Key="my data/part two.csv", Body=_frame().iloc[300:].to_csv(index=False))
    manifest = [{"prefix": "s3://training/my data/"}, "part one.csv", "part two.csv"]
    client.put_object(Bucket="training", Key="train.manifest", Body=json.dumps(manifest))
    storage = Storage([], s3_endpoint_url=endpoint)
    dataset = load_dataset(storage, _spec(tmp_path, "s3://training/train.manifest"))
    assert len(dataset.train) + len(dataset.validation) == 600

    client.put_object(
        Bucket="training",
        Key="gone.manifest",
        Body=json.dumps([{"prefix": "s3://training/my data/"}, "part one.csv", "part 3.csv"]),
    )
    with pytest.raises(JobFailed) as caught:
        load_dataset(storage, _spec(tmp_path, "s3://training/gone.manifest"))
    assert "part 3.csv" in caught.value.reason and "do not exist" in caught.value.reason
