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

from airflow_automl.local.store.migrations import MIGRATIONS
from airflow_automl.local.store.page_tokens import PageTokens


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
