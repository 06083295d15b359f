"""Job names derived from DAG runs: valid for SageMaker, readable, unique per run, stable per run."""

import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_automl.sagemaker.shapes import JOB_NAME_PATTERN, compile_pattern
from airflow_automl.utils.naming import automl_job_name, incremented_job_name, is_valid_job_name

SAGEMAKER_NAME = compile_pattern(JOB_NAME_PATTERN)


def test_name_is_prefix_date_and_hash():
    name = automl_job_name("churn", "scheduled__2026-11-27T00:00:00+00:00", dag_id="retrain")
    assert re.fullmatch(r"churn-20261127-[0-9a-f]{6}", name)


def test_same_run_gives_same_name_and_other_runs_differ():
    run_a = "manual__2026-11-27T10:00:00+00:00"
    run_b = "manual__2026-11-27T11:00:00+00:00"
    assert automl_job_name("churn", run_a, dag_id="d") == automl_job_name("churn", run_a, dag_id="d")
    assert automl_job_name("churn", run_a, dag_id="d") != automl_job_name("churn", run_b, dag_id="d")
    assert automl_job_name("churn", run_a, dag_id="d") != automl_job_name("churn", run_a, dag_id="other")
    assert automl_job_name("churn", run_a, dag_id="d", task_id="a") != automl_job_name(
        "churn", run_a, dag_id="d", task_id="b"
    )


def test_name_from_template_context_uses_logical_date():
    dag_run = SimpleNamespace(logical_date=datetime(2026, 1, 2, tzinfo=UTC), dag_id="d")
    context = {"run_id": "manual__whatever", "dag_run": dag_run, "dag": SimpleNamespace(dag_id="d")}
    assert automl_job_name("churn", context).startswith("churn-20260102-")
    assert automl_job_name("churn", context) == automl_job_name("churn", "manual__whatever", dag_id="d").replace(
        "churn-", "churn-20260102-"
    )


def test_long_and_odd_prefixes_are_cut_to_32_valid_characters():
    name = automl_job_name("Customer churn model (EU) v2!!", "manual__2026-11-27T10:00:00+00:00", dag_id="d")
    assert len(name) <= 32 and SAGEMAKER_NAME.fullmatch(name)
    assert name.startswith("Customer-churn-m")


def test_prefix_without_letters_or_digits_is_refused_with_the_rule():
    with pytest.raises(ValueError, match="prefix '---': must contain at least one letter or digit"):
        automl_job_name("---", "manual__2026-11-27", dag_id="d")


def test_run_id_string_needs_a_dag_id():
    with pytest.raises(ValueError, match="dag_id is required"):
        automl_job_name("churn", "manual__2026-11-27")


@given(prefix=st.text(min_size=1, max_size=60), run_id=st.text(min_size=1, max_size=80), attempt=st.integers(1, 999))
def test_every_generated_name_matches_sagemakers_pattern(prefix, run_id, attempt):
    try:
        name = automl_job_name(prefix, run_id, dag_id="dag")
    except ValueError:
        assert not re.search(r"[a-zA-Z0-9]", prefix)
        return
    for candidate in (name, incremented_job_name(name, attempt)):
        assert len(candidate) <= 32
        assert SAGEMAKER_NAME.fullmatch(candidate), candidate
        assert is_valid_job_name(candidate)


def test_incremented_names():
    base = "churn-20261127-3f9a00"
    assert incremented_job_name(base, 1) == base
    assert incremented_job_name(base, 2) == f"{base}-2"
    long = "a" * 32
    assert incremented_job_name(long, 12) == "a" * 29 + "-12"


def test_mapped_task_instances_get_their_own_names_with_the_index_in_them():
    run_id = "scheduled__2026-11-27T00:00:00+00:00"
    names = [automl_job_name("seg", run_id, dag_id="d", map_index=index) for index in range(3)]
    assert len(set(names)) == 3
    assert [re.fullmatch(r"seg-20261127-(\d+)-[0-9a-f]{6}", name).group(1) for name in names] == ["0", "1", "2"]
    # -1 is Airflow's "not mapped": the name keeps its unmapped shape.
    assert automl_job_name("seg", run_id, dag_id="d", map_index=-1) == automl_job_name("seg", run_id, dag_id="d")
    # Every retry of a map index gets its name again.
    assert automl_job_name("seg", run_id, dag_id="d", map_index=1) == names[1]


def test_map_index_comes_from_the_template_contexts_task_instance():
    dag_run = SimpleNamespace(logical_date=datetime(2026, 1, 2, tzinfo=UTC), dag_id="d")
    context = {
        "run_id": "manual__x",
        "dag_run": dag_run,
        "dag": SimpleNamespace(dag_id="d"),
        "ti": SimpleNamespace(map_index=7),
    }
    assert automl_job_name("seg", context) == automl_job_name("seg", "manual__x", dag_id="d", map_index=7).replace(
        "seg-", "seg-20260102-"
    )
    assert automl_job_name("seg", context).startswith("seg-20260102-7-")


@given(prefix=st.text(min_size=1, max_size=60), map_index=st.integers(0, 100_000), attempt=st.integers(1, 999))
def test_mapped_names_stay_within_32_valid_characters(prefix, map_index, attempt):
    try:
        name = automl_job_name(prefix, "manual__2026-11-27T10:00:00+00:00", dag_id="dag", map_index=map_index)
    except ValueError:
        assert not re.search(r"[a-zA-Z0-9]", prefix)
        return
    for candidate in (name, incremented_job_name(name, attempt)):
        assert len(candidate) <= 32 and SAGEMAKER_NAME.fullmatch(candidate), candidate
