"""The local service's text classification job against the same scikit-learn and LightGBM
pipelines fitted directly (and, with --autogluon, AutoGluon's TabularPredictor with its own text
n-gram features), on real text that ships with Python: no download.

    nice -n 10 .venv/bin/python benchmarks/text_classification_vs_direct.py [--budget 300] [--autogluon]

Data: the first paragraph of every documented function, class and method of 31 standard-library
modules, labelled by the area of the library they document (files, network, formats, numbers;
airflow_automl.examples.text_corpus). A stratified quarter is held out as the test set (seed 0).

The job (the engine's run_job, as the service's worker runs it, with MaxAutoMLJobRuntimeInSeconds
= --budget) trains on the rest, ranks its candidates on its own ValidationFraction holdout of it
and its best candidate is scored on the test set. Each direct pipeline is fitted on all of the
rest (a fifth more rows than the job's candidates see) and scored on the same test set. Wall
times include fitting and, for the job, scoring every candidate and writing its artifacts.

Noise: each accuracy comes with a 95 % normal-approximation interval over the test rows.
"""

from __future__ import annotations

import argparse
import pickle
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from accuracy_interval import interval
from memory_context import MemoryJobContext
from sklearn.model_selection import train_test_split

from airflow_automl.examples.text_corpus import CONTENT, LABEL, library_docstrings
from airflow_automl.local.engine import run_job
from airflow_automl.local.engine.classification.text import text_builders
from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.local.storage import Storage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=int, default=300, help="MaxAutoMLJobRuntimeInSeconds, and AutoGluon's")
    parser.add_argument("--autogluon", action="store_true", help="also fit AutoGluon's TabularPredictor")
    args = parser.parse_args()

    corpus = library_docstrings()
    train, test = train_test_split(corpus, test_size=0.25, stratify=corpus[LABEL], random_state=0)
    print(f"{len(corpus)} texts, {corpus[LABEL].nunique()} areas; train {len(train)}, test {len(test)}")
    rows: list[tuple[str, str, float]] = []

    root = Path(tempfile.mkdtemp(prefix="text-bench-"))
    try:
        (root / "data").mkdir()
        train.to_csv(root / "data" / "train.csv", index=False)
        request = {
            "AutoMLJobName": "text-bench",
            "AutoMLJobInputDataConfig": [
                {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (root / "data").as_uri() + "/"}}}
            ],
            "OutputDataConfig": {"S3OutputPath": (root / "out").as_uri()},
            "RoleArn": "arn:aws:iam::123456789012:role/automl",
            "AutoMLProblemTypeConfig": {
                "TextClassificationJobConfig": {
                    "ContentColumn": CONTENT,
                    "TargetLabelColumn": LABEL,
                    "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": args.budget},
                }
            },
        }
        spec = job_spec_from_request("CreateAutoMLJobV2", request)
        ctx = MemoryJobContext(Storage([root]), root / "work", root / "model")
        ctx.work_dir.mkdir()
        ctx.model_dir.mkdir()
        started = time.monotonic()
        outcome = run_job(spec, ctx)
        job_seconds = time.monotonic() - started
        best = ctx.best
        assert best is not None, f"the job kept no best candidate ({outcome.secondary_status}): {ctx.failures}"
        model = pickle.loads((ctx.model_dir / "candidates" / best / "model.pkl").read_bytes())
        accuracy = float(np.mean(model.predict(test[CONTENT].to_numpy()) == test[LABEL].to_numpy()))
        rows.append((f"job: best candidate {best}", interval(accuracy, len(test)), job_seconds))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    for builder in text_builders():
        started = time.monotonic()
        fitted = builder.make().fit(train[CONTENT].to_numpy(), train[LABEL].to_numpy())
        seconds = time.monotonic() - started
        accuracy = float(np.mean(fitted.predict(test[CONTENT].to_numpy()) == test[LABEL].to_numpy()))
        rows.append((f"direct: {builder.label}", interval(accuracy, len(test)), seconds))

    if args.autogluon:
        from autogluon.tabular import TabularPredictor

        path = tempfile.mkdtemp(prefix="text-bench-ag-")
        try:
            started = time.monotonic()
            predictor = TabularPredictor(label=LABEL, path=path, verbosity=0).fit(train, time_limit=args.budget)
            seconds = time.monotonic() - started
            accuracy = float(np.mean(predictor.predict(test).to_numpy() == test[LABEL].to_numpy()))
            rows.append(("direct: AutoGluon TabularPredictor (text n-grams)", interval(accuracy, len(test)), seconds))
        finally:
            shutil.rmtree(path, ignore_errors=True)

    print(f"{'model':<60} {'test accuracy (95 %)':>22} {'wall s':>8}")
    for name, accuracy_text, seconds in rows:
        print(f"{name:<60} {accuracy_text:>22} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
