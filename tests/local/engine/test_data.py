"""Loading channels and Autopilot's data rules: each kind of bad input fails the job with a
reason naming the file or column and the rule. No training happens here."""

from __future__ import annotations

import gzip
import json

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine import JobFailed, run_job
from airflow_automl.local.engine.data import infer_problem_type, load_dataset
from airflow_automl.local.jobspec import Channel, JobSpec
from airflow_automl.local.storage import Storage
from tests.fixtures.engine_context import make_context


def _frame(rows=600, classes=2, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"a": rng.normal(size=rows), "b": rng.integers(0, 5, rows), "c": rng.choice(["x", "y"], rows)})
    frame["label"] = rng.integers(0, classes, rows)
    return frame


def _spec(root, uri=None, **options):
    channels = options.pop("channels", None) or (Channel(uri=uri or (root / "data").as_uri(), target="label"),)
    values = dict(
        name="data-job",
        api_version=1,
        channels=channels,
        output_path=(root / "out").as_uri(),
        target="label",
        mode="ENSEMBLING",
    )
    values.update(options)
    return JobSpec(**values)


def _fails(root, spec) -> str:
    ctx = make_context(root)
    with pytest.raises(JobFailed) as caught:
        run_job(spec, ctx)
    assert ctx.candidates == []
    return caught.value.reason


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def test_gzip_files_under_a_prefix_are_concatenated(tmp_path, data_dir):
    frame = _frame()
    for i, part in enumerate((frame.iloc[:250], frame.iloc[250:])):
        (data_dir / f"part-{i}.csv.gz").write_bytes(gzip.compress(part.to_csv(index=False).encode()))
    (data_dir / "_SUCCESS").write_bytes(b"")  # job-output marker, not data
    spec = _spec(tmp_path, channels=(Channel(uri=data_dir.as_uri(), target="label", compression="Gzip"),))
    dataset = load_dataset(Storage([tmp_path]), spec)
    assert len(dataset.train) + len(dataset.validation) == 600
    assert len(dataset.validation) == 120  # ValidationFraction default 0.2
    # Stratified: both sets keep the class balance.
    assert abs(dataset.train["label"].mean() - dataset.validation["label"].mean()) < 0.02
    assert dataset.problem_type == "BinaryClassification"


def test_validation_fraction_is_honoured(tmp_path, data_dir):
    _frame().to_csv(data_dir / "train.csv", index=False)
    dataset = load_dataset(Storage([tmp_path]), _spec(tmp_path, validation_fraction=0.5))
    assert len(dataset.validation) == 300


def test_manifest_file_lists_objects_under_its_prefix(tmp_path, data_dir):
    frame = _frame()
    frame.iloc[:300].to_csv(data_dir / "one.csv", index=False)
    frame.iloc[300:].to_csv(data_dir / "two.csv", index=False)
    (data_dir / "ignored.csv").write_text("not,listed\n")
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": data_dir.as_uri() + "/"}, "one.csv", "two.csv"]))
    spec = _spec(tmp_path, channels=(Channel(uri=manifest.as_uri(), target="label", data_type="ManifestFile"),))
    dataset = load_dataset(Storage([tmp_path]), spec)
    assert len(dataset.train) + len(dataset.validation) == 600


def test_manifest_naming_a_missing_object_fails(tmp_path, data_dir):
    _frame().to_csv(data_dir / "one.csv", index=False)
    manifest = tmp_path / "train.manifest"
    manifest.write_text(json.dumps([{"prefix": data_dir.as_uri() + "/"}, "one.csv", "gone.csv"]))
    spec = _spec(tmp_path, channels=(Channel(uri=manifest.as_uri(), target="label", data_type="ManifestFile"),))
    reason = _fails(tmp_path, spec)
    assert "gone.csv" in reason and "do not exist" in reason


def test_parquet_channel(tmp_path, data_dir):
    _frame().to_parquet(data_dir / "train.parquet")
    content_type = "x-application/vnd.amazon+parquet"
    spec = _spec(tmp_path, channels=(Channel(uri=data_dir.as_uri(), target="label", content_type=content_type),))
    dataset = load_dataset(Storage([tmp_path]), spec)
    assert len(dataset.train) == 480


def test_parquet_that_does_not_parse_fails_naming_the_file(tmp_path, data_dir):
    (data_dir / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    content_type = "x-application/vnd.amazon+parquet"
    spec = _spec(tmp_path, channels=(Channel(uri=data_dir.as_uri(), target="label", content_type=content_type),))
    reason = _fails(tmp_path, spec)
    assert "broken.parquet" in reason and "Parquet" in reason


def test_missing_target_column_fails_naming_column_and_file(tmp_path, data_dir):
    _frame().drop(columns=["label"]).to_csv(data_dir / "train.csv", index=False)
    reason = _fails(tmp_path, _spec(tmp_path))
    assert "'label'" in reason and "train.csv" in reason and "is not a column" in reason


def test_fewer_than_500_rows_fails(tmp_path, data_dir):
    _frame(rows=499).to_csv(data_dir / "train.csv", index=False)
    reason = _fails(tmp_path, _spec(tmp_path))
    assert "499" in reason and "minimum of 500 rows" in reason and "train.csv" in reason


def test_rows_without_target_do_not_count_toward_500(tmp_path, data_dir):
    frame = _frame(rows=520).astype({"label": "float"})
    frame.loc[:30, "label"] = np.nan
    frame.to_csv(data_dir / "train.csv", index=False)
    assert "489 usable rows" in _fails(tmp_path, _spec(tmp_path))


def test_single_class_fails_for_classification(tmp_path, data_dir):
    frame = _frame()
    frame["label"] = "yes"
    frame.to_csv(data_dir / "train.csv", index=False)
    reason = _fails(tmp_path, _spec(tmp_path))
    assert "'label'" in reason and "single class" in reason


def test_binary_problem_type_with_three_classes_fails(tmp_path, data_dir):
    _frame(classes=3).to_csv(data_dir / "train.csv", index=False)
    reason = _fails(tmp_path, _spec(tmp_path, problem_type="BinaryClassification"))
    assert "3 classes" in reason and "exactly two" in reason


def test_empty_file_fails_naming_it(tmp_path, data_dir):
    _frame().to_csv(data_dir / "a.csv", index=False)
    (data_dir / "b.csv").write_bytes(b"")
    reason = _fails(tmp_path, _spec(tmp_path))
    assert "b.csv" in reason and "empty" in reason


def test_header_only_file_fails_naming_it(tmp_path, data_dir):
    (data_dir / "a.csv").write_text("a,b,c,label\n")
    reason = _fails(tmp_path, _spec(tmp_path))
    assert "a.csv" in reason and "no data rows" in reason


def test_unreadable_gzip_fails_naming_the_file(tmp_path, data_dir):
    (data_dir / "train.csv.gz").write_bytes(b"plain text, not gzip")
    spec = _spec(tmp_path, channels=(Channel(uri=data_dir.as_uri(), target="label", compression="Gzip"),))
    reason = _fails(tmp_path, spec)
    assert "train.csv.gz" in reason and "gzip" in reason


def test_nothing_under_the_uri_fails(tmp_path, data_dir):
    uri = (tmp_path / "no-such-prefix").as_uri()
    reason = _fails(tmp_path, _spec(tmp_path, uri=uri))
    assert uri in reason and "no objects found" in reason


def test_uri_outside_the_roots_fails_naming_the_rule(tmp_path):
    reason = _fails(tmp_path, _spec(tmp_path, uri=(tmp_path.parent / "elsewhere").as_uri()))
    assert "outside the allowed file roots" in reason


def test_mixed_headers_between_files_fail_naming_both(tmp_path, data_dir):
    frame = _frame()
    frame.iloc[:300].to_csv(data_dir / "one.csv", index=False)
    frame.iloc[300:].rename(columns={"b": "B"}).to_csv(data_dir / "two.csv", index=False)
    reason = _fails(tmp_path, _spec(tmp_path))
    assert "one.csv" in reason and "two.csv" in reason and "different headers" in reason


def test_validation_channel_with_other_headers_fails(tmp_path, data_dir):
    _frame().to_csv(data_dir / "train.csv", index=False)
    (tmp_path / "val").mkdir()
    _frame(rows=50).drop(columns=["c"]).to_csv(tmp_path / "val" / "val.csv", index=False)
    channels = (
        Channel(uri=data_dir.as_uri(), target="label"),
        Channel(uri=(tmp_path / "val").as_uri(), target="label", channel_type="validation"),
    )
    reason = _fails(tmp_path, _spec(tmp_path, channels=channels))
    assert "val.csv" in reason and "same headers" in reason


def test_all_weights_invalid_fails(tmp_path, data_dir):
    frame = _frame()
    frame["w"] = ["bad"] * 300 + [-1] * 300
    frame.to_csv(data_dir / "train.csv", index=False)
    channels = (Channel(uri=data_dir.as_uri(), target="label", sample_weight="w"),)
    reason = _fails(tmp_path, _spec(tmp_path, channels=channels, sample_weight="w"))
    assert "'w'" in reason and "valid weight" in reason


def test_invalid_weights_are_dropped(tmp_path, data_dir):
    frame = _frame(rows=700)
    frame["w"] = 1.0
    frame.loc[:49, "w"] = -2.0
    frame.loc[50:99, "w"] = np.nan
    frame.to_csv(data_dir / "train.csv", index=False)
    channels = (Channel(uri=data_dir.as_uri(), target="label", sample_weight="w"),)
    dataset = load_dataset(Storage([tmp_path]), _spec(tmp_path, channels=channels, sample_weight="w"))
    assert len(dataset.train) + len(dataset.validation) == 600
    assert "w" not in dataset.feature_columns


def test_objective_not_allowed_for_the_inferred_problem_type_fails(tmp_path, data_dir):
    _frame(classes=4).to_csv(data_dir / "train.csv", index=False)
    reason = _fails(tmp_path, _spec(tmp_path, metric_name="AUC"))
    assert "AUC" in reason and "MulticlassClassification" in reason and "inferred" in reason


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["a", "b"] * 300, "BinaryClassification"),
        ([0, 1] * 300, "BinaryClassification"),
        (list(range(10)) * 60, "MulticlassClassification"),
        (["x", "y", "z"] * 200, "MulticlassClassification"),
        (list(np.linspace(0, 1, 600)), "Regression"),
        (list(range(600)), "Regression"),
    ],
    ids=["binary-str", "binary-int", "ten-int-classes", "three-str", "continuous", "many-integers"],
)
def test_problem_type_inference(values, expected):
    assert infer_problem_type(pd.Series(values)) == expected


@pytest.mark.parametrize(
    ("input_bytes", "weight", "expected"),
    [
        (1024, None, "ENSEMBLING"),
        (100 * 1024 * 1024 - 1, None, "ENSEMBLING"),
        (100 * 1024 * 1024, None, "HYPERPARAMETER_TUNING"),
        (100 * 1024 * 1024, "w", "ENSEMBLING"),  # weights are used in ENSEMBLING only
    ],
)
def test_auto_mode_chooses_by_input_size(tmp_path, input_bytes, weight, expected):
    from airflow_automl.local.engine import resolve_mode
    from airflow_automl.local.engine.data import Dataset

    frame = _frame()
    dataset = Dataset(frame, frame, "label", "BinaryClassification", weight, input_bytes, False)
    assert resolve_mode(_spec(tmp_path, mode="AUTO"), dataset) == expected
    assert resolve_mode(_spec(tmp_path, mode="HYPERPARAMETER_TUNING"), dataset) == "HYPERPARAMETER_TUNING"


def test_s3_prefix_channel_through_an_s3_endpoint(tmp_path, s3_endpoint):
    import boto3

    endpoint = s3_endpoint
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="training")
    frame = _frame()
    client.put_object(
        Bucket="training", Key="churn/a.csv.gz", Body=gzip.compress(frame.iloc[:300].to_csv(index=False).encode())
    )
    client.put_object(
        Bucket="training", Key="churn/b.csv.gz", Body=gzip.compress(frame.iloc[300:].to_csv(index=False).encode())
    )
    client.put_object(Bucket="training", Key="churn-other/c.csv.gz", Body=b"not part of the prefix churn/")
    channel = Channel(uri="s3://training/churn/", target="label", compression="Gzip")
    dataset = load_dataset(Storage([], s3_endpoint_url=endpoint), _spec(tmp_path, channels=(channel,)))
    assert len(dataset.train) + len(dataset.validation) == 600

    empty = Channel(uri="s3://training/nothing/", target="label")
    with pytest.raises(JobFailed, match="s3://training/nothing/: no objects found"):
        load_dataset(Storage([], s3_endpoint_url=endpoint), _spec(tmp_path, channels=(empty,)))
