"""Test-wide settings. Airflow reads its configuration on first import, so its home
(and the fake AWS credentials every client here uses) are set before anything imports it."""

import os
import subprocess
import tempfile

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


@pytest.fixture(autouse=True)
def _unit_tests_start_no_processes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unit tier (`make test-fast`) starts no process: a test that starts one (the local service,
    moto, Airflow's components, a browser) must say so with the integration marker, or it fails
    here. In-process loopback fakes (tests/fixtures/provider_responder.py) are unit tests' tools."""
    if request.node.get_closest_marker("integration") is not None:
        return
    why = f"{request.node.nodeid} starts a process; mark it pytest.mark.integration"

    def refuse(self, *args, **kwargs):
        raise RuntimeError(why)

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
