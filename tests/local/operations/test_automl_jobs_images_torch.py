"""With the torch extra, an image classification job on the local service trains a small
convolutional network from scratch as one more candidate: listed, ranked and ensembled with the
others, and served by an endpoint and a batch transform from its own kept weights. Skipped
without PyTorch; `make test-torch` installs the extra into .venv-torch and runs this."""

from __future__ import annotations

import json

import pytest

from airflow_automl.examples.digit_images import digit_images
from tests.fixtures.image_jobs import DIGITS, ROLE, run_digit_image_job

pytestmark = [pytest.mark.integration, pytest.mark.torch]
pytest.importorskip(
    "torch", reason="needs the torch extra; `make test-torch` installs it into .venv-torch and runs this"
)

FAST_WAITER = {"Delay": 0.2, "MaxAttempts": 600}
CNN = "digits-cnn-cnn-003"


@pytest.fixture(scope="module")
def cnn_job(local_service):
    run_digit_image_job(local_service, "digits-cnn", seconds=600)
    client = local_service.client()
    candidates = client.list_candidates_for_auto_ml_job(AutoMLJobName="digits-cnn")["Candidates"]
    return {c["CandidateName"]: c for c in candidates}


def test_the_network_is_a_candidate_trained_from_scratch_and_in_the_ensemble(local_service, cnn_job):
    assert list(cnn_job) == [
        "digits-cnn-pixels-logistic-001",
        "digits-cnn-hog-logistic-002",
        CNN,
        "digits-cnn-pixels-gradient-boosting-004",
        "digits-cnn-ensemble-005",
    ]
    # Three distinct digits, 0.33 by chance.
    assert cnn_job[CNN]["FinalAutoMLJobObjectiveMetric"]["Value"] > 0.6
    output = local_service.file_root / "digits-cnn-output" / "digits-cnn"
    described = json.loads((output / "explainability" / CNN / "candidate.json").read_text())
    assert described["library"].startswith("PyTorch convolutional network")
    assert described["pretrained_weights"] is None
    ensemble = json.loads((output / "explainability" / "digits-cnn-ensemble-005" / "candidate.json").read_text())
    assert CNN in ensemble["settings"]["members"]


def test_an_endpoint_and_a_transform_serve_the_network(local_service, cnn_job):
    client = local_service.client()
    client.create_model(
        ModelName="digits-cnn-model", ExecutionRoleArn=ROLE, Containers=cnn_job[CNN]["InferenceContainers"]
    )
    client.create_endpoint_config(
        EndpointConfigName="digits-cnn-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "digits-cnn-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="digits-cnn", EndpointConfigName="digits-cnn-config")
    client.get_waiter("endpoint_in_service").wait(EndpointName="digits-cnn", WaiterConfig=FAST_WAITER)
    runtime = local_service.client("sagemaker-runtime")
    unseen = list(digit_images(3, digits=DIGITS, offset=40, fmt="JPEG"))
    right = 0
    for label, _, data in unseen:
        response = runtime.invoke_endpoint(
            EndpointName="digits-cnn", ContentType="image/jpeg", Accept="application/json", Body=data
        )
        prediction = json.loads(response["Body"].read())["predictions"][0]
        assert prediction["labels"] == ["0", "1", "7"]
        assert sum(prediction["probabilities"]) == pytest.approx(1.0)
        right += prediction["predicted_label"] == label
    assert right >= 6, f"{right} of 9 unseen digits classified right by the network"

    inputs = local_service.file_root / "digit-cnn-inputs"
    inputs.mkdir()
    sent = list(digit_images(2, digits=DIGITS, offset=50))
    for _, name, data in sent:
        (inputs / name).write_bytes(data)
    client.create_transform_job(
        TransformJobName="digits-cnn-batch",
        ModelName="digits-cnn-model",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("digit-cnn-inputs")}
            },
            "ContentType": "image/png",
            "SplitType": "None",
        },
        TransformOutput={"S3OutputPath": local_service.file_uri("digit-cnn-batch"), "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    client.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="digits-cnn-batch", WaiterConfig=FAST_WAITER
    )
    job = client.describe_transform_job(TransformJobName="digits-cnn-batch")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    answers = [(local_service.file_root / "digit-cnn-batch" / f"{name}.out").read_text().strip() for _, name, _ in sent]
    assert len(answers) == 6 and set(answers) <= {"0", "1", "7"}
