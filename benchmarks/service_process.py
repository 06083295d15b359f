"""Start `airflow-automl serve` for a benchmark on a free loopback port and wait until it answers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import requests


def start_service(work: Path) -> tuple[subprocess.Popen, str]:
    """The service process and its endpoint URL; data under work/data, file:// allowed under work/files."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (work / "files").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_automl.local.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(work / "data"),
            "--file-root",
            str(work / "files"),
            "--log-level",
            "warning",
        ],
        stdout=open(work / "service.log", "wb"),
        stderr=subprocess.STDOUT,
    )
    endpoint_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(endpoint_url + "/health", timeout=1).status_code == 200:
                return process, endpoint_url
        except requests.ConnectionError:
            time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the service did not start; see {work / 'service.log'}")
