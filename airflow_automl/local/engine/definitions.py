"""Candidate definitions: what the job would train (preprocessing, algorithm, configurations or
hyperparameter ranges), as JSON and as a notebook a person can read and run. Written for every
job; with GenerateCandidateDefinitionsOnly the job ends there."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airflow_automl.local.engine.data import Dataset
from airflow_automl.local.engine.metrics import AUTOGLUON_METRIC, AUTOGLUON_PROBLEM_TYPE
from airflow_automl.sagemaker.metrics import objective_type

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

DEFINITIONS_PATH = "candidate-definitions/candidate-definitions.json"
NOTEBOOK_PATH = "candidate-definitions/SageMakerAutopilotCandidateDefinitionNotebook.ipynb"


def candidate_definitions(spec: JobSpec, dataset: Dataset, mode: str, objective: str) -> list[dict]:
    common = {
        "ProblemType": dataset.problem_type,
        "Objective": {"MetricName": objective, "Type": objective_type(objective)},
    }
    if mode == "ENSEMBLING":
        from airflow_automl.local.engine.ensembling import ALGORITHM_MODELS, hyperparameters_for, select_algorithms

        definitions = []
        for algorithm in select_algorithms(tuple(spec.algorithms)):
            definitions.append(
                {
                    "CandidateDefinitionName": f"{spec.name}-{algorithm}",
                    "Algorithm": algorithm,
                    "Framework": "AutoGluon Tabular",
                    "ModelKey": ALGORITHM_MODELS[algorithm],
                    "Preprocessing": (
                        "AutoGluon feature generation: type inference, category encoding, datetime and text features"
                    ),
                    "Configurations": _jsonable(hyperparameters_for([algorithm])[ALGORITHM_MODELS[algorithm]]),
                    **common,
                }
            )
        definitions.append(
            {
                "CandidateDefinitionName": f"{spec.name}-weighted-ensemble",
                "Algorithm": "weighted-ensemble",
                "Framework": "AutoGluon Tabular",
                "ModelKey": "WeightedEnsemble_L2",
                "Preprocessing": "none (combines the other candidates' predictions)",
                "Configurations": {"method": "greedy ensemble selection weighted on the validation data"},
                **common,
            }
        )
        return definitions

    from airflow_automl.local.engine.tuning import HPO_ALGORITHMS, estimator_description, space_for

    algorithms = list(dict.fromkeys(spec.algorithms)) or list(HPO_ALGORITHMS)
    return [
        {
            "CandidateDefinitionName": f"{spec.name}-{algorithm}",
            "Algorithm": algorithm,
            "Framework": "scikit-learn pipeline",
            "Estimator": estimator_description(algorithm, dataset.problem_type),
            "Preprocessing": "numeric: median imputation"
            + ("" if algorithm == "xgboost" else " and standard scaling")
            + "; categorical: one-hot (at most 50 categories); datetime: seconds since the epoch; text: TF-IDF",
            "HyperparameterRanges": {
                name: value_range.describe() for name, value_range in space_for(algorithm, dataset.problem_type).items()
            },
            "Search": "Bayesian (Optuna TPE), one trial per candidate",
            **common,
        }
        for algorithm in algorithms
    ]


def definitions_notebook(spec: JobSpec, dataset: Dataset, mode: str, objective: str, definitions: list[dict]) -> str:
    """An nbformat 4 notebook: the data, each definition, and code that trains them."""
    cells = [
        _markdown(
            f"# Candidate definitions: {spec.name}\n\n"
            f"Mode **{mode}**, problem type **{dataset.problem_type}**, objective **{objective}** "
            f"({objective_type(objective)}), target column `{dataset.target}`.\n\n"
            f"Training rows: {len(dataset.train)}; validation rows: {len(dataset.validation)}; "
            f"feature columns: {', '.join(dataset.feature_columns[:30])}"
            + (" ..." if len(dataset.feature_columns) > 30 else "")
        ),
        _code("definitions = " + json.dumps(definitions, indent=2)),
    ]
    for definition in definitions:
        details = "\n".join(
            f"- **{k}**: `{json.dumps(v)}`" for k, v in definition.items() if k != "CandidateDefinitionName"
        )
        cells.append(_markdown(f"## {definition['CandidateDefinitionName']}\n\n{details}"))
    if mode == "ENSEMBLING":
        cells.append(
            _code(
                "import pandas as pd\n"
                "from autogluon.tabular import TabularPredictor\n\n"
                "train = pd.read_csv('train.csv')  # the job's training data\n"
                "hyperparameters = {d['ModelKey']: d['Configurations'] for d in definitions "
                "if d['ModelKey'] != 'WeightedEnsemble_L2'}\n"
                f"predictor = TabularPredictor(label={dataset.target!r}, "
                f"problem_type={AUTOGLUON_PROBLEM_TYPE[dataset.problem_type]!r}, "
                f"eval_metric={AUTOGLUON_METRIC[objective]!r})\n"
                "predictor.fit(train, hyperparameters=hyperparameters)\n"
                "predictor.leaderboard()"
            )
        )
    else:
        cells.append(
            _code(
                "import optuna\n\n"
                "def sample(trial, definition):\n"
                "    params = {}\n"
                "    for name, r in definition['HyperparameterRanges'].items():\n"
                "        if r['Type'] == 'Categorical':\n"
                "            params[name] = trial.suggest_categorical(name, r['Values'])\n"
                "        elif r['Type'] == 'Integer':\n"
                "            params[name] = trial.suggest_int(name, int(r['MinValue']), int(r['MaxValue']), "
                "log=r['ScalingType'] == 'Logarithmic')\n"
                "        else:\n"
                "            params[name] = trial.suggest_float(name, r['MinValue'], r['MaxValue'], "
                "log=r['ScalingType'] == 'Logarithmic')\n"
                "    return params\n\n"
                "study = optuna.create_study(direction="
                + ("'maximize'" if objective_type(objective) == "Maximize" else "'minimize'")
                + ")\n"
                "print(sample(study.ask(), definitions[0]))"
            )
        )
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 4,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "cells": cells,
    }
    return json.dumps(notebook, indent=1)


def _markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def _code(text: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [], "source": text}


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))
