"""The local service's image classification job against the same scikit-learn pipelines fitted
directly on the same image features, on scikit-learn's bundled handwritten digits (no download).

    nice -n 10 .venv/bin/python benchmarks/image_classification_vs_direct.py [--per-digit 120] [--budget 600]

Run with .venv-torch/bin/python (`make .venv-torch/.installed`) to include the convolutional
network, in the job and fitted directly.

Data: ``--per-digit`` scans of each of the ten digits, written as 32x32 PNG files in label folders
(airflow_automl.examples.digit_images). A stratified quarter is held out as the test set (seed 0).
The job (the engine's run_job, as the service's worker runs it, with MaxAutoMLJobRuntimeInSeconds
= --budget) reads the rest from its label folders and ranks its candidates on its own
ValidationFraction holdout of it; its best candidate classifies the test images. Each direct
pipeline is fitted on the features of all of the rest (a fifth more images than the job's
candidates see). Wall times: the job's includes reading and decoding the images, fitting,
scoring every candidate and writing its artifacts; a direct one only its fit.

Noise: each accuracy comes with a 95 % normal-approximation interval over the test images.
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
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from airflow_automl.examples.digit_images import digit_images
from airflow_automl.local.engine import run_job
from airflow_automl.local.engine.classification.images import HOG_COLUMNS, image_builders, image_features
from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.local.storage import Storage


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-digit", type=int, default=120, help="scans of each digit (at most about 170)")
    parser.add_argument("--budget", type=int, default=600, help="MaxAutoMLJobRuntimeInSeconds")
    parser.add_argument(
        "--skip", nargs="*", default=[], help="direct pipelines to leave out (e.g. pixels-gradient-boosting)"
    )
    args = parser.parse_args()

    images = list(digit_images(args.per_digit))
    labels = np.asarray([label for label, _, _ in images])
    train, test = train_test_split(images, test_size=0.25, stratify=labels, random_state=0)
    test_x = np.vstack([image_features(data) for _, _, data in test])
    test_y = np.asarray([label for label, _, _ in test])
    print(f"{len(images)} digit images, 10 labels; train {len(train)}, test {len(test)}")
    rows: list[tuple[str, str, float]] = []

    root = Path(tempfile.mkdtemp(prefix="image-bench-"))
    try:
        for label, name, data in train:
            (root / "data" / label).mkdir(parents=True, exist_ok=True)
            (root / "data" / label / name).write_bytes(data)
        request = {
            "AutoMLJobName": "image-bench",
            "AutoMLJobInputDataConfig": [
                {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (root / "data").as_uri() + "/"}}}
            ],
            "OutputDataConfig": {"S3OutputPath": (root / "out").as_uri()},
            "RoleArn": "arn:aws:iam::123456789012:role/automl",
            "AutoMLProblemTypeConfig": {
                "ImageClassificationJobConfig": {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": args.budget}}
            },
        }
        spec = job_spec_from_request("CreateAutoMLJobV2", request)
        ctx = MemoryJobContext(Storage([root]), root / "work", root / "model")
        ctx.work_dir.mkdir()
        ctx.model_dir.mkdir()
        started = time.monotonic()
        outcome = run_job(spec, ctx)
        job_seconds = time.monotonic() - started
        print(
            "job stages (s):", ", ".join(f"{stage} {seconds:.1f}" for stage, seconds in outcome.stage_seconds.items())
        )
        for candidate in ctx.candidates:
            metric = candidate["FinalAutoMLJobObjectiveMetric"]
            training = ctx.trainings.get(candidate["CandidateName"])
            seconds = f", fitted and scored in {training.seconds:.1f} s" if training and training.seconds else ""
            print(
                f"  job candidate {candidate['CandidateName']}: holdout {metric['MetricName']} {metric['Value']:.3f}"
                + seconds
            )
        best = ctx.best
        assert best is not None, f"the job kept no best candidate ({outcome.secondary_status}): {ctx.failures}"
        model = pickle.loads((ctx.model_dir / "candidates" / best / "model.pkl").read_bytes())
        accuracy = float(np.mean(model.predict(test_x) == test_y))
        rows.append((f"job: best candidate {best}", interval(accuracy, len(test)), job_seconds))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    train_x = np.vstack([image_features(data) for _, _, data in train])
    train_y = np.asarray([label for label, _, _ in train])
    direct = [(builder.label, builder.make) for builder in image_builders() if builder.label not in args.skip]
    # Not candidates: whether the HOG features add to the pixel ones, and boosting on them alone.
    direct += [
        ("pixels+hog-logistic", lambda: make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))),
        (
            "hog-gradient-boosting",
            lambda: make_pipeline(
                ColumnTransformer([("hog", "passthrough", HOG_COLUMNS)]),
                HistGradientBoostingClassifier(max_iter=100, early_stopping=False, random_state=0),
            ),
        ),
    ]
    for label, make in direct:
        if label in args.skip:
            continue
        started = time.monotonic()
        fitted = make().fit(train_x, train_y)
        seconds = time.monotonic() - started
        accuracy = float(np.mean(fitted.predict(test_x) == test_y))
        rows.append((f"direct: {label}", interval(accuracy, len(test)), seconds))

    print(f"{'model':<60} {'test accuracy (95 %)':>22} {'wall s':>8}")
    for name, accuracy_text, seconds in rows:
        print(f"{name:<60} {accuracy_text:>22} {seconds:>8.1f}")


if __name__ == "__main__":
    main()
