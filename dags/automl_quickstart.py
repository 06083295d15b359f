"""The README's example: train a churn model with SageMaker AutoML, then gate on the best candidate's AUC.

The training data is CSV with a header under ``<automl_storage_uri>/data/`` (the Variable), its target
column ``churned``; ``automl_retrain`` is the complete loop (data, training, gate, registry, endpoint).
"""

# [START quickstart]
from datetime import datetime

from airflow.sdk import DAG

from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

with DAG("automl_quickstart", schedule="@daily", start_date=datetime(2026, 1, 1), catchup=False):
    train = AutoMLJobOperator(
        task_id="train",
        job_name="{{ automl_job_name('churn') }}",  # one job per run; a retry reattaches to it
        input_uri="{{ var.value.automl_storage_uri }}/data/",
        target_attribute="churned",
        output_path="{{ var.value.automl_storage_uri }}/models",
        problem_type="BinaryClassification",
        objective_metric="AUC",
        max_runtime_seconds=3600,
        role_arn="{{ var.value.automl_role_arn }}",
        deferrable=True,  # waits in the triggerer, not in a worker slot
    )
    gate = AutoMLBestCandidateSensor(
        task_id="gate", job_name="{{ ti.xcom_pull(task_ids='train')['job_name'] }}", metric_threshold=0.8
    )
    train >> gate
# [END quickstart]
