"""Serving a forecasting job's best candidate: history in, quantile forecasts out, in the format
of Autopilot's time-series models.

A request (an InvokeEndpoint body, or one whole input file of a batch transform) holds history
in the training data's schema, with its header row: the item identifier, timestamp and target
columns, any grouping columns. Each item's history is put on the job's ForecastFrequency grid
(the job's own Aggregation and Filling, series.py), the candidate's algorithm (or the ensemble's
members, combined with their weights) forecasts it, and the answer holds, for every item,
the next ForecastHorizon steps after that item's last timestamp: the item and grouping columns,
the timestamp column, one column per forecast quantile (p10, ...) and the mean.

ETS and ARIMA do not choose and fit their model again for an item seen in training: the model
training fitted for it is applied to the history sent (statsforecast's ``forward``, as training
applied it to each backtest window and to the job's forecast), so a served ARIMA skips its model
search. New items, and those whose fitted model cannot forecast the history sent, are fitted afresh.

The job keeps what this needs in its model directory as model.json (kind "forecasting"): the
algorithm or the ensemble's members and weights, the TimeSeriesForecastingJobConfig as the engine
reads it and the grid's origin, so weeks (or 15-minute steps, ...) fall where training put them;
and, per ETS or ARIMA member, fitted-<algorithm>.pkl: its models by series id.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS, LABELS
from airflow_automl.local.engine.forecasting.forecasters import MEAN, USES_RELATED, FittedSeries, Settings, ensemble
from airflow_automl.local.engine.forecasting.manifest import PROBLEM_TYPE
from airflow_automl.local.engine.forecasting.series import (
    MIN_HISTORY,
    SERIES_ID,
    STEP,
    TARGET,
    Grid,
    SeriesData,
    SeriesDataError,
    series_from_frame,
    target_only,
)
from airflow_automl.local.engine.job import MODEL_MANIFEST
from airflow_automl.local.engine.torch_extra import TORCH_EXTRA, TORCH_FORECAST_ALGORITHMS, neural_forecasting_available
from airflow_automl.local.jobspec import TimeSeriesSpec
from airflow_automl.local.serving.formats import CSV, JSON, JSON_LINES, ModelInputError

log = logging.getLogger(__name__)

WHERE = "the request"  # how messages name the data sent
# Errors a forecasting library raises on history it cannot model (the engine's MODEL_ERRORS).
_MODEL_ERRORS = (ValueError, ArithmeticError, np.linalg.LinAlgError, RuntimeError)


def load_forecasting_model(manifest: dict, model_dir: Path) -> ForecastingModel:
    """The served model of a manifest; its fitted models are read from model_dir (the service's own
    job directory: served_models.py checks that the manifest names files inside it)."""
    series = dict(manifest["time_series"])
    series["grouping"] = tuple(series.get("grouping") or ())
    series["quantiles"] = tuple(series["quantiles"])
    unknown = [m["algorithm"] for m in manifest["members"] if m["algorithm"] not in FORECASTERS]
    if unknown:
        raise ValueError(f"{MODEL_MANIFEST}: algorithm(s) {', '.join(unknown)} cannot be served by this installation")
    neural = [m["algorithm"] for m in manifest["members"] if m["algorithm"] in TORCH_FORECAST_ALGORITHMS]
    if neural and not neural_forecasting_available():
        raise ValueError(
            f"{MODEL_MANIFEST}: algorithm(s) {', '.join(neural)} need PyTorch and Lightning, which this "
            f"installation lacks; install the optional extra {TORCH_EXTRA}"
        )
    return ForecastingModel(
        candidate_name=manifest.get("candidate") or manifest["best_candidate"],
        target=manifest["target"],
        time_series=TimeSeriesSpec(**series),
        origin=pd.Timestamp(manifest["grid_origin"]),
        members=[(m["algorithm"], float(m["weight"])) for m in manifest["members"]],
        related=list(manifest.get("related") or []),
        fitted={
            m["algorithm"]: _load_fitted(Path(model_dir) / m["fitted"], m["algorithm"])
            for m in manifest["members"]
            if m.get("fitted")
        },
    )


def _load_fitted(path: Path, algorithm: str) -> dict[str, FittedSeries]:
    """A member's models by series id; none (every item fitted afresh, as before they were kept)
    when the file cannot be read, e.g. pickled by another statsforecast version."""
    try:
        return pickle.loads(path.read_bytes())
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
        log.warning(
            "%s: the %s models fitted in training cannot be read (%s: %s); every item will be fitted "
            "afresh on the history sent",
            path,
            LABELS[algorithm],
            type(error).__name__,
            error,
        )
        return {}


@dataclass
class ForecastingModel:
    """A forecasting candidate as endpoints and batch transform use a model: parse, then render."""

    candidate_name: str
    target: str
    time_series: TimeSeriesSpec
    origin: pd.Timestamp
    members: list[tuple[str, float]]  # (algorithm, weight)
    related: list[str]  # related time series the job trained with, read from requests too
    # algorithm -> series id -> the model training fitted (ETS, ARIMA), applied to items seen in training
    fitted: dict[str, dict[str, FittedSeries]] = field(default_factory=dict)

    problem_type = PROBLEM_TYPE
    # A batch transform gives it whole files (SplitType None): a line of history forecasts nothing.
    forecasts_from_history = True

    @property
    def columns(self) -> list[str]:
        """The columns a request must have, as the training data had them."""
        series = self.time_series
        return [series.item_id, *series.grouping, series.timestamp, self.target]

    # ---- wire formats ---------------------------------------------------------------------

    def parse(self, body: bytes, content_type: str) -> pd.DataFrame:
        """The history rows of a request: text/csv with a header row, or JSON records."""
        kind = (content_type or CSV).split(";")[0].strip().lower()
        if not body.strip():
            raise ModelInputError(
                f"The request body is empty; send the items' history as {CSV} with a header row "
                f"({', '.join(self.columns)})"
            )
        if kind == CSV:
            try:
                frame = pd.read_csv(io.BytesIO(body), dtype=str, keep_default_na=False, na_values=[""])
            except (pd.errors.ParserError, UnicodeDecodeError) as error:
                raise ModelInputError(f"The text/csv body cannot be parsed: {error}") from error
            if not set(self.columns) & set(frame.columns):
                raise ModelInputError(
                    f"The text/csv body's first row must be a header naming its columns, as the training data's "
                    f"did ({', '.join(self.columns)}); got {', '.join(map(str, frame.columns))}"
                )
        elif kind in (JSON, JSON_LINES):
            frame = pd.DataFrame(self._records(body, kind))
        else:
            raise ModelInputError(f"ContentType {content_type!r} is not supported; use {CSV}, {JSON} or {JSON_LINES}")
        if frame.empty:
            raise ModelInputError(
                f"The request holds no rows of history; send each item's history, at least "
                f"{MIN_HISTORY} time steps of {self.time_series.frequency} per item"
            )
        return frame

    def render(self, frame: pd.DataFrame, accept: str, keys: list[str] | None = None) -> tuple[bytes, str]:
        """The forecast of the history in frame, as CSV (a header, one row per item and time
        step), JSON ({"predictions": [row, ...]}) or JSON Lines (one row per line)."""
        kind = (accept or CSV).split(";")[0].strip().lower()
        if kind not in ("*/*", CSV, JSON, JSON_LINES):
            raise ModelInputError(f"Accept {accept!r} is not supported; use {CSV}, {JSON} or {JSON_LINES}")
        if keys is not None:
            raise ModelInputError(
                "SAGEMAKER_INFERENCE_OUTPUT applies to tabular models; a forecasting model "
                "answers every quantile and the mean"
            )
        forecast = self.forecast(frame)
        if kind in ("*/*", CSV):
            return forecast.to_csv(index=False).encode(), CSV
        records = json.loads(forecast.to_json(orient="records"))
        if kind == JSON_LINES:
            return b"".join(json.dumps(row).encode() + b"\n" for row in records), JSON_LINES
        return json.dumps({"predictions": records}).encode(), JSON

    # ---- the forecast ---------------------------------------------------------------------

    def forecast(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Item and grouping columns, the timestamp column (text), the quantiles and the mean:
        ForecastHorizon rows per item, from the step after its last timestamp, items in the
        order the request gives them."""
        series = self.time_series
        missing = [column for column in self.related if column not in frame.columns]
        if missing:
            raise ModelInputError(
                f"Column(s) {', '.join(map(repr, missing))} of the training data are related time "
                f"series the model forecasts with; {WHERE} lacks them"
            )
        if set(self.columns) <= set(frame.columns):
            # Other columns are not the model's: left out, as the job left them out.
            frame = frame[[column for column in frame.columns if column in (*self.columns, *self.related)]]
        try:
            # The whole request first, so an error names its row in the request. Its future steps
            # follow the latest item's history; each item's own (from its last value) are checked below.
            series_from_frame(frame, self.target, self._any_future(), WHERE, origin=self.origin)
            items = [
                self._item_history(part)
                for _, part in frame.groupby([series.item_id, *series.grouping], sort=False, dropna=False)
            ]
        except SeriesDataError as error:
            raise ModelInputError(error.reason) from error
        # Items whose history ends on the same step are forecast together.
        pieces = []
        for last_step in sorted({item.last_step for item in items}):
            group = [item for item in items if item.last_step == last_step]
            history = pd.concat([item.frame for item in group], ignore_index=True)
            grid = group[0].grid
            pieces.append(self._rows(grid, self._run(history, grid), pd.concat([item.items for item in group])))
        order = [item.frame[SERIES_ID].iloc[0] for item in items]
        combined = pd.concat(pieces, ignore_index=True)
        combined["_order"] = combined.pop(SERIES_ID).map({series_id: n for n, series_id in enumerate(order)})
        return (
            combined.sort_values(["_order", "_step"], kind="stable")
            .drop(columns=["_order", "_step"])
            .reset_index(drop=True)
        )

    def _any_future(self) -> TimeSeriesSpec:
        """The series settings with every related time series futurefilled: what checks a whole
        request whose items' histories may end on different steps."""
        filling = dict(self.time_series.filling or {})
        for column in self.related:
            filling[column] = {**filling.get(column, {}), "futurefill": "zero"}
        return replace(self.time_series, filling=filling)

    def _item_history(self, part: pd.DataFrame) -> SeriesData:
        """One item's history on the grid, checked to be long enough to forecast from."""
        item = series_from_frame(part, self.target, self.time_series, WHERE, origin=self.origin)
        steps = int(item.frame[TARGET].notna().sum())  # history only, not future rows
        if steps < MIN_HISTORY:
            name = item.frame[SERIES_ID].iloc[0]
            raise SeriesDataError(
                f"Item {name!r} has {steps} time step(s) of {self.time_series.frequency} in column "
                f"{self.time_series.timestamp!r} of {WHERE}; the model forecasts from at least {MIN_HISTORY}: "
                "send a longer history"
            )
        return item

    def _run(self, history: pd.DataFrame, grid: Grid) -> pd.DataFrame:
        """unique_id, step, mean and the quantiles of the next horizon, from the candidate's
        algorithm(s) applied to this history (no backtest windows): with the models training
        fitted for the items it saw, fitted on this history for the others."""
        series = self.time_series
        settings = Settings(grid, series.quantiles, series.holiday_country)
        forecasts = []
        for algorithm, _ in self.members:
            kept = self.fitted.get(algorithm, {})
            if kept:
                new = sorted(set(history[SERIES_ID]) - set(kept))
                if new:
                    log.info(
                        "%s fits %d item(s) not seen in training on the history sent: %s",
                        LABELS[algorithm],
                        len(new),
                        ", ".join(new[:10]) + (", ..." if len(new) > 10 else ""),
                    )
            try:
                # As in training: related time series go to the algorithms that use them only.
                frame = history if algorithm in USES_RELATED else target_only(history)
                # A copy: what this request fits for new items is not kept.
                _, forecast = FORECASTERS[algorithm](frame, series.horizon, [], replace(settings, fitted=dict(kept)))
            except _MODEL_ERRORS as error:
                raise ModelInputError(
                    f"{LABELS[algorithm]} cannot forecast the history sent: {type(error).__name__}: {error}"
                ) from error
            forecasts.append(forecast)
        if len(forecasts) == 1:
            return forecasts[0]
        return ensemble(forecasts, series.quantiles, [weight for _, weight in self.members])

    def _rows(self, grid: Grid, forecast: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
        """The forecast with the request's own item columns and real timestamps."""
        series = self.time_series
        quantiles = sorted(series.quantiles, key=lambda name: int(name[1:]))
        stamps = grid.timestamps(forecast[STEP])
        text = stamps.strftime("%Y-%m-%d" if (stamps == stamps.normalize()).all() else "%Y-%m-%d %H:%M:%S")
        rows = items.reindex(forecast[SERIES_ID]).reset_index(drop=True)
        rows[series.timestamp] = list(text)
        for name in [*quantiles, MEAN]:
            rows[name] = forecast[name].to_numpy(float)
        rows[SERIES_ID] = forecast[SERIES_ID].to_numpy()
        rows["_step"] = forecast[STEP].to_numpy()
        return rows

    @staticmethod
    def _records(body: bytes, kind: str) -> list[dict]:
        """Rows as JSON objects: {"instances": [...]}, a list, or one object per line."""
        records: object  # whatever the body holds, checked below
        try:
            if kind == JSON_LINES:
                records = [json.loads(line) for line in body.splitlines() if line.strip()]
            else:
                document = json.loads(body)
                records = document.get("instances") if isinstance(document, dict) else document
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelInputError(f"The {kind} body is not valid JSON: {error}") from error
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise ModelInputError(
                f"The {kind} body must hold history rows as objects of column values "
                '({"instances": [{...}, ...]}, a list of them, or one per line)'
            )
        return records
