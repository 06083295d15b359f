"""A job's kept models on disk: where the worker keeps them and how one is loaded safely.

Both the worker's deployment step (which proves the model loads) and the endpoints and transform
jobs that serve it load models here, only from the service's own job directories, by (job,
candidate): every candidate's model is kept (engine/job.py has the layout). The manifest the
engine wrote (``MODEL_MANIFEST``) says which kind of model it is: a tabular ``ServedModel``
(tabular.py), a text classifier (classification.py) or a ``ForecastingModel`` (forecasting.py),
which answer with the same parse/render.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.engine.job import CANDIDATES_DIR, MODEL_MANIFEST, candidate_model_dir

if TYPE_CHECKING:
    from airflow_automl.local.serving.forecasting import ForecastingModel
    from airflow_automl.local.serving.tabular import ServedModel

MODEL_DIR_NAME = "model"  # <job dir>/model, as the worker gives it to the engine


class ModelLoadError(Exception):
    """The model of a job cannot be loaded; the message says why."""


def model_dir(config: ServiceConfig, job_name: str) -> Path:
    return config.job_dir(job_name) / MODEL_DIR_NAME


def load_job_model(
    config: ServiceConfig, job_name: str, candidate_name: str | None = None
) -> ServedModel | ForecastingModel:
    """A candidate's served model (None: the job's best), read only from the service's own job
    directory."""
    directory = model_dir(config, job_name).resolve()
    jobs_root = (config.data_dir / "jobs").resolve()
    if not directory.is_relative_to(jobs_root):
        raise ModelLoadError(f"model directory of job {job_name!r} lies outside the service's data dir")
    manifest_path = _manifest_path(directory, job_name, candidate_name)
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
    return _load(manifest, directory)


def _manifest_path(directory: Path, job_name: str, candidate_name: str | None) -> Path:
    """The manifest that serves candidate_name (None: the best) in a job's model directory: the
    candidate's own, else the job's when it is the best's (what jobs kept before every candidate
    was kept)."""
    job_manifest = directory / MODEL_MANIFEST
    if candidate_name is not None:
        try:
            own = candidate_model_dir(directory, candidate_name) / MODEL_MANIFEST
        except ValueError as error:
            raise ModelLoadError(f"job {job_name}: {error}") from error
        if own.is_file():
            if not own.resolve().is_relative_to(directory):
                raise ModelLoadError(
                    f"the manifest of candidate {candidate_name} lies outside the job's model directory"
                )
            return own
        if not (job_manifest.is_file() and _served_candidate(json.loads(job_manifest.read_text())) == candidate_name):
            raise ModelLoadError(
                f"job {job_name} kept no model of candidate {candidate_name} ({MODEL_MANIFEST} missing from "
                f"{CANDIDATES_DIR}/{candidate_name} in its model directory)"
            )
    if not job_manifest.is_file():
        raise ModelLoadError(f"job {job_name} kept no model ({MODEL_MANIFEST} missing from its model directory)")
    return job_manifest


def _served_candidate(manifest: dict) -> str | None:
    """The candidate a manifest serves: a candidate's own, or the best of a job's manifest."""
    return manifest.get("candidate") or manifest.get("best_candidate")


def load_model(directory: Path, candidate_name: str | None = None) -> ServedModel | ForecastingModel:
    """A candidate kept in a job's model directory (None: the best), as its manifest describes it."""
    directory = Path(directory)
    manifest_path = (
        directory / MODEL_MANIFEST
        if candidate_name is None
        else candidate_model_dir(directory, candidate_name) / MODEL_MANIFEST
    )
    if not manifest_path.exists():
        raise FileNotFoundError(f"{manifest_path}: the job kept no model (it trained no candidate)")
    return _load(json.loads(manifest_path.read_text()), directory)


def _load(manifest: dict, directory: Path) -> ServedModel | ForecastingModel:
    """The model a manifest describes; its paths are relative to the job's model directory."""
    # Imported by kind: a tabular model needs no forecasting libraries, and the other way round.
    if manifest["framework"] == "forecasting":
        from airflow_automl.local.serving.forecasting import load_forecasting_model

        return load_forecasting_model(manifest, directory)
    if manifest["framework"] == "classification":
        from airflow_automl.local.serving.classification import load_classification_model

        try:
            return load_classification_model(manifest, directory)
        except ModuleNotFoundError as error:  # a convolutional network kept by a service that had torch
            from airflow_automl.local.engine.torch_extra import TORCH_EXTRA

            raise ModelLoadError(
                f"The model {manifest['model_path']} needs the module {error.name!r}, which is not installed; "
                f"install the optional extra {TORCH_EXTRA} to serve it"
            ) from error
    from airflow_automl.local.serving.tabular import load_tabular_model

    return load_tabular_model(manifest, directory)
