"""`make demo` as a user runs it (the same module, as a process): it trains, prints the leaderboard
and the promoted model, and leaves nothing running, whether it finishes or is interrupted."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
# A smaller job than the default demo (60 s, 3000 rows), to keep the suite short.
DEMO_ARGS = ["--budget", "15", "--rows", "1000"]


def _demo(*args: str, **popen) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "airflow_automl.demo", *DEMO_ARGS, *args],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen,
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
        if "airflow_automl.cli serve" in command and marker in command:
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("demo")
    process = _demo("--work-dir", str(work_dir))
    output, _ = process.communicate(timeout=600)
    return process.returncode, output, work_dir


def test_demo_trains_and_prints_the_leaderboard_and_promoted_model(demo_run):
    code, output, work_dir = demo_run
    assert code == 0, output
    board = re.findall(r"^\s+(\d+)\s+(churn-\S+)\s+([0-9.]+)\s+Completed$", output, flags=re.M)
    assert len(board) >= 2, output
    scores = [float(score) for _, _, score in board]
    assert scores == sorted(scores, reverse=True)  # AUC, best first
    best = board[0][1]  # the job's best candidate leads, also among equal scores
    assert f"New best candidate {best}: promoted (no model was promoted before)." in output
    assert re.search(rf"^  candidate  {re.escape(best)}$", output, flags=re.M)
    assert re.search(r"^DAG run success; the whole demo took \d+s\.$", output, flags=re.M)


def test_demo_wrote_the_promoted_model_record_and_the_model_it_names(demo_run):
    import json

    code, output, work_dir = demo_run
    record = json.loads((work_dir / "storage" / "promoted" / "model.json").read_text())
    assert record["objective_metric_name"] == "AUC"
    assert 0.5 < record["objective_metric_value"] <= 1.0
    model = Path(record["model_artifacts"][0].removeprefix("file://"))
    assert model.is_file() and model.stat().st_size > 0
    training_data = list((work_dir / "storage" / "data").glob("*/train.csv"))
    assert len(training_data) == 1
    assert sum(1 for _ in training_data[0].open()) == 1001  # header + the rows asked for


def test_demo_stops_the_service_it_started(demo_run):
    code, output, work_dir = demo_run
    assert _service_pids(str(work_dir)) == []


def test_interrupted_demo_stops_the_service_and_says_so(tmp_path):
    process = _demo("--work-dir", str(tmp_path))
    lines = []
    # Interrupt while the DAG runs: the service is up and a job may be training.
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Running DAG"):
            break
    else:
        pytest.fail("the demo ended before running the DAG:\n" + "".join(lines))
    assert _service_pids(str(tmp_path)), "the service should be running while the DAG runs"
    time.sleep(3)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=120)
    assert process.returncode == 130, "".join(lines) + rest
    assert "Interrupted: stopping what the demo started" in rest
    assert _service_pids(str(tmp_path)) == []
