"""Watch the churn endpoint's traffic for drift from the champion's training data; on drift,
update the asset the retraining DAG is also scheduled on, so the model is retrained because the
data changed rather than only on the calendar.

Each hourly run:
  1. finds the champion: the latest Approved version of the model package group (no champion
     yet: the run is skipped, there is nothing to compare with);
  2. checks the interval's captured requests of ``churn-serving`` (endpoint data capture, in
     SageMaker's layout under the endpoint config's DestinationS3Uri) against a baseline built from
     the champion's training data (AutoMLDriftCheckOperator: Model Monitor's statistics.json and
     constraints.json, constraint_violations.json and a readable report under
     ``<storage>/drift/<run>/``); an interval with fewer than ``min_records`` requests is skipped;
  3. on drift, updates the asset ``churn_drift`` with the drifted features, their distances and
     the report's location: ``automl_retrain`` runs on it besides its daily schedule.

The same DAG runs on AWS and on the local service; storage and connection as for automl_retrain.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_automl.operators.drift import AutoMLDriftCheckOperator

AWS_CONN_ID = "aws_default"
# The retraining DAG is scheduled on this asset too (dags/automl_retrain.py, the same name).
CHURN_DRIFT = Asset(name="churn_drift")
RETRY_DELAY = timedelta(seconds=float(os.environ.get("AUTOML_RETRY_DELAY_SECONDS", "120")))


with DAG(
    dag_id="automl_monitor_drift",
    description="Check each hour's captured churn-serving traffic for drift from the champion's training data",
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": RETRY_DELAY},
    params={
        "storage_uri": Param(
            "", type="string", description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri"
        ),
        "endpoint_name": Param("churn-serving", type="string", description="the endpoint whose traffic is checked"),
        "model_package_group": Param("churn-models", type="string", description="the champion's registry group"),
        "min_records": Param(100, type="integer", minimum=1, description="fewer captured requests: no verdict"),
        "comparison_threshold": Param(
            0.1, type="number", minimum=0, maximum=1, description="distribution distance that counts as drift"
        ),
    },
    tags=["automl", "example"],
) as dag:

    @task
    def find_champion(params: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        """The champion's model package and where this run writes its reports."""
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        # Where every supported Airflow has it (airflow.sdk.exceptions has it from 3.2 on).
        from airflow.providers.common.compat.sdk import AirflowSkipException

        from airflow_automl.examples.storage import storage_uri

        client = AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type="sagemaker").conn
        approved = client.list_model_packages(
            ModelPackageGroupName=params["model_package_group"],
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        if not approved:
            raise AirflowSkipException(f"{params['model_package_group']}: no Approved model yet, nothing to compare")
        safe_run = "".join(c if c.isalnum() or c in "-_." else "-" for c in str(run_id))
        return {
            "model_package_arn": approved[0]["ModelPackageArn"],
            "output_uri": f"{storage_uri(params.get('storage_uri', ''))}/drift/{safe_run}",
        }

    champion = find_champion()

    # [START drift_check]
    check_drift = AutoMLDriftCheckOperator(
        task_id="check_drift",
        endpoint_name="{{ params.endpoint_name }}",
        # The baseline: the champion's training data, found through its AutoML job.
        model_package_arn="{{ ti.xcom_pull(task_ids='find_champion')['model_package_arn'] }}",
        output_uri="{{ ti.xcom_pull(task_ids='find_champion')['output_uri'] }}",
        # The run's data interval is the traffic checked; its captured requests are read from the
        # endpoint config's DataCaptureConfig destination.
        min_records="{{ params.min_records }}",
        monitoring_config={"distribution_constraints": {"comparison_threshold": "{{ params.comparison_threshold }}"}},
        aws_conn_id=AWS_CONN_ID,
    )
    # [END drift_check]

    @task.short_circuit
    def drifted(summary: dict[str, Any]) -> bool:
        """Only a drift goes on to the asset (and so to retraining)."""
        print(f"drift: {summary['drifted_features'] or 'none'} over {summary['record_count']} records")
        return bool(summary["drift"])

    @task(outlets=[CHURN_DRIFT])
    def announce_drift(summary: dict[str, Any], champion: dict[str, Any], outlet_events=None) -> dict[str, Any]:
        """Update ``churn_drift``: its extra says what drifted and where the report is."""
        extra = {
            "drifted_features": summary["drifted_features"],
            "distances": {name: summary["distances"][name] for name in summary["drifted_features"]},
            "record_count": summary["record_count"],
            "source": summary["source"],
            "report": summary["links"]["report"],
            "constraint_violations": summary["links"]["constraint_violations"],
            "champion": champion["model_package_arn"],
        }
        outlet_events[CHURN_DRIFT].extra = extra
        return extra

    champion >> check_drift
    drifted(check_drift.output) >> announce_drift(check_drift.output, champion)
