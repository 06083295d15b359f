"""The Amazon provider's SageMakerModelOperator, SageMakerEndpointConfigOperator and
SageMakerEndpointOperator, unchanged, deploy an AutoMLJobOperator's best model on the local
service with dag.test(): create the endpoint (waiting in the worker), then move it to a
challenger's model with operation="update" (deferred to the triggerer)."""

from __future__ import annotations

import os
from unittest import mock

import pytest

from tests.fixtures.airflow import aws_connection_env, task_states, xcom_value
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"


@pytest.fixture(scope="module")
def scripted(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("serving-dag"), engine=SCRIPTED_ENGINE)
    (service.file_root / "data").mkdir()
    (service.file_root / "data" / "train.csv").write_text("x,label\n1,1\n-2,0\n")
    with mock.patch.dict(os.environ, aws_connection_env("aws_default", service.endpoint_url)):
        yield service
    service.stop()


def test_provider_operators_create_then_update_an_endpoint_from_the_jobs_xcom(scripted, dag_file):
    module = dag_file(
        "serving_dag",
        f"""
        from datetime import datetime, timezone
        from airflow.sdk import DAG
        from airflow.providers.amazon.aws.operators.sagemaker import (
            SageMakerEndpointConfigOperator, SageMakerEndpointOperator, SageMakerModelOperator,
        )
        from airflow_automl.operators.automl import AutoMLJobOperator

        COMMON = dict(input_uri={scripted.file_uri("data/")!r}, target_attribute="label",
                      output_path={scripted.file_uri("output")!r}, role_arn={ROLE!r}, poll_interval=0.3)

        def variant(name):
            return {{"VariantName": name, "ModelName": name, "InitialInstanceCount": 1,
                     "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}}

        def model(name, task_id):
            # The containers come from the training task's XCom, rendered as a list (native rendering).
            return {{"ModelName": name, "ExecutionRoleArn": {ROLE!r},
                     "Containers": "{{{{ ti.xcom_pull(task_ids='" + task_id + "')['inference_containers'] }}}}"}}

        # Native rendering: a template that is a whole XCom value renders to that value, not its str().
        dag = DAG("serving_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
                  render_template_as_native_obj=True)
        with dag:
            champion = AutoMLJobOperator(task_id="train_champion", job_name="champion-job", deferrable=False, **COMMON)
            challenger = AutoMLJobOperator(task_id="train_challenger", job_name="challenger-job", deferrable=False,
                                           **COMMON)
            create_model = SageMakerModelOperator(task_id="create_model", config=model("champion", "train_champion"))
            create_config = SageMakerEndpointConfigOperator(
                task_id="create_endpoint_config",
                config={{"EndpointConfigName": "champion-config", "ProductionVariants": [variant("champion")]}},
            )
            create_endpoint = SageMakerEndpointOperator(
                task_id="create_endpoint", operation="create", wait_for_completion=True, check_interval=1,
                config={{"EndpointName": "churn-serving", "EndpointConfigName": "champion-config"}},
            )
            update_endpoint = SageMakerEndpointOperator(
                task_id="update_endpoint", operation="update", deferrable=True, check_interval=1,
                config={{
                    "Model": model("challenger", "train_challenger"),
                    "EndpointConfig": {{"EndpointConfigName": "challenger-config",
                                       "ProductionVariants": [variant("challenger")]}},
                    "Endpoint": {{"EndpointName": "churn-serving", "EndpointConfigName": "challenger-config"}},
                }},
            )
            champion >> create_model >> create_config >> create_endpoint >> update_endpoint
            challenger >> update_endpoint
        """,
    )
    run = module.dag.test()
    assert set(task_states(run).values()) == {"success"}, task_states(run)

    client = scripted.client()
    champion_containers = client.describe_auto_ml_job(AutoMLJobName="champion-job")["BestCandidate"][
        "InferenceContainers"
    ]
    assert xcom_value(run, "create_model")["Model"]["Containers"] == champion_containers
    created = xcom_value(run, "create_endpoint")
    assert created["Endpoint"]["EndpointStatus"] == "InService"
    assert created["EndpointConfig"]["ProductionVariants"][0]["ModelName"] == "champion"
    updated = xcom_value(run, "update_endpoint")
    assert updated["Endpoint"]["EndpointConfigName"] == "challenger-config"
    assert updated["Endpoint"]["EndpointStatus"] == "InService"

    challenger_containers = client.describe_auto_ml_job(AutoMLJobName="challenger-job")["BestCandidate"][
        "InferenceContainers"
    ]
    assert client.describe_model(ModelName="challenger")["Containers"] == challenger_containers
    response = scripted.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="churn-serving", ContentType="text/csv", Body=b"2\n-1\n"
    )
    assert response["InvokedProductionVariant"] == "challenger"
    assert response["Body"].read().decode().split() == ["1", "0"]


def test_a_candidate_that_is_not_the_best_serves_through_the_endpoint_operator(scripted, dag_file):
    """Autopilot keeps every candidate's model: a DAG may deploy a smaller or faster one."""
    module = dag_file(
        "other_candidate_dag",
        f"""
        from datetime import datetime, timezone
        from airflow.sdk import DAG, task
        from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
        from airflow.providers.amazon.aws.operators.sagemaker import SageMakerEndpointOperator
        from airflow_automl.operators.automl import AutoMLJobOperator

        dag = DAG("other_candidate_dag", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
                  render_template_as_native_obj=True)
        with dag:
            train = AutoMLJobOperator(
                task_id="train", job_name="several-job", deferrable=False, input_uri={scripted.file_uri("data/")!r},
                target_attribute="label", output_path={scripted.file_uri("output")!r}, role_arn={ROLE!r},
                poll_interval=0.3,
            )

            @task
            def first_candidate(summary):
                # The earliest candidate rather than the best, e.g. the smallest model.
                listed = SageMakerHook(aws_conn_id="aws_default").conn.list_candidates_for_auto_ml_job(
                    AutoMLJobName=summary["job_name"], SortBy="CreationTime", SortOrder="Ascending"
                )["Candidates"]
                assert listed[0]["CandidateName"] != summary["best_candidate_name"]
                return listed[0]

            chosen = first_candidate(train.output)
            containers = "{{{{ ti.xcom_pull(task_ids='first_candidate')['InferenceContainers'] }}}}"
            deploy = SageMakerEndpointOperator(
                task_id="deploy", operation="create", wait_for_completion=True, check_interval=1,
                config={{
                    "Model": {{"ModelName": "first-candidate", "ExecutionRoleArn": {ROLE!r},
                              "Containers": containers}},
                    "EndpointConfig": {{"EndpointConfigName": "first-candidate-config", "ProductionVariants": [
                        {{"VariantName": "first", "ModelName": "first-candidate", "InitialInstanceCount": 1,
                          "InstanceType": "ml.m5.large", "InitialVariantWeight": 1.0}}]}},
                    "Endpoint": {{"EndpointName": "first-candidate-serving",
                                 "EndpointConfigName": "first-candidate-config"}},
                }},
            )
            chosen >> deploy
        """,
    )
    run = module.dag.test()
    assert set(task_states(run).values()) == {"success"}, task_states(run)
    chosen = xcom_value(run, "first_candidate")
    assert chosen["CandidateName"] == "scripted-candidate-001"
    assert xcom_value(run, "deploy")["Endpoint"]["EndpointStatus"] == "InService"
    assert scripted.client().describe_model(ModelName="first-candidate")["Containers"] == chosen["InferenceContainers"]
    response = scripted.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="first-candidate-serving", ContentType="text/csv", Body=b"1.5\n-2\n3\n"
    )
    # The first of three scripted candidates answers 1 above x = 2; the best would answer 1, 0, 1.
    assert response["InvokedProductionVariant"] == "first"
    assert response["Body"].read().decode().split() == ["0", "0", "1"]
