"""AutoML job names derived from a DAG run.

SageMaker job names are at most 32 characters of letters, digits and hyphens, and unique per
account and region. A name built from a readable prefix, the run's date, the map index of a mapped
task and a short hash of (dag_id, run_id, task_id, map_index) is unique per DAG run and per mapped
task instance, and identical on every retry of it, which is what lets a retried task find the job
its earlier try created instead of creating a second one (or another map index's).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import Context

MAX_JOB_NAME_LENGTH = 32
# botocore's AutoMLJobName shape: ^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}
_NAME_RE = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
_HASH_LENGTH = 6
_DATE_IN_RUN_ID = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def is_valid_job_name(name: str) -> bool:
    return bool(_NAME_RE.match(name))


def _sanitize_prefix(prefix: str, max_length: int) -> str:
    cleaned = re.sub(r"[^a-zA-Z0-9]+", "-", prefix).strip("-")[:max_length].rstrip("-")
    if not cleaned:
        raise ValueError(
            f"job name prefix {prefix!r}: must contain at least one letter or digit "
            "(SageMaker job names use letters, digits and hyphens)"
        )
    return cleaned


def _run_date(run_id: str, logical_date: datetime | None) -> str:
    if logical_date is not None:
        return logical_date.strftime("%Y%m%d")
    match = _DATE_IN_RUN_ID.search(run_id)
    return "".join(match.groups()) if match else ""


def automl_job_name(
    prefix: str,
    run: Mapping[str, Any] | str,
    *,
    dag_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
) -> str:
    """Return ``<prefix>-<YYYYMMDD>-<hash>``, or ``<prefix>-<YYYYMMDD>-<map index>-<hash>`` for a mapped task.

    At most 32 characters. ``run`` is either the task's template context (``dag``/``dag_run``/``run_id``
    and the task instance's map index are read from it) or a run id string, in which case pass
    ``dag_id`` (and ``map_index`` for a mapped task) too. ``task_id`` is only needed when two tasks of
    one DAG use the same prefix. The hash covers the dag id, run id, task id and map index, so
    different runs and different map indexes get different names, while every retry of one task
    instance gets the same one.
    """
    logical_date = None
    if isinstance(run, str):
        run_id = run
    else:
        run_id = str(run["run_id"])
        dag_run = run.get("dag_run")
        if dag_run is not None:
            logical_date = getattr(dag_run, "logical_date", None) or getattr(dag_run, "run_after", None)
        if dag_id is None:
            dag = run.get("dag")
            dag_id = getattr(dag, "dag_id", None) or getattr(dag_run, "dag_id", None)
        if map_index is None:
            map_index = getattr(run.get("ti"), "map_index", None)
    if not dag_id:
        raise ValueError("automl_job_name: dag_id is required when run is given as a run id string")
    # -1 (or None) is Airflow's "not mapped": such names keep the shape they always had.
    index = int(map_index) if map_index is not None else -1
    mapped = index >= 0
    identity = f"{dag_id}\0{run_id}\0{task_id or ''}" + (f"\0{index}" if mapped else "")
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_HASH_LENGTH]
    parts = [_run_date(run_id, logical_date), str(index) if mapped else "", digest]
    suffix = "".join(f"-{part}" for part in parts if part)
    return f"{_sanitize_prefix(prefix, MAX_JOB_NAME_LENGTH - len(suffix))}{suffix}"


def add_naming_macro(context: Context) -> None:
    """Make ``{{ automl_job_name('churn') }}`` available in templates, bound to the current task instance."""
    if "automl_job_name" not in context:
        context["automl_job_name"] = partial(automl_job_name, run=context)  # type: ignore[typeddict-unknown-key]


def incremented_job_name(name: str, attempt: int) -> str:
    """``name`` for attempt 1, then ``name-2``, ``name-3``...; the base is shortened to stay within 32."""
    if attempt <= 1:
        return name
    suffix = f"-{attempt}"
    return f"{name[: MAX_JOB_NAME_LENGTH - len(suffix)].rstrip('-')}{suffix}"
