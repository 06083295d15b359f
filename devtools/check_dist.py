"""`make test-dist`: the sdist and wheel in dist/ work for someone who has only them.

From the repository's environment it checks what the artifacts hold (the sdist what a build needs, the
wheel the templates and stylesheet the pages render with, the metadata a package index shows), installs
the wheel with the ``local`` extra into a new venv (versions constrained by requirements.lock, no
editable install), and runs this file again with that venv's Python from a temporary directory outside
the repository (``--installed``). There, importing nothing from the checkout, it checks that Airflow
finds the provider and the UI plugin by their entry points, starts ``airflow-automl serve`` on a free
loopback port, and runs a DAG that trains (a tiny real AutoGluon job) and gates on the result with
``dag.test()``. It exits non-zero, saying what is wrong, on the first failed check.

The installed half runs under the wheel's own dependencies: it imports only the standard library at
module level, and nothing from devtools/ or tests/.
"""

from __future__ import annotations

import argparse
import email.parser
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
import urllib.error
import urllib.request
import zipfile
from contextlib import closing
from pathlib import Path

DISTRIBUTION = "airflow-automl"
PACKAGE = "airflow_automl"
# What pages and reports render with: missing from a wheel, they fail only when a page is opened.
PACKAGE_DATA = [
    "presentation/templates/base.html",
    "presentation/templates/macros.html",
    "presentation/templates/report.html",
    "presentation/static/style.css",
    "ui/templates/jobs.html",
    "ui/templates/task.html",
    "ui/templates/history.html",
    "ui/templates/error.html",
    "ui/templates/drift.html",
    "local/templates/index.html",
    "local/templates/job.html",
    "local/templates/listing.html",
]
# What building the wheel from the sdist needs beside the package's modules.
SDIST_BUILD_FILES = ["pyproject.toml", "README.md", "LICENSE", "PKG-INFO"]
REQUIRED_CLASSIFIERS = [
    "Framework :: Apache Airflow",
    "Framework :: Apache Airflow :: Provider",
    "Programming Language :: Python :: 3.11",
    "Programming Language :: Python :: 3.12",
]
UI_VIEWS = {"AutoML job": "task_instance", "AutoML history": "dag", "AutoML jobs": "nav"}
SERVICE_READY_TIMEOUT = 180.0
# Generous: a tiny job on a loaded 2-core machine; the DAG's own timeout ends the run first.
DAG_RUN_TIMEOUT_SECONDS = 900


class CheckFailed(Exception):
    """A check that did not hold; the message says which and what was found."""


def require(condition: object, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


# -- the artifacts, read from the repository's environment -------------------------------------


def the_one(dist_dir: Path, pattern: str) -> Path:
    found = sorted(dist_dir.glob(pattern))
    require(len(found) == 1, f"{dist_dir}: expected one {pattern}, found {[p.name for p in found]}; run `make dist`")
    return found[0]


def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as archive:
        # Paths inside are <name>-<version>/...
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = [name for name in SDIST_BUILD_FILES if name not in names]
    missing += [f"{PACKAGE}/{name}" for name in PACKAGE_DATA if f"{PACKAGE}/{name}" not in names]
    require(not missing, f"{sdist.name}: a build from it needs {missing}, which it lacks")
    require(f"{PACKAGE}/local/cli.py" in names, f"{sdist.name}: lacks the package's modules ({PACKAGE}/local/cli.py)")
    require("CHANGELOG.md" in names, f"{sdist.name}: lacks CHANGELOG.md (MANIFEST.in)")
    # The suite runs only in the repository; a few of its files would be a broken half (MANIFEST.in).
    stray = sorted(name for name in names if name.startswith(("tests/", "devtools/", "dags/", "benchmarks/")))
    require(not stray, f"{sdist.name}: ships repository-only files {stray[:5]} (MANIFEST.in prunes them)")


def check_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        (metadata_path,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = email.parser.Parser().parsestr(archive.read(metadata_path).decode())
        (entry_points_path,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        entry_points = archive.read(entry_points_path).decode()
    missing = [f"{PACKAGE}/{name}" for name in PACKAGE_DATA if f"{PACKAGE}/{name}" not in names]
    require(not missing, f"{wheel.name}: lacks package data {missing} (pyproject.toml [tool.setuptools.package-data])")
    require(
        not any(name.startswith(("tests/", "devtools/", "dags/", "benchmarks/")) for name in names),
        f"{wheel.name}: ships the repository's tests, devtools, dags or benchmarks",
    )
    require(metadata["Name"] == DISTRIBUTION, f"{wheel.name}: Name is {metadata['Name']!r}, not {DISTRIBUTION!r}")
    classifiers = metadata.get_all("Classifier") or []
    absent = [c for c in REQUIRED_CLASSIFIERS if c not in classifiers]
    require(not absent, f"{wheel.name}: METADATA lacks the classifiers {absent}")
    require(
        metadata["License-Expression"] == "Apache-2.0",
        f"{wheel.name}: License-Expression is {metadata['License-Expression']!r}, not 'Apache-2.0'",
    )
    license_files = metadata.get_all("License-File") or []
    require(
        "LICENSE" in license_files and any(name.endswith(".dist-info/licenses/LICENSE") for name in names),
        f"{wheel.name}: the LICENSE file is not shipped (License-File: {license_files})",
    )
    require(
        metadata["Requires-Python"] == "<3.13,>=3.11",
        f"{wheel.name}: Requires-Python is {metadata['Requires-Python']!r}",
    )
    require(
        metadata["Description-Content-Type"] == "text/markdown" and len(metadata.get_payload()) > 200,
        f"{wheel.name}: the long description is missing or not marked as Markdown",
    )
    for group, value in (
        ("apache_airflow_provider", "airflow_automl.get_provider_info:get_provider_info"),
        ("airflow.plugins", "airflow_automl.ui.plugin:AutoMLUIPlugin"),
        ("console_scripts", "airflow_automl.local.cli:main"),
    ):
        require(
            f"[{group}]" in entry_points and value in entry_points,
            f"{wheel.name}: entry point group {group} does not name {value}",
        )


def install_into_clean_venv(wheel: Path, venv: Path, uv: str, lock: Path) -> Path:
    """The wheel with its local extra, every version pinned by the lock; the checkout is not on any path."""
    subprocess.run([uv, "venv", "-q", str(venv), "--python", "python3"], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "-q", "--python", str(python), f"{wheel.resolve()}[local]", "-c", str(lock)],
        check=True,
    )
    return python


def run_installed_checks(python: Path, workdir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "AIRFLOW_HOME", "VIRTUAL_ENV")}
    # A copy of this file, so that not even the script's own folder (sys.path[0]) is in the checkout.
    script = workdir / Path(__file__).name
    shutil.copyfile(__file__, script)
    subprocess.run([str(python), str(script), "--installed"], cwd=workdir, env=env, check=True)


def check_artifacts_and_install(dist_dir: Path, uv: str, lock: Path) -> None:
    sdist, wheel = the_one(dist_dir, "*.tar.gz"), the_one(dist_dir, "*.whl")
    check_sdist(sdist)
    check_wheel(wheel)
    print(f"check_dist: {sdist.name} and {wheel.name} hold what they should", flush=True)
    with tempfile.TemporaryDirectory(prefix="airflow-automl-dist-") as temp:
        python = install_into_clean_venv(wheel, Path(temp) / "venv", uv, lock)
        workdir = Path(temp) / "work"
        workdir.mkdir()
        run_installed_checks(python, workdir)


# -- the installed wheel, from its own venv outside the repository ---------------------------


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def configure_airflow(home: Path) -> None:
    """Before Airflow is first imported: it reads its settings then."""
    os.environ.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    )


def check_imported_from_the_wheel() -> None:
    import airflow_automl

    location = Path(airflow_automl.__file__).resolve()
    require(
        Path(sys.prefix).resolve() in location.parents,
        f"airflow_automl was imported from {location}, not from the venv {sys.prefix}",
    )


def check_provider_and_plugin_registered() -> None:
    from importlib.metadata import entry_points, version

    from airflow.providers_manager import ProvidersManager

    (provider_ep,) = [ep for ep in entry_points(group="apache_airflow_provider") if ep.value.startswith(PACKAGE)]
    info = provider_ep.load()()
    require(info["package-name"] == DISTRIBUTION, f"get_provider_info(): package-name is {info['package-name']!r}")
    require(
        version(DISTRIBUTION) in info["versions"],
        f"get_provider_info(): versions {info['versions']} lack the installed {version(DISTRIBUTION)}",
    )
    providers = ProvidersManager().providers
    require(DISTRIBUTION in providers, f"Airflow's ProvidersManager does not list {DISTRIBUTION}: {sorted(providers)}")

    (plugin_ep,) = [ep for ep in entry_points(group="airflow.plugins") if ep.value.startswith(PACKAGE)]
    plugin = plugin_ep.load()
    views = {view["name"]: view["destination"] for view in plugin.external_views}
    require(views == UI_VIEWS, f"the UI plugin's views are {views}, not {UI_VIEWS}")
    require(
        [app["url_prefix"] for app in plugin.fastapi_apps] == ["/automl"],
        f"the UI plugin's apps are mounted at {[app['url_prefix'] for app in plugin.fastapi_apps]}, not ['/automl']",
    )


def start_service(work: Path) -> tuple[subprocess.Popen, str]:
    """The console script the wheel installed, as a user would start it."""
    port = free_port()
    (work / "files").mkdir()
    command = [
        str(Path(sys.prefix) / "bin" / "airflow-automl"),
        "serve",
        "--port",
        str(port),
        "--data-dir",
        str(work / "automl-data"),
        "--file-root",
        str(work / "files"),
    ]
    log = open(work / "service.log", "wb")  # noqa: SIM115 (the service writes to it until stopped)
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + SERVICE_READY_TIMEOUT
    while time.monotonic() < deadline:
        require(process.poll() is None, f"airflow-automl serve exited with {process.returncode}; {service_log(work)}")
        try:
            with urllib.request.urlopen(f"{endpoint}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, endpoint
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop(process)
    raise CheckFailed(f"airflow-automl serve did not answer {endpoint}/health in {SERVICE_READY_TIMEOUT:.0f} s")


def service_log(work: Path) -> str:
    return "its log:\n" + (work / "service.log").read_text(errors="replace")[-4000:]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


DAG_SOURCE = """
from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG

from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

with DAG(
    "dist_check", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    dagrun_timeout=timedelta(seconds={timeout}),
) as dag:
    train = AutoMLJobOperator(
        task_id="train", job_name="{{{{ automl_job_name('distcheck') }}}}", aws_conn_id="automl_local",
        input_uri={input_uri!r}, target_attribute="target", output_path={output_uri!r},
        role_arn="arn:aws:iam::123456789012:role/automl", problem_type="BinaryClassification",
        objective_metric="F1", mode="ENSEMBLING", max_candidates=1, max_runtime_seconds=120,
        deferrable=True, poll_interval=1,
        config={{"AutoMLProblemTypeConfig": {{"TabularJobConfig": {{"CandidateGenerationConfig": {{
            "AlgorithmsConfig": [{{"AutoMLAlgorithms": ["lightgbm"]}}]}}}}}}}},
    )
    gate = AutoMLBestCandidateSensor(
        task_id="gate", job_name="{{{{ ti.xcom_pull(task_ids='train')['job_name'] }}}}",
        aws_conn_id="automl_local", metric_threshold=0.8, poke_interval=1,
    )
    train >> gate
"""


def run_training_dag(work: Path, endpoint: str) -> None:
    import importlib.util

    import pandas as pd
    from sklearn.datasets import load_breast_cancer

    data = work / "files" / "cancer"
    data.mkdir()
    frame = load_breast_cancer(as_frame=True).frame.rename(columns=lambda c: c.replace(" ", "_"))
    pd.DataFrame(frame).to_csv(data / "train.csv", index=False)
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }
    os.environ["AIRFLOW_CONN_AUTOML_LOCAL"] = json.dumps(connection)

    from airflow.utils import db

    db.initdb()
    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    dags.mkdir(parents=True, exist_ok=True)
    dag_path = dags / "dist_check.py"
    dag_path.write_text(
        textwrap.dedent(
            DAG_SOURCE.format(
                input_uri=f"file://{data}/",
                output_uri=f"file://{work / 'files' / 'models'}",
                timeout=DAG_RUN_TIMEOUT_SECONDS,
            )
        )
    )
    spec = importlib.util.spec_from_file_location("dist_check", dag_path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["dist_check"] = module
    spec.loader.exec_module(module)
    run = module.dag.test()
    states, summary = outcome(run.dag_id, run.run_id)
    require(
        states == {"train": "success", "gate": "success"},
        f"the DAG run ended with tasks {states}; {service_log(work)}",
    )
    require(
        summary.get("status") == "Completed" and 0.8 <= summary["objective_metric_value"] <= 1.0,
        f"the training task returned {summary}",
    )
    print(
        f"check_dist: job {summary['job_name']} Completed, best candidate {summary['best_candidate_name']} "
        f"F1 {summary['objective_metric_value']:.3f}",
        flush=True,
    )


def outcome(dag_id: str, run_id: str) -> tuple[dict[str, str], dict]:
    """Each task's final state and the training task's XCom, read back from the metadata database."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(TaskInstance.task_id, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id
            )
        )
        states = {task_id: str(state) for task_id, state in rows}
        xcom = session.scalars(
            select(XComModel).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run_id,
                XComModel.task_id == "train",
                XComModel.key == "return_value",
            )
        ).first()
        summary = {} if xcom is None else XComModel.deserialize_value(xcom)
    return states, summary


def check_installed() -> None:
    work = Path.cwd()
    configure_airflow(work / "airflow-home")
    check_imported_from_the_wheel()
    check_provider_and_plugin_registered()
    print("check_dist: Airflow lists the provider; the UI plugin has its three views", flush=True)
    service, endpoint = start_service(work)
    try:
        run_training_dag(work, endpoint)
    finally:
        stop(service)
    # uvicorn shuts down gracefully, then re-raises the signal it caught: -SIGTERM, not a SIGKILL (-9).
    require(
        service.returncode in (0, -signal.SIGTERM),
        f"airflow-automl serve ended with {service.returncode} on SIGTERM, not within 30 s by itself",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--installed", action="store_true", help="check the installed wheel (in its own venv)")
    parser.add_argument("--dist", type=Path, default=Path("dist"), help="where `make dist` put the artifacts")
    parser.add_argument("--uv", default="uv", help="the uv to build the clean venv with")
    parser.add_argument("--lock", type=Path, default=Path("requirements.lock"), help="versions to install at")
    args = parser.parse_args()
    try:
        if args.installed:
            check_installed()
        else:
            check_artifacts_and_install(args.dist, args.uv, args.lock.resolve())
    except CheckFailed as failure:
        print(f"check_dist: FAILED: {failure}", file=sys.stderr)
        return 1
    print("check_dist: passed" + (" (installed wheel)" if args.installed else ""), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
