"""Stage every new churn model for serving, as soon as the retraining DAG announces it.

Scheduled on the Airflow asset ``churn_model``, which the training task of ``automl_retrain``
(dags/automl_retrain.py) updates each time its AutoML job completes. Each run:
  1. reads the new model from the asset event that triggered it: the job, its best candidate,
     the objective metric's value and the model's location;
  2. confirms with SageMaker that the job completed with that best candidate;
  3. stages it: ``<storage>/staging/model.json`` is the model the staging deployment serves,
     ``<storage>/staging/releases/<job name>.json`` keeps every staged model.

Staging takes every new model so it can be tried on live traffic; production serves the model
``automl_retrain`` approved in its model registry group (its endpoint, ``churn-serving`` by
default). The storage location is the
Variable ``automl_storage_uri`` (or the ``storage_uri`` param), as for the retraining DAG.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import DAG, Asset, Param, task

from airflow_automl.examples.storage import storage_uri, write_bytes

AWS_CONN_ID = "aws_default"
# The asset automl_retrain's training task updates (the same name there).
CHURN_MODEL = Asset(name="churn_model")
REQUIRED_EXTRA = ("job_name", "best_candidate_name", "objective_metric_value", "model_location")


with DAG(
    dag_id="automl_deploy_model",
    description="Stage each new churn model the retraining DAG trains",
    schedule=[CHURN_MODEL],
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    params={
        "storage_uri": Param(
            "",
            type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
    },
    tags=["automl", "example"],
) as dag:
    # [START howto_asset_consumer]
    @task
    def new_model(triggering_asset_events=None) -> dict[str, Any]:
        """The model the triggering asset event announces (the latest, when several were queued)."""
        events = list(triggering_asset_events[CHURN_MODEL]) if triggering_asset_events is not None else []
        if not events:
            raise ValueError(
                f"asset {CHURN_MODEL.name}: this run has no triggering event; it runs when "
                "automl_retrain's training task completes, not on its own"
            )
        # By timestamp: the order of the events is not the same in every Airflow 3 release (3.1 differs).
        event = max(events, key=lambda queued: queued.timestamp)
        extra = dict(event.extra or {})
        missing = [key for key in REQUIRED_EXTRA if extra.get(key) is None]
        if missing:
            raise ValueError(f"asset {CHURN_MODEL.name}: the event's extra lacks {missing}; got {sorted(extra)}")
        return {
            **extra,
            "announced_by": {
                "dag_id": event.source_dag_id,
                "run_id": event.source_run_id,
                "task_id": event.source_task_id,
            },
            "announced_at": event.timestamp.isoformat(),
        }

    # [END howto_asset_consumer]

    @task
    def confirm_with_sagemaker(model: dict[str, Any]) -> dict[str, Any]:
        """The event is a claim; the job's own description is the truth."""
        from airflow_automl.hooks.automl import AutoMLHook

        job = AutoMLHook(aws_conn_id=AWS_CONN_ID).describe_job(model["job_name"])
        if job.status != "Completed" or job.best_candidate_name != model["best_candidate_name"]:
            raise ValueError(
                f"AutoML job {model['job_name']} is {job.status} with best candidate {job.best_candidate_name}, "
                f"not Completed with {model['best_candidate_name']} as its asset event says"
            )
        if model["model_location"] not in job.model_artifacts:
            raise ValueError(f"{model['model_location']} is not a model artifact of AutoML job {model['job_name']}")
        return {**model, "inference_containers": job.inference_containers}

    @task
    def stage(model: dict[str, Any], params: dict[str, Any], run_id: str | None = None) -> dict[str, Any]:
        storage = storage_uri(params.get("storage_uri", ""))
        record = {**model, "staged_by_run_id": run_id, "staged_at": datetime.now(UTC).isoformat()}
        text = json.dumps(record, indent=2)
        write_bytes(f"{storage}/staging/releases/{model['job_name']}.json", text.encode(), aws_conn_id=AWS_CONN_ID)
        write_bytes(f"{storage}/staging/model.json", text.encode(), aws_conn_id=AWS_CONN_ID)
        print(f"STAGED {model['model_location']} ({model['best_candidate_name']} of {model['job_name']})")
        return {"staged_model_uri": f"{storage}/staging/model.json", **record}

    stage(confirm_with_sagemaker(new_model()))
