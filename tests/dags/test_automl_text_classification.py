"""dags/automl_text_classification.py end to end on the local service: a text classifier trained
by a real job, gated on Accuracy, and the new texts classified by a batch transform with the best
candidate, written next to the data with their labels and probabilities."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from airflow_automl.examples.text_corpus import AREAS
from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_text_classifier_trains_gates_and_classifies_new_texts(local_service, airflow_db):
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    # dag.test() runs the DAG as the dags folder's bundle holds it: put the example there.
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    dag_path = dags_folder / "automl_text_classification.py"
    shutil.copyfile(REPO_ROOT / "dags" / "automl_text_classification.py", dag_path)
    storage = local_service.file_root / "text-dag"

    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_default", local_service.endpoint_url))
    os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = "1"
    try:
        dag = DagBag(dag_folder=str(dag_path)).dags["automl_text_classification"]
        run = dag.test(
            run_conf={
                "storage_uri": storage.as_uri(),
                "labelled_rows": 160,
                "new_rows": 12,
                "max_runtime_seconds": 300,
                "accuracy_threshold": 0.4,
            }
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)

    assert task_states(run) == {
        "prepare_texts": "success",
        "train_classifier": "success",
        "check_accuracy": "success",
        "plan_batch_classification": "success",
        "batch_classify": "success",
        "publish_classified": "success",
    }
    prepared = xcom_value(run, "prepare_texts")
    trained = xcom_value(run, "train_classifier")
    published = xcom_value(run, "publish_classified")
    assert trained["objective_metric_name"] == "Accuracy" and trained["objective_metric_value"] >= 0.4
    folder = Path(prepared["folder"].removeprefix("file://"))
    classified = pd.read_csv(folder / "classified.csv")
    sent = pd.read_csv(folder / "new" / "new.csv", header=None)
    # Every new text comes back once, in order, with a label and the probability of that label.
    assert list(classified["text"]) == list(sent[0]) and len(classified) == 12 == published["texts"]
    assert set(classified["area"]) <= set(AREAS)
    assert classified["probability"].between(1 / len(AREAS), 1.0).all()
    transform = local_service.client().describe_transform_job(TransformJobName=published["transform_job_name"])
    assert transform["TransformJobStatus"] == "Completed"
