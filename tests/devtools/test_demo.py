"""`make demo` as a user runs it (the same module, as a process): two data intervals, each trained,
scored against the champion on its holdout and registered; it prints the leaderboards, the
verdicts, the registry and what the endpoint serves, and leaves nothing running, whether it
finishes or is interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
# A smaller job than the default demo (60 s, 3000 rows), to keep the suite short.
DEMO_ARGS = ["--budget", "15", "--rows", "1000"]


def _demo(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "devtools.demo", *DEMO_ARGS, *args],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )


def _service_pids(marker: str) -> list[int]:
    """Processes of `airflow-automl serve` whose command line holds ``marker`` (the demo's work dir)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # ended while we looked
        if "airflow_automl.local.cli serve" in command and marker in command:
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("demo")
    process = _demo("--work-dir", str(work_dir))
    output, _ = process.communicate(timeout=600)
    return process.returncode, output, work_dir


def test_demo_runs_three_intervals_the_third_on_drift_and_prints_leaderboards_verdicts_registry_and_endpoint(
    demo_run,
):
    code, output, work_dir = demo_run
    assert code == 0, output
    sections = output.split("== Data interval ")[1:]
    assert len(sections) == 3, output
    for section in sections:
        board = re.findall(r"^\s+(\d+)\s+(churn-\S+)\s+([0-9.]+)\s+Completed$", section, flags=re.M)
        assert len(board) >= 2, section
        scores = [float(score) for _, _, score in board]
        assert scores == sorted(scores, reverse=True)  # AUC, best first
    assert re.search(r"^Holdout AUC: challenger 0\.\d{4}, champion none \(margin 0\)$", sections[0], flags=re.M)
    assert re.search(r"^Verdict: PROMOTED churn-models/1: no champion yet", sections[0], flags=re.M)
    second = re.search(r"^Holdout AUC: challenger 0\.\d{4}, champion 0\.\d{4} \(margin 0\)$", sections[1], flags=re.M)
    assert second, sections[1]
    verdict = re.search(r"^Verdict: (PROMOTED|REJECTED) churn-models/2: ", sections[1], flags=re.M)
    assert verdict, sections[1]
    # The served traffic shifts: the drift monitor names the feature, and the retraining it causes ends in a verdict.
    # The 300 shifted requests, plus the smoke checks' requests captured in the same hour.
    checked = re.search(r"^== Drift check of (\d+) captured requests", output, flags=re.M)
    assert checked and int(checked.group(1)) >= 300, output
    assert re.search(r"^  monthly_charges\s+distance 0\.\d{4} \(threshold 0\.1\)  DRIFT$", output, flags=re.M)
    assert re.search(r"^Drift: .*monthly_charges", output, flags=re.M)
    assert "(retraining on drift)" in sections[2]
    third = re.search(r"^Verdict: (PROMOTED|REJECTED) churn-models/3: ", sections[2], flags=re.M)
    assert third, sections[2]
    assert re.search(r"^  version 1  Approved  holdout AUC 0\.\d{4}", output, flags=re.M)
    statuses = {2: verdict.group(1), 3: third.group(1)}
    for version, said in statuses.items():
        status = "Approved" if said == "PROMOTED" else "Rejected"
        assert re.search(rf"^  version {version}  {status}\s+holdout AUC 0\.\d{{4}}", output, flags=re.M)
    serving = max([1] + [version for version, said in statuses.items() if said == "PROMOTED"])
    assert re.search(
        rf"^Endpoint churn-serving \(InService\) serves model churn-\S+-serving = "
        rf"arn:aws:sagemaker:us-east-1:\d{{12}}:model-package/churn-models/{serving}$",
        output,
        flags=re.M,
    )
    assert re.search(r"^DAG runs success, success, success, success; the whole demo took \d+s\.$", output, flags=re.M)


def test_demo_kept_each_runs_training_rows_and_holdout_apart(demo_run):
    code, output, work_dir = demo_run
    runs = sorted((work_dir / "storage" / "data").iterdir())
    assert len(runs) == 3  # two intervals and the retraining on drift
    for run in runs:
        train = sum(1 for _ in (run / "train" / "train.csv").open()) - 1  # without the header
        holdout = sum(1 for _ in (run / "holdout" / "features.csv").open())  # no header: as models read it
        assert holdout == sum(1 for _ in (run / "holdout" / "labels.csv").open()) - 1
        assert train + holdout == 1000 and 100 < holdout < 300  # the rows asked for, a fifth held out


def test_demo_stops_the_service_it_started(demo_run):
    code, output, work_dir = demo_run
    assert _service_pids(str(work_dir)) == []


def test_interrupted_demo_stops_the_service_and_says_so(tmp_path):
    process = _demo("--work-dir", str(tmp_path))
    lines: list[str] = []
    # Read the output as it comes, so the demo never blocks on a full pipe while the test waits.
    reader = threading.Thread(target=lambda: lines.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 300
    while not any(line.startswith("Running DAG") for line in list(lines)):
        assert process.poll() is None and time.monotonic() < deadline, "the demo did not run the DAG:\n" + "".join(
            lines
        )
        time.sleep(0.2)
    assert _service_pids(str(tmp_path)), "the service should be running while the DAG runs"
    # Interrupt once the DAG has submitted its AutoML job: the service is training for it.
    endpoint_url = re.search(r"local AutoML service \((http://[^)]+)\)", "".join(lines)).group(1)
    client = boto3.client(
        "sagemaker",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    while not client.list_auto_ml_jobs()["AutoMLJobSummaries"]:
        assert process.poll() is None and time.monotonic() < deadline, "no AutoML job submitted:\n" + "".join(lines)
        time.sleep(0.5)
    process.send_signal(signal.SIGINT)
    process.wait(timeout=300)  # stopping the service and the DAG run: seconds, unless the machine is busy
    reader.join(timeout=30)
    output = "".join(lines)
    assert process.returncode == 130, output
    assert "Interrupted: stopping what the demo started" in output
    assert _service_pids(str(tmp_path)) == []
