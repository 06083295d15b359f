"""The boundaries the folders draw, held by tests: the provider never reaches into the local
service; the local service, the SageMaker API facts and the shared job presentation never import
Airflow; no module imports itself back through others; the operator's import path stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.fixtures.imports import all_imports, cycles, within

PROVIDER = (
    "airflow_automl.hooks",
    "airflow_automl.operators",
    "airflow_automl.sensors",
    "airflow_automl.triggers",
    "airflow_automl.links",
    "airflow_automl.ui",
    "airflow_automl.utils",
)
LOCAL = "airflow_automl.local"
API_FACTS = "airflow_automl.sagemaker"
PRESENTATION = "airflow_automl.presentation"
EXAMPLES = "airflow_automl.examples"
AIRFLOW = ("airflow",)


def offending(importers: tuple[str, ...], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{edge.module} (line {edge.line}) imports {edge.target}"
        for edge in all_imports()
        if within(edge.module, *importers) and within(edge.target, *forbidden)
    )


def test_the_provider_imports_nothing_from_the_local_service():
    assert offending(PROVIDER, (LOCAL,)) == []


def test_the_examples_import_nothing_from_the_local_service():
    assert offending((EXAMPLES,), (LOCAL,)) == []


@pytest.mark.parametrize("package", [LOCAL, API_FACTS, PRESENTATION])
def test_the_service_the_api_facts_and_the_presentation_import_no_airflow(package):
    assert offending((package,), AIRFLOW) == []


@pytest.mark.parametrize("package", [LOCAL, API_FACTS, PRESENTATION])
def test_the_service_the_api_facts_and_the_presentation_import_nothing_from_the_provider(package):
    assert offending((package,), (*PROVIDER, EXAMPLES)) == []


def test_the_api_facts_import_neither_the_service_nor_the_presentation():
    assert offending((API_FACTS,), (LOCAL, PRESENTATION)) == []


def test_no_module_imports_itself_back():
    assert cycles(all_imports()) == []


@pytest.mark.integration
def test_importing_the_operator_loads_no_training_library():
    """Workers and DAG parsing import the operator: scikit-learn and friends stay out of that path."""
    modules = ("airflow_automl.operators.automl", "airflow_automl.sensors.automl", "airflow_automl.triggers.automl")
    heavy = ("sklearn", "autogluon", "optuna", "pandas", "statsforecast")
    probe = f"import sys; import {', '.join(modules)}; print(sorted(m for m in {heavy!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
