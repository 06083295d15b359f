"""FeatureSpecificationS3Uri: the reference's key rules, column selection and forced types."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine import JobFailed, run_job
from airflow_automl.local.engine.data import load_dataset
from airflow_automl.local.engine.features import apply_feature_specification, load_feature_specification
from airflow_automl.local.jobspec import Channel, JobSpec
from airflow_automl.local.storage import Storage
from tests.fixtures.engine_context import make_context


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    rows = 600
    frame = pd.DataFrame(
        {
            "amount": rng.normal(size=rows).round(3).astype(str),
            "store": rng.integers(0, 4, rows),
            "when": pd.date_range("2024-01-01", periods=rows, freq="h").astype(str),
            "note": rng.choice(["late delivery", "great item", "broken box"], rows),
            "label": rng.integers(0, 2, rows),
        }
    )
    (tmp_path / "data").mkdir()
    frame.to_csv(tmp_path / "data" / "train.csv", index=False)
    return tmp_path


def _spec(root, document, mode="ENSEMBLING"):
    (root / "features.json").write_text(json.dumps(document))
    return JobSpec(
        name="features-job",
        api_version=1,
        channels=(Channel(uri=(root / "data").as_uri(), target="label"),),
        output_path=(root / "out").as_uri(),
        target="label",
        mode=mode,
        feature_specification_uri=(root / "features.json").as_uri(),
    )


def _reason(root, document, mode="ENSEMBLING") -> str:
    with pytest.raises(JobFailed) as caught:
        run_job(_spec(root, document, mode), make_context(root))
    assert "FeatureSpecificationS3Uri" in caught.value.reason
    return caught.value.reason


def test_selects_columns_and_forces_types(root):
    document = {
        "FeatureAttributeNames": ["amount", "store", "when", "note"],
        "FeatureDataTypes": {"amount": "numeric", "store": "categorical", "when": "datetime", "note": "text"},
    }
    spec = _spec(root, {**document, "FeatureAttributeNames": ["amount", "store", "when", "note"]})
    storage = Storage([root])
    dataset = load_dataset(storage, spec)
    features = load_feature_specification(
        storage, spec.feature_specification_uri, list(dataset.train.columns), "label", "ENSEMBLING"
    )
    shaped = apply_feature_specification(dataset, features)
    assert shaped.feature_columns == ["amount", "store", "when", "note"]
    assert pd.api.types.is_float_dtype(shaped.train["amount"])
    assert isinstance(shaped.train["store"].dtype, pd.CategoricalDtype)
    assert pd.api.types.is_datetime64_any_dtype(shaped.train["when"])
    assert shaped.text_columns == ("note",)


def test_attribute_names_leave_out_other_columns(root):
    spec = _spec(root, {"FeatureAttributeNames": ["store", "note"]})
    storage = Storage([root])
    dataset = load_dataset(storage, spec)
    features = load_feature_specification(
        storage, spec.feature_specification_uri, list(dataset.train.columns), "label", "ENSEMBLING"
    )
    assert apply_feature_specification(dataset, features).feature_columns == ["store", "note"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"FeatureAttributeNames": ["store", "label"]}, "must not include the target column 'label'"),
        ({"FeatureDataTypes": {"label": "numeric"}}, "must not include the target column 'label'"),
        ({"FeatureAttributeNames": ["store", "nope"]}, "'nope', not among the input data's columns"),
        (
            {"FeatureAttributeNames": ["store"], "FeatureDataTypes": {"note": "text"}},
            "'note', not among FeatureAttributeNames",
        ),
        ({"FeatureAttributeNames": ["store", "store"]}, "unique values; repeated: store"),
        ({"FeatureNames": ["store"]}, "unknown key(s) 'FeatureNames'"),
        ({"FeatureDataTypes": {"note": "sequence"}}, "'sequence'; in ENSEMBLING mode"),
        ({"FeatureDataTypes": {"note": "image"}}, "'image'"),
    ],
    ids=[
        "target-in-names",
        "target-in-types",
        "unknown-column",
        "type-not-in-names",
        "duplicate",
        "unknown-key",
        "sequence-ensembling",
        "unknown-type",
    ],
)
def test_rule_violations_fail_the_job(root, document, expected):
    assert expected in _reason(root, document)


def test_sequence_is_allowed_in_tuning_mode(root):
    spec = _spec(root, {"FeatureDataTypes": {"note": "sequence"}}, mode="HYPERPARAMETER_TUNING")
    storage = Storage([root])
    dataset = load_dataset(storage, spec)
    features = load_feature_specification(
        storage, spec.feature_specification_uri, list(dataset.train.columns), "label", "HYPERPARAMETER_TUNING"
    )
    assert features.types == {"note": "sequence"}


def test_not_json_fails(root):
    (root / "features.json").write_text("{not json")
    spec = _spec(root, {})
    (root / "features.json").write_text("{not json")
    with pytest.raises(JobFailed, match="is not valid JSON"):
        run_job(spec, make_context(root))
