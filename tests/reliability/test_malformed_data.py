"""Malformed datasets: each job ends Failed during data analysis with a reason naming the file
or column and the problem; none trains, none hangs. The engine runs in-process with a
recording context that asks it to stop right after analysis, so a dataset wrongly accepted
shows up as a Stopped outcome instead of a training run."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine import JobFailed, run_job
from airflow_automl.local.jobspec import Channel, JobSpec
from tests.fixtures.engine_context import make_context

pytestmark = pytest.mark.reliability

PARQUET = "x-application/vnd.amazon+parquet"
ROWS = 600


def _good(rows: int = ROWS) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(
        {"a": rng.normal(size=rows), "b": rng.choice(["x", "y", "z"], rows), "label": rng.integers(0, 2, rows)}
    )


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def _lines(header: str, row: str, rows: int = ROWS) -> bytes:
    return (header + "\n" + "\n".join(row.format(i=i, c=i % 2) for i in range(rows)) + "\n").encode()


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    return buffer.getvalue()


# name -> (files {relative name: bytes}, channel options, spec options, words the reason must contain)
CASES: dict[str, tuple[dict, dict, dict, tuple[str, ...]]] = {
    "utf16-encoded": ({"train.csv": _csv(_good()).decode().encode("utf-16")}, {}, {}, ("train.csv",)),
    "latin1-bytes-in-header": (
        {"train.csv": b"caf\xe9,\xff\xfe,label\n" + _lines("", "{i},{i},{c}")[1:]},
        {},
        {},
        ("train.csv",),
    ),
    "random-binary": ({"train.csv": np.random.default_rng(1).bytes(50_000)}, {}, {}, ("train.csv",)),
    "ragged-rows": (
        {"train.csv": _lines("a,b,label", "{i},{i},{c}") + b"1,2,3,4,5\n" + _lines("", "{i},{i},{c}")[1:]},
        {},
        {},
        ("train.csv",),
    ),
    "duplicate-header": ({"train.csv": _lines("a,a,label", "{i},{i},{c}")}, {}, {}, ("train.csv", "(a)", "duplicate")),
    "empty-header-name": ({"train.csv": _lines("a,,label", "{i},{i},{c}")}, {}, {}, ("train.csv", "empty")),
    "header-only": ({"train.csv": b"a,b,label\n"}, {}, {}, ("train.csv", "no data rows")),
    "zero-byte-csv": ({"train.csv": b""}, {}, {}, ("train.csv", "empty")),
    "zero-byte-gzip": ({"train.csv.gz": b""}, {"compression": "Gzip"}, {}, ("train.csv.gz", "empty")),
    "gzip-of-nothing": ({"train.csv.gz": gzip.compress(b"")}, {"compression": "Gzip"}, {}, ("train.csv.gz", "empty")),
    "not-really-gzip": ({"train.csv.gz": _csv(_good())}, {"compression": "Gzip"}, {}, ("train.csv.gz", "gzip")),
    "truncated-gzip": (
        {"train.csv.gz": gzip.compress(_csv(_good()))[:300]},
        {"compression": "Gzip"},
        {},
        ("train.csv.gz", "gzip"),
    ),
    "parquet-that-is-csv": (
        {"train.parquet": _csv(_good())},
        {"content_type": PARQUET},
        {},
        ("train.parquet", "Parquet"),
    ),
    "csv-that-is-parquet": ({"train.csv": _parquet(_good())}, {}, {}, ("train.csv",)),
    "target-all-null": ({"train.csv": _lines("a,b,label", "{i},{i},")}, {}, {}, ("label",)),
    "target-missing": ({"train.csv": _lines("a,b,outcome", "{i},{i},{c}")}, {}, {}, ("label", "not a column")),
    "all-features-null": ({"train.csv": _lines("a,b,label", ",,{c}")}, {}, {}, ("a", "b", "no values")),
    "only-the-target-column": ({"train.csv": _lines("label", "{c}")}, {}, {}, ("label", "feature")),
    "target-single-class": ({"train.csv": _lines("a,b,label", "{i},{i},1")}, {}, {}, ("label", "single class")),
    "target-huge-cardinality": (
        {"train.csv": _lines("a,b,label", "{i},{i},class-{i}")},
        {},
        {"problem_type": "MulticlassClassification"},
        ("label", "classes"),
    ),
    "target-mixed-types-for-regression": (
        {"train.csv": _lines("a,b,label", "{i},{i},{i}.5") + b"1,2,abc\n"},
        {},
        {"problem_type": "Regression"},
        ("label", "non-numeric"),
    ),
    "too-few-rows": ({"train.csv": _lines("a,b,label", "{i},{i},{c}", rows=40)}, {}, {}, ("train.csv", "500")),
    "nul-bytes": ({"train.csv": _lines("a,b,label", "{i}\x00,\x00{i},{c}")}, {}, {}, ("train.csv", "NUL")),
    "files-with-different-headers": (
        {"part-1.csv": _lines("a,b,label", "{i},{i},{c}"), "part-2.csv": _lines("a,c,label", "{i},{i},{c}")},
        {},
        {},
        ("part-1.csv", "part-2.csv", "header"),
    ),
    "unterminated-quote": (
        {
            "train.csv": _lines("a,b,label", "{i},{i},{c}", rows=10)
            + b'1,"never closed,1\n'
            + _lines("", "{i},{i},{c}")[1:]
        },
        {},
        {},
        ("train.csv",),
    ),
    "nothing-under-prefix": ({}, {}, {}, ("no objects",)),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_dataset_fails_the_job_naming_the_problem(tmp_path, case):
    files, channel_options, spec_options, words = CASES[case]
    data = tmp_path / "data"
    data.mkdir()
    for name, content in files.items():
        (data / name).write_bytes(content)
    spec = JobSpec(
        name=f"malformed-{case}",
        api_version=2,
        channels=(Channel(uri=data.as_uri() + "/", target="label", **channel_options),),
        output_path=(tmp_path / "out").as_uri(),
        target="label",
        mode="ENSEMBLING",
        max_candidates=1,
        **spec_options,
    )
    # should_stop() is true from the start: an accepted dataset returns Stopped, it never trains.
    ctx = make_context(tmp_path, stop_after_candidates=0)
    with pytest.raises(JobFailed) as caught:
        outcome = run_job(spec, ctx)
        pytest.fail(f"{case}: accepted ({outcome}); the data analysis should have refused it")
    reason = caught.value.reason
    for word in words:
        assert word.lower() in reason.lower(), f"{case}: {word!r} not in FailureReason {reason!r}"
    assert ctx.candidates == []


def test_there_are_at_least_twenty_malformed_datasets():
    assert len(CASES) >= 20
