"""GenerateCandidateDefinitionsOnly: the job analyses the data, writes its candidate
definitions and notebook, and ends without training."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sklearn.datasets import load_breast_cancer

from airflow_automl.local.engine import run_job
from airflow_automl.local.jobspec import Channel, JobSpec
from tests.fixtures.engine_context import make_context


@pytest.mark.parametrize(
    ("mode", "algorithms", "expected"),
    [
        ("ENSEMBLING", ("lightgbm", "catboost"), ["lightgbm", "catboost", "weighted-ensemble"]),
        ("HYPERPARAMETER_TUNING", ("xgboost", "mlp"), ["xgboost", "mlp"]),
    ],
)
def test_definitions_only_writes_definitions_and_trains_nothing(tmp_path, mode, algorithms, expected):
    (tmp_path / "data").mkdir()
    load_breast_cancer(as_frame=True).frame.to_csv(tmp_path / "data" / "train.csv", index=False)
    spec = JobSpec(
        name="definitions-job",
        api_version=1,
        channels=(Channel(uri=(tmp_path / "data").as_uri(), target="target"),),
        output_path=(tmp_path / "out").as_uri(),
        target="target",
        mode=mode,
        algorithms=algorithms,
        generate_candidate_definitions_only=True,
    )
    ctx = make_context(tmp_path)
    outcome = run_job(spec, ctx)

    assert outcome.secondary_status == "CandidateDefinitionsGenerated"
    assert ctx.candidates == [] and ctx.best_candidate is None
    assert ctx.statuses == ["AnalyzingData"]
    assert list((tmp_path / "model").iterdir()) == []
    notebook_path = Path(urlsplit(ctx.artifacts["CandidateDefinitionNotebookLocation"]).path)
    assert Path(urlsplit(ctx.artifacts["DataExplorationNotebookLocation"]).path).exists()
    definitions = json.loads((notebook_path.parent / "candidate-definitions.json").read_text())
    assert [d["Algorithm"] for d in definitions] == expected
    assert all(d["Objective"] == {"MetricName": "F1", "Type": "Maximize"} for d in definitions)
    if mode == "HYPERPARAMETER_TUNING":
        ranges = definitions[0]["HyperparameterRanges"]
        assert ranges["max_depth"] == {"Type": "Integer", "MinValue": 2, "MaxValue": 10, "ScalingType": "Linear"}
        assert ranges["learning_rate"]["ScalingType"] == "Logarithmic"
    else:
        assert definitions[0]["ModelKey"] == "GBM"
    notebook = json.loads(notebook_path.read_text())
    assert notebook["nbformat"] == 4
    assert any("definitions = " in "".join(cell["source"]) for cell in notebook["cells"] if cell["cell_type"] == "code")
