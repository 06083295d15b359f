"""A job's served model on disk: where the worker keeps it and how it is loaded safely.

Both the worker's deployment step (which proves the model loads) and the endpoints that
answer InvokeEndpoint load models here, only from the service's own job directories.
"""

from __future__ import annotations

import json
from pathlib import Path

from airflow_automl.local.config import ServiceConfig

MODEL_DIR_NAME = "model"  # <job dir>/model, as the worker gives it to the engine
MANIFEST = "model.json"


class ModelLoadError(Exception):
    """The model of a job cannot be loaded; the message says why."""


def model_dir(config: ServiceConfig, job_name: str) -> Path:
    return config.job_dir(job_name) / MODEL_DIR_NAME


def load_job_model(config: ServiceConfig, job_name: str):
    """The job's served model, read only from the service's own job directory."""
    from airflow_automl.local.serving.tabular import load_model

    directory = model_dir(config, job_name).resolve()
    jobs_root = (config.data_dir / "jobs").resolve()
    if not directory.is_relative_to(jobs_root):
        raise ModelLoadError(f"model directory of job {job_name!r} lies outside the service's data dir")
    manifest_path = directory / MANIFEST
    if not manifest_path.is_file():
        raise ModelLoadError(f"job {job_name} kept no model ({MANIFEST} missing from its model directory)")
    manifest = json.loads(manifest_path.read_text())
    files = [(key, manifest[key]) for key in ("predictor_path", "model_path") if key in manifest]
    # A forecasting model's members name the files of the models they fitted.
    files += [(f"members[{n}].fitted", member["fitted"])
              for n, member in enumerate(manifest.get("members") or []) if member.get("fitted")]
    for key, path in files:
        if not (directory / path).resolve().is_relative_to(directory):
            raise ModelLoadError(f"{MANIFEST}: {key} {path!r} points outside the job's model directory")
    return load_model(directory)
