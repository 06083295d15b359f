"""dags/automl_deploy_endpoint.py end to end on the local service: a V2 job deploys its best
model to an endpoint named after the run, and the DAG scores a holdout on that endpoint."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_v2_job_deploys_and_the_endpoint_answers(local_service, airflow_db, tmp_path):
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    # dag.test() runs the DAG as the dags folder's bundle holds it: put the example there.
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    dag_path = dags_folder / "automl_deploy_endpoint.py"
    shutil.copyfile(REPO_ROOT / "dags" / "automl_deploy_endpoint.py", dag_path)
    storage = local_service.file_root / "endpoint-dag"

    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_default", local_service.endpoint_url))
    os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = "1"
    try:
        dag = DagBag(dag_folder=str(dag_path)).dags["automl_deploy_endpoint"]
        run = dag.test(
            run_conf={
                "storage_uri": storage.as_uri(),
                "max_candidates": 2,
                "max_runtime_seconds": 120,
                "holdout_rows": 100,
            }
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)

    assert task_states(run) == {
        "write_training_data": "success",
        "train_and_deploy": "success",
        "invoke_endpoint": "success",
    }
    job = xcom_value(run, "train_and_deploy")
    scored = xcom_value(run, "invoke_endpoint")
    described = local_service.client().describe_auto_ml_job_v2(AutoMLJobName=job["job_name"])
    assert scored["endpoint_name"] == described["ModelDeployResult"]["EndpointName"] == job["job_name"]
    endpoint = local_service.client().describe_endpoint(EndpointName=scored["endpoint_name"])
    assert endpoint["EndpointStatus"] == "InService"
    assert scored["rows"] == 100
    # Churn is learnable from these features: far better than always answering "no".
    assert scored["accuracy"] > 0.7
