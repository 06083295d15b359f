"""Provider metadata read by Airflow through the ``apache_airflow_provider`` entry point."""

from typing import Any

from airflow_automl import __version__


def get_provider_info() -> dict[str, Any]:
    return {
        "package-name": "airflow-automl",
        "name": "AutoML (SageMaker Autopilot)",
        "description": "Submit, watch and gate on SageMaker AutoML jobs, on AWS or on the local service.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "SageMaker AutoML",
                "external-doc-url": "https://docs.aws.amazon.com/sagemaker/latest/dg/autopilot-automate-model-development.html",
                "tags": ["aws"],
            }
        ],
        "operators": [{"integration-name": "SageMaker AutoML", "python-modules": ["airflow_automl.operators.automl"]}],
        "sensors": [{"integration-name": "SageMaker AutoML", "python-modules": ["airflow_automl.sensors.automl"]}],
        "hooks": [{"integration-name": "SageMaker AutoML", "python-modules": ["airflow_automl.hooks.automl"]}],
        "triggers": [{"integration-name": "SageMaker AutoML", "python-modules": ["airflow_automl.triggers.automl"]}],
        "extra-links": ["airflow_automl.links.automl.AutoMLJobLink"],
    }
