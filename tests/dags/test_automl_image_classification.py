"""dags/automl_image_classification.py end to end on the local service: an image classifier
trained by a real job on digit scans in label folders, gated on Accuracy, and the new images
classified by a batch transform of the image files with the best candidate."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_image_classifier_trains_gates_and_classifies_new_images(local_service, airflow_db):
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    # dag.test() runs the DAG as the dags folder's bundle holds it: put the example there.
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    dag_path = dags_folder / "automl_image_classification.py"
    shutil.copyfile(REPO_ROOT / "dags" / "automl_image_classification.py", dag_path)
    storage = local_service.file_root / "image-dag"

    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_default", local_service.endpoint_url))
    os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = "1"
    try:
        dag = DagBag(dag_folder=str(dag_path)).dags["automl_image_classification"]
        run = dag.test(
            run_conf={
                "storage_uri": storage.as_uri(),
                "digits": "017",
                "per_label": 8,
                "new_per_label": 2,
                "max_runtime_seconds": 300,
                "accuracy_threshold": 0.5,
            }
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)

    assert task_states(run) == {
        "prepare_images": "success",
        "train_classifier": "success",
        "check_accuracy": "success",
        "plan_batch_classification": "success",
        "batch_classify": "success",
        "publish_classified": "success",
    }
    prepared = xcom_value(run, "prepare_images")
    trained = xcom_value(run, "train_classifier")
    assert trained["objective_metric_name"] == "Accuracy" and trained["objective_metric_value"] >= 0.5
    classified = pd.read_csv(Path(prepared["folder"].removeprefix("file://")) / "classified.csv", dtype=str)
    assert list(classified["file"]) == prepared["new_images"] and len(classified) == 6
    assert set(classified["label"]) <= {"0", "1", "7"}
    transform = local_service.client().describe_transform_job(
        TransformJobName=xcom_value(run, "publish_classified")["transform_job_name"]
    )
    assert transform["TransformJobStatus"] == "Completed"
