"""What a forecasting job keeps of its candidates in its model directory, for serving
(airflow_automl.local.serving.forecasting reads it): each candidate's manifest and the best
candidate's as the job's own, and the models ETS and ARIMA fitted, by series id."""

from __future__ import annotations

import json
import os
import pickle
from dataclasses import asdict
from pathlib import Path

from airflow_automl.local.engine.forecasting.forecasters import FittedSeries
from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET, TIMESTAMP, SeriesData
from airflow_automl.local.engine.job import MODEL_MANIFEST, candidate_model_dir, write_candidate_manifest
from airflow_automl.local.jobspec import TimeSeriesSpec

FRAMEWORK = "forecasting"  # the manifest's "framework", which serving dispatches on
PROBLEM_TYPE = "TimeSeriesForecasting"


FITTED_FILE = "fitted.pkl"  # in a candidate's directory: the models its algorithm fitted, by series id


def keep_candidate(
    model_dir: Path,
    target: str,
    time_series: TimeSeriesSpec,
    data: SeriesData,
    candidate_name: str,
    members: list[dict],
    fitted: dict[str, FittedSeries] | None = None,
) -> None:
    """A candidate's manifest in its own directory, written as soon as it is trained, so that any
    candidate can be served. fitted: the models the candidate's own algorithm fitted by series id
    (ETS, ARIMA), kept beside its manifest; an ensemble names its members' fitted models, kept
    with them when they were trained."""
    members = [dict(member) for member in members]
    if fitted:
        own = candidate_model_dir(model_dir, candidate_name) / FITTED_FILE
        own.parent.mkdir(parents=True, exist_ok=True)
        own.write_bytes(pickle.dumps(fitted, protocol=pickle.HIGHEST_PROTOCOL))
    for member in members:
        kept = candidate_model_dir(model_dir, member["candidate"]) / FITTED_FILE
        if kept.is_file():
            member["fitted"] = str(kept.relative_to(model_dir))
    write_candidate_manifest(model_dir, candidate_name, _manifest(target, time_series, data, members))


def write_manifest(
    model_dir: Path,
    target: str,
    time_series: TimeSeriesSpec,
    data: SeriesData,
    candidate_name: str,
    members: list[dict],
    fitted: dict[str, dict[str, FittedSeries]] | None = None,
) -> None:
    """model.json of a forecasting job's best candidate. members: [{"candidate", "algorithm",
    "weight"}], one for a single algorithm, several for the ensemble; fitted: candidate name ->
    the models its algorithm fitted by series id (ETS, ARIMA), each member's kept beside model.json
    (a hard link to the file the candidate kept, when it kept one: the bytes are stored once)."""
    members = [dict(member) for member in members]
    for member in members:
        models = (fitted or {}).get(member["candidate"])
        if models:
            member["fitted"] = f"fitted-{member['algorithm']}.pkl"
            path = Path(model_dir) / member["fitted"]
            kept = candidate_model_dir(model_dir, member["candidate"]) / FITTED_FILE
            path.unlink(missing_ok=True)
            if kept.is_file():
                os.link(kept, path)
            else:
                path.write_bytes(pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL))
    manifest = {**_manifest(target, time_series, data, members), "best_candidate": candidate_name}
    (Path(model_dir) / MODEL_MANIFEST).write_text(json.dumps(manifest, indent=2))


def _manifest(target: str, time_series: TimeSeriesSpec, data: SeriesData, members: list[dict]) -> dict:
    """What serving a forecasting candidate needs besides its fitted models."""
    return {
        "framework": FRAMEWORK,
        "problem_type": PROBLEM_TYPE,
        "target": target,
        "time_series": {
            **asdict(time_series),
            "grouping": list(time_series.grouping),
            "quantiles": list(time_series.quantiles),
        },
        "grid_origin": data.grid.origin.isoformat(),
        "season_length": data.grid.season_length,
        # Columns beyond the item, timestamp and target the job's series kept (related time series).
        "related": [c for c in data.frame.columns if c not in (SERIES_ID, STEP, TIMESTAMP, TARGET)],
        "members": members,
    }
