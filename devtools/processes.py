"""Processes that `make demo`, the tests and the benchmarks start: a free loopback port, a process
group stopped as one, and `airflow-automl serve` as a child process (``LocalService``).

Tests and benchmarks import this module from the repository, as the demo does; the wheel does not
ship it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
SERVICE_READY_TIMEOUT = 120.0
SERVICE_STOP_GRACE = 20.0
# What LocalService.client() signs with when the service was started without credentials (any will do).
ANY_CREDENTIALS = "testing"


def free_port() -> int:
    """A loopback port no one listens on now (the system's choice)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether nothing listens on the loopback port. Connections of a process that has just ended
    (TIME_WAIT) do not count: a server binds over them, as the service does."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def stop_process_group(process: subprocess.Popen, grace: float) -> None:
    """SIGTERM to the process's group (it was started in a session of its own), SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class LocalService:
    """`airflow-automl serve` as a child process in a process group of its own, so stopping it stops
    it alone, never its parent; its training workers end with it. restart() keeps its data dir and port.

    ``engine`` (module:function) replaces the training engine, as the tests' scripted one does; the
    repository is on the service's import path for it. The keyword options are the command's own.
    """

    def __init__(
        self,
        data_dir: Path,
        file_root: Path,
        *,
        log_path: Path | None = None,
        port: int | None = None,
        engine: str | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        max_concurrent_jobs: int | None = None,
        max_active_jobs: int | None = None,
        stop_grace_seconds: float | None = None,
        s3_endpoint_url: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        log_level: str | None = None,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ):
        self.data_dir = Path(data_dir)
        self.file_root = Path(file_root)
        self.file_root.mkdir(parents=True, exist_ok=True)
        self.region = region
        self.account_id = account_id
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or self.data_dir.parent / f"{self.data_dir.name}-service.log"
        self._engine = engine
        self._env = dict(env or {})
        self._args = ["--region", region, "--account-id", account_id, *extra_args]
        for flag, value in (
            ("--max-concurrent-jobs", max_concurrent_jobs),
            ("--max-active-jobs", max_active_jobs),
            ("--stop-grace-seconds", stop_grace_seconds),
            ("--s3-endpoint-url", s3_endpoint_url),
            ("--access-key-id", access_key_id),
            ("--secret-access-key", secret_access_key),
            ("--log-level", log_level),
        ):
            if value is not None:
                self._args += [flag, str(value)]
        # Clients sign with the service's own credentials when it has them.
        self.access_key_id = access_key_id or ANY_CREDENTIALS
        self.secret_access_key = secret_access_key or ANY_CREDENTIALS
        self.process: subprocess.Popen | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "airflow_automl.local.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--file-root",
            str(self.file_root),
            *self._args,
        ]

    def start(self) -> None:
        """Start it and wait until GET /health answers 200."""
        # Otherwise another process on the port would answer the health check in our place.
        if not port_is_free(self.port):
            raise RuntimeError(
                f"port {self.port}: already in use on 127.0.0.1; stop what uses it or choose another port"
            )
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_ROOT,
                env=self._environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self._wait_until_ready(self.process)

    def _environment(self) -> dict[str, str]:
        env = {**os.environ, **self._env}
        # Workers import a replaced engine (the tests' scripted one) from this repository.
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        if self._engine:
            env["AIRFLOW_AUTOML_ENGINE"] = self._engine
        else:
            env.pop("AIRFLOW_AUTOML_ENGINE", None)
        return env

    def _wait_until_ready(self, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + SERVICE_READY_TIMEOUT
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(
                    f"the local service exited with code {process.returncode} before it was ready; "
                    f"its log {self.log_path}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass  # not listening yet
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(
            f"the local service did not answer {self.endpoint_url}/health within {SERVICE_READY_TIMEOUT:.0f} s; "
            f"its log {self.log_path}:\n{self.log_tail()}"
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        """Graceful stop (SIGTERM), as a user's Ctrl-C or a container stop; SIGKILL after a grace period."""
        if self.process is None:
            return
        stop_process_group(self.process, SERVICE_STOP_GRACE)
        self.process = None

    def kill(self) -> None:
        """Abrupt death (SIGKILL): nothing in the service gets to clean up."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.process = None

    def restart(self, *, hard: bool = False) -> None:
        if hard:
            self.kill()
        else:
            self.stop()
        self.start()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"

    def client(self, service: str = "sagemaker", **config: Any) -> Any:
        """A boto3 client of the service, signing with its credentials, that does not retry."""
        import boto3
        import botocore.config

        return boto3.client(
            service,
            endpoint_url=self.endpoint_url,
            region_name=self.region,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=botocore.config.Config(retries={"max_attempts": 1}, **config),
        )

    def file_uri(self, relative: str) -> str:
        return (self.file_root / relative).as_uri()

    def wait_for_status(
        self, name: str, statuses: tuple[str, ...] = ("Completed", "Failed", "Stopped"), timeout: float = 120.0
    ) -> dict:
        """The AutoML job's description once its status is one of ``statuses``."""
        client = self.client()
        deadline = time.monotonic() + timeout
        while True:
            job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
            if job["AutoMLJobStatus"] in statuses:
                return job
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"job {name} still {job['AutoMLJobStatus']}/{job['AutoMLJobSecondaryStatus']} after {timeout} s"
                )
            time.sleep(0.2)
