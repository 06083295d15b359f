"""Text classification data and candidates: a CSV or Parquet channel with the ContentColumn (the
text) and the TargetLabelColumn (its label), checked row by row, and TF-IDF n-gram features with
linear models, naive Bayes and gradient boosting (no pretrained language model)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from airflow_automl.local.engine.classification import Builder, Inputs
from airflow_automl.local.engine.data import load_channel
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.sagemaker.classification_rules import TEXT_CONFIG_PATH

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec
    from airflow_automl.local.storage import Storage

# A text longer than this fails the job (AWS truncates to its network's input; here every
# character is an n-gram source, and one huge document says the ContentColumn is wrong).
MAX_TEXT_CHARACTERS = 100_000
SHOWN = 5  # at most this many labels or rows named in an error


def load_text_inputs(storage: Storage, spec: JobSpec) -> Inputs:
    """Training and holdout texts and labels; JobFailed names the file, column and rule."""
    assert spec.text is not None, f"job {spec.name} is not a text classification job"
    content, label = spec.text.content_column, spec.target
    training = next(c for c in spec.channels if c.channel_type == "training")
    data = load_channel(storage, training)
    texts, labels = _checked(data.frame, content, label, f"the training data ({data.files[0]})")
    counts = labels.value_counts()
    if len(counts) < 2:
        raise JobFailed(
            f"Column {label!r} (TargetLabelColumn) of the training data ({data.files[0]}) holds one label "
            f"({counts.index[0]!r}); a classifier needs at least two"
        )
    single = [str(v) for v in counts.index[counts < 2]]
    if single:
        raise JobFailed(
            f"Column {label!r} (TargetLabelColumn) of the training data ({data.files[0]}): label(s) "
            f"{_some(single)} have a single example; every label needs at least two (one to learn from, "
            "one to check against) - add examples or drop those rows"
        )
    validation = next((c for c in spec.channels if c.channel_type == "validation"), None)
    if validation is not None:
        held = load_channel(storage, validation)
        where = f"the validation data ({held.files[0]})"
        holdout_texts, holdout_labels = _checked(held.frame, content, label, where)
        unseen = sorted(set(holdout_labels) - set(labels))
        if unseen:
            raise JobFailed(
                f"Column {label!r} (TargetLabelColumn) of {where}: label(s) {_some(unseen)} are not in the "
                "training data; a classifier cannot learn a label it never sees"
            )
        return Inputs(
            "text",
            texts.to_numpy(),
            labels.to_numpy(),
            holdout_texts.to_numpy(),
            holdout_labels.to_numpy(),
            "the validation channel",
            {"content_column": content},
        )
    rows, classes = len(labels), len(counts)
    holdout_rows = math.ceil(rows * spec.validation_fraction)
    if holdout_rows < classes or rows - holdout_rows < classes:
        raise JobFailed(
            f"The training data ({data.files[0]}) has {rows} rows and {classes} labels in column {label!r}: "
            f"a ValidationFraction of {spec.validation_fraction} holds out {holdout_rows} rows, and both the "
            f"holdout and the rest need at least one row per label; add rows or change ValidationFraction"
        )
    from sklearn.model_selection import train_test_split

    train_x, holdout_x, train_y, holdout_y = train_test_split(
        texts.to_numpy(), labels.to_numpy(), test_size=holdout_rows, stratify=labels.to_numpy(), random_state=0
    )
    return Inputs(
        "text",
        train_x,
        train_y,
        holdout_x,
        holdout_y,
        f"ValidationFraction {spec.validation_fraction} of the training data (stratified)",
        {"content_column": content},
    )


def _checked(frame: pd.DataFrame, content: str, label: str, where: str) -> tuple[pd.Series, pd.Series]:
    """The text and label columns as strings, every row checked."""
    for column, setting in ((content, "ContentColumn"), (label, "TargetLabelColumn")):
        if column not in frame.columns:
            raise JobFailed(
                f"Column {column!r} ({TEXT_CONFIG_PATH}.{setting}) is not in {where}; its columns are "
                f"{_some([str(c) for c in frame.columns])}"
            )
    texts, labels = frame[content], frame[label]
    empty = texts.isna() | texts.astype(str).str.strip().eq("")
    if empty.any():
        raise JobFailed(
            f"Column {content!r} (ContentColumn) of {where} has {int(empty.sum())} empty text(s) (data row(s) "
            f"{_some([str(i + 1) for i in np.flatnonzero(empty.to_numpy())])}); every row needs a text to classify"
        )
    texts = texts.astype(str)
    lengths = texts.str.len()
    too_long = lengths > MAX_TEXT_CHARACTERS
    if too_long.any():
        first = int(np.flatnonzero(too_long.to_numpy())[0])
        raise JobFailed(
            f"Column {content!r} (ContentColumn) of {where}: data row {first + 1} has a text of "
            f"{int(lengths.iloc[first])} characters; the local service takes at most {MAX_TEXT_CHARACTERS} per text"
        )
    missing = labels.isna() | labels.astype(str).str.strip().eq("")
    if missing.any():
        raise JobFailed(
            f"Column {label!r} (TargetLabelColumn) of {where} has {int(missing.sum())} empty label(s) (data row(s) "
            f"{_some([str(i + 1) for i in np.flatnonzero(missing.to_numpy())])}); every row needs its label"
        )
    return texts.reset_index(drop=True), labels.astype(str).str.strip().reset_index(drop=True)


def _some(values: list[str]) -> str:
    shown = ", ".join(repr(v) if not v.isdigit() else v for v in values[:SHOWN])
    return shown + (f" and {len(values) - SHOWN} more" if len(values) > SHOWN else "")


def text_builders() -> list[Builder]:
    """The candidates, fastest first: word n-gram logistic regression, character n-gram linear
    model, naive Bayes, and LightGBM over word TF-IDF (the soft vote of those that fit follows)."""
    from lightgbm import LGBMClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression, SGDClassifier
    from sklearn.naive_bayes import ComplementNB
    from sklearn.pipeline import make_pipeline

    words: dict[str, Any] = {"ngram_range": (1, 2), "sublinear_tf": True, "max_features": 200_000}
    characters: dict[str, Any] = {
        "analyzer": "char_wb",
        "ngram_range": (2, 5),
        "sublinear_tf": True,
        "max_features": 200_000,
    }
    boosting_words: dict[str, Any] = {"ngram_range": (1, 1), "sublinear_tf": True, "max_features": 20_000}
    logistic: dict[str, Any] = {"C": 10.0, "max_iter": 2000}
    sgd: dict[str, Any] = {"loss": "modified_huber", "alpha": 1e-4, "max_iter": 50, "random_state": 0}
    nb: dict[str, Any] = {"alpha": 0.3}
    lgbm: dict[str, Any] = {
        "n_estimators": 200,
        "learning_rate": 0.1,
        "num_leaves": 15,
        "min_child_samples": 3,
        "n_jobs": 1,
        "verbose": -1,
        "random_state": 0,
    }
    return [
        Builder(
            "tfidf-logistic",
            "scikit-learn TfidfVectorizer (word 1-2 grams) + LogisticRegression",
            {"tfidf": words, "model": logistic},
            lambda: make_pipeline(TfidfVectorizer(**words), LogisticRegression(**logistic)),
        ),
        Builder(
            "char-sgd",
            "scikit-learn TfidfVectorizer (character 2-5 grams) + SGDClassifier (modified Huber)",
            {"tfidf": characters, "model": sgd},
            lambda: make_pipeline(TfidfVectorizer(**characters), SGDClassifier(**sgd)),
        ),
        Builder(
            "tfidf-naive-bayes",
            "scikit-learn TfidfVectorizer (word 1-2 grams) + ComplementNB",
            {"tfidf": words, "model": nb},
            lambda: make_pipeline(TfidfVectorizer(**words), ComplementNB(**nb)),
        ),
        Builder(
            "tfidf-lightgbm",
            "scikit-learn TfidfVectorizer (words) + LightGBM LGBMClassifier",
            {"tfidf": boosting_words, "model": lgbm},
            lambda: make_pipeline(TfidfVectorizer(**boosting_words), LGBMClassifier(**lgbm)),
        ),
    ]
