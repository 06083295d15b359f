"""What a forecasting job keeps of its best candidate in its model directory, for serving
(airflow_automl.local.serving.forecasting reads it): the manifest, and the models ETS and ARIMA
fitted, by series id."""

from __future__ import annotations

import json
import pickle
from dataclasses import asdict
from pathlib import Path

from airflow_automl.local.engine.forecasting.forecasters import FittedSeries
from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET, TIMESTAMP, SeriesData
from airflow_automl.local.engine.job import MODEL_MANIFEST
from airflow_automl.local.jobspec import TimeSeriesSpec

FRAMEWORK = "forecasting"  # the manifest's "framework", which serving dispatches on
PROBLEM_TYPE = "TimeSeriesForecasting"


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
    the models its algorithm fitted by series id (ETS, ARIMA), each member's kept beside model.json."""
    members = [dict(member) for member in members]
    for member in members:
        models = (fitted or {}).get(member["candidate"])
        if models:
            member["fitted"] = f"fitted-{member['algorithm']}.pkl"
            (Path(model_dir) / member["fitted"]).write_bytes(pickle.dumps(models, protocol=pickle.HIGHEST_PROTOCOL))
    manifest = {
        "framework": FRAMEWORK,
        "problem_type": PROBLEM_TYPE,
        "best_candidate": candidate_name,
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
    (Path(model_dir) / MODEL_MANIFEST).write_text(json.dumps(manifest, indent=2))
