"""Airflow provider for SageMaker AutoML (Autopilot) jobs, and a local service that speaks the same API."""

__version__ = "0.1.0"
