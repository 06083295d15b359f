"""`make stack` against `dag.test()`: how long the stack takes to become healthy (cold: a new state
directory, so initdb and Airflow's migrations; warm: started again on it), how long it takes to
stop, and automl_retrain's run time on it against the same DAG under dag.test() (as `make demo`
runs it) with the same training budget, rows and poll interval.

    nice -n 10 .venv/bin/python benchmarks/stack_vs_dag_test.py [--budget 60] [--rows 3000] [--poll-interval 15]

The stack run is triggered through Airflow's REST API with s3:// storage (moto); its run time is
the DAG run's start to end as Airflow records them. dag.test() runs in a child process on SQLite
with file:// storage and its own local service, timed around dag.test() alone. Both really train
(AutoGluon, ENSEMBLING) with the given budget.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
DAG_ID = "automl_retrain"


def _seconds(start: str, end: str) -> float:
    return (
        datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
    ).total_seconds()


def measure_stack(budget: int, rows: int, poll_interval: float) -> dict[str, float]:
    from devtools.stack import Stack

    state_dir = Path(tempfile.mkdtemp(prefix="airflow-automl-stack-bench-"))
    figures: dict[str, float] = {}
    overrides = {"AUTOML_POLL_INTERVAL_SECONDS": str(poll_interval)}
    try:
        stack = Stack(state_dir, overrides=overrides)
        started = time.monotonic()
        try:
            stack.start()
            figures["cold start to healthy, s"] = time.monotonic() - started
            figures.update(_run_on_stack(stack, budget, rows))
        finally:
            stopping = time.monotonic()
            stack.stop()
            figures["stop, s"] = time.monotonic() - stopping
        stack = Stack(state_dir, overrides=overrides)
        started = time.monotonic()
        try:
            stack.start()
            figures["warm start to healthy, s"] = time.monotonic() - started
        finally:
            stack.stop()
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    return figures


def _run_on_stack(stack, budget: int, rows: int) -> dict[str, float]:
    api = stack.api_url
    token = requests.post(
        f"{api}/auth/token", json=dict(zip(("username", "password"), stack.login, strict=True)), timeout=30
    ).json()["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    deadline = time.monotonic() + 120
    while not (answer := session.get(f"{api}/api/v2/dags/{DAG_ID}", timeout=30)).ok:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{DAG_ID} was not parsed within 120 s: {answer.status_code} {answer.text[:300]}")
        time.sleep(1)
    conf = {"storage_uri": f"s3://{stack.settings['AUTOML_BUCKET']}/bench", "max_runtime_seconds": budget, "rows": rows}
    # The interval unpausing would schedule, so that no scheduled run starts besides this one.
    body = {"logical_date": answer.json()["next_dagrun_logical_date"], "conf": conf}
    triggered = time.monotonic()
    run_id = session.post(f"{api}/api/v2/dags/{DAG_ID}/dagRuns", json=body, timeout=30).json()["dag_run_id"]
    session.patch(f"{api}/api/v2/dags/{DAG_ID}", json={"is_paused": False}, timeout=30).raise_for_status()
    while (run := session.get(f"{api}/api/v2/dags/{DAG_ID}/dagRuns/{run_id}", timeout=30).json())["state"] not in (
        "success",
        "failed",
    ):
        if time.monotonic() - triggered > budget * 3 + 600:
            raise RuntimeError(f"run {run_id} still {run['state']}")
        time.sleep(2)
    if run["state"] != "success":
        raise RuntimeError(f"run {run_id} failed; logs in {stack.logs}")
    return {
        "stack: trigger to success (REST), s": time.monotonic() - triggered,
        "stack: DAG run start to end, s": _seconds(run["start_date"], run["end_date"]),
    }


def measure_dag_test(budget: int, rows: int, poll_interval: float) -> dict[str, float]:
    """In this (child) process: the local service, a SQLite Airflow home, and dag.test() timed alone."""
    from devtools import demo
    from devtools.processes import LocalService

    work_dir = Path(tempfile.mkdtemp(prefix="airflow-automl-dagtest-bench-"))
    storage_root = work_dir / "storage"
    storage_root.mkdir()
    service = LocalService(work_dir / "service", storage_root, log_path=work_dir / "service.log")
    try:
        service.start()
        demo.configure_airflow(work_dir / "airflow", service.endpoint_url)
        os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = str(poll_interval)
        demo.migrate_airflow_db()
        logical_date = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
        started = time.monotonic()
        dag_run = demo.run_dag(storage_root.as_uri(), budget, rows, logical_date)
        elapsed = time.monotonic() - started
        if str(dag_run.state) != "success":
            raise RuntimeError(f"dag.test() run ended {dag_run.state}; service log {service.log_path}")
        return {"dag.test(): run, s": elapsed}
    finally:
        service.stop()
        shutil.rmtree(work_dir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=int, default=60, help="training budget of the AutoML job, seconds (default: %(default)s)"
    )
    parser.add_argument("--rows", type=int, default=3000, help="customers in the training data (default: %(default)s)")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=15.0,
        help="seconds between the trigger's looks, on both (default: stack.env's %(default)s)",
    )
    parser.add_argument("--dag-test-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.dag_test_child:
        print(json.dumps(measure_dag_test(args.budget, args.rows, args.poll_interval)))
        return 0
    print(f"budget {args.budget} s, {args.rows} rows, poll interval {args.poll_interval:g} s", flush=True)
    figures = measure_stack(args.budget, args.rows, args.poll_interval)
    for name, value in figures.items():
        print(f"  {name:<40} {value:7.1f}", flush=True)
    child = subprocess.run(
        [
            sys.executable,
            __file__,
            "--dag-test-child",
            "--budget",
            str(args.budget),
            "--rows",
            str(args.rows),
            "--poll-interval",
            str(args.poll_interval),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
    )
    for name, value in json.loads(child.stdout.strip().splitlines()[-1]).items():
        print(f"  {name:<40} {value:7.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
