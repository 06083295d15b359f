"""Serving a job's best model from its model directory, for the service's endpoints.

`load_tabular_model(manifest, model_dir)` turns the manifest the engine wrote into a model
that answers SageMaker Autopilot's inference formats: text/csv rows without a header, in the
training data's feature order, or JSON; predictions as CSV or as Autopilot's JSON. A
forecasting job's model (forecasting/serving.py) reads history and answers quantile forecasts
through the same two methods, parse and render."""

from __future__ import annotations

import io
import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airflow_automl.local.serving.formats import CSV, INFERENCE_KEYS, JSON, JSON_LINES, ModelInputError


@dataclass
class ServedModel:
    # A batch transform may split its input into records (lines) for it.
    forecasts_from_history = False
    # Every CSV record has one field per feature (a batch transform checks before it predicts).
    fixed_csv_fields = True
    # A request body is rows of features, not one image.
    reads_images = False

    problem_type: str
    target: str
    feature_columns: list[str]
    candidate_name: str
    _predict: Callable[[pd.DataFrame], Any]  # the kept model's predict and predict_proba
    _predict_proba: Callable[[pd.DataFrame], Any]
    classes: list | None

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self._predict(frame[self.feature_columns]))

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray | None:
        if self.classes is None:
            return None
        return np.asarray(self._predict_proba(frame[self.feature_columns]))

    # ---- wire formats ---------------------------------------------------------------------

    def parse(self, body: bytes, content_type: str) -> pd.DataFrame:
        kind = (content_type or CSV).split(";")[0].strip().lower()
        if kind == CSV:
            return self._parse_csv(body)
        if kind == JSON:
            return self._parse_json(body)
        if kind == JSON_LINES:
            return self._parse_json_lines(body)
        raise ModelInputError(f"ContentType {content_type!r} is not supported; use {CSV} or {JSON}")

    def render(self, frame: pd.DataFrame, accept: str, keys: list[str] | None = None) -> tuple[bytes, str]:
        """Predictions in the media type accept names. keys: Autopilot's SAGEMAKER_INFERENCE_OUTPUT
        (which of predicted_label, probability, probabilities, labels to answer, in order); by
        default CSV answers the label alone and JSON everything. Probabilities are computed only
        when the answer holds them (for AutoGluon a second pass over the rows)."""
        kind = (accept or CSV).split(";")[0].strip().lower()
        if kind not in ("*/*", CSV, JSON, JSON_LINES):
            raise ModelInputError(f"Accept {accept!r} is not supported; use {CSV}, {JSON} or {JSON_LINES}")
        csv_answer = kind in ("*/*", CSV)
        if keys is None:
            keys = ["predicted_label"] if csv_answer or self.classes is None else list(INFERENCE_KEYS)
        unknown = [key for key in keys if key not in INFERENCE_KEYS]
        if unknown:
            raise ModelInputError(
                f"SAGEMAKER_INFERENCE_OUTPUT: unknown key(s) {', '.join(unknown)}; use {', '.join(INFERENCE_KEYS)}"
            )
        if self.classes is None and keys != ["predicted_label"]:
            raise ModelInputError("SAGEMAKER_INFERENCE_OUTPUT: a regression model answers predicted_label only")
        labels = self.predict(frame)
        probabilities = self.predict_proba(frame) if {"probability", "probabilities"} & set(keys) else None
        if csv_answer:
            columns = {key: self._column(key, labels, probabilities) for key in keys}
            out = io.StringIO()
            pd.DataFrame(columns).to_csv(out, index=False, header=False)
            return out.getvalue().encode(), CSV
        if self.classes is None:
            predictions = [{"score": float(label)} for label in labels]
        else:
            rows = {key: self._column(key, labels, probabilities, as_json=False) for key in keys}
            predictions = [{key: rows[key][i] for key in keys} for i in range(len(labels))]
        if kind == JSON_LINES:
            return b"".join(json.dumps(p).encode() + b"\n" for p in predictions), JSON_LINES
        return json.dumps({"predictions": predictions}).encode(), JSON

    def _column(self, key: str, labels: np.ndarray, probabilities: np.ndarray | None, as_json: bool = True) -> list:
        """One inference key for every row; lists as JSON text when they go into a CSV field."""
        if key == "predicted_label":
            return [_plain(label) for label in labels]
        if key in ("probability", "probabilities"):
            assert probabilities is not None, "render computes probabilities whenever the answer holds them"
            if key == "probability":
                return [float(p) for p in probabilities.max(axis=1)]
            values = [[float(p) for p in row] for row in probabilities]
        else:
            assert self.classes is not None, "render refuses keys other than predicted_label for regression"
            values = [[_plain(c) for c in self.classes]] * len(labels)
        return [json.dumps(v) for v in values] if as_json else values

    def _parse_csv(self, body: bytes) -> pd.DataFrame:
        try:
            frame = pd.read_csv(io.BytesIO(body), header=None)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
            raise ModelInputError(f"The text/csv body cannot be parsed: {error}") from error
        # Autopilot's CSV input has no header; a header row equal to the feature names is dropped.
        if [str(v) for v in frame.iloc[0]] == self.feature_columns:
            frame = frame.iloc[1:].reset_index(drop=True)
        if frame.shape[1] != len(self.feature_columns):
            raise ModelInputError(
                f"Each text/csv row must have {len(self.feature_columns)} values "
                f"({', '.join(self.feature_columns)}), without the target column; got {frame.shape[1]}"
            )
        frame.columns = self.feature_columns
        # Values read as text (because of a dropped header row) get their numeric type back.
        return frame.apply(_numeric_if_possible)

    def _parse_json(self, body: bytes) -> pd.DataFrame:
        try:
            document = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ModelInputError(f"The application/json body is not valid JSON: {error}") from error
        records = document.get("instances", document.get("data")) if isinstance(document, dict) else document
        if isinstance(records, dict):
            records = [records]
        if not isinstance(records, list) or not records:
            raise ModelInputError('The JSON body must be {"instances": [...]} or a list of rows')
        return self._frame_from_records(records)

    def _parse_json_lines(self, body: bytes) -> pd.DataFrame:
        records = []
        for number, line in enumerate(body.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except (UnicodeDecodeError, json.JSONDecodeError) as error:
                raise ModelInputError(
                    f"Line {number} of the application/jsonlines body is not valid JSON: {error}"
                ) from error
        if not records:
            raise ModelInputError("The application/jsonlines body holds no rows")
        return self._frame_from_records(records)

    def _frame_from_records(self, records: list) -> pd.DataFrame:
        """Rows given as objects of feature values, {"features": [...]}, or lists of values."""
        rows = []
        for record in records:
            if isinstance(record, dict) and "features" in record:
                record = record["features"]
            if isinstance(record, dict):
                missing = [c for c in self.feature_columns if c not in record]
                if missing:
                    raise ModelInputError(f"A JSON row lacks the feature(s) {', '.join(missing[:5])}")
                rows.append([record[c] for c in self.feature_columns])
            elif isinstance(record, list) and len(record) == len(self.feature_columns):
                rows.append(record)
            else:
                raise ModelInputError(
                    f"Each JSON row must be an object of feature values or a list of {len(self.feature_columns)} values"
                )
        return pd.DataFrame(rows, columns=self.feature_columns)


def load_tabular_model(manifest: dict, model_dir: Path) -> ServedModel:
    """A tabular candidate, as its manifest describes it (a candidate's own, or the job's best's)."""
    candidate_name = manifest.get("candidate") or manifest["best_candidate"]
    if manifest["framework"] == "autogluon":
        from autogluon.tabular import TabularPredictor

        from airflow_automl.local.engine.ensembling import AutoGluonCandidate

        predictor = TabularPredictor.load(str(model_dir / manifest["predictor_path"]), require_py_version_match=False)
        # A candidate's manifest names its model; the job's names the best candidate's among all.
        model = AutoGluonCandidate(predictor, manifest.get("model") or manifest["candidates"][candidate_name])
    else:
        model = pickle.loads((model_dir / manifest["model_path"]).read_bytes())
    return ServedModel(
        problem_type=manifest["problem_type"],
        target=manifest["target"],
        feature_columns=manifest["feature_columns"],
        candidate_name=candidate_name,
        _predict=model.predict,
        _predict_proba=model.predict_proba,
        classes=model.classes,
    )


def _numeric_if_possible(column: pd.Series) -> pd.Series:
    if column.dtype != object:
        return column
    try:
        return pd.to_numeric(column)
    except (ValueError, TypeError):
        return column


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
