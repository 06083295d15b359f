"""What every worker process shares, whatever kind of job it runs: its command line, its start-up,
and how it notices a stop.

The supervisor starts a worker as ``python -m <the kind's worker module>`` with the command line
worker_arguments reads. A worker never outlives the service: on Linux the kernel kills it when the
service dies (PR_SET_PDEATHSIG), and everywhere it exits when its parent process changes. Its
writes carry the run id the supervisor gave it, so a worker whose job has ended writes nothing
(store/runs.py).
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.runs.parentdeath import die_with_parent
from airflow_automl.local.store import RunStore

_PARENT_CHECK_SECONDS = 1.0
_STOP_CHECK_SECONDS = 0.25


def worker_arguments(prog: str, description: str, argv: list[str] | None) -> argparse.Namespace:
    """The command line the supervisor gives every worker."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--job-name", required=True)
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--parent-pid", type=int, required=True)
    parser.add_argument("--engine", required=True)
    parser.add_argument("--file-root", type=Path, action="append", default=[])
    parser.add_argument("--s3-endpoint-url")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--account-id", default="123456789012")
    return parser.parse_args(argv)


def worker_command(module: str, config: ServiceConfig, name: str, run_id: str, parent_pid: int) -> list[str]:
    """The arguments (after the interpreter) that start the worker module for one run: the command
    line worker_arguments reads."""
    command = [
        "-m",
        module,
        "--data-dir",
        str(config.data_dir),
        "--job-name",
        name,
        "--run-id",
        run_id,
        "--parent-pid",
        str(parent_pid),
        "--engine",
        config.engine,
        "--region",
        config.region,
        "--account-id",
        config.account_id,
    ]
    for root in config.file_roots:
        command += ["--file-root", str(root)]
    if config.s3_endpoint_url:
        command += ["--s3-endpoint-url", config.s3_endpoint_url]
    return command


def become_worker(args: argparse.Namespace) -> ServiceConfig:
    """What every worker process does first: die with the service, yield the CPU to the API
    (which must keep answering while jobs run), log, and rebuild the service's settings."""
    die_with_parent(args.parent_pid, _PARENT_CHECK_SECONDS)
    os.nice(10)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return ServiceConfig(
        data_dir=args.data_dir,
        file_roots=tuple(args.file_root),
        s3_endpoint_url=args.s3_endpoint_url,
        region=args.region,
        account_id=args.account_id,
        engine=args.engine,
    )


class StopCheck:
    """Whether the job was asked to stop (it is no longer InProgress), read from the store at most
    every 0.25 s: cheap enough to ask between any two steps."""

    def __init__(self, runs: RunStore, name: str):
        self._runs = runs
        self._name = name
        self._checked_at = 0.0
        self._stop = False

    def __call__(self) -> bool:
        now = time.monotonic()
        if not self._stop and now - self._checked_at >= _STOP_CHECK_SECONDS:
            self._checked_at = now
            self._stop = self._runs.status(self._name) != "InProgress"
        return self._stop
