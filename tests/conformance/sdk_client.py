"""The SageMaker Python SDK v2 and sagemaker-core as a SageMaker user drives them, against the local
service: run in the SDK's own virtualenv (requirements-sdk.lock) by test_sagemaker_sdk.py, which
starts the service and an S3 endpoint and asserts on what this prints.

Every endpoint comes from the environment (AWS_ENDPOINT_URL_SAGEMAKER, ..._SAGEMAKER_RUNTIME,
..._S3, ..._CLOUDWATCH_LOGS), as a user points boto3 elsewhere. Each scenario runs the SDK's
public calls and records what a user would look at; a scenario that raises records the error
instead, so one SDK path that breaks does not hide the others. The result is one JSON document on
stdout: {scenario: {observed values} | {"error": "..."}}, and "calls": the SageMaker operations
each scenario sent, in order.

    python sdk_client.py BUCKET ROLE
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
import traceback
from collections.abc import Callable

import boto3
import sagemaker
from sagemaker.automl.automl import AutoML
from sagemaker.automl.automlv2 import (
    AutoMLDataChannel,
    AutoMLTabularConfig,
    AutoMLTimeSeriesForecastingConfig,
    AutoMLV2,
)
from sagemaker.automl.candidate_estimator import CandidateEstimator
from sagemaker.deserializers import CSVDeserializer
from sagemaker.predictor import Predictor
from sagemaker.serializers import CSVSerializer

INSTANCE = "ml.m5.large"
ROWS = "1.5\n-2\n3\n"  # the scripted models' one feature x


class Recorder:
    """The SageMaker operations the SDK sends, by scenario."""

    def __init__(self) -> None:
        self.calls: dict[str, list[str]] = {}
        self.scenario = ""

    def __call__(self, event_name: str, **kwargs) -> None:
        self.calls.setdefault(self.scenario, []).append(event_name.rsplit(".", 1)[-1])


def session_with(recorder: Recorder, bucket: str) -> sagemaker.Session:
    boto_session = boto3.Session(region_name="us-east-1")
    client = boto_session.client("sagemaker")
    client.meta.events.register("before-call.sagemaker.*", recorder)
    return sagemaker.Session(
        boto_session=boto_session,
        sagemaker_client=client,
        sagemaker_runtime_client=boto_session.client("sagemaker-runtime"),
        default_bucket=bucket,
    )


def wait_in_service(session: sagemaker.Session, endpoint: str) -> str:
    return session.wait_for_endpoint(endpoint, poll=1)["EndpointStatus"]


def read_output(bucket: str, prefix: str) -> dict[str, str]:
    s3 = boto3.client("s3")
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents") or []
    return {o["Key"]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"].read().decode() for o in listed}


def run(bucket: str, role: str) -> dict:
    recorder = Recorder()
    session = session_with(recorder, bucket)
    results: dict = {}
    state: dict = {}

    def scenario(name: str, body: Callable[[], dict]) -> None:
        recorder.scenario = name
        try:
            results[name] = body()
        except Exception as error:  # noqa: BLE001 - recorded for the test to report
            results[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}

    def automl_fit() -> dict:
        automl = AutoML(
            role=role,
            target_attribute_name="label",
            sagemaker_session=session,
            max_candidates=3,
            output_path=f"s3://{bucket}/output",
            problem_type="BinaryClassification",
            job_objective={"MetricName": "F1"},
        )
        automl.fit(inputs=f"s3://{bucket}/train/", job_name="sdk-v1", wait=True, logs=False)
        state["automl"] = automl
        described = automl.describe_auto_ml_job()
        best = automl.best_candidate()
        ranked = automl.list_candidates(sort_by="FinalObjectiveMetricValue", sort_order="Descending")
        return {
            "status": described["AutoMLJobStatus"],
            "best": best["CandidateName"],
            "ranked": [c["CandidateName"] for c in ranked],
            "creation_time_type": type(described["CreationTime"]).__name__,
        }

    def deploy_non_best_candidate() -> dict:
        automl = state["automl"]
        best = automl.best_candidate()["CandidateName"]
        other = next(c for c in automl.list_candidates() if c["CandidateName"] != best)
        automl.deploy(
            initial_instance_count=1,
            instance_type=INSTANCE,
            candidate=other,
            endpoint_name="sdk-other",
            wait=False,
            predictor_cls=Predictor,
        )
        status = wait_in_service(session, "sdk-other")
        predictor = Predictor("sdk-other", session, serializer=CSVSerializer(), deserializer=CSVDeserializer())
        return {"candidate": other["CandidateName"], "status": status, "predictions": predictor.predict(ROWS)}

    def deploy_best_and_predict() -> dict:
        automl = state["automl"]
        predictor = automl.deploy(
            initial_instance_count=1,
            instance_type=INSTANCE,
            endpoint_name="sdk-best",
            wait=True,
            predictor_cls=Predictor,
            serializer=CSVSerializer(),
            deserializer=CSVDeserializer(),
            inference_response_keys=["predicted_label", "probability"],
        )
        return {"predictions": predictor.predict(ROWS)}

    def candidate_steps() -> dict:
        automl = state["automl"]
        steps = CandidateEstimator(automl.best_candidate(), sagemaker_session=session).get_steps()
        return {
            "steps": [
                {
                    "name": step.name,
                    "type": step.type,
                    "inputs": step.inputs,
                    "status": step.description.get("TrainingJobStatus") or step.description.get("TransformJobStatus"),
                }
                for step in steps
            ]
        }

    def create_model_and_transform() -> dict:
        automl = state["automl"]
        model = automl.create_model("sdk-batch-model", inference_response_keys=["predicted_label", "probability"])
        transformer = model.transformer(
            instance_count=1, instance_type=INSTANCE, output_path=f"s3://{bucket}/transformed", accept="text/csv"
        )
        transformer.transform(
            data=f"s3://{bucket}/batch/", content_type="text/csv", split_type="Line", wait=True, logs=False
        )
        described = session.sagemaker_client.describe_transform_job(
            TransformJobName=transformer.latest_transform_job.name
        )
        return {"status": described["TransformJobStatus"], "output": read_output(bucket, "transformed/")}

    def attach() -> dict:
        attached = AutoML.attach("sdk-v1", sagemaker_session=session)
        return {
            "target": attached.target_attribute_name,
            "best": attached.best_candidate()["CandidateName"],
            "max_candidates": attached.max_candidate,
        }

    def register_and_deploy_package() -> dict:
        automl = state["automl"]
        arns = []
        for _ in range(2):  # the second finds the group by Search and does not create it again
            package = automl.create_model("sdk-registered").register(
                content_types=["text/csv"],
                response_types=["text/csv"],
                inference_instances=[INSTANCE],
                transform_instances=[INSTANCE],
                model_package_group_name="sdk-group",
                approval_status="Approved",
            )
            arns.append(package.model_package_arn)
        package.deploy(initial_instance_count=1, instance_type=INSTANCE, endpoint_name="sdk-package", wait=False)
        status = wait_in_service(session, "sdk-package")
        predictor = Predictor("sdk-package", session, serializer=CSVSerializer(), deserializer=CSVDeserializer())
        return {"arns": arns, "status": status, "predictions": predictor.predict(ROWS)}

    def automl_v2_tabular() -> dict:
        automl = AutoMLV2(
            problem_config=AutoMLTabularConfig(target_attribute_name="label", max_candidates=3),
            role=role,
            sagemaker_session=session,
            output_path=f"s3://{bucket}/output-v2",
        )
        channel = AutoMLDataChannel(s3_data_type="S3Prefix", s3_uri=f"s3://{bucket}/train/", channel_type="training")
        try:
            # The SDK's own defect: logs=False passes job_name= to wait_for_auto_ml_job, which takes job.
            automl.fit(inputs=[channel], job_name="sdk-v2-logs-false", wait=True, logs=False)
            logs_false = "completed"
        except TypeError as error:
            logs_false = f"TypeError: {error}"
        automl.fit(inputs=[channel], job_name="sdk-v2", wait=True, logs=True)
        best = automl.best_candidate()
        predictor = automl.deploy(
            initial_instance_count=1,
            instance_type=INSTANCE,
            endpoint_name="sdk-v2",
            wait=False,
            predictor_cls=Predictor,
        )
        status = wait_in_service(session, "sdk-v2")
        predictor = Predictor("sdk-v2", session, serializer=CSVSerializer(), deserializer=CSVDeserializer())
        return {
            "logs_false": logs_false,
            "best": best["CandidateName"],
            "status": status,
            "predictions": predictor.predict(ROWS),
        }

    def automl_v2_time_series_batch_forecast() -> dict:
        automl = AutoMLV2(
            problem_config=AutoMLTimeSeriesForecastingConfig(
                forecast_frequency="D",
                forecast_horizon=7,
                item_identifier_attribute_name="sku",
                target_attribute_name="units",
                timestamp_attribute_name="date",
                forecast_quantiles=["p10", "p50", "p90"],
                max_total_job_runtime_in_seconds=600,
            ),
            role=role,
            sagemaker_session=session,
            output_path=f"s3://{bucket}/output-ts",
        )
        channel = AutoMLDataChannel(s3_data_type="S3Prefix", s3_uri=f"s3://{bucket}/demand/", channel_type="training")
        automl.fit(inputs=[channel], job_name="real-ts-sdk", wait=True, logs=True)
        best = automl.best_candidate()
        model = automl.create_model("sdk-forecaster", candidate=best)
        transformer = model.transformer(
            instance_count=1, instance_type=INSTANCE, output_path=f"s3://{bucket}/forecast", accept="text/csv"
        )
        transformer.transform(
            data=f"s3://{bucket}/history/", content_type="text/csv", split_type="None", wait=True, logs=False
        )
        output = read_output(bucket, "forecast/")
        rows = [row for text in output.values() for row in csv.DictReader(io.StringIO(text))]
        return {
            "best": best["CandidateName"],
            "problem_type": automl.describe_auto_ml_job()["AutoMLProblemTypeConfigName"],
            "files": sorted(output),
            "items": sorted({row["sku"] for row in rows}),
            "rows": len(rows),
            "columns": sorted(rows[0]) if rows else [],
        }

    def sagemaker_core_resources() -> dict:
        from sagemaker_core.resources import AutoMLJobV2, Endpoint, ModelPackage, TrainingJob, TransformJob

        job = AutoMLJobV2.get("sdk-v1")
        steps = {s.candidate_step_type: s.candidate_step_name for s in job.best_candidate.candidate_steps}
        training = TrainingJob.get(steps["AWS::SageMaker::TrainingJob"])
        transform = TransformJob.get(steps["AWS::SageMaker::TransformJob"])
        endpoint = Endpoint.get("sdk-other")
        answer = endpoint.invoke(body=ROWS, content_type="text/csv", accept="text/csv")
        package = ModelPackage.get(state_package_arn(session))
        return {
            "job_status": job.auto_ml_job_status,
            "best": job.best_candidate.candidate_name,
            "training_status": training.training_job_status,
            "model_artifacts": training.model_artifacts.s3_model_artifacts,
            "transform_model": transform.model_name,
            "endpoint_status": endpoint.endpoint_status,
            "invoked": body.read().decode() if hasattr(body := answer.body, "read") else bytes(body).decode(),
            "invoked_variant": answer.invoked_production_variant,
            "package_status": package.model_approval_status,
        }

    scenario("automl_fit", automl_fit)
    scenario("deploy_non_best_candidate", deploy_non_best_candidate)
    scenario("deploy_best_and_predict", deploy_best_and_predict)
    scenario("candidate_steps", candidate_steps)
    scenario("create_model_and_transform", create_model_and_transform)
    scenario("attach", attach)
    scenario("register_and_deploy_package", register_and_deploy_package)
    scenario("automl_v2_tabular", automl_v2_tabular)
    scenario("automl_v2_time_series_batch_forecast", automl_v2_time_series_batch_forecast)
    scenario("sagemaker_core_resources", sagemaker_core_resources)
    results["calls"] = recorder.calls
    return results


def state_package_arn(session: sagemaker.Session) -> str:
    """The latest version registered in sdk-group."""
    listed = session.sagemaker_client.list_model_packages(
        ModelPackageGroupName="sdk-group", SortOrder="Descending", MaxResults=1
    )
    return listed["ModelPackageSummaryList"][0]["ModelPackageArn"]


if __name__ == "__main__":
    started = time.monotonic()
    document = run(sys.argv[1], sys.argv[2])
    document["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(document, default=str))
