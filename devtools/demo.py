"""`make demo`: the retraining DAG end to end on this machine, with nothing to set up.

Starts the local SageMaker-compatible service on a free loopback port, points Airflow's
``aws_default`` connection at it, gives Airflow a throw-away SQLite home, runs the ``automl_retrain``
DAG with ``dag.test()`` for two consecutive data intervals on generated churn data (``file://``
storage), prints each interval's leaderboard and verdict (champion against challenger on the same
holdout); then sends the endpoint traffic whose monthly charges have risen, runs the drift monitor
(``automl_monitor_drift``) over the hour it was captured in, prints the drift it found, and runs the
retraining the drift asks for (the scheduler would start it on the ``churn_drift`` asset event; the
demo starts it with ``dag.test()``) with its verdict; then the model registry's versions and what
the endpoint serves, and stops everything it started, also on failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import _thread
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType

from cryptography.fernet import Fernet

from devtools.processes import LocalService, stop_process_group

REPO_ROOT = Path(__file__).resolve().parent.parent
DAGS_FOLDER = REPO_ROOT / "dags"
DAG_ID = "automl_retrain"
# The DAG's defaults (params model_package_group and endpoint_name).
MODEL_PACKAGE_GROUP = "churn-models"
ENDPOINT_NAME = "churn-serving"
AIRFLOW_STOP_GRACE = 30.0
UI_USER = "admin"
DRIFT_DAG_ID = "automl_monitor_drift"
DRIFT_ASSET = "churn_drift"
# Captured requests the drift monitor checks in the demo's third step (its min_records is 100).
DRIFT_ROWS = 300
UI_PASSWORD = "admin"


def configure_airflow(home: Path, endpoint_url: str) -> None:
    """Airflow reads its settings on first import: everything is set before that."""
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            # Quiet Airflow's own bookkeeping; keep the tasks', the trigger's and dag.test()'s progress.
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
            "AIRFLOW__LOGGING__NAMESPACE_LEVELS": os.environ.get(
                "AIRFLOW__LOGGING__NAMESPACE_LEVELS",
                # The Amazon provider's operators log whole request configs: kept to warnings.
                "airflow_automl=INFO airflow.task.operators=INFO airflow.sdk.definitions.dag=INFO "
                "airflow.task.operators.airflow.providers.amazon=WARNING "
                "airflow.task.operators.airflow_automl.operators.transform=WARNING",
            ),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # The SageMaker API of this connection is the local service; any credentials do.
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "local-demo-key",
                    "password": "local-demo-secret",
                    "extra": {"region_name": "us-east-1", "endpoint_url": endpoint_url},
                }
            ),
            "AWS_DEFAULT_REGION": "us-east-1",
            # Jobs, transforms and endpoints on this machine take seconds: check them every second.
            "AUTOML_POLL_INTERVAL_SECONDS": os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "1"),
        }
    )
    home.mkdir(parents=True, exist_ok=True)


def migrate_airflow_db() -> None:
    from airflow.utils.db import initdb

    initdb()


def load_dag(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAGS_FOLDER / f"{dag_id}.py"))
    if bag.import_errors:
        raise RuntimeError(f"{dag_id}: cannot load the DAG: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(storage_uri: str, budget_seconds: int, rows: int, logical_date: datetime):
    dag = load_dag(DAG_ID)
    return dag.test(
        logical_date=logical_date,
        run_conf={"storage_uri": storage_uri, "max_runtime_seconds": budget_seconds, "rows": rows},
    )


def sagemaker(endpoint_url: str, service: str = "sagemaker"):
    import boto3

    return boto3.client(
        service,
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local-demo-key",
        aws_secret_access_key="local-demo-secret",
    )


def leaderboard(endpoint_url: str, job_name: str) -> list[dict]:
    candidates: list[dict] = []
    for page in (
        sagemaker(endpoint_url)
        .get_paginator("list_candidates_for_auto_ml_job")
        .paginate(AutoMLJobName=job_name, SortBy="FinalObjectiveMetricValue", SortOrder="Descending")
    ):
        candidates.extend(page["Candidates"])
    return candidates


def task_result(dag_run, task_id: str):
    """What a task of the run returned (its XCom), or None."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_run.dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == task_id,
                XComModel.key == "return_value",
                XComModel.map_index == -1,
            )
        ).first()
        return None if row is None else XComModel.deserialize_value(row)


def print_interval(endpoint_url: str, dag_run, interval: str) -> bool:
    """The job's leaderboard and the verdict of one run; False if the run ended before a verdict."""
    from airflow_automl.sagemaker.metrics import rank_candidates

    best = task_result(dag_run, "check_best_candidate")
    decision = task_result(dag_run, "register_challenger")
    if best is None or decision is None:
        print(f"\nThe run for {interval} ended {dag_run.state} before a verdict.")
        return False
    job_name, metric = best["job_name"], best["objective_metric_name"]
    candidates = leaderboard(endpoint_url, job_name)
    # Best first; among equal scores the job's best candidate leads.
    ranked = rank_candidates(candidates, metric, prefer=best["best_candidate_name"])
    print(f"\n== Data interval {interval}: AutoML job {job_name}")
    print(f"Leaderboard ({metric} on the job's validation data, best first):")
    width = max([len(c["CandidateName"]) for c in candidates] + [9])
    print(f"  {'#':>2}  {'candidate':<{width}}  {metric:>9}  status")
    for rank, candidate in enumerate(ranked, start=1):
        value = candidate.get("FinalAutoMLJobObjectiveMetric", {}).get("Value")
        shown = f"{value:9.4f}" if value is not None else f"{'-':>9}"
        print(f"  {rank:>2}  {candidate['CandidateName']:<{width}}  {shown}  {candidate['CandidateStatus']}")
    champion = decision["champion_metric"]
    print(
        f"Holdout {metric}: challenger {decision['challenger_metric']:.4f}, champion "
        + (f"{champion:.4f}" if champion is not None else "none")
        + f" (margin {decision['margin']:g})"
    )
    verdict = "PROMOTED" if decision["promoted"] else "REJECTED"
    print(
        f"Verdict: {verdict} {decision['model_package_arn'].rsplit('/', 2)[-2]}/"
        f"{decision['model_package_arn'].rsplit('/', 1)[-1]}: {decision['reason']}"
    )
    return True


def print_registry(endpoint_url: str, group: str, endpoint: str) -> None:
    """The group's versions with their approval and holdout metric, and what the endpoint serves."""
    client = sagemaker(endpoint_url)
    print(f"\nModel package group {group}:")
    for page in client.get_paginator("list_model_packages").paginate(ModelPackageGroupName=group):
        for summary in page["ModelPackageSummaryList"]:
            package = client.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
            metrics = {
                k: v for k, v in package.get("CustomerMetadataProperties", {}).items() if k.startswith("holdout_")
            }
            shown = ", ".join(f"{k.removeprefix('holdout_')} {float(v):.4f}" for k, v in metrics.items())
            print(
                f"  version {summary['ModelPackageVersion']}  {summary['ModelApprovalStatus']:<8}  "
                f"holdout {shown}  {package.get('ModelPackageDescription', '')}"
            )
    try:
        described = client.describe_endpoint(EndpointName=endpoint)
    except client.exceptions.ClientError as error:
        print(f"Endpoint {endpoint}: none ({error.response['Error']['Message']})")
        return
    config = client.describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
    model_name = config["ProductionVariants"][0]["ModelName"]
    container = client.describe_model(ModelName=model_name).get("PrimaryContainer", {})
    print(
        f"Endpoint {endpoint} ({described['EndpointStatus']}) serves model {model_name}"
        + (f" = {container['ModelPackageName']}" if container.get("ModelPackageName") else "")
    )


def up(state_dir: Path, service_port: int, airflow_port: int, budget: int) -> int:
    """`make up`: the local service and `airflow standalone` with this project's DAGs, until Ctrl-C.
    State (jobs, models, data, Airflow's database) is kept in ``state_dir`` between runs."""
    storage_root = state_dir / "storage"
    storage_root.mkdir(parents=True, exist_ok=True)
    service = LocalService(state_dir / "service", storage_root, log_path=state_dir / "service.log", port=service_port)
    configure_airflow(state_dir / "airflow", service.endpoint_url)
    configure_standalone(state_dir / "airflow", storage_root, airflow_port, budget)
    airflow: subprocess.Popen | None = None
    try:
        print(f"Starting the local AutoML service ({service.endpoint_url}) ...", flush=True)
        service.start()
        airflow = start_standalone(state_dir / "airflow-standalone.log")
        airflow_url = f"http://127.0.0.1:{airflow_port}"
        _wait_for_http(f"{airflow_url}/api/v2/version", airflow, timeout=300)
        print_addresses(airflow_url, service.endpoint_url, storage_root, budget)
        while airflow.poll() is None and service.running():
            time.sleep(1)
        print("airflow standalone or the service exited; see their logs in " + str(state_dir), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nStopping ...", file=sys.stderr)
        return 0
    finally:
        _stopping.append(True)
        if airflow is not None:
            stop_process_group(airflow, AIRFLOW_STOP_GRACE)
        service.stop()


def configure_standalone(airflow_home: Path, storage_root: Path, airflow_port: int, budget: int) -> None:
    """What `airflow standalone` adds to configure_airflow's settings: its port, the UI's login, a
    Fernet key kept with its database, the DAGs' storage and the training budget."""
    passwords_file = airflow_home / "passwords.json"
    passwords_file.write_text(json.dumps({UI_USER: UI_PASSWORD}))
    # The metadata database outlives this process: keep the key its secrets are encrypted with.
    fernet_file = airflow_home / "fernet.key"
    if not fernet_file.exists():
        fernet_file.write_text(Fernet.generate_key().decode())
        fernet_file.chmod(0o600)
    os.environ.update(
        {
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "AIRFLOW__CORE__FERNET_KEY": fernet_file.read_text().strip(),
            "AIRFLOW__API__PORT": str(airflow_port),
            # Task processes report to the api-server's execution API: on the port chosen here.
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{airflow_port}/execution/",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{UI_USER}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords_file),
            "AIRFLOW_VAR_AUTOML_STORAGE_URI": storage_root.as_uri(),
            # The service's job pages link each job back to the Airflow task that created it.
            "AIRFLOW_AUTOML_AIRFLOW_URL": f"http://127.0.0.1:{airflow_port}",
            "AUTOML_DEFAULT_MAX_RUNTIME_SECONDS": str(budget),
            "AUTOML_POLL_INTERVAL_SECONDS": "10",
            # The retraining DAG writes its verdict as the run's note through the REST API, as this user.
            "AIRFLOW_CONN_AIRFLOW_API": json.dumps(
                {
                    "conn_type": "http",
                    "host": f"http://127.0.0.1:{airflow_port}",
                    "login": UI_USER,
                    "password": UI_PASSWORD,
                }
            ),
            # standalone starts its components as `airflow ...` commands: the venv's.
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    os.environ.pop("AIRFLOW__LOGGING__NAMESPACE_LEVELS", None)


def start_standalone(log_path: Path) -> subprocess.Popen:
    """`airflow standalone` in a session of its own, so that stopping its group stops its components."""
    print(f"Starting airflow standalone (log: {log_path}) ...", flush=True)
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [str(Path(sys.executable).with_name("airflow")), "standalone"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def print_addresses(airflow_url: str, service_url: str, storage_root: Path, budget: int) -> None:
    print(
        f"\nAirflow UI:     {airflow_url}  (login {UI_USER} / {UI_PASSWORD})\n"
        f"DAGs:           automl_retrain (unpause it, or trigger it), automl_deploy_model, automl_deploy_endpoint\n"
        f"AutoML service: {service_url}  (job pages: {service_url}/jobs/<job name>)\n"
        f"Storage:        {storage_root.as_uri()}  (training budget {budget}s per job)\n"
        "Ctrl-C stops both.",
        flush=True,
    )


def _wait_for_http(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with code {process.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers, even if this path wants a login
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(1)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s")


# Set by Ctrl-C or SIGTERM. Airflow catches BaseException in places (a task's execution, DAG parsing), so a
# KeyboardInterrupt raised in the middle of those can be swallowed; the flag still stops the demo afterwards.
_interrupted_by: list[int] = []
# Once the demo stops what it started, a signal is only recorded: a KeyboardInterrupt raised in the middle
# of stopping the service would leave it running and end the demo by the interpreter's default (-SIGINT).
_stopping: list[bool] = []


# Airflow catches BaseException around a task's execution too, and the DAG run goes on (training, scoring:
# minutes): once a signal has come, it is sent again at this interval until the demo is stopping.
_REPEAT_INTERRUPT_SECONDS = 1.0


def _raise_keyboard_interrupt(signum: int, frame: FrameType | None) -> None:
    if not _interrupted_by:
        threading.Thread(target=_interrupt_again, args=(signum, _stopping), daemon=True).start()
    _interrupted_by.append(signum)
    if not _stopping:
        raise KeyboardInterrupt(f"signal {signum}")


def _interrupt_again(signum: int, stopping: list[bool]) -> None:
    """Sends the signal again every interval until ``stopping`` (the list the demo sets once it stops what
    it started), so a KeyboardInterrupt a task swallowed is raised again where it ends the DAG run."""
    while True:
        time.sleep(_REPEAT_INTERRUPT_SECONDS)
        if stopping:
            return
        _thread.interrupt_main(signum)


def interrupted_exit_code(code: int) -> int:
    """130 (the shell's code for Ctrl-C) once a signal was handled, wherever it landed; else ``code``."""
    return 130 if _interrupted_by else code


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m devtools.demo", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--budget", type=int, default=60, help="training budget of the AutoML job, seconds (default: %(default)s)"
    )
    parser.add_argument("--rows", type=int, default=3000, help="customers in the training data (default: %(default)s)")
    parser.add_argument(
        "--work-dir",
        type=Path,
        help="keep the service data, storage and Airflow home here (default: a temp dir, removed at the end)",
    )
    parser.add_argument(
        "--up", action="store_true", help="instead: run the service and `airflow standalone` until Ctrl-C (make up)"
    )
    parser.add_argument("--service-port", type=int, default=8787, help="with --up (default: %(default)s)")
    parser.add_argument("--airflow-port", type=int, default=8080, help="with --up (default: %(default)s)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    # Airflow's in-process API client imports starlette's test client, which warns about httpx.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    args = parse_args(argv)
    # SIGTERM (e.g. from a CI timeout) takes the same way out as Ctrl-C: through the finally blocks.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    signal.signal(signal.SIGINT, _raise_keyboard_interrupt)
    try:
        if args.up:
            state_dir = (args.work_dir or REPO_ROOT / ".automl").resolve()
            return up(state_dir, args.service_port, args.airflow_port, args.budget)
        code = run_demo(args.work_dir, args.budget, args.rows)
    except KeyboardInterrupt:
        # Landed where neither could take it (run_demo preparing its work dir, say): still Ctrl-C's 130,
        # not the interpreter's default (killed by SIGINT).
        _stopping.append(True)
        code = 130
    return interrupted_exit_code(code)


def run_demo(kept_dir: Path | None, budget: int, rows: int) -> int:
    """`make demo`: two data intervals of the retraining DAG, their leaderboards and verdicts, then
    the registry and the endpoint. Files go to ``kept_dir``, or to a temp dir removed on success."""
    started = time.monotonic()
    work_dir = kept_dir.resolve() if kept_dir else Path(tempfile.mkdtemp(prefix="airflow-automl-demo-"))
    storage_root = work_dir / "storage"
    storage_root.mkdir(parents=True, exist_ok=True)
    service = LocalService(work_dir / "service", storage_root, log_path=work_dir / "service.log")
    succeeded = False
    try:
        print(f"Starting the local AutoML service ({service.endpoint_url}) ...", flush=True)
        service.start()
        configure_airflow(work_dir / "airflow", service.endpoint_url)
        print("Preparing Airflow (SQLite metadata database) ...", flush=True)
        migrate_airflow_db()
        states, reported = run_intervals(service.endpoint_url, storage_root, budget, rows)
        if reported:
            print_registry(service.endpoint_url, MODEL_PACKAGE_GROUP, ENDPOINT_NAME)
        print(f"\nDAG runs {', '.join(states)}; the whole demo took {time.monotonic() - started:.0f}s.")
        print("`make up` runs the same DAG with the Airflow UI and the service's job pages.")
        if not reported or any(state != "success" for state in states):
            print(f"Service log: {service.log_path}\n{service.log_tail(30)}", file=sys.stderr)
            return 1
        succeeded = True
        if kept_dir is None:
            print("The demo's files are removed now; `--work-dir DIR` keeps the data, models and records.")
        return 0
    except KeyboardInterrupt:
        print("\nInterrupted: stopping what the demo started ...", file=sys.stderr)
        return 130
    finally:
        _stopping.append(True)
        service.stop()
        if _interrupted_by and succeeded:
            print("\nInterrupted while the demo stopped; what it started is stopped.", file=sys.stderr)
        if kept_dir is None and succeeded:
            shutil.rmtree(work_dir)
        elif not succeeded:
            print(f"Kept {work_dir} (service log, storage, Airflow home) for a look.", file=sys.stderr)


def run_intervals(endpoint_url: str, storage_root: Path, budget: int, rows: int) -> tuple[list[str], bool]:
    """The DAG on two consecutive days, each interval printed: the first run has no champion, the
    second meets the first's model. The runs' states, and whether both reached a verdict."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    states, reported = [], True
    for logical_date in (today - timedelta(days=2), today - timedelta(days=1)):
        interval = f"{logical_date - timedelta(days=1):%Y-%m-%d} .. {logical_date:%Y-%m-%d}"
        print(
            f"\nRunning DAG {DAG_ID} for the data interval {interval} with a {budget}s training budget "
            f"on {rows} customers ...",
            flush=True,
        )
        dag_run = run_dag(f"file://{storage_root}", budget, rows, logical_date)
        if _interrupted_by:
            raise KeyboardInterrupt(f"signal {_interrupted_by[0]} during the DAG run")
        states.append(str(getattr(dag_run, "state", "unknown")))
        reported = print_interval(endpoint_url, dag_run, interval) and reported
    if reported:
        drift_state, drifted = run_drift_check(endpoint_url, storage_root)
        states.append(drift_state)
        if drifted:
            interval = f"{today - timedelta(days=1):%Y-%m-%d} .. {today:%Y-%m-%d}"
            print(f"\nRunning DAG {DAG_ID} on the drift (asset {DRIFT_ASSET}) for {interval} ...", flush=True)
            dag_run = run_dag(f"file://{storage_root}", budget, rows, today)
            states.append(str(getattr(dag_run, "state", "unknown")))
            reported = print_interval(endpoint_url, dag_run, f"{interval} (retraining on drift)") and reported
    return states, reported


def send_shifted_traffic(endpoint_url: str, rows: int) -> datetime:
    """Customers whose monthly charges rose by 40 %, sent to the endpoint 10 a request, all within one
    hour (sent again if the hour turned meanwhile); returns that hour."""
    from airflow_automl.examples.datasets import customer_churn

    traffic = customer_churn(rows, seed=2026).drop(columns=["customer_id", "churned"])
    traffic["monthly_charges"] = (traffic["monthly_charges"] * 1.4).round(2)
    lines = traffic.to_csv(index=False, header=False).splitlines()
    runtime = sagemaker(endpoint_url, "sagemaker-runtime")
    while True:
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for start in range(0, len(lines), 10):
            body = "\n".join(lines[start : start + 10]) + "\n"
            runtime.invoke_endpoint(EndpointName=ENDPOINT_NAME, ContentType="text/csv", Body=body.encode())
        if datetime.now(UTC).replace(minute=0, second=0, microsecond=0) == hour:
            return hour


def captured_requests(storage_root: Path, hour: datetime) -> int:
    folder = storage_root / "datacapture" / ENDPOINT_NAME / "AllTraffic" / hour.strftime("%Y/%m/%d/%H")
    return sum(len(path.read_text().splitlines()) for path in folder.glob("*.jsonl"))


def run_drift_check(endpoint_url: str, storage_root: Path) -> tuple[str, bool]:
    """Shifted traffic to the endpoint, then the drift monitor over its hour: (run state, drift?)."""
    requests = -(-DRIFT_ROWS // 10)
    print(f"\nSending {DRIFT_ROWS} customers whose monthly charges rose by 40 % to {ENDPOINT_NAME} ...", flush=True)
    hour = send_shifted_traffic(endpoint_url, DRIFT_ROWS)
    deadline = time.monotonic() + 60
    while captured_requests(storage_root, hour) < requests and time.monotonic() < deadline:
        time.sleep(0.5)  # data capture writes its buffer every few seconds
    print(f"Running DAG {DRIFT_DAG_ID} over the hour {hour:%Y-%m-%d %H}:00 of captured traffic ...", flush=True)
    # A run's data interval is the hour before its logical date: the hour the traffic was captured in.
    after = hour + timedelta(hours=1)
    dag_run = load_dag(DRIFT_DAG_ID).test(
        logical_date=after, run_after=after, run_conf={"storage_uri": f"file://{storage_root}"}
    )
    state = str(getattr(dag_run, "state", "unknown"))
    summary = task_result(dag_run, "check_drift")
    if summary is None:
        print(f"\n== Drift check: the run ended {state} without a result.")
        return state, False
    print(f"\n== Drift check of {summary['record_count']} captured requests against the champion's training data")
    for feature in summary["features"]:
        if feature["distance"] is not None:
            flag = "DRIFT" if feature["drifted"] else "ok"
            threshold = f"(threshold {feature['threshold']:g})"
            print(f"  {feature['name']:<18} distance {feature['distance']:.4f} {threshold}  {flag}")
    drifted = summary["drifted_features"]
    print(f"Drift: {', '.join(drifted) if drifted else 'none'}; report {summary['links']['report']}")
    return state, bool(drifted)


if __name__ == "__main__":
    sys.exit(main())
