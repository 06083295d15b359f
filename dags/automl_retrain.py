"""Daily retraining of a customer-churn model with SageMaker AutoML (Autopilot), champion against challenger.

Each run:
  1. prepares the interval's data: training rows and a held-out slice kept apart, under a path
     unique to the run (``<storage>/data/<job name>/``); the rows depend on the interval and on
     the run, so two runs never collide nor train on identical data;
  2. trains (AutoMLJobOperator, deferred to the triggerer while it trains) and gates on a floor
     threshold (AutoMLBestCandidateSensor);
  3. scores the champion (the model of the latest Approved version in the model package group)
     and the challenger (the new best candidate) on the same held-out rows with batch transform
     (the provider's SageMakerTransformOperator, deferred; airflow_automl.operators.transform lets
     it read file:// input), and computes the objective metric of both;
  4. registers the challenger as the group's next version with its holdout metric in
     CustomerMetadataProperties (and ModelMetrics); it is Approved if it beats the champion by the
     ``promotion_margin`` param (or there is no champion), else Rejected with the reason;
  5. a close call, a challenger that beats the champion by less than the ``approval_margin`` param,
     waits for a person (Airflow's human-in-the-loop ApprovalOperator, in the UI's Required
     Actions or through the REST API): the form shows both holdout metrics, the features the
     latest drift check flagged and links to its reports; approval registers it Approved,
     rejection Rejected with the reviewer's words. A clear win or loss needs no person;
  6. when approved, creates the endpoint on the first run or updates it to the new version
     (SageMakerEndpointOperator, deferred), then sends a few held-out rows to it as a smoke check.

It runs daily, and also whenever ``automl_monitor_drift`` (dags/automl_monitor_drift.py) finds the
served traffic drifting from the champion's training data: the asset ``churn_drift``.

``register_challenger`` returns ``{promoted, challenger_metric, champion_metric, margin,
model_package_arn, reason, close_call, trigger}``; ``apply_verdict`` returns the final verdict
(``promoted``, ``reason``, ``decided_by``) and writes it as the run's note (through Airflow's REST
API: see airflow_automl/examples/run_note.py; without the ``airflow_api`` connection the note is
skipped). A failed transform fails the run before anything is registered or deployed.

When the job completes, the training task updates the Airflow asset ``churn_model``: its event
names the job, the best candidate, its metric and the model's location, and
``automl_deploy_model`` (dags/automl_deploy_model.py) is scheduled on it.

The same DAG runs on the local service and on AWS; what changes is configuration only:
  - the Airflow connection ``aws_default`` (on the local service its extra holds ``endpoint_url``);
  - the storage location: the ``storage_uri`` param, else the Airflow Variable ``automl_storage_uri``
    (``s3://bucket/prefix`` on AWS or MinIO, ``file:///path`` on the local service);
  - the IAM role SageMaker assumes: the Variable ``automl_role_arn``.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.hitl import ApprovalOperator, HITLOperator
from airflow.sdk import DAG, Asset, Param, TriggerRule, get_current_context, task

# From Airflow core: the Task SDK exports AssetOrTimeSchedule only from Airflow 3.2.
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_automl.examples.storage import read_bytes, storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.operators.transform import FileOrS3TransformOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

AWS_CONN_ID = "aws_default"
TARGET = "churned"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
ROLE_ARN = "{{ var.value.get('automl_role_arn', '" + DEFAULT_ROLE_ARN + "') }}"
# Seconds between status checks of a running job. A real Autopilot job runs for an hour or more.
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))
# How long a failed task waits before its retry (a worker lost mid-task, a transient error).
RETRY_DELAY = timedelta(seconds=float(os.environ.get("AUTOML_RETRY_DELAY_SECONDS", "120")))
INSTANCE_TYPE = "ml.m5.large"
SMOKE_ROWS = 5
# How long a close call waits for a person. The standard provider of Airflow 3.1 takes it as the task's
# execution_timeout; later ones as response_timeout.
APPROVAL_TIMEOUT = {
    "response_timeout"
    if "response_timeout" in inspect.signature(HITLOperator.__init__).parameters
    else "execution_timeout": timedelta(days=2)
}
# Autopilot's inference containers answer with these keys when asked (JSON Lines): the metrics need the probabilities.
INFERENCE_OUTPUT = {"SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probabilities,labels"}
# [START howto_asset_model]
# Updated each time a training job completes; DAGs scheduled on it see the new model in the event's extra.
CHURN_MODEL = Asset(name="churn_model")
# [END howto_asset_model]
# Updated by automl_monitor_drift when the served traffic drifts: a run besides the daily ones.
CHURN_DRIFT = Asset(name="churn_drift")
# Where the endpoint's data capture writes: under the storage location.
CAPTURE_URI = "{{ ti.xcom_pull(task_ids='prepare_training_data')['storage_uri'] }}/datacapture"


def _sagemaker(client_type: str = "sagemaker"):
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    return AwsBaseHook(aws_conn_id=AWS_CONN_ID, client_type=client_type).conn


def _client_token(*parts: str) -> str:
    """The same token on every retry of one run's request, so a retry creates nothing twice."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:36]


with DAG(
    dag_id="automl_retrain",
    description="Retrain the churn model daily with SageMaker AutoML; promote it if it beats the champion on a holdout",
    # [START drift_schedule]
    # Daily at midnight UTC, each run covering the previous day: its data interval; and on drift.
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"), assets=[CHURN_DRIFT]
    ),
    # [END drift_schedule]
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": RETRY_DELAY},
    params={
        "storage_uri": Param(
            "",
            type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
        "rows": Param(3000, type="integer", minimum=500, description="customers in the interval's data"),
        "holdout_fraction": Param(
            0.2,
            type="number",
            minimum=0.05,
            maximum=0.5,
            description="share of the rows held out to score champion and challenger",
        ),
        "objective_metric": Param("AUC", enum=["AUC", "F1", "Accuracy", "BalancedAccuracy", "Precision", "Recall"]),
        "metric_threshold": Param(0.7, type="number", description="floor the best candidate must reach"),
        "promotion_margin": Param(
            0.0,
            type="number",
            minimum=0,
            description="how much better than the champion on the holdout the challenger must be",
        ),
        "approval_margin": Param(
            0.0,
            type="number",
            minimum=0,
            description="a challenger that beats the champion by less than this waits for a person's approval",
        ),
        "model_package_group": Param("churn-models", type="string", description="model registry group"),
        "endpoint_name": Param("churn-serving", type="string", description="endpoint serving the approved model"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")),
            type="integer",
            minimum=10,
            description="training budget of the job",
        ),
    },
    tags=["automl", "example"],
) as dag:
    # [START tutorial_prepare_data]
    @task
    def prepare_training_data(
        params: dict[str, Any], data_interval_start=None, data_interval_end=None
    ) -> dict[str, Any]:
        """Extract the interval's customers (here: generated), hold a slice out, write both as CSV."""
        import numpy as np

        from airflow_automl.examples.datasets import churn_for_interval
        from airflow_automl.utils.naming import automl_job_name

        context = get_current_context()
        # A manual run without a data interval takes the day before it was triggered.
        end = data_interval_end or context["dag_run"].run_after
        start = data_interval_start if data_interval_start and data_interval_start < end else end - timedelta(days=1)
        run_id = context["run_id"]
        frame = churn_for_interval(start, end, rows=int(params["rows"]), run_key=run_id)
        # Identifiers carry no signal and would only be memorised.
        frame = frame.drop(columns=["customer_id"])
        rng = np.random.default_rng(int(hashlib.sha256(run_id.encode()).hexdigest()[:8], 16))
        held_out = rng.random(len(frame)) < float(params["holdout_fraction"])
        train, holdout = frame[~held_out], frame[held_out]
        storage = storage_uri(params.get("storage_uri", ""))
        # The job's name is unique to the run and the same on its retries: so is this path.
        prefix = f"{storage}/data/{automl_job_name('churn', context)}/"

        def csv(table, header: bool = True) -> bytes:
            buffer = io.StringIO()
            table.to_csv(buffer, index=False, header=header)
            return buffer.getvalue().encode()

        write_bytes(f"{prefix}train/train.csv", csv(train), aws_conn_id=AWS_CONN_ID)
        # Autopilot's models read CSV rows without a header and without the target.
        write_bytes(
            f"{prefix}holdout/features.csv", csv(holdout.drop(columns=[TARGET]), header=False), aws_conn_id=AWS_CONN_ID
        )
        write_bytes(f"{prefix}holdout/labels.csv", csv(holdout[[TARGET]]), aws_conn_id=AWS_CONN_ID)
        return {
            "storage_uri": storage,
            "train_uri": f"{prefix}train/",
            "holdout_features_uri": f"{prefix}holdout/features.csv",
            "holdout_labels_uri": f"{prefix}holdout/labels.csv",
            "rows": len(train),
            "holdout_rows": len(holdout),
            "positive_rate": round(float((train[TARGET] == "yes").mean()), 4),
            "interval": [start.isoformat(), end.isoformat()],
        }

    data = prepare_training_data()
    # [END tutorial_prepare_data]

    # [START howto_operator_automl_job]
    train = AutoMLJobOperator(
        task_id="train_model",
        # Unique per DAG run and the same on each retry of it, so a retry reattaches to its job.
        job_name="{{ automl_job_name('churn') }}",
        config={
            "InputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "{{ ti.xcom_pull(task_ids='prepare_training_data')['train_uri'] }}",
                        }
                    },
                    "TargetAttributeName": TARGET,
                    "ContentType": "text/csv;header=present",
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": "{{ ti.xcom_pull(task_ids='prepare_training_data')['storage_uri'] }}/models"
            },
            "ProblemType": "BinaryClassification",
            "AutoMLJobObjective": {"MetricName": "{{ params.objective_metric }}"},
            "AutoMLJobConfig": {
                "Mode": "ENSEMBLING",
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}"},
            },
            "RoleArn": ROLE_ARN,
        },
        tags={"project": "churn"},
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
        leaderboard_size=10,
        outlets=[CHURN_MODEL],
    )
    # [END howto_operator_automl_job]

    # [START howto_sensor_automl_best_candidate]
    check_best = AutoMLBestCandidateSensor(
        task_id="check_best_candidate",
        job_name="{{ ti.xcom_pull(task_ids='train_model')['job_name'] }}",
        metric_threshold="{{ params.metric_threshold }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=POLL_INTERVAL,
        leaderboard_size=10,
    )
    # [END howto_sensor_automl_best_candidate]

    # [START tutorial_score_holdout]
    @task
    def find_champion(candidate: dict[str, Any], data: dict[str, Any], params: dict[str, Any]) -> list[dict[str, Any]]:
        """The batch transforms that score the challenger and the champion (the latest Approved
        version of the group, if any) on the held-out rows: one per model, with its SageMaker model.
        Each writes under ``<storage>/scores/<job name>/<challenger|champion>/``."""
        from airflow.sdk import Variable

        client = _sagemaker()
        group = params["model_package_group"]
        approved = client.list_model_packages(
            ModelPackageGroupName=group,
            ModelApprovalStatus="Approved",
            SortBy="CreationTime",
            SortOrder="Descending",
            MaxResults=1,
        )["ModelPackageSummaryList"]
        champion = approved[0]["ModelPackageArn"] if approved else None
        job_name = candidate["job_name"]
        role = Variable.get("automl_role_arn", default=DEFAULT_ROLE_ARN)
        challenger_containers = [
            {**container, "Environment": {**container.get("Environment", {}), **INFERENCE_OUTPUT}}
            for container in candidate["inference_containers"]
        ]
        models = {"challenger": {"Containers": challenger_containers}}
        if champion:
            models["champion"] = {"PrimaryContainer": {"ModelPackageName": champion, "Environment": INFERENCE_OUTPUT}}
        transforms = []
        for role_name, containers in models.items():
            transforms.append(
                {
                    "Model": {"ModelName": f"{job_name}-{role_name}", "ExecutionRoleArn": role, **containers},
                    "Transform": {
                        "TransformJobName": f"{job_name}-{role_name}",
                        "ModelName": f"{job_name}-{role_name}",
                        "BatchStrategy": "MultiRecord",
                        "TransformInput": {
                            "DataSource": {
                                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data["holdout_features_uri"]}
                            },
                            "ContentType": "text/csv",
                            "SplitType": "Line",
                        },
                        "TransformOutput": {
                            "S3OutputPath": f"{data['storage_uri']}/scores/{job_name}/{role_name}/",
                            "Accept": "application/jsonlines",
                            "AssembleWith": "Line",
                        },
                        "TransformResources": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1},
                    },
                }
            )
        return transforms

    scoring = find_champion(check_best.output, data)

    # One transform per model (the challenger, and the champion when there is one), deferred while
    # they run: the provider's SageMakerTransformOperator, which takes file:// input too.
    score = FileOrS3TransformOperator.partial(
        task_id="score_holdout",
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        deferrable=True,
        check_interval=max(1, int(POLL_INTERVAL)),
    ).expand(config=scoring)
    # [END tutorial_score_holdout]

    # [START tutorial_register_challenger]
    @task(inlets=[CHURN_DRIFT])
    def register_challenger(
        candidate: dict[str, Any],
        data: dict[str, Any],
        scoring: list[dict[str, Any]],
        params: dict[str, Any],
        dag_run=None,
        inlet_events=None,
    ) -> dict[str, Any]:
        """Both models' objective metric on the held-out rows; the challenger registered as the
        group's next version, pending approval; whether the verdict is clear or a close call."""
        import pandas as pd

        from airflow_automl.examples.promotion import approval_body, decide, holdout_metric, parse_predictions

        metric = candidate["objective_metric_name"]
        truth = pd.read_csv(io.BytesIO(read_bytes(data["holdout_labels_uri"], aws_conn_id=AWS_CONN_ID)))[
            TARGET
        ].tolist()
        features_name = data["holdout_features_uri"].rsplit("/", 1)[1]
        values, champion_package_arn = {}, None
        for transform in scoring:
            output = transform["Transform"]["TransformOutput"]["S3OutputPath"]
            role_name = output.rstrip("/").rsplit("/", 1)[1]
            if role_name == "champion":
                champion_package_arn = transform["Model"]["PrimaryContainer"]["ModelPackageName"]
            uri = f"{output}{features_name}.out"  # batch transform's name for the input's output
            raw = read_bytes(uri, aws_conn_id=AWS_CONN_ID)
            if raw is None:
                raise FileNotFoundError(f"{uri}: the {role_name}'s transform wrote no output")
            values[role_name] = holdout_metric(metric, truth, parse_predictions(raw, uri), uri)
        verdict = decide(metric, values["challenger"], values.get("champion"), float(params["promotion_margin"]))

        storage, job_name = data["storage_uri"], candidate["job_name"]
        metrics_uri = f"{storage}/scores/{job_name}/metrics.json"
        write_bytes(
            metrics_uri,
            json.dumps(
                {
                    "metric": metric,
                    "holdout_rows": len(truth),
                    "champion_package_arn": champion_package_arn,
                    **verdict.as_dict(),
                },
                indent=2,
            ).encode(),
            aws_conn_id=AWS_CONN_ID,
        )
        client = _sagemaker()
        group = params["model_package_group"]
        try:
            client.create_model_package_group(
                ModelPackageGroupName=group, ModelPackageGroupDescription="churn models trained by automl_retrain"
            )
        except client.exceptions.ClientError as error:
            if not error.response["Error"]["Message"].startswith("Model Package Group already exists"):
                raise
        metadata = {
            f"holdout_{metric}": f"{verdict.challenger_metric:.6f}",
            "automl_job": job_name,
            "candidate": candidate["best_candidate_name"],
            "dag_run": dag_run.run_id,
        }
        if verdict.champion_metric is not None:
            metadata[f"champion_holdout_{metric}"] = f"{verdict.champion_metric:.6f}"
        package_arn = client.create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"{job_name} {candidate['best_candidate_name']}",
            InferenceSpecification={
                "Containers": candidate["inference_containers"],
                "SupportedContentTypes": ["text/csv"],
                "SupportedResponseMIMETypes": ["text/csv", "application/json"],
            },
            ModelMetrics={"ModelQuality": {"Statistics": {"ContentType": "application/json", "S3Uri": metrics_uri}}},
            CustomerMetadataProperties=metadata,
            ModelApprovalStatus="PendingManualApproval",
            ClientToken=_client_token(dag_run.dag_id, dag_run.run_id, job_name),
        )["ModelPackageArn"]
        # The latest drift the monitoring DAG announced, whether or not it triggered this run.
        drift_events = list(inlet_events[CHURN_DRIFT]) if inlet_events is not None else []
        drift = dict(drift_events[-1].extra or {}) if drift_events else {}
        close_call = verdict.close_call(metric, float(params["approval_margin"]))
        return {
            **verdict.as_dict(),
            "model_package_arn": package_arn,
            "metric": metric,
            "job_name": job_name,
            "serving_model": f"{job_name}-serving",
            "close_call": close_call,
            "trigger": "drift" if str(dag_run.run_type) == "asset_triggered" else str(dag_run.run_type),
            "drift": drift,
            "approval_body": approval_body(metric, verdict, drift, metrics_uri, package_arn) if close_call else "",
        }

    decision = register_challenger(check_best.output, data, scoring)
    score >> decision
    # [END tutorial_register_challenger]

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def needs_approval(decision: dict[str, Any]) -> bool:
        """A close call goes to a person; a clear win or loss does not."""
        return bool(decision["close_call"])

    # [START approval]
    approve = ApprovalOperator(
        task_id="approve_challenger",
        subject="Promote churn challenger {{ ti.xcom_pull(task_ids='register_challenger')['job_name'] }}?",
        body="{{ ti.xcom_pull(task_ids='register_challenger')['approval_body'] }}",
        params={"comment": Param("", type="string", description="your reasons: recorded on the model package")},
        **APPROVAL_TIMEOUT,
    )
    # Skipped with the rest of the approval's downstream on Reject; apply_verdict runs either way.
    reviewed = EmptyOperator(task_id="reviewed")
    # [END approval]

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def apply_verdict(decision: dict[str, Any], params: dict[str, Any], dag_run=None, ti=None) -> dict[str, Any]:
        """The package's final status: the automatic verdict, or the reviewer's (with their words)."""
        from airflow_automl.examples.run_note import hitl_answer, set_run_note

        promoted, reason, decided_by = bool(decision["promoted"]), decision["reason"], "rule"
        if decision["close_call"]:
            # Approve pushes the answer as XCom; Reject skips downstream and pushes none: ask the API.
            answer = ti.xcom_pull(task_ids="approve_challenger") or hitl_answer(
                dag_run.dag_id, dag_run.run_id, "approve_challenger"
            )
            if not answer:
                raise RuntimeError("a close call without an answer from approve_challenger")
            promoted = answer["chosen_options"] == [ApprovalOperator.APPROVE]
            reviewer = (answer.get("responded_by_user") or {}).get("name", "someone")
            words = (answer.get("params_input") or {}).get("comment") or "no comment"
            decided_by = reviewer
            reason = f"{'approved' if promoted else 'rejected'} by {reviewer}: {words} ({decision['reason']})"
        _sagemaker().update_model_package(
            ModelPackageArn=decision["model_package_arn"],
            ModelApprovalStatus="Approved" if promoted else "Rejected",
            ApprovalDescription=reason[:1024],
        )
        version = decision["model_package_arn"].rsplit("/", 2)[-2:]
        note = f"{'PROMOTED' if promoted else 'REJECTED'} {'/'.join(version)}: {reason}"
        print(note)
        set_run_note(dag_run.dag_id, dag_run.run_id, note)
        return {"promoted": promoted, "reason": reason, "decided_by": decided_by, "trigger": decision["trigger"]}

    verdict = apply_verdict(decision)
    needs_approval(decision) >> approve >> reviewed >> verdict

    # [START tutorial_deploy]
    @task.short_circuit
    def promoted(verdict: dict[str, Any]) -> bool:
        """Only an approved challenger goes on to the endpoint."""
        return bool(verdict["promoted"])

    deploy = SageMakerEndpointOperator(
        task_id="deploy_endpoint",
        # Creates the endpoint on the first run; afterwards the provider updates the existing one.
        operation="create",
        config={
            "Model": {
                "ModelName": "{{ ti.xcom_pull(task_ids='register_challenger')['serving_model'] }}",
                "PrimaryContainer": {
                    "ModelPackageName": "{{ ti.xcom_pull(task_ids='register_challenger')['model_package_arn'] }}"
                },
                "ExecutionRoleArn": ROLE_ARN,
            },
            "EndpointConfig": {
                "EndpointConfigName": "{{ ti.xcom_pull(task_ids='register_challenger')['serving_model'] }}",
                "ProductionVariants": [
                    {
                        "VariantName": "AllTraffic",
                        "ModelName": "{{ ti.xcom_pull(task_ids='register_challenger')['serving_model'] }}",
                        "InitialInstanceCount": 1,
                        "InstanceType": INSTANCE_TYPE,
                        "InitialVariantWeight": 1.0,
                    }
                ],
                # Every request and answer kept in SageMaker's capture format, for automl_monitor_drift.
                "DataCaptureConfig": {
                    "EnableCapture": True,
                    "InitialSamplingPercentage": 100,
                    "DestinationS3Uri": CAPTURE_URI,
                    "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
                    "CaptureContentTypeHeader": {
                        "CsvContentTypes": ["text/csv"],
                        "JsonContentTypes": ["application/json"],
                    },
                },
            },
            "Endpoint": {
                "EndpointName": "{{ params.endpoint_name }}",
                "EndpointConfigName": "{{ ti.xcom_pull(task_ids='register_challenger')['serving_model'] }}",
            },
        },
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        deferrable=True,
        check_interval=max(1, int(POLL_INTERVAL)),
    )

    @task
    def smoke_check(decision: dict[str, Any], data: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        """A few held-out rows sent to the endpoint, which must now serve the approved version."""
        endpoint = params["endpoint_name"]
        described = _sagemaker().describe_endpoint(EndpointName=endpoint)
        if described["EndpointConfigName"] != decision["serving_model"]:
            raise RuntimeError(
                f"endpoint {endpoint} serves {described['EndpointConfigName']}, not {decision['serving_model']}"
            )
        features = read_bytes(data["holdout_features_uri"], aws_conn_id=AWS_CONN_ID).decode().splitlines()
        rows = "\n".join(features[:SMOKE_ROWS]) + "\n"
        answer = _sagemaker("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=rows.encode()
        )
        predictions = answer["Body"].read().decode().split()
        if len(predictions) != min(SMOKE_ROWS, len(features)):
            raise RuntimeError(f"endpoint {endpoint}: {len(predictions)} predictions for {SMOKE_ROWS} rows")
        print(f"endpoint {endpoint} ({decision['serving_model']}) answered {predictions}")
        return {
            "endpoint": endpoint,
            "model": decision["serving_model"],
            "variant": answer.get("InvokedProductionVariant"),
            "predictions": predictions,
        }

    data >> train >> check_best
    promoted(verdict) >> deploy >> smoke_check(decision, data)
    # [END tutorial_deploy]
