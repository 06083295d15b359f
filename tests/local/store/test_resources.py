"""What every family's store shares: rows read as records from the record's fields, and a create
that writes the resource and its tags in one transaction."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field

import pytest

from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.store import MAX_TAGS_PER_RESOURCE, ListQuery, ModelNameInUse, Store, TooManyTags
from airflow_automl.local.store.records import column, from_row


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "automl.sqlite3")
    yield store
    store.close()


def tags(store: Store, arn: str) -> list[dict]:
    return store.tags.page(arn, ListQuery(limit=100)).rows


def tag_list(count: int, prefix: str = "k") -> list[dict]:
    return [{"Key": f"{prefix}{index}", "Value": str(index)} for index in range(count)]


@dataclass(frozen=True)
class Example:
    name: str
    settings: dict | None
    began: float = field(metadata=column("started"))
    spec: JobSpec = field(metadata=column(decode=JobSpec.from_dict))


def _row(**values) -> sqlite3.Row:
    db = sqlite3.connect(":memory:")
    db.row_factory = sqlite3.Row
    names = ", ".join(f"? AS {name}" for name in values)
    return db.execute(f"SELECT {names}", tuple(values.values())).fetchone()


def test_a_record_reads_its_fields_json_renamed_and_decoded_columns():
    spec = JobSpec(name="j", api_version=1, channels=(), output_path="file:///out", target="y")
    row = _row(
        name="n", settings_json='{"a": [1]}', started=2.5, spec_json=json.dumps(spec.to_dict()), unused="ignored"
    )
    assert from_row(Example, row) == Example(name="n", settings={"a": [1]}, began=2.5, spec=spec)
    assert from_row(Example, _row(name="n", settings_json=None, started=1.0, spec=None)).settings is None


def test_a_record_whose_column_is_missing_names_the_field_and_the_columns():
    with pytest.raises(LookupError, match=r"Example\.began: the row has neither a column 'started'.*its columns: name"):
        from_row(Example, _row(name="n", settings=None, spec=None))


def test_a_create_writes_the_request_tags_with_the_resource_and_a_delete_removes_both(store):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/kept"
    store.models.create(
        name="Kept", arn=arn, request={}, job_name="j", candidate_name="c", tags=[{"Key": "team", "Value": "a"}]
    )
    assert tags(store, arn) == [{"Key": "team", "Value": "a"}]
    assert store.models.delete("KEPT")
    assert store.models.get("kept") is None and tags(store, arn) == []
    assert not store.models.delete("kept")


def test_a_create_refused_for_its_tags_or_its_name_leaves_nothing_behind(store):
    arn = "arn:aws:sagemaker:us-east-1:123456789012:endpoint-config/cfg"
    # Tags left on the ARN by a resource deleted without them (before deletes removed them together).
    store.tags.add(arn, tag_list(MAX_TAGS_PER_RESOURCE, "old"))
    with pytest.raises(TooManyTags):
        store.endpoint_configs.create(name="cfg", arn=arn, request={}, tags=[{"Key": "new", "Value": "1"}])
    assert store.endpoint_configs.get("cfg") is None
    model_arn = "arn:aws:sagemaker:us-east-1:123456789012:model/first"
    store.models.create(name="First", arn=model_arn, request={}, job_name="j", candidate_name="c")
    with pytest.raises(ModelNameInUse) as taken:
        store.models.create(name="FIRST", arn=model_arn, request={}, job_name="j", candidate_name="c", tags=tag_list(1))
    assert taken.value.args[0] == "First"  # the existing resource's name, as it was created
    assert tags(store, model_arn) == []


def test_every_family_creates_with_its_tags(store):
    spec = JobSpec(name="job", api_version=1, channels=(), output_path="file:///out", target="y")
    created = {
        "arn:job": lambda t: store.jobs.create(spec=spec, arn="arn:job", request={}, max_active_jobs=5, tags=t),
        "arn:transform": lambda t: store.transform_jobs.create(
            name="t", arn="arn:transform", request={}, model_job_name="job", tags=t
        ),
        "arn:model": lambda t: store.models.create(
            name="m", arn="arn:model", request={}, job_name="job", candidate_name="c", tags=t
        ),
        "arn:config": lambda t: store.endpoint_configs.create(name="c", arn="arn:config", request={}, tags=t),
        "arn:endpoint": lambda t: store.endpoints.create(
            name="e",
            arn="arn:endpoint",
            endpoint_config_name="c",
            variants=[{"JobName": "job", "CandidateName": "c"}],
            tags=t,
        ),
        "arn:group": lambda t: store.model_package_groups.create(name="g", arn="arn:group", request={}, tags=t),
        "arn:g/1": lambda t: store.model_packages.create(
            name="g",
            group_name="g",
            arn_of=lambda key: f"arn:{key}",
            request={},
            approval_status=None,
            client_token=None,
            tags=t,
        ),
    }
    for arn, create in created.items():
        record = create([{"Key": "family", "Value": arn}])
        assert record.arn == arn
        assert tags(store, arn) == [{"Key": "family", "Value": arn}]
    with pytest.raises(TooManyTags):
        store.model_packages.create(
            name="g",
            group_name="g",
            arn_of=lambda key: f"arn:{key}",
            request={},
            approval_status=None,
            client_token=None,
            tags=tag_list(MAX_TAGS_PER_RESOURCE + 1),
        )
    assert store.model_packages.get("g/2") is None
