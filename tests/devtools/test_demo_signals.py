"""Ctrl-C ends the demo with 130 wherever it lands. A signal that arrives while the demo stops the
service it started must neither cut that stop short (leaving the service running) nor end the demo
by the interpreter's default (-SIGINT): the stop completes and the code is still 130. One that a task
swallows (Airflow catches BaseException around a task) still ends the DAG run, without waiting for it.

In-process: the demo's own main() with real signals; only the service and the DAG runs are
replaced, since the moment under test is the stop (test_demo.py interrupts a real run)."""

from __future__ import annotations

import contextlib
import signal
import time

import pytest

from devtools import demo


class ServiceInterruptedWhileStopping:
    """A LocalService stand-in that receives Ctrl-C in the middle of its stop."""

    stops_completed = 0
    interrupt_on_stop = True

    def __init__(self, data_dir, storage_root, log_path):
        self.endpoint_url = "http://127.0.0.1:9"
        self.log_path = log_path

    def start(self) -> None:
        pass

    def stop(self) -> None:
        if self.interrupt_on_stop:
            signal.raise_signal(signal.SIGINT)
        type(self).stops_completed += 1

    def log_tail(self, lines: int = 30) -> str:
        return ""


@pytest.fixture
def demo_in_process(monkeypatch):
    monkeypatch.setattr(demo, "LocalService", ServiceInterruptedWhileStopping)
    monkeypatch.setattr(demo, "configure_airflow", lambda home, endpoint_url: None)
    monkeypatch.setattr(demo, "migrate_airflow_db", lambda: None)
    monkeypatch.setattr(demo, "print_registry", lambda *args: None)
    monkeypatch.setattr(demo, "_interrupted_by", [])
    monkeypatch.setattr(demo, "_stopping", [])
    ServiceInterruptedWhileStopping.stops_completed = 0
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield monkeypatch
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def test_ctrl_c_while_the_demo_stops_its_service_lets_the_stop_finish_and_exits_130(demo_in_process, tmp_path, capsys):
    demo_in_process.setattr(demo, "run_intervals", lambda *args: (["success", "success"], True))
    assert demo.main(["--work-dir", str(tmp_path)]) == 130
    assert ServiceInterruptedWhileStopping.stops_completed == 1
    assert "Interrupted while the demo stopped" in capsys.readouterr().err


def test_a_demo_without_a_signal_still_ends_with_0(demo_in_process, tmp_path):
    demo_in_process.setattr(demo, "run_intervals", lambda *args: (["success", "success"], True))
    demo_in_process.setattr(ServiceInterruptedWhileStopping, "interrupt_on_stop", False)
    assert demo.main(["--work-dir", str(tmp_path)]) == 0
    assert ServiceInterruptedWhileStopping.stops_completed == 1


def test_ctrl_c_that_a_task_swallows_still_ends_the_dag_run(demo_in_process, tmp_path):
    finished = []

    def run_that_swallows_the_signal(*args):
        # Lands in a task whose runner catches everything, as Airflow's does.
        with contextlib.suppress(BaseException):
            signal.raise_signal(signal.SIGINT)
        for _ in range(600):  # the rest of the DAG run: a minute, unless interrupted again
            time.sleep(0.1)
        finished.append(True)
        return ["success", "success"], True

    demo_in_process.setattr(demo, "run_intervals", run_that_swallows_the_signal)
    demo_in_process.setattr(ServiceInterruptedWhileStopping, "interrupt_on_stop", False)
    assert demo.main(["--work-dir", str(tmp_path)]) == 130
    assert finished == [], "the DAG run went on to its end after Ctrl-C"
    assert ServiceInterruptedWhileStopping.stops_completed == 1
