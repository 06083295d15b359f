"""Test-wide settings. Airflow reads its configuration on first import, so its home
(and the fake AWS credentials every client here uses) are set before anything imports it."""

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from unittest import mock

import pytest

_AIRFLOW_HOME = tempfile.mkdtemp(prefix="airflow-automl-tests-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = os.path.join(_AIRFLOW_HOME, "dags")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

# Fixtures live in tests/fixtures/, one module per thing they start.
pytest_plugins = ["tests.fixtures.service", "tests.fixtures.airflow", "tests.fixtures.s3", "tests.fixtures.hypothesis"]


@contextmanager
def _no_processes_unless_integration(item: pytest.Item) -> Iterator[None]:
    """The unit tier (`make test-fast`) starts no process: a test that starts one (the local service,
    moto, Airflow's components, a browser), or whose fixtures do, must say so with the integration
    marker, or it fails here. In-process loopback fakes (tests/fixtures/provider_responder.py) are
    unit tests' tools."""
    if item.get_closest_marker("integration") is not None:
        yield
        return
    why = f"{item.nodeid} starts a process; mark it pytest.mark.integration"

    def refuse(self: subprocess.Popen, *args: object, **kwargs: object) -> None:
        raise RuntimeError(why)

    with mock.patch.object(subprocess.Popen, "__init__", refuse):
        yield


# Around setup too, where module- and session-scoped fixtures start what they start.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    with _no_processes_unless_integration(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    with _no_processes_unless_integration(item):
        yield


# The test files that take longest, longest first (`make test`'s --durations, summed per file). Under
# `make test` each file runs whole on one worker and the workers take files in collection order:
# starting with these keeps one of them from starting last and running on alone. Only the order changes;
# a file missing here runs after them, as collected.
SLOWEST_FILES = (
    "tests/devtools/test_demo.py",
    "tests/conformance/test_sagemaker_sdk.py",
    "tests/dags/test_automl_retrain.py",
    "tests/reliability/test_fuzz_api.py",
    "tests/dags/test_automl_drift_approval.py",
    "tests/ui/test_app.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {path: position for position, path in enumerate(SLOWEST_FILES)}
    # A stable sort: the tests of a file keep their order (some rely on it).
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
