"""ModelDeployConfig end to end: jobs deploy their best model, and a boto3 sagemaker-runtime
client gets predictions from the service; endpoints survive a restart and can be deleted."""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest
from botocore.exceptions import ClientError
from sklearn.datasets import load_breast_cancer

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
AUTO_JOB = "bc-endpoint-auto"
NAMED_JOB = "bc-endpoint-named"
NAMED_ENDPOINT = "breast-cancer-named"
ENDPOINT_NAME_PATTERN = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")
COMPLETION = {"MaxCandidates": 2, "MaxAutoMLJobRuntimeInSeconds": 300}


def _follow(client, *names: str, timeout: float = 300) -> dict[str, tuple[dict, list[str]]]:
    """Poll jobs to their end, recording every secondary status seen."""
    seen: dict[str, list[str]] = {name: [] for name in names}
    ended: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while len(ended) < len(names):
        for name in names:
            if name in ended:
                continue
            job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
            if not seen[name] or seen[name][-1] != job["AutoMLJobSecondaryStatus"]:
                seen[name].append(job["AutoMLJobSecondaryStatus"])
            if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
                ended[name] = job
            assert time.monotonic() < deadline, f"job {name} still {job['AutoMLJobSecondaryStatus']} after {timeout} s"
        time.sleep(0.05)
    return {name: (ended[name], seen[name]) for name in names}


@pytest.fixture(scope="module")
def data():
    frame = load_breast_cancer(as_frame=True).frame
    return frame.rename(columns=lambda column: column.replace(" ", "_"))


@pytest.fixture(scope="module")
def deployed(local_service, data):
    """Two small real jobs trained side by side: a V2 job with AutoGenerateEndpointName and a V1
    job with an explicit EndpointName."""
    (local_service.file_root / "bc").mkdir(parents=True, exist_ok=True)
    data.to_csv(local_service.file_root / "bc" / "train.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job_v2(
        AutoMLJobName=AUTO_JOB,
        RoleArn=ROLE,
        AutoMLJobInputDataConfig=[
            {
                "ChannelType": "training",
                "ContentType": "text/csv;header=present",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("bc")}},
            }
        ],
        OutputDataConfig={"S3OutputPath": local_service.file_uri("output")},
        AutoMLProblemTypeConfig={
            "TabularJobConfig": {
                "TargetAttributeName": "target",
                "Mode": "ENSEMBLING",
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm"]}]},
                "CompletionCriteria": COMPLETION,
            }
        },
        ModelDeployConfig={"AutoGenerateEndpointName": True},
    )
    client.create_auto_ml_job(
        AutoMLJobName=NAMED_JOB,
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("bc")}},
                "TargetAttributeName": "target",
            }
        ],
        OutputDataConfig={"S3OutputPath": local_service.file_uri("output")},
        ProblemType="BinaryClassification",
        AutoMLJobObjective={"MetricName": "Accuracy"},
        AutoMLJobConfig={
            "Mode": "HYPERPARAMETER_TUNING",
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["linear-learner"]}]},
            "CompletionCriteria": COMPLETION,
        },
        ModelDeployConfig={"AutoGenerateEndpointName": False, "EndpointName": NAMED_ENDPOINT},
    )
    return _follow(client, AUTO_JOB, NAMED_JOB)


def _rows_csv(frame, count: int = 40) -> str:
    return frame.drop(columns=["target"]).head(count).to_csv(index=False, header=False)


def _predict_csv(runtime, endpoint: str, frame, count: int = 40) -> list[int]:
    response = runtime.invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=_rows_csv(frame, count).encode()
    )
    assert response["ContentType"] == "text/csv"
    assert response["InvokedProductionVariant"] == "AllTraffic"
    return [int(float(line)) for line in response["Body"].read().decode().splitlines()]


def _endpoint(deployed, job_name: str) -> str:
    return deployed[job_name][0]["ModelDeployResult"]["EndpointName"]


def test_jobs_deploy_their_best_candidate(local_service, deployed):
    for name in (AUTO_JOB, NAMED_JOB):
        job, seen = deployed[name]
        assert job["AutoMLJobStatus"] == "Completed", job.get("FailureReason")
        assert job["AutoMLJobSecondaryStatus"] in ("Completed", "MaxCandidatesReached"), job.get(
            "PartialFailureReasons"
        )
        assert "PartialFailureReasons" not in job
        # DeployingModel may pass between two polls; the endpoint's times place the deployment
        # after the best candidate was trained and before the job ended.
        endpoint = local_service.client().describe_endpoint(EndpointName=job["ModelDeployResult"]["EndpointName"])
        assert job["BestCandidate"]["EndTime"] <= endpoint["CreationTime"] <= job["EndTime"]
        assert seen[-1] == job["AutoMLJobSecondaryStatus"]
    generated = _endpoint(deployed, AUTO_JOB)
    assert generated.startswith(AUTO_JOB) and ENDPOINT_NAME_PATTERN.match(generated)
    assert _endpoint(deployed, NAMED_JOB) == NAMED_ENDPOINT


def test_describe_and_list_endpoints(local_service, deployed):
    client = local_service.client()
    for name in (_endpoint(deployed, AUTO_JOB), NAMED_ENDPOINT):
        endpoint = client.describe_endpoint(EndpointName=name)
        assert endpoint["EndpointName"] == name
        assert endpoint["EndpointStatus"] == "InService"
        assert endpoint["EndpointArn"] == f"arn:aws:sagemaker:us-east-1:123456789012:endpoint/{name.lower()}"
        assert endpoint["ProductionVariants"][0]["VariantName"] == "AllTraffic"
        assert endpoint["CreationTime"] <= endpoint["LastModifiedTime"]
    listed = client.list_endpoints(NameContains="bc-endpoint")["Endpoints"]
    assert [e["EndpointName"] for e in listed] == [_endpoint(deployed, AUTO_JOB)]
    assert len(client.list_endpoints()["Endpoints"]) == 2


def test_invoke_with_csv_predicts_labels(local_service, deployed, data):
    runtime = local_service.client("sagemaker-runtime")
    truth = data["target"].head(40).tolist()
    for endpoint in (_endpoint(deployed, AUTO_JOB), NAMED_ENDPOINT):
        predicted = _predict_csv(runtime, endpoint, data)
        assert len(predicted) == 40
        assert set(predicted) <= {0, 1}
        assert sum(p == y for p, y in zip(predicted, truth, strict=True)) >= 32, f"{endpoint}: {predicted} vs {truth}"


def test_invoke_with_json_answers_labels_and_probabilities(local_service, deployed, data):
    runtime = local_service.client("sagemaker-runtime")
    features = data.drop(columns=["target"]).head(5)
    body = json.dumps({"instances": [{"features": row} for row in features.values.tolist()]})
    response = runtime.invoke_endpoint(
        EndpointName=_endpoint(deployed, AUTO_JOB), ContentType="application/json", Accept="application/json", Body=body
    )
    assert response["ContentType"] == "application/json"
    predictions = json.loads(response["Body"].read())["predictions"]
    assert len(predictions) == 5
    for prediction in predictions:
        assert prediction["predicted_label"] in (0, 1)
        assert 0.5 <= prediction["probability"] <= 1.0
    csv_labels = _predict_csv(runtime, _endpoint(deployed, AUTO_JOB), data, 5)
    assert [p["predicted_label"] for p in predictions] == csv_labels


def _runtime_error(call) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


def test_bad_requests_get_runtime_errors_and_the_service_keeps_serving(local_service, deployed, data):
    runtime = local_service.client("sagemaker-runtime")
    endpoint = _endpoint(deployed, AUTO_JOB)
    missing = _runtime_error(lambda: runtime.invoke_endpoint(EndpointName="no-such-endpoint", Body=b"1,2"))
    assert missing.response["Error"]["Code"] == "ValidationError"
    assert missing.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert missing.response["Error"]["Message"] == "Endpoint no-such-endpoint of account 123456789012 not found."

    short_rows = _runtime_error(
        lambda: runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1.0,2.0\n")
    )
    assert short_rows.response["Error"]["Code"] == "ModelError"
    assert short_rows.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert short_rows.response["OriginalStatusCode"] == 400
    assert "30 values" in short_rows.response["Error"]["Message"]

    not_json = _runtime_error(
        lambda: runtime.invoke_endpoint(EndpointName=endpoint, ContentType="application/json", Body=b"{oops")
    )
    assert not_json.response["Error"]["Code"] == "ModelError"
    assert "not valid JSON" in not_json.response["Error"]["Message"]

    wrong_type = _runtime_error(
        lambda: runtime.invoke_endpoint(EndpointName=endpoint, ContentType="image/png", Body=b"\x89PNG")
    )
    assert wrong_type.response["OriginalStatusCode"] == 415
    assert "image/png" in wrong_type.response["Error"]["Message"]

    too_big = _runtime_error(
        lambda: runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=b"1" * (6 * 1024 * 1024 + 1)
        )
    )
    assert too_big.response["Error"]["Code"] == "ValidationError"
    assert "6291456" in too_big.response["Error"]["Message"]

    assert len(_predict_csv(runtime, endpoint, data, 3)) == 3


def test_failed_deployment_keeps_the_job_and_its_candidates(tmp_path):
    """A job whose model cannot be served ends Completed/ModelDeploymentError, as SageMaker
    reports a failed step that does not fail the job. The scripted engine keeps no model for nomodel-* jobs.
    The service has its own credentials: runtime calls are SigV4-verified like the API's."""
    service = start_service(tmp_path, engine=SCRIPTED_ENGINE, access_key_id="AKIDENDPOINTS", secret_access_key="s3cr3t")
    try:
        client = service.client()
        client.create_auto_ml_job(
            AutoMLJobName="nomodel-deploy",
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("in")}},
                    "TargetAttributeName": "target",
                }
            ],
            OutputDataConfig={"S3OutputPath": service.file_uri("out")},
            ModelDeployConfig={"EndpointName": "never-served"},
        )
        job, seen = _follow(client, "nomodel-deploy", timeout=60)["nomodel-deploy"]
        assert job["AutoMLJobStatus"] == "Completed"
        assert job["AutoMLJobSecondaryStatus"] == "ModelDeploymentError"
        assert "never-served" in job["PartialFailureReasons"][0]["PartialFailureMessage"]
        assert job["BestCandidate"]["CandidateName"]
        assert client.list_candidates_for_auto_ml_job(AutoMLJobName="nomodel-deploy")["Candidates"]
        endpoint = client.describe_endpoint(EndpointName="never-served")
        assert endpoint["EndpointStatus"] == "Failed" and "model" in endpoint["FailureReason"]
        error = _runtime_error(
            lambda: service.client("sagemaker-runtime").invoke_endpoint(EndpointName="never-served", Body=b"1")
        )
        assert error.response["Error"]["Code"] == "ValidationError"
        assert "Failed" in error.response["Error"]["Message"]
        stranger = boto3.client(
            "sagemaker-runtime",
            endpoint_url=service.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="AKIDENDPOINTS",
            aws_secret_access_key="wrong",
        )
        refused = _runtime_error(lambda: stranger.invoke_endpoint(EndpointName="never-served", Body=b"1"))
        assert refused.response["Error"]["Code"] == "InvalidSignatureException"

        # A scripted job that keeps its model deploys, and signed runtime calls get predictions.
        client.create_auto_ml_job(
            AutoMLJobName="served-deploy",
            RoleArn=ROLE,
            InputDataConfig=[
                {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("in")}},
                    "TargetAttributeName": "target",
                }
            ],
            OutputDataConfig={"S3OutputPath": service.file_uri("out")},
            ModelDeployConfig={"AutoGenerateEndpointName": True},
        )
        served, _ = _follow(client, "served-deploy", timeout=60)["served-deploy"]
        assert served["AutoMLJobSecondaryStatus"] == "Completed"
        answer = service.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=served["ModelDeployResult"]["EndpointName"], ContentType="text/csv", Body=b"2.5\n-1\n"
        )
        assert answer["Body"].read() == b"1\n0\n"
    finally:
        service.stop()


def test_endpoints_survive_a_restart(local_service, deployed, data):
    runtime = local_service.client("sagemaker-runtime")
    before = _predict_csv(runtime, NAMED_ENDPOINT, data)
    local_service.restart()
    runtime = local_service.client("sagemaker-runtime")
    assert _predict_csv(runtime, NAMED_ENDPOINT, data) == before
    assert local_service.client().describe_endpoint(EndpointName=NAMED_ENDPOINT)["EndpointStatus"] == "InService"


def test_deleted_endpoint_is_gone(local_service, deployed, data):
    client = local_service.client()
    runtime = local_service.client("sagemaker-runtime")
    endpoint = _endpoint(deployed, AUTO_JOB)
    assert len(_predict_csv(runtime, endpoint, data, 2)) == 2
    client.delete_endpoint(EndpointName=endpoint)
    described = _runtime_error(lambda: client.describe_endpoint(EndpointName=endpoint))
    assert described.response["Error"]["Code"] == "ValidationException"
    invoked = _runtime_error(lambda: runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=b"1"))
    assert invoked.response["Error"]["Code"] == "ValidationError"
    assert "not found" in invoked.response["Error"]["Message"]
    again = _runtime_error(lambda: client.delete_endpoint(EndpointName=endpoint))
    assert again.response["Error"]["Code"] == "ValidationException"
    # The job that deployed it still describes its deployment, as on SageMaker.
    assert client.describe_auto_ml_job_v2(AutoMLJobName=AUTO_JOB)["ModelDeployResult"]["EndpointName"] == endpoint
