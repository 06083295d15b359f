"""A real, small image classification job on the local service: scikit-learn's bundled digit
scans written as PNG files in label folders; candidates trained from the pixels alone; the best
served by an endpoint reading image bodies and by a batch transform of image files."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from airflow_automl.examples.digit_images import digit_images
from tests.fixtures.image_jobs import DIGITS, ROLE, run_digit_image_job

pytestmark = pytest.mark.integration

FAST_WAITER = {"Delay": 0.2, "MaxAttempts": 300}


@pytest.fixture(scope="module")
def image_job(local_service):
    job = run_digit_image_job(local_service, "digits", seconds=300)
    client = local_service.client()
    client.create_model(
        ModelName="digits-model", ExecutionRoleArn=ROLE, Containers=job["BestCandidate"]["InferenceContainers"]
    )
    return job


def test_the_job_ranks_candidates_trained_from_the_pixels(local_service, image_job):
    assert image_job["AutoMLProblemTypeConfigName"] == "ImageClassification"
    names = [
        c["CandidateName"]
        for c in local_service.client().list_candidates_for_auto_ml_job(AutoMLJobName="digits")["Candidates"]
    ]
    assert names == [
        "digits-pixels-logistic-001",
        "digits-hog-logistic-002",
        "digits-pixels-gradient-boosting-003",
        "digits-ensemble-004",
    ]
    # Three distinct digits, 0.33 by chance: the scans' shapes alone tell them apart.
    assert image_job["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]["Value"] > 0.6
    leaderboard = local_service.file_root / "digits-output" / "digits" / "leaderboard.csv"
    assert leaderboard.read_text().splitlines()[1].startswith(image_job["BestCandidate"]["CandidateName"])


def test_an_endpoint_classifies_an_image_body_and_refuses_a_broken_one(local_service, image_job):
    client = local_service.client()
    client.create_endpoint_config(
        EndpointConfigName="digits-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "digits-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="digits", EndpointConfigName="digits-config")
    client.get_waiter("endpoint_in_service").wait(EndpointName="digits", WaiterConfig=FAST_WAITER)
    runtime = local_service.client("sagemaker-runtime")
    unseen = list(digit_images(3, digits=DIGITS, offset=40, fmt="JPEG"))
    right = 0
    for label, _, data in unseen:
        response = runtime.invoke_endpoint(
            EndpointName="digits", ContentType="application/x-image", Accept="application/json", Body=data
        )
        prediction = json.loads(response["Body"].read())["predictions"][0]
        assert prediction["labels"] == ["0", "1", "7"]
        assert sum(prediction["probabilities"]) == pytest.approx(1.0)
        right += prediction["predicted_label"] == label
    assert right >= 6, f"{right} of 9 unseen digits classified right"
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="digits", ContentType="image/png", Body=b"\x89PNG\r\n\x1a\nbroken")
    assert caught.value.response["OriginalStatusCode"] == 400
    assert "is not an image Pillow can read" in caught.value.response["Error"]["Message"]
    answer = runtime.invoke_endpoint(EndpointName="digits", ContentType="image/jpeg", Body=unseen[0][2])
    assert answer["Body"].read().decode().strip() in ("0", "1", "7")


def test_a_batch_transform_classifies_each_image_file(local_service, image_job):
    inputs = local_service.file_root / "digit-inputs"
    inputs.mkdir()
    sent = list(digit_images(2, digits=DIGITS, offset=50))
    for _, name, data in sent:
        (inputs / name).write_bytes(data)
    client = local_service.client()
    client.create_transform_job(
        TransformJobName="digits-batch",
        ModelName="digits-model",
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("digit-inputs")}},
            "ContentType": "image/png",
            "SplitType": "None",
        },
        TransformOutput={"S3OutputPath": local_service.file_uri("digit-batch"), "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    client.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="digits-batch", WaiterConfig=FAST_WAITER
    )
    job = client.describe_transform_job(TransformJobName="digits-batch")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    answers = {
        name: (local_service.file_root / "digit-batch" / f"{name}.out").read_text().strip() for _, name, _ in sent
    }
    assert set(answers.values()) <= {"0", "1", "7"} and len(answers) == 6
