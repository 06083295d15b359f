"""Models, endpoint configs and endpoints made with SageMaker's own operations: weighted
variants, TargetVariant, zero-downtime UpdateEndpoint and its rollback, ModelDeployConfig
endpoints described like any other, and all of it kept across a restart."""

from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
ROWS = b"1.5\n-2\n3\n"  # the scripted model: label 1 when x > 0
FAST_WAITER = {"Delay": 0.2, "MaxAttempts": 150}


def create_job(service, name: str, **overrides) -> None:
    service.client().create_auto_ml_job(
        AutoMLJobName=name,
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("train.csv")}},
                "TargetAttributeName": "y",
            }
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("out")},
        **overrides,
    )


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("models"), engine=SCRIPTED_ENGINE)
    try:
        for name in ("blue-job", "green-job", "nomodel-job"):
            create_job(service, name)
        for name in ("blue-job", "green-job", "nomodel-job"):
            assert service.wait_for_status(name)["AutoMLJobStatus"] == "Completed"
        yield service
    finally:
        service.stop()


def best_containers(service, job_name: str) -> list[dict]:
    return service.client().describe_auto_ml_job(AutoMLJobName=job_name)["BestCandidate"]["InferenceContainers"]


def make_model(service, name: str, job_name: str) -> None:
    service.client().create_model(ModelName=name, ExecutionRoleArn=ROLE, Containers=best_containers(service, job_name))


def make_config(service, name: str, variants: dict[str, tuple[str, float]]) -> None:
    service.client().create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": variant,
                "ModelName": model,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": weight,
            }
            for variant, (model, weight) in variants.items()
        ],
    )


def wait_in_service(service, endpoint: str) -> dict:
    client = service.client()
    client.get_waiter("endpoint_in_service").wait(EndpointName=endpoint, WaiterConfig=FAST_WAITER)
    return client.describe_endpoint(EndpointName=endpoint)


def invoke(runtime, endpoint: str, **extra) -> tuple[str, list[str]]:
    response = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=ROWS, **extra)
    return response["InvokedProductionVariant"], response["Body"].read().decode().split()


@pytest.fixture(scope="module")
def models(service):
    make_model(service, "blue-model", "blue-job")
    make_model(service, "green-model", "green-job")
    make_model(service, "broken-model", "nomodel-job")  # its job kept no model: it cannot load
    return service


def test_create_describe_list_delete_model(models):
    client = models.client()
    described = client.describe_model(ModelName="blue-model")
    assert described["Containers"] == best_containers(models, "blue-job")
    assert described["ModelArn"] == "arn:aws:sagemaker:us-east-1:123456789012:model/blue-model"
    assert described["ExecutionRoleArn"] == ROLE
    listed = [
        m["ModelName"]
        for m in client.list_models(NameContains="-model", SortBy="Name", SortOrder="Ascending")["Models"]
    ]
    assert listed == ["blue-model", "broken-model", "green-model"]

    client.create_model(
        ModelName="short-lived",
        PrimaryContainer=best_containers(models, "green-job")[0],
        Tags=[{"Key": "stage", "Value": "challenger"}],
    )
    arn = "arn:aws:sagemaker:us-east-1:123456789012:model/short-lived"
    client.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ml"}])
    assert client.list_tags(ResourceArn=arn)["Tags"] == [
        {"Key": "stage", "Value": "challenger"},
        {"Key": "owner", "Value": "ml"},
    ]
    client.delete_model(ModelName="short-lived")
    with pytest.raises(ClientError, match="ResourceArn: no resource"):
        client.list_tags(ResourceArn=arn)
    with pytest.raises(
        ClientError, match='could not find model "arn:aws:sagemaker:us-east-1:123456789012:model/short-lived"'
    ):
        client.describe_model(ModelName="short-lived")
    with pytest.raises(ClientError, match="Cannot create already existing model"):
        make_model(models, "blue-model", "green-job")


def test_a_container_the_service_cannot_serve_is_refused_saying_what_it_serves(models):
    client = models.client()
    with pytest.raises(ClientError) as unknown:
        client.create_model(
            ModelName="elsewhere",
            PrimaryContainer={
                "Image": "123.dkr.ecr.us-east-1.amazonaws.com/mine:1",
                "ModelDataUrl": "s3://bucket/model.tar.gz",
            },
        )
    assert unknown.value.response["Error"]["Code"] == "ValidationException"
    assert "PrimaryContainer.ModelDataUrl" in str(unknown.value) and "InferenceContainers" in str(unknown.value)
    with pytest.raises(ClientError, match="ProductionVariants\\[0\\].ModelName: could not find model"):
        make_config(models, "dangling", {"AllTraffic": ("no-such-model", 1.0)})


def test_the_containers_must_be_the_candidates_own(models):
    """Regression: the candidate's containers plus one of any image were accepted."""
    client = models.client()
    own = best_containers(models, "blue-job")
    stranger = {"Image": "123.dkr.ecr.us-east-1.amazonaws.com/anything:1", "ModelDataUrl": own[0]["ModelDataUrl"]}
    for containers in ([*own, stranger], [stranger], [*own, own[0]]):
        with pytest.raises(ClientError, match="served by its 1 inference container\\(s\\) exactly") as refused:
            client.create_model(ModelName="padded", Containers=containers)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert own[0]["Image"] in str(refused.value)
    # The caller's environment (SAGEMAKER_INFERENCE_OUTPUT, ...) is the caller's to set.
    client.create_model(
        ModelName="own-environment",
        Containers=[{**own[0], "Environment": {"SAGEMAKER_INFERENCE_OUTPUT": "probability"}}],
    )


def test_any_completed_candidate_is_served_not_only_the_best(models):
    """Autopilot keeps every candidate's model: one that is not the best serves its own predictions."""
    client = models.client()
    listed = client.list_candidates_for_auto_ml_job(AutoMLJobName="blue-job", SortBy="CreationTime")["Candidates"]
    first, best = listed[0], client.describe_auto_ml_job(AutoMLJobName="blue-job")["BestCandidate"]
    assert first["CandidateName"] != best["CandidateName"]
    client.create_model(ModelName="first-candidate", Containers=first["InferenceContainers"])
    make_config(models, "compare-config", {"first": ("first-candidate", 1.0), "best": ("blue-model", 1.0)})
    client.create_endpoint(EndpointName="compare", EndpointConfigName="compare-config")
    wait_in_service(models, "compare")
    runtime = models.client("sagemaker-runtime")
    # The scripted first candidate's threshold is 2, the best's 0: each variant answers with its own model.
    assert invoke(runtime, "compare", TargetVariant="first") == ("first", ["0", "0", "1"])
    assert invoke(runtime, "compare", TargetVariant="best") == ("best", ["1", "0", "1"])


def test_variants_split_traffic_by_weight_and_target_variant_picks_one(models):
    make_config(models, "split-config", {"blue": ("blue-model", 1.0), "green": ("green-model", 3.0)})
    client = models.client()
    assert (
        client.describe_endpoint_config(EndpointConfigName="split-config")["ProductionVariants"][1][
            "InitialVariantWeight"
        ]
        == 3.0
    )
    client.create_endpoint(EndpointName="split", EndpointConfigName="split-config")
    assert client.describe_endpoint(EndpointName="split")["EndpointStatus"] in ("Creating", "InService")
    endpoint = wait_in_service(models, "split")
    assert endpoint["EndpointConfigName"] == "split-config"
    assert {v["VariantName"]: v["CurrentWeight"] for v in endpoint["ProductionVariants"]} == {"blue": 1.0, "green": 3.0}

    runtime = models.client("sagemaker-runtime")
    counts = collections.Counter(invoke(runtime, "split")[0] for _ in range(200))
    assert set(counts) == {"blue", "green"}
    assert 20 <= counts["blue"] <= 85, counts  # expected 50 of 200; far outside binomial noise otherwise
    assert {invoke(runtime, "split", TargetVariant="blue")[0] for _ in range(20)} == {"blue"}
    assert invoke(runtime, "split", TargetVariant="green") == ("green", ["1", "0", "1"])
    with pytest.raises(ClientError, match="has no variant 'purple'"):
        invoke(runtime, "split", TargetVariant="purple")
    with pytest.raises(ClientError, match="Cannot create already existing endpoint"):
        client.create_endpoint(EndpointName="split", EndpointConfigName="split-config")


def test_update_endpoint_swaps_models_without_a_failed_request(models):
    make_config(models, "blue-config", {"blue": ("blue-model", 1.0)})
    make_config(models, "green-config", {"green": ("green-model", 1.0)})
    client = models.client()
    client.create_endpoint(EndpointName="swap", EndpointConfigName="blue-config")
    wait_in_service(models, "swap")

    answered, errors, stop = [], [], threading.Event()

    def keep_invoking():
        runtime = models.client("sagemaker-runtime")
        while not stop.is_set():
            try:
                answered.append(invoke(runtime, "swap")[0])
            except ClientError as error:
                errors.append(error)

    invoker = threading.Thread(target=keep_invoking)
    invoker.start()
    try:
        while len(answered) < 20:
            stop.wait(0.05)
        client.update_endpoint(EndpointName="swap", EndpointConfigName="green-config")
        endpoint = wait_in_service(models, "swap")
        seen = len(answered)
        while len(answered) < seen + 20:
            stop.wait(0.05)
    finally:
        stop.set()
        invoker.join()
    assert errors == []
    assert endpoint["EndpointConfigName"] == "green-config" and "FailureReason" not in endpoint
    # blue until the new model was loaded, then green: one switch, never back.
    switches = [i for i in range(1, len(answered)) if answered[i] != answered[i - 1]]
    assert answered[0] == "blue" and answered[-1] == "green" and len(switches) == 1, answered
    with pytest.raises(ClientError, match="could not find endpoint configuration"):
        client.update_endpoint(EndpointName="swap", EndpointConfigName="no-such-config")


def test_a_new_config_that_fails_to_load_leaves_the_endpoint_on_the_old_one(models):
    make_config(models, "stable-config", {"stable": ("blue-model", 1.0)})
    make_config(models, "broken-config", {"broken": ("broken-model", 1.0)})
    client = models.client()
    client.create_endpoint(EndpointName="rollback", EndpointConfigName="stable-config")
    wait_in_service(models, "rollback")
    client.update_endpoint(EndpointName="rollback", EndpointConfigName="broken-config")
    endpoint = wait_in_service(models, "rollback")
    assert endpoint["EndpointConfigName"] == "stable-config"
    assert "broken-config" in endpoint["FailureReason"] and "nomodel-job" in endpoint["FailureReason"]
    assert invoke(models.client("sagemaker-runtime"), "rollback") == ("stable", ["1", "0", "1"])
    # CreateEndpoint with it fails the endpoint instead.
    client.create_endpoint(EndpointName="born-broken", EndpointConfigName="broken-config")
    with pytest.raises(Exception, match="Failed"):
        client.get_waiter("endpoint_in_service").wait(EndpointName="born-broken", WaiterConfig=FAST_WAITER)
    assert "could not be loaded" in client.describe_endpoint(EndpointName="born-broken")["FailureReason"]


def test_deleting_a_model_and_config_in_use_leaves_the_endpoint_serving(models):
    make_model(models, "doomed-model", "green-job")
    make_config(models, "doomed-config", {"AllTraffic": ("doomed-model", 1.0)})
    client = models.client()
    client.create_endpoint(EndpointName="orphan", EndpointConfigName="doomed-config")
    wait_in_service(models, "orphan")
    client.delete_endpoint_config(EndpointConfigName="doomed-config")
    client.delete_model(ModelName="doomed-model")
    assert invoke(models.client("sagemaker-runtime"), "orphan") == ("AllTraffic", ["1", "0", "1"])
    assert "doomed-config" not in [c["EndpointConfigName"] for c in client.list_endpoint_configs()["EndpointConfigs"]]
    client.delete_endpoint(EndpointName="orphan")
    client.get_waiter("endpoint_deleted").wait(EndpointName="orphan", WaiterConfig=FAST_WAITER)


def test_a_model_deploy_config_endpoint_shows_its_model_and_config(models):
    create_job(
        models, "deployed-job", ModelDeployConfig={"AutoGenerateEndpointName": False, "EndpointName": "one-click"}
    )
    job = models.wait_for_status("deployed-job")
    assert job["ModelDeployResult"]["EndpointName"] == "one-click"
    client = models.client()
    endpoint = wait_in_service(models, "one-click")
    assert endpoint["EndpointConfigName"] == "one-click"
    config = client.describe_endpoint_config(EndpointConfigName="one-click")
    assert config["ProductionVariants"][0]["ModelName"] == "one-click"
    assert client.describe_model(ModelName="one-click")["Containers"] == best_containers(models, "deployed-job")
    # It is an ordinary endpoint: it updates like one.
    client.update_endpoint(EndpointName="one-click", EndpointConfigName="green-config")
    assert wait_in_service(models, "one-click")["EndpointConfigName"] == "green-config"


def test_everything_survives_a_restart(models):
    make_config(models, "kept-config", {"kept": ("green-model", 1.0)})
    client = models.client()
    client.create_endpoint(EndpointName="kept", EndpointConfigName="kept-config")
    wait_in_service(models, "kept")
    models.restart()
    client = models.client()
    assert client.describe_model(ModelName="green-model")["Containers"] == best_containers(models, "green-job")
    assert (
        client.describe_endpoint_config(EndpointConfigName="kept-config")["ProductionVariants"][0]["VariantName"]
        == "kept"
    )
    assert client.describe_endpoint(EndpointName="kept")["EndpointStatus"] == "InService"
    assert invoke(models.client("sagemaker-runtime"), "kept") == ("kept", ["1", "0", "1"])


def test_the_aws_cli_creates_a_model_config_and_endpoint(models, tmp_path):
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    aws = [
        str(Path(sys.executable).parent / "aws"),
        "--endpoint-url",
        models.endpoint_url,
        "--output",
        "json",
        "sagemaker",
    ]

    def cli(*args: str) -> dict:
        done = subprocess.run([*aws, *args], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout) if done.stdout.strip() else {}

    cli(
        "create-model",
        "--model-name",
        "cli-model",
        "--execution-role-arn",
        ROLE,
        "--containers",
        json.dumps(best_containers(models, "green-job")),
    )
    cli(
        "create-endpoint-config",
        "--endpoint-config-name",
        "cli-config",
        "--production-variants",
        json.dumps(
            [
                {
                    "VariantName": "AllTraffic",
                    "ModelName": "cli-model",
                    "InitialInstanceCount": 1,
                    "InstanceType": "ml.m5.large",
                }
            ]
        ),
    )
    cli("create-endpoint", "--endpoint-name", "cli-endpoint", "--endpoint-config-name", "cli-config")
    cli("wait", "endpoint-in-service", "--endpoint-name", "cli-endpoint")
    described = cli("describe-endpoint", "--endpoint-name", "cli-endpoint")
    assert described["EndpointStatus"] == "InService" and described["EndpointConfigName"] == "cli-config"
    assert cli("describe-model", "--model-name", "cli-model")["Containers"] == best_containers(models, "green-job")


def test_a_restart_during_an_update_leaves_the_endpoint_on_its_old_config(models):
    create_job(models, "slowdeploy-job")  # its model takes a minute to load
    assert models.wait_for_status("slowdeploy-job")["AutoMLJobStatus"] == "Completed"
    make_model(models, "slow-model", "slowdeploy-job")
    make_config(models, "slow-config", {"slow": ("slow-model", 1.0)})
    make_config(models, "steady-config", {"steady": ("green-model", 1.0)})
    client = models.client()
    client.create_endpoint(EndpointName="interrupted", EndpointConfigName="steady-config")
    wait_in_service(models, "interrupted")
    client.update_endpoint(EndpointName="interrupted", EndpointConfigName="slow-config")
    updating = client.describe_endpoint(EndpointName="interrupted")
    assert updating["EndpointStatus"] == "Updating"
    assert updating["EndpointConfigName"] == "steady-config"
    assert updating["PendingDeploymentSummary"]["EndpointConfigName"] == "slow-config"
    with pytest.raises(ClientError, match="cannot update in-progress endpoint"):
        client.update_endpoint(EndpointName="interrupted", EndpointConfigName="steady-config")
    # The old model answers while the new one loads.
    assert invoke(models.client("sagemaker-runtime"), "interrupted") == ("steady", ["1", "0", "1"])
    models.restart(hard=True)
    endpoint = models.client().describe_endpoint(EndpointName="interrupted")
    assert endpoint["EndpointStatus"] == "InService" and endpoint["EndpointConfigName"] == "steady-config"
    assert "restarted while the endpoint was being updated" in endpoint["FailureReason"]
    assert invoke(models.client("sagemaker-runtime"), "interrupted") == ("steady", ["1", "0", "1"])
