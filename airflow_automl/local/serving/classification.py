"""Serving a text or image classification candidate (engine/classification): the same answers as
a tabular classifier (predicted_label, probability, probabilities, labels; CSV or JSON), read
from texts or from one image.

A text/csv body holds one text per line: a line that is one CSV field (quoted when it holds
commas or quotes) is that field, any other line is the text as it stands, commas and all. JSON
takes {"instances": [...]} (or a list) of strings, of objects holding the ContentColumn, or of
one-value lists; JSON lines one of those per line. An image classifier reads one JPEG or PNG
image per request (image/jpeg, image/png or application/x-image)."""

from __future__ import annotations

import csv
import io
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from airflow_automl.local.serving.formats import IMAGE_TYPES, ModelInputError
from airflow_automl.local.serving.tabular import ServedModel
from airflow_automl.sagemaker.metrics import BINARY, MULTICLASS


@dataclass
class TextModel(ServedModel):
    # Lines hold free text: a batch transform does not count their CSV fields.
    fixed_csv_fields = False

    def _parse_csv(self, body: bytes) -> pd.DataFrame:
        try:
            lines = body.decode("utf-8").splitlines()
        except UnicodeDecodeError as error:
            raise ModelInputError(f"The text/csv body is not UTF-8 text: {error}") from error
        texts = [_text_of_line(line) for line in lines if line.strip()]
        if not texts:
            raise ModelInputError("The text/csv body holds no text (one text per line)")
        return pd.DataFrame({self.feature_columns[0]: texts})

    def _frame_from_records(self, records: list) -> pd.DataFrame:
        column = self.feature_columns[0]
        texts = []
        for record in records:
            if isinstance(record, dict) and "features" in record:
                record = record["features"]
            if isinstance(record, list) and len(record) == 1:
                record = record[0]
            if isinstance(record, dict):
                if column not in record:
                    raise ModelInputError(f"A JSON row lacks the text column {column!r}")
                record = record[column]
            if not isinstance(record, str):
                raise ModelInputError(
                    f"Each JSON row must be a text, an object with the text under {column!r}, or a list of one text"
                )
            texts.append(record)
        return pd.DataFrame({column: texts})


@dataclass
class ImageModel(ServedModel):
    # A request is one whole image: a batch transform sends each file as it is (SplitType None).
    fixed_csv_fields = False
    reads_images = True

    def parse(self, body: bytes, content_type: str) -> pd.DataFrame:
        from airflow_automl.local.engine.classification.images import ImageError, image_features

        kind = (content_type or "").split(";")[0].strip().lower()
        if kind not in IMAGE_TYPES:
            raise ModelInputError(
                f"ContentType {content_type!r} is not supported by an image classifier; use {', '.join(IMAGE_TYPES)}"
            )
        try:
            features = image_features(body)
        except ImageError as error:
            raise ModelInputError(f"The request body {error}") from error
        # Feature kinds added since a model was trained come after the ones it reads.
        return pd.DataFrame([features[: len(self.feature_columns)]], columns=self.feature_columns)


def _text_of_line(line: str) -> str:
    fields = next(csv.reader(io.StringIO(line)), [line])
    return fields[0] if len(fields) == 1 else line


def load_classification_model(manifest: dict, model_dir: Path) -> ServedModel:
    """A text or image classification candidate, as its manifest describes it."""
    model: Any = pickle.loads((model_dir / manifest["model_path"]).read_bytes())
    classes = list(manifest["classes"])
    problem_type = BINARY if len(classes) == 2 else MULTICLASS
    candidate = manifest.get("candidate") or manifest["best_candidate"]
    if manifest["input"] == "image":
        return ImageModel(
            problem_type=problem_type,
            target=manifest["target"],
            feature_columns=[f"f{n}" for n in range(int(manifest["feature_count"]))],
            candidate_name=candidate,
            _predict=lambda frame: model.predict(frame.to_numpy()),
            _predict_proba=lambda frame: model.predict_proba(frame.to_numpy()),
            classes=classes,
        )
    column = manifest["content_column"]

    def texts(frame: pd.DataFrame) -> np.ndarray:
        return frame[column].astype(str).to_numpy()

    return TextModel(
        problem_type=problem_type,
        target=manifest["target"],
        feature_columns=[column],
        candidate_name=candidate,
        _predict=lambda frame: model.predict(texts(frame)),
        _predict_proba=lambda frame: model.predict_proba(texts(frame)),
        classes=classes,
    )
