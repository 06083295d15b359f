"""One version, ``airflow_automl.__version__``: the build backend reads it for the wheel's metadata,
get_provider_info() reports it to Airflow, and CHANGELOG.md's latest release is it. (The service's
/health reports it too: tests/local/api/test_protocol.py.)"""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

from setuptools.config.pyprojecttoml import read_configuration

from airflow_automl import __version__
from airflow_automl.get_provider_info import get_provider_info

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_wheel_the_provider_info_and_the_changelog_report_the_package_version():
    # What the build backend writes into the wheel's and the sdist's metadata.
    assert read_configuration(REPO_ROOT / "pyproject.toml", expand=True)["project"]["version"] == __version__
    assert version("airflow-automl") == __version__  # the installed distribution's metadata
    assert get_provider_info()["versions"][0] == __version__
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\] - \d{4}-\d{2}-\d{2}$", changelog, flags=re.M)
    assert releases and releases[0] == __version__, "CHANGELOG.md's latest release is not __version__"
    assert re.search(r"^## \[Unreleased\]$", changelog, flags=re.M), "CHANGELOG.md has no Unreleased section"
