"""A job's kept model on disk: where the worker keeps it and how it is loaded safely.

Both the worker's deployment step (which proves the model loads) and the endpoints and transform
jobs that serve it load models here, only from the service's own job directories. The manifest
the engine wrote (``MODEL_MANIFEST``) says which kind of model it is: a tabular ``ServedModel``
(tabular.py) or a ``ForecastingModel`` (forecasting.py), which answer with the same parse/render.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.engine.job import MODEL_MANIFEST

if TYPE_CHECKING:
    from airflow_automl.local.serving.forecasting import ForecastingModel
    from airflow_automl.local.serving.tabular import ServedModel

MODEL_DIR_NAME = "model"  # <job dir>/model, as the worker gives it to the engine


class ModelLoadError(Exception):
    """The model of a job cannot be loaded; the message says why."""


def model_dir(config: ServiceConfig, job_name: str) -> Path:
    return config.job_dir(job_name) / MODEL_DIR_NAME


def load_job_model(config: ServiceConfig, job_name: str) -> ServedModel | ForecastingModel:
    """The job's served model, read only from the service's own job directory."""
    directory = model_dir(config, job_name).resolve()
    jobs_root = (config.data_dir / "jobs").resolve()
    if not directory.is_relative_to(jobs_root):
        raise ModelLoadError(f"model directory of job {job_name!r} lies outside the service's data dir")
    manifest_path = directory / MODEL_MANIFEST
    if not manifest_path.is_file():
        raise ModelLoadError(f"job {job_name} kept no model ({MODEL_MANIFEST} missing from its model directory)")
    manifest = json.loads(manifest_path.read_text())
    files = [(key, manifest[key]) for key in ("predictor_path", "model_path") if key in manifest]
    # A forecasting model's members name the files of the models they fitted.
    files += [
        (f"members[{n}].fitted", member["fitted"])
        for n, member in enumerate(manifest.get("members") or [])
        if member.get("fitted")
    ]
    for key, path in files:
        if not (directory / path).resolve().is_relative_to(directory):
            raise ModelLoadError(f"{MODEL_MANIFEST}: {key} {path!r} points outside the job's model directory")
    return load_model(directory)


def load_model(directory: Path) -> ServedModel | ForecastingModel:
    """The best candidate kept in a model directory, as its manifest describes it."""
    directory = Path(directory)
    manifest_path = directory / MODEL_MANIFEST
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: the job kept no model (it trained no candidate)")
    manifest = json.loads(manifest_path.read_text())
    # Imported by kind: a tabular model needs no forecasting libraries, and the other way round.
    if manifest["framework"] == "forecasting":
        from airflow_automl.local.serving.forecasting import load_forecasting_model

        return load_forecasting_model(manifest, directory)
    from airflow_automl.local.serving.tabular import load_tabular_model

    return load_tabular_model(manifest, directory)
