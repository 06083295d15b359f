"""One service per data dir: a second one would fail the first one's running jobs."""

from __future__ import annotations

import fcntl
from typing import IO

from airflow_automl.local.config import ServiceConfig


class DataDirLock:
    """An exclusive lock on ``<data dir>/service.lock``, held while the service runs."""

    def __init__(self, config: ServiceConfig):
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = config.data_dir / "service.lock"
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        # Held open while the service runs: the lock lasts as long as the open file.
        handle = open(self.path, "a+")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            handle.close()
            raise RuntimeError(
                f"--data-dir {self.path.parent}: another local service is already using it; "
                "stop it or choose another data dir"
            ) from error
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
