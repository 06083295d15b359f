"""`make stack`: the production topology of docker-compose.yaml, as processes on this machine.

PostgreSQL (Airflow's metadata database and Celery's result backend) and Redis (Celery's broker)
run as child processes in a state directory; so do moto's server as the S3 endpoint with the demo
bucket, the local service requiring SigV4 with the Airflow connection's credentials, and Airflow's
api-server, scheduler, dag-processor, triggerer and two Celery workers, each a process of its own.
The settings that name no host come from stack.env, which docker-compose.yaml reads too; every
port is a free loopback port chosen at start, so several stacks (and other Airflow installations)
can share the machine. Ctrl-C or SIGTERM stops everything this started, and only that.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import psutil

from airflow_automl.local.runs.parentdeath import kill_with_parent
from devtools.processes import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
SETTINGS_FILE = REPO_ROOT / "stack.env"
DAGS_FOLDER = REPO_ROOT / "dags"
DEFAULT_STATE_DIR = REPO_ROOT / ".stack"
REGION_SETTING = "AWS_DEFAULT_REGION"
SYSTEM_PACKAGES = ("postgresql", "redis-server")
STOP_GRACE_SECONDS = 30.0
WORKERS = 2


def read_settings(path: Path = SETTINGS_FILE) -> dict[str, str]:
    """stack.env as compose's env_file reads it: KEY=value lines; a key without "=" is refused."""
    from dotenv import dotenv_values

    if not path.is_file():
        raise FileNotFoundError(f"{path}: the stack's settings file is missing")
    values = dotenv_values(path)
    bare = [key for key, value in values.items() if value is None]
    if bare:
        raise ValueError(f"{path}: {', '.join(bare)}: each line must be KEY=value")
    return {key: value or "" for key, value in values.items()}


@dataclass(frozen=True)
class Ports:
    """Loopback ports of one stack, chosen free at start."""

    postgres: int
    redis: int
    s3: int
    service: int
    api: int
    scheduler_health: int
    triggerer_logs: int
    worker_logs: tuple[int, ...]

    @classmethod
    def choose(cls) -> Ports:
        chosen: set[int] = set()

        def one() -> int:
            while (port := free_port()) in chosen:
                pass
            chosen.add(port)
            return port

        return cls(one(), one(), one(), one(), one(), one(), one(), tuple(one() for _ in range(WORKERS)))


def airflow_environment(settings: Mapping[str, str], ports: Ports, home: Path) -> dict[str, str]:
    """What every Airflow component of the stack runs with: stack.env, plus what compose writes
    with service names, here with loopback ports."""
    user, password, database = settings["POSTGRES_USER"], settings["POSTGRES_PASSWORD"], settings["POSTGRES_DB"]
    postgres = f"{user}:{password}@127.0.0.1:{ports.postgres}/{database}"
    region = settings[REGION_SETTING]
    connection = {
        "conn_type": "aws",
        "login": settings["MINIO_ROOT_USER"],
        "password": settings["MINIO_ROOT_PASSWORD"],
        "extra": {
            "region_name": region,
            "endpoint_url": f"http://127.0.0.1:{ports.service}",
            "service_config": {"s3": {"endpoint_url": f"http://127.0.0.1:{ports.s3}"}},
            "config_kwargs": {"s3": {"addressing_style": "path"}},
        },
    }
    login = settings["_AIRFLOW_WWW_USER_USERNAME"]
    return {
        **settings,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{postgres}",
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{postgres}",
        "AIRFLOW__CELERY__BROKER_URL": f"redis://:@127.0.0.1:{ports.redis}/0",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{ports.api}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(ports.api),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{ports.api}",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_HOST": "127.0.0.1",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(ports.scheduler_health),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports.triggerer_logs),
        # The api-server asks running tasks' logs from this port; each worker serves its own (below).
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports.worker_logs[0]),
        # The official image's FAB auth manager is not in this environment; Airflow's own simple
        # one gives the same login from stack.env.
        "AIRFLOW__CORE__AUTH_MANAGER": "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{login}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
        "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(connection),
        # The retraining DAG writes its verdict as the run's note through the REST API, as this user.
        "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
            {
                "conn_type": "http",
                "host": f"http://127.0.0.1:{ports.api}",
                "login": login,
                "password": settings["_AIRFLOW_WWW_USER_PASSWORD"],
            }
        ),
        # The service's job pages link each job back to its Airflow task.
        "AIRFLOW_AUTOML_AIRFLOW_URL": f"http://127.0.0.1:{ports.api}",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }


def service_environment(settings: Mapping[str, str], ports: Ports) -> dict[str, str]:
    """The local service: it checks signatures with the connection's credentials, and reads and
    writes S3 with the same ones."""
    return {
        "AIRFLOW_AUTOML_ACCESS_KEY_ID": settings["MINIO_ROOT_USER"],
        "AIRFLOW_AUTOML_SECRET_ACCESS_KEY": settings["MINIO_ROOT_PASSWORD"],
        "AWS_ACCESS_KEY_ID": settings["MINIO_ROOT_USER"],
        "AWS_SECRET_ACCESS_KEY": settings["MINIO_ROOT_PASSWORD"],
        "AWS_DEFAULT_REGION": settings[REGION_SETTING],
        "AIRFLOW_AUTOML_AIRFLOW_URL": f"http://127.0.0.1:{ports.api}",
    }


# -- system packages ---------------------------------------------------------------------------


def _postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(Path(p).parts[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("postgres")
    return Path(on_path).resolve().parent if on_path else None


def ensure_system_packages() -> tuple[Path, Path]:
    """PostgreSQL's bin directory and redis-server, installed with apt-get when missing (as CI
    installs Chromium)."""
    if _postgres_bin_dir() is None or shutil.which("redis-server") is None:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            raise RuntimeError(
                f"make stack needs PostgreSQL and Redis: install Debian's {' and '.join(SYSTEM_PACKAGES)} "
                "(apt-get install -y postgresql redis-server), or run it as root on Debian to have it install them"
            )
        print(f"Installing {', '.join(SYSTEM_PACKAGES)} with apt-get ...", flush=True)
        subprocess.run(["apt-get", "update", "-q"], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", *SYSTEM_PACKAGES],
            check=True,
            stdout=subprocess.DEVNULL,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
    bin_dir, redis = _postgres_bin_dir(), shutil.which("redis-server")
    if bin_dir is None or redis is None:
        raise RuntimeError("PostgreSQL or redis-server is still missing after apt-get install")
    return bin_dir, Path(redis)


# -- processes ---------------------------------------------------------------------------------


@dataclass
class Component:
    """One process of the stack in a process group of its own, so that stopping it stops what it
    started (Celery's pool, the service's training workers) and nothing else."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    user: str | None = None  # PostgreSQL refuses to run as root: then it runs as this user
    stop_signal: int = signal.SIGTERM
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                # Another user (PostgreSQL's) may not be able to enter the checkout.
                cwd="/" if self.user else REPO_ROOT,
                user=self.user,
            )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int) -> None:
        if self.running():
            with contextlib.suppress(ProcessLookupError):  # ended between the check and the signal
                os.killpg(self.process.pid, signum)

    def descendants(self) -> list[psutil.Process]:
        """Its processes now, in its group or not (Airflow runs each task in a group of its own)."""
        if not self.running():
            return []
        try:
            return psutil.Process(self.process.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def stop(self, grace: float = STOP_GRACE_SECONDS) -> None:
        """Its stop signal to its process group, SIGKILL after ``grace`` seconds; then whatever it
        started that is still there."""
        if self.process is None:
            return
        started = self.descendants()
        self.signal_group(self.stop_signal)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.signal_group(signal.SIGKILL)
            self.process.wait()
        self._kill(started)

    def kill(self) -> None:
        """SIGKILL to it and everything it started: a crash (of a machine, of a container), nothing
        gets to clean up."""
        if self.process is None:
            return
        started = self.descendants()
        self.signal_group(signal.SIGKILL)
        self._kill(started)
        self.process.wait()

    def _kill(self, processes: list[psutil.Process]) -> None:
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):  # already gone
                process.kill()  # psutil checks it is still the process it saw, not a reused PID
        with contextlib.suppress(ProcessLookupError):  # the group has no process left
            os.killpg(self.process.pid, signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as error:
            return f"(cannot read {self.log_path}: {error})"


def _wait_until(check, what: str, watched: Component | list[Component], timeout: float) -> None:
    """Until ``check()``; a watched component that exits meanwhile is an error naming its log."""
    watched = watched if isinstance(watched, list) else [watched]
    deadline = time.monotonic() + timeout
    while True:
        for component in watched:
            if not component.running():
                code = component.process.returncode if component.process else None
                raise RuntimeError(
                    f"{component.name} exited ({code}) before {what}; "
                    f"its log {component.log_path}:\n{component.log_tail()}"
                )
        if check():
            return
        if time.monotonic() > deadline:
            tails = "".join(f"\n-- {c.name} ({c.log_path}):\n{c.log_tail(15)}" for c in watched)
            raise RuntimeError(f"{what}: not within {timeout:.0f} s{tails}")
        time.sleep(0.5)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return answer.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def closed_to_others(path: Path) -> Path | None:
    """The nearest directory above ``path`` that others may not pass through (no execute bit for
    others), or None when every one lets them."""
    for directory in path.parents:
        if directory.exists() and not directory.stat().st_mode & 0o001:
            return directory
    return None


@dataclass(frozen=True)
class PostgresPlace:
    """Where PostgreSQL keeps its data and its socket, and the directory that moved them, if any."""

    data: Path
    socket_dir: Path
    blocked_by: Path | None = None


def postgres_place(state_dir: Path, run_as_home: Path | None) -> PostgresPlace:
    """In the state dir, unless PostgreSQL runs as another user (``run_as_home`` is that user's home;
    root starts it as postgres) who cannot pass through a directory above the state dir, as under
    root's 0700 home: then in that user's home, one folder per state dir, so that stacks started
    from different checkouts keep databases of their own."""
    if run_as_home is None or (blocked := closed_to_others(state_dir)) is None:
        return PostgresPlace(state_dir / "postgres", state_dir / "run")
    if closed_to_others(run_as_home / "x") is not None or not run_as_home.is_dir():
        raise RuntimeError(
            f"{blocked}: others may not pass through it, so PostgreSQL (running as the postgres user, since it "
            f"refuses to run as root) cannot reach {state_dir}, nor its own home {run_as_home}; "
            "choose a state dir it can reach: make stack STATE_DIR=/some/open/dir"
        )
    # The same state dir finds its database again on the next start.
    base = run_as_home / "airflow-automl-stack" / hashlib.sha256(str(state_dir).encode()).hexdigest()[:12]
    return PostgresPlace(base / "data", base / "run", blocked_by=blocked)


class Stack:
    """The topology's processes, started in dependency order and stopped in reverse."""

    def __init__(
        self,
        state_dir: Path = DEFAULT_STATE_DIR,
        settings: Mapping[str, str] | None = None,
        overrides: Mapping[str, str] | None = None,
        service_engine: str | None = None,
    ):
        self.state_dir = state_dir.resolve()
        self.settings = dict(settings if settings is not None else read_settings())
        self.settings.update(overrides or {})
        self.ports = Ports.choose()
        self.airflow_home = self.state_dir / "airflow"
        self.logs = self.state_dir / "logs"
        self.env = airflow_environment(self.settings, self.ports, self.airflow_home)
        self.service_engine = service_engine
        self.components: dict[str, Component] = {}
        self.postgres_data: Path | None = None
        self.api_url = f"http://127.0.0.1:{self.ports.api}"
        self.service_url = f"http://127.0.0.1:{self.ports.service}"
        self.s3_url = f"http://127.0.0.1:{self.ports.s3}"
        self.login = (self.settings["_AIRFLOW_WWW_USER_USERNAME"], self.settings["_AIRFLOW_WWW_USER_PASSWORD"])

    # The parts, each started by a method of its own so that tests can restart one.

    def _add(
        self,
        name: str,
        command: list[str],
        env: Mapping[str, str],
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> Component:
        component = Component(name, command, dict(env), self.logs / f"{name}.log", user=user, stop_signal=stop_signal)
        self.components[name] = component
        component.start()
        self._record()
        return component

    def _record(self) -> None:
        """The PIDs and ports of what runs, for whoever needs to find them (and stop only them)."""
        record = {
            "stack_pid": os.getpid(),
            "pids": {name: c.pid for name, c in self.components.items() if c.running()},
            "ports": {key: value for key, value in self.ports.__dict__.items()},
            "api_url": self.api_url,
            "service_url": self.service_url,
            "s3_url": self.s3_url,
            "postgres_data": str(self.postgres_data) if self.postgres_data else None,
        }
        (self.state_dir / "stack.json").write_text(json.dumps(record, indent=2))

    def start_postgres(self, bin_dir: Path) -> None:
        run_as = "postgres" if os.geteuid() == 0 else None  # PostgreSQL will not run as root
        owner = pwd.getpwnam(run_as) if run_as else None
        place = postgres_place(self.state_dir, Path(owner.pw_dir) if owner else None)
        data, socket_dir = place.data, place.socket_dir
        if place.blocked_by is not None:
            print(
                f"PostgreSQL's data: {data} ({place.blocked_by} is closed to others, so the postgres user, "
                f"which PostgreSQL runs as since it refuses to run as root, could not reach {self.state_dir})",
                flush=True,
            )
        socket_dir.mkdir(parents=True, exist_ok=True)
        if owner:
            # The postgres user passes through the folders above its own (whatever root's umask made them).
            for directory in (socket_dir.parent, *([socket_dir.parent.parent] if place.blocked_by else [])):
                directory.chmod(directory.stat().st_mode | 0o055)
            os.chown(socket_dir, owner.pw_uid, owner.pw_gid)
        self.postgres_data = data
        user, password, database = (self.settings[k] for k in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"))
        if not (data / "PG_VERSION").exists():
            data.mkdir(parents=True, exist_ok=True)
            password_file = socket_dir / "pgpass.init"
            password_file.write_text(password + "\n")
            if run_as:
                for path in (data, password_file):
                    os.chown(path, owner.pw_uid, owner.pw_gid)
            subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    user,
                    f"--pwfile={password_file}",
                    "--auth-host=scram-sha-256",
                    "--auth-local=peer",
                    "-E",
                    "UTF8",
                ],
                check=True,
                stdout=subprocess.DEVNULL,
                user=run_as,
                cwd="/",
            )
            password_file.unlink()
        # Stopped with SIGINT, PostgreSQL's fast shutdown (SIGTERM would wait for every client to leave).
        self._add(
            "postgres",
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.ports.postgres),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={socket_dir}",
            ],
            {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"},
            user=run_as,
            stop_signal=signal.SIGINT,
        )
        _wait_until(
            lambda: self._create_database(user, password, database),
            "PostgreSQL accepts connections",
            self.components["postgres"],
            60,
        )

    def _create_database(self, user: str, password: str, database: str) -> bool:
        import psycopg2

        try:
            connection = psycopg2.connect(
                host="127.0.0.1",
                port=self.ports.postgres,
                user=user,
                password=password,
                dbname="postgres",
                connect_timeout=3,
            )
        except psycopg2.OperationalError:
            return False  # still starting
        connection.autocommit = True  # CREATE DATABASE cannot run in a transaction
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{database}"')
        finally:
            connection.close()
        return True

    def start_redis(self, redis_server: Path) -> None:
        data = self.state_dir / "redis"
        data.mkdir(exist_ok=True)
        config = self.state_dir / "redis.conf"
        config.write_text(
            "# Celery's broker for this stack only: loopback, a port of its own, state in the stack's directory.\n"
            f"bind 127.0.0.1\nport {self.ports.redis}\nprotected-mode yes\ndir {data}\n"
            'daemonize no\nappendonly yes\nsave ""\n'
        )
        component = self._add("redis", [str(redis_server), str(config)], {"PATH": os.environ.get("PATH", "")})
        _wait_until(lambda: self._redis_ping(), "Redis answers PING", component, 30)

    def _redis_ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host="127.0.0.1", port=self.ports.redis, socket_timeout=2).ping())
        except redis.ConnectionError:
            return False

    def start_s3(self) -> None:
        """moto's server standing in for MinIO, with the demo bucket."""
        component = self._add(
            "s3",
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.ports.s3)],
            {**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        _wait_until(lambda: _http_ok(f"{self.s3_url}/moto-api/"), "moto's server answers", component, 60)
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            region_name=self.settings[REGION_SETTING],
            aws_access_key_id=self.settings["MINIO_ROOT_USER"],
            aws_secret_access_key=self.settings["MINIO_ROOT_PASSWORD"],
        )
        bucket = self.settings["AUTOML_BUCKET"]
        if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=bucket)

    def start_service(self) -> None:
        env = {**os.environ, **service_environment(self.settings, self.ports)}
        if self.service_engine:
            env["AIRFLOW_AUTOML_ENGINE"] = self.service_engine
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        component = self._add(
            "service",
            [
                sys.executable,
                "-m",
                "airflow_automl.local.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports.service),
                "--data-dir",
                str(self.state_dir / "service"),
                "--s3-endpoint-url",
                self.s3_url,
                "--region",
                self.settings[REGION_SETTING],
            ],
            env,
        )
        _wait_until(lambda: _http_ok(f"{self.service_url}/health"), "the local service answers /health", component, 120)

    def migrate_airflow(self) -> None:
        self.airflow_home.mkdir(parents=True, exist_ok=True)
        login, password = self.login
        (self.airflow_home / "passwords.json").write_text(json.dumps({login: password}))
        with open(self.logs / "airflow-db-migrate.log", "ab") as log:
            subprocess.run(
                [sys.executable, "-m", "airflow", "db", "migrate"],
                env=self.env,
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
                timeout=600,
            )

    def airflow_command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def start_api_server(self) -> None:
        component = self._add(
            "api-server",
            self.airflow_command("api-server", "--host", "127.0.0.1", "--port", str(self.ports.api), "--workers", "1"),
            self.env,
        )
        _wait_until(lambda: _http_ok(f"{self.api_url}/api/v2/version"), "the api-server answers", component, 180)

    def start_scheduler(self) -> None:
        component = self._add("scheduler", self.airflow_command("scheduler"), self.env)
        _wait_until(
            lambda: _http_ok(f"http://127.0.0.1:{self.ports.scheduler_health}/health"),
            "the scheduler's health check answers",
            component,
            180,
        )

    def start_dag_processor(self) -> None:
        self._add("dag-processor", self.airflow_command("dag-processor"), self.env)

    def start_triggerer(self) -> None:
        self._add("triggerer", self.airflow_command("triggerer"), self.env)

    def start_worker(self, index: int) -> None:
        env = {**self.env, "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.ports.worker_logs[index - 1])}
        self._add(
            f"worker-{index}", self.airflow_command("celery", "worker", "--celery-hostname", f"worker{index}@%h"), env
        )

    def start(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(exist_ok=True)
        bin_dir, redis_server = ensure_system_packages()
        self.start_postgres(bin_dir)
        self.start_redis(redis_server)
        self.start_s3()
        self.start_service()
        self.migrate_airflow()
        self.start_api_server()
        self.start_scheduler()
        self.start_dag_processor()
        self.start_triggerer()
        for index in range(1, WORKERS + 1):
            self.start_worker(index)
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 180) -> None:
        """The api-server's view: scheduler, dag-processor and triggerer heartbeating; both workers
        answer Celery's ping."""

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=3) as answer:
                    health = json.load(answer)
            except (urllib.error.URLError, ConnectionError, TimeoutError, ValueError):
                return False
            parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            return (
                all(health.get(part, {}).get("status") == "healthy" for part in parts)
                and self.workers_answering() == WORKERS
            )

        _wait_until(healthy, "every component reports healthy", list(self.components.values()), timeout)

    def workers_answering(self) -> int:
        """Celery workers answering a ping through this stack's broker (Airflow itself is not
        imported here: it would read this process's settings, not the stack's)."""
        from celery import Celery

        with Celery(broker=self.env["AIRFLOW__CELERY__BROKER_URL"]) as app:
            return len(app.control.ping(timeout=2) or [])

    def stop(self) -> None:
        """Everything this started: Airflow's components together, then the services they used,
        PostgreSQL last."""
        later = ("service", "s3", "redis", "postgres")
        airflow = [c for name, c in self.components.items() if name not in later]
        for group in (airflow, *([self.components[name]] for name in later if name in self.components)):
            for component in group:
                component.signal_group(component.stop_signal)
            for component in group:
                component.stop()
        self._record()


# Set by Ctrl-C or SIGTERM; the main loop then stops the stack.
def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.stack", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=DEFAULT_STATE_DIR,
        help="PostgreSQL's and Redis's data, the service's jobs, Airflow's home and every log (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    # Started by make, whose SIGTERM does not reach this process: make's end then stops the stack.
    kill_with_parent(signal.SIGTERM)
    started = time.monotonic()
    stack = Stack(args.state_dir)
    try:
        print(f"Starting the stack in {stack.state_dir} (logs in {stack.logs}) ...", flush=True)
        stack.start()
        login, password = stack.login
        print(
            f"\nStack healthy after {time.monotonic() - started:.0f} s.\n"
            f"Airflow UI:     {stack.api_url}  (login {login} / {password})\n"
            f"AutoML service: {stack.service_url}  "
            f"(SigV4 with {stack.settings['MINIO_ROOT_USER']} / {stack.settings['MINIO_ROOT_PASSWORD']})\n"
            f"S3 (moto):      {stack.s3_url}  bucket {stack.settings['AUTOML_BUCKET']}\n"
            f"PostgreSQL 127.0.0.1:{stack.ports.postgres} (data in {stack.postgres_data}), "
            f"Redis 127.0.0.1:{stack.ports.redis}; "
            f"PIDs in {stack.state_dir / 'stack.json'}\n"
            "Trigger automl_retrain in the UI. Ctrl-C stops everything.",
            flush=True,
        )
        while all(component.running() for component in stack.components.values()):
            time.sleep(1)
        dead = [c.name for c in stack.components.values() if not c.running()]
        print(f"{', '.join(dead)} exited; see {stack.logs}. Stopping the rest ...", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the stopping short
        stack.stop()
        print("Stack stopped.", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
