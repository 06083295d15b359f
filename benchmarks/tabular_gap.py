"""Where the gap between the local engine's ENSEMBLING job and AutoGluon's TabularPredictor fitted
directly comes from: AutoGluon alone, one cause changed at a time, on the same train/test split.

    nice -n 10 .venv/bin/python benchmarks/tabular_gap.py [--budget 60] [--seeds 1] [--dataset NAME]
        [--variants direct,holdout20,job-models,job-split,job-split-refit]

Variants (each a TabularPredictor fit with the same time limit, scored on the same held-out rows):
- direct: AutoGluon's defaults (it holds out its own validation rows: 10 % of 12,800 rows).
- holdout20: the defaults, but 20 % held out for validation (the API's default ValidationFraction).
- job-models: the defaults' split, the job's model families (the reference's algorithms; no KNN).
- job-split: the job's models, trained on the job's 80 % and validated on its 20 % (tuning_data),
  as the job does before this change.
- job-split-refit: job-split, then the best model refit on train + validation (refit_full); it
  also prints the holdout score of the model as selected (the same fit, unrefit).
Prints the holdout score, the wall time, how many models were fitted and the best model."""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see airflow_automl.local.engine

import shutil
import tempfile
import time
from pathlib import Path

from engine_vs_autogluon import DATASETS, TARGET, score
from sklearn.model_selection import train_test_split

from airflow_automl.local.engine.data import split
from airflow_automl.local.engine.ensembling import hyperparameters_for, select_algorithms
from airflow_automl.local.engine.metrics import AUTOGLUON_METRIC, AUTOGLUON_PROBLEM_TYPE
from airflow_automl.sagemaker.metrics import DEFAULT_OBJECTIVE, REGRESSION

VARIANTS = ("direct", "holdout20", "job-models", "job-split", "job-split-refit")


def run_variant(variant: str, root: Path, train, test, problem_type: str, metric: str, budget: float):
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(
        label=TARGET,
        problem_type=AUTOGLUON_PROBLEM_TYPE[problem_type],
        eval_metric=AUTOGLUON_METRIC[metric],
        path=str(root / variant),
        verbosity=0,
    )
    kwargs: dict = {"time_limit": budget}
    if variant != "direct" and variant != "holdout20":
        kwargs["hyperparameters"] = hyperparameters_for(select_algorithms(()))
    if variant == "holdout20":
        kwargs["holdout_frac"] = 0.2
    fit_train = train
    if variant.startswith("job-split"):
        fit_train, validation = split(train, TARGET, problem_type, 0.2)
        kwargs["tuning_data"] = validation
    started = time.monotonic()
    predictor.fit(fit_train, **kwargs)
    fitted = time.monotonic()
    selected = model = predictor.model_best
    if variant.endswith("refit"):
        model = predictor.refit_full(model=model)[model]
    wall, refit = time.monotonic() - started, time.monotonic() - fitted
    features = test.drop(columns=[TARGET])

    def holdout_score(name: str) -> float:
        probabilities, classes = None, None
        if problem_type != REGRESSION:
            classes = list(predictor.class_labels)
            probabilities = predictor.predict_proba(features, model=name, as_multiclass=True)[classes].to_numpy()
        return score(
            problem_type, metric, test[TARGET], predictor.predict(features, model=name), probabilities, classes
        )

    # The refit variant also scores the model as selected: the same fit without the refit.
    before = holdout_score(selected) if model != selected else None
    return holdout_score(model), before, wall, refit, len(predictor.model_names()), model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--dataset", default="friedman1-16k (generated)", choices=list(DATASETS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    loader, problem_type = DATASETS[args.dataset]
    frame = loader()
    metric = DEFAULT_OBJECTIVE[problem_type]
    stratify = None if problem_type == REGRESSION else frame[TARGET]
    test_size = min(0.2, (len(frame) - 500) / len(frame))
    print(f"{args.dataset}: budget {args.budget} s; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'variant':16} {'seed':>4} {metric:>9} {'unrefit':>9} {'wall s':>7} {'refit s':>7} {'models':>6}  best")
    for seed in range(args.seeds):
        train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=stratify)
        root = Path(tempfile.mkdtemp(prefix="tabular-gap-"))
        try:
            for variant in args.variants.split(","):
                value, before, wall, refit, models, best = run_variant(
                    variant, root, train, test, problem_type, metric, args.budget
                )
                unrefit = f"{before:9.4f}" if before is not None else f"{'':9}"
                print(
                    f"{variant:16} {seed:4d} {value:9.4f} {unrefit} {wall:7.1f} {refit:7.1f} {models:6d}  {best}",
                    flush=True,
                )
        finally:
            shutil.rmtree(root, ignore_errors=True)
    print(f"load average at end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
