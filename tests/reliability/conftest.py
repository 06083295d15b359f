"""Reliability suite settings.

`make reliability` sets AIRFLOW_AUTOML_RELIABILITY=full: long fuzzing runs and the 20 kills.
Without it (inside `make test`) the same tests run with small budgets, and the tests marked
``reliability_full`` are skipped.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

FULL = os.environ.get("AIRFLOW_AUTOML_RELIABILITY", "").lower() == "full"

settings.register_profile(
    "reliability-fast",
    max_examples=12,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "reliability-full",
    max_examples=70,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

settings.load_profile("reliability-full" if FULL else "reliability-fast")


def examples(fast: int, full: int) -> int:
    return full if FULL else fast


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "reliability_full: only under `make reliability` (slow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if FULL:
        return
    skip = pytest.mark.skip(reason="slow reliability test: run `make reliability`")
    for item in items:
        if "reliability_full" in item.keywords:
            item.add_marker(skip)
