"""The store opens data dirs written before its schema was versioned, and refuses newer ones."""

from __future__ import annotations

import json
import sqlite3

import pytest

from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.store import Store
from airflow_automl.local.store.database import MIGRATIONS

# The schema as the service wrote it before migrations were counted (PRAGMA user_version 0).
_UNVERSIONED_JOBS_TABLE = """
CREATE TABLE jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, name_key TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
    arn TEXT NOT NULL UNIQUE, api_version INTEGER NOT NULL, request_json TEXT NOT NULL,
    spec_json TEXT NOT NULL, status TEXT NOT NULL, secondary_status TEXT NOT NULL,
    creation_time REAL NOT NULL, last_modified_time REAL NOT NULL, end_time REAL, failure_reason TEXT,
    partial_failure_reasons_json TEXT, best_candidate_name TEXT, artifacts_json TEXT,
    resolved_attributes_json TEXT, deploy_result_json TEXT, run_id TEXT, worker_pid INTEGER,
    started_time REAL, stop_requested_time REAL
);
CREATE TABLE tags (arn TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, seq INTEGER NOT NULL,
    PRIMARY KEY (arn, key));
"""


def test_a_data_dir_from_before_versioned_migrations_opens_with_its_jobs(tmp_path):
    db_path = tmp_path / "automl.sqlite3"
    spec = JobSpec(name="old-job", api_version=1, channels=(), output_path="file:///out", target="y")
    legacy = sqlite3.connect(db_path)
    legacy.executescript(_UNVERSIONED_JOBS_TABLE)
    legacy.execute(
        "INSERT INTO jobs (name_key, name, arn, api_version, request_json, spec_json, status, secondary_status,"
        " creation_time, last_modified_time) VALUES ('old-job', 'old-job', 'arn:old', 1, '{}', ?, 'Completed',"
        " 'Completed', 1.0, 2.0)",
        (json.dumps(spec.to_dict()),),
    )
    legacy.commit()
    legacy.close()

    store = Store(db_path)
    job = store.jobs.get("OLD-JOB")
    assert job is not None and job.status == "Completed" and job.spec == spec
    assert store.endpoints.get("missing") is None  # the table the old data dir lacked was added
    version = store.database.connection().execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS)
    assert store.database.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_a_data_dir_from_a_newer_version_is_refused_with_the_fix(tmp_path):
    db_path = tmp_path / "automl.sqlite3"
    newer = sqlite3.connect(db_path)
    newer.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    newer.close()
    with pytest.raises(RuntimeError, match="newer than this airflow-automl knows.*--data-dir"):
        Store(db_path)
