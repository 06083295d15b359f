"""The service's SQLite database: one file under the data dir, its connections and its schema.

WAL mode, so readers (the API) never wait for the writer (a training worker). Every thread and
every process opens its own connection. The schema is a list of migrations applied in order
and counted in ``PRAGMA user_version``; a data dir written by an older version opens and is
brought up to date. A new table or column is a new migration at the end of the list.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from airflow_automl.local.store.paging import PageTokens

# Each entry brings the schema from version i to i + 1; never edit one that has shipped.
# The first one is written with IF NOT EXISTS because data dirs made before the schema was
# versioned (user_version 0) already hold its tables.
MIGRATIONS = (
    """
    CREATE TABLE IF NOT EXISTS jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
        name TEXT NOT NULL,
        arn TEXT NOT NULL UNIQUE,
        api_version INTEGER NOT NULL,             -- 1: CreateAutoMLJob, 2: CreateAutoMLJobV2
        request_json TEXT NOT NULL,               -- the create request as received
        spec_json TEXT NOT NULL,                  -- JobSpec.to_dict()
        status TEXT NOT NULL,
        secondary_status TEXT NOT NULL,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL,
        end_time REAL,
        failure_reason TEXT,
        partial_failure_reasons_json TEXT,
        best_candidate_name TEXT,
        artifacts_json TEXT,
        resolved_attributes_json TEXT,
        deploy_result_json TEXT,
        run_id TEXT,                              -- set when a worker starts; fences the worker's writes
        worker_pid INTEGER,
        started_time REAL,
        stop_requested_time REAL
    );
    CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status, seq);
    CREATE INDEX IF NOT EXISTS jobs_by_creation ON jobs (creation_time, seq);
    CREATE TABLE IF NOT EXISTS candidates (
        job_name_key TEXT NOT NULL REFERENCES jobs (name_key),
        seq INTEGER NOT NULL,
        name TEXT NOT NULL,
        status TEXT NOT NULL,
        metric_value REAL,
        creation_time REAL NOT NULL,
        end_time REAL,
        last_modified_time REAL NOT NULL,
        candidate_json TEXT NOT NULL,
        PRIMARY KEY (job_name_key, name)
    );
    CREATE TABLE IF NOT EXISTS tags (
        arn TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        seq INTEGER NOT NULL,
        PRIMARY KEY (arn, key)
    );
    CREATE TABLE IF NOT EXISTS endpoints (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        job_name TEXT NOT NULL,                   -- the AutoML job whose best model it serves
        candidate_name TEXT NOT NULL,
        status TEXT NOT NULL,                     -- Creating | InService | Failed
        failure_reason TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    """,
    """
    CREATE TABLE IF NOT EXISTS secrets (
        name TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    """,
    # Models, endpoint configs, and endpoints that serve an endpoint config (UpdateEndpoint).
    """
    CREATE TABLE models (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateModel request as received
        job_name TEXT NOT NULL,                   -- the AutoML job whose kept model it serves
        candidate_name TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'Created',   -- models have no status; paging's filters need one
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    CREATE TABLE endpoint_configs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateEndpointConfig request as received
        status TEXT NOT NULL DEFAULT 'Created',
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    ALTER TABLE endpoints ADD COLUMN endpoint_config_name TEXT;  -- the config it serves (NULL: made before configs)
    ALTER TABLE endpoints ADD COLUMN pending_config_name TEXT;   -- the config an update is loading
    -- What the endpoint serves: its config's variants with their models resolved (JSON), so that
    -- deleting a model or config in use leaves the endpoint serving, as on SageMaker.
    ALTER TABLE endpoints ADD COLUMN variants_json TEXT;
    ALTER TABLE endpoints ADD COLUMN pending_variants_json TEXT;
    """,
    # Batch transform jobs (CreateTransformJob), run by worker processes as AutoML jobs are.
    """
    CREATE TABLE transform_jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,            -- lowercased name: names are unique case-insensitively
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateTransformJob request as received
        model_job_name TEXT NOT NULL,             -- the AutoML job whose kept model the job's model serves
        status TEXT NOT NULL,                     -- InProgress | Completed | Failed | Stopping | Stopped
        failure_reason TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL,
        start_time REAL,                          -- TransformStartTime: when a worker took it
        end_time REAL,
        run_id TEXT,                              -- set when a worker starts; fences the worker's writes
        worker_pid INTEGER,
        stop_requested_time REAL
    );
    CREATE INDEX transform_jobs_by_status ON transform_jobs (status, seq);
    CREATE INDEX transform_jobs_by_creation ON transform_jobs (creation_time, seq);
    """,
    # The model registry: model package groups and the (versioned or unversioned) packages.
    """
    CREATE TABLE model_package_groups (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        name_key TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateModelPackageGroup request as received
        status TEXT NOT NULL DEFAULT 'Completed',
        next_version INTEGER NOT NULL DEFAULT 1,  -- versions are never given twice, even after a delete
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    CREATE TABLE model_packages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,                 -- lowercased 'group/version', or the unversioned name
        name_key TEXT NOT NULL,                   -- lowercased ModelPackageName (a version's: its group's)
        name TEXT NOT NULL,
        group_name_key TEXT,
        group_name TEXT,
        version INTEGER,
        arn TEXT NOT NULL,
        request_json TEXT NOT NULL,               -- the CreateModelPackage request as received
        status TEXT NOT NULL DEFAULT 'Completed',
        approval_status TEXT,
        approval_description TEXT,
        customer_metadata_json TEXT,
        client_token TEXT,
        creation_time REAL NOT NULL,
        last_modified_time REAL NOT NULL
    );
    CREATE INDEX model_packages_by_group ON model_packages (group_name_key, version);
    CREATE INDEX model_packages_by_client_token ON model_packages (client_token);
    """,
)


def _statements(script: str) -> Iterator[str]:
    """A script's statements one by one (sqlite3's execute() runs one; executescript() would
    commit the migration's transaction before running)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement
            statement = ""
    if statement.strip():
        raise ValueError(f"migration ends with an incomplete statement: {statement.strip()[:80]!r}")


class Database:
    """Per-thread connections to the database file, write transactions, and its migrations."""

    def __init__(self, db_path: Path):
        self.db_path = Path(db_path)
        self._local = threading.local()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        connection = self.connection()
        connection.execute("PRAGMA journal_mode=WAL")
        self._migrate()
        self.page_tokens = PageTokens(self._secret("page_token_key"))

    def connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # Autocommit mode: transactions are opened explicitly by write().
            connection = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None)
            connection.row_factory = sqlite3.Row
            connection.execute("PRAGMA busy_timeout=30000")
            # NORMAL is durable across process crashes in WAL mode; only power loss can drop
            # the last transactions.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            self._local.connection = connection
        return connection

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; it takes the write lock at once, so a read inside it sees
        what the write will be checked against."""
        connection = self.connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")

    def _migrate(self) -> None:
        # Inside the write lock: the service and its workers may open the file at once.
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"{self.db_path}: schema version {version} is newer than this airflow-automl "
                    f"knows ({len(MIGRATIONS)}); upgrade airflow-automl or use another --data-dir"
                )
            for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target}")

    def _secret(self, name: str) -> bytes:
        """A random key kept in the database, made on first use: the same for every process
        of this data dir, and across restarts."""
        with self.write() as db:
            db.execute("INSERT OR IGNORE INTO secrets (name, value) VALUES (?, ?)", (name, secrets.token_bytes(32)))
            return db.execute("SELECT value FROM secrets WHERE name = ?", (name,)).fetchone()[0]

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None

    def integrity_check(self) -> str:
        return self.connection().execute("PRAGMA integrity_check").fetchone()[0]
