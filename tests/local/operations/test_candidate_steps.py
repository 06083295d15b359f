"""The steps candidates name, as jobs: DescribeTrainingJob / DescribeProcessingJob /
DescribeTransformJob answer for them from what the engine reported, in botocore's output shapes;
ListTrainingJobs / ListProcessingJobs list them with their filters and pages; creating such jobs
is refused saying why. Driven through the protocol layer, without a server."""

from __future__ import annotations

import json

import pytest
from botocore.session import get_session

from airflow_automl.local.api.protocol import serialize_output
from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.engine.candidates import Placement, build_candidate
from airflow_automl.local.engine.job import CandidateTraining
from airflow_automl.local.errors import ValidationException
from airflow_automl.local.jobspec import Channel, JobSpec
from airflow_automl.local.operations.service import SageMakerService
from airflow_automl.local.store import Store

MODEL = get_session().get_service_model("sagemaker")
ROLE = "arn:aws:iam::123456789012:role/automl"
JOBS = {"steps-a": ("xgboost", [0.81, 0.86]), "steps-b": ("linear-learner", [0.74])}


def check_shape(shape, value, path="") -> None:
    """value holds every required member of shape, and only its members, all the way down."""
    if shape.type_name == "structure":
        assert isinstance(value, dict), path
        missing = [m for m in shape.required_members if m not in value]
        assert not missing, f"{path}: missing required {missing}"
        for name, item in value.items():
            assert name in shape.members, f"{path}.{name} is not a member of {shape.name}"
            check_shape(shape.members[name], item, f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            check_shape(shape.member, item, f"{path}[{index}]")
    elif shape.type_name == "map":
        for key, item in value.items():
            check_shape(shape.value, item, f"{path}.{key}")
    elif shape.type_name == "string" and shape.enum:
        assert value in shape.enum, f"{path}: {value!r} is not one of {shape.enum}"


def answer(service: SageMakerService, operation: str, request: dict) -> dict:
    """The operation's answer as the wire carries it, checked against botocore's output shape."""
    output_shape = MODEL.operation_model(operation).output_shape
    method = getattr(service, "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_"))
    wire = json.loads(json.dumps(serialize_output(output_shape, method(request))))
    check_shape(output_shape, wire, operation)
    return wire


@pytest.fixture
def service(tmp_path):
    store = Store(tmp_path / "automl.sqlite3")
    config = ServiceConfig(data_dir=tmp_path)
    for name, (algorithm, scores) in JOBS.items():
        channels = (
            Channel(uri=f"s3://bucket/{name}/train/", target="y"),
            Channel(uri=f"s3://bucket/{name}/validation/", target="y", channel_type="validation"),
        )
        spec = JobSpec(
            name=name,
            api_version=1,
            channels=channels,
            output_path="s3://bucket/out",
            target="y",
            max_runtime_per_training_job=600,
        )
        store.jobs.create(spec=spec, arn=config.job_arn(name), request={"RoleArn": ROLE}, max_active_jobs=50)
        assert store.jobs.claim(name, "run")
        placement = Placement(job_name=name, output_prefix=f"s3://bucket/out/{name}")
        for number, score in enumerate(scores, start=1):
            candidate = build_candidate(
                placement, f"{name}-{algorithm}-{number:03d}", "AUC", {"AUC": score, "F1": score - 0.1}, "image:1"
            )
            store.jobs.add_candidate(
                name,
                "run",
                candidate,
                CandidateTraining(algorithm, {"max_depth": 6, "eta": 0.3, "layers": [64, 32]}, 12.5).described(),
            )
    yield SageMakerService(config, store)
    store.close()


def test_a_candidates_training_step_is_described_from_what_the_engine_did(service):
    candidate = service.list_candidates_for_auto_ml_job({"AutoMLJobName": "steps-a"})["Candidates"][1]
    (training,) = [s for s in candidate["CandidateSteps"] if s["CandidateStepType"] == "AWS::SageMaker::TrainingJob"]
    described = answer(service, "DescribeTrainingJob", {"TrainingJobName": training["CandidateStepName"]})
    assert described["TrainingJobArn"] == training["CandidateStepArn"]
    assert described["AutoMLJobArn"] == "arn:aws:sagemaker:us-east-1:123456789012:automl-job/steps-a"
    assert described["TrainingJobStatus"] == "Completed" and described["SecondaryStatus"] == "Completed"
    assert described["HyperParameters"] == {"max_depth": "6", "eta": "0.3", "layers": "[64, 32]"}
    assert described["ModelArtifacts"]["S3ModelArtifacts"] == candidate["InferenceContainers"][0]["ModelDataUrl"]
    assert described["AlgorithmSpecification"]["TrainingImage"] == "image:1"
    assert {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]} == {
        "validation:AUC": 0.86,
        "validation:F1": pytest.approx(0.76),
    }
    assert [c["ChannelName"] for c in described["InputDataConfig"]] == ["train", "validation"]
    assert described["InputDataConfig"][1]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bucket/steps-a/validation/"
    assert described["RoleArn"] == ROLE and described["StoppingCondition"] == {"MaxRuntimeInSeconds": 600}
    assert described["TrainingTimeInSeconds"] in (12, 13)
    assert described["TrainingEndTime"] - described["TrainingStartTime"] == pytest.approx(12.5)


def test_the_processing_and_transform_steps_are_described_too(service):
    candidate = service.list_candidates_for_auto_ml_job({"AutoMLJobName": "steps-b"})["Candidates"][0]
    steps = {s["CandidateStepType"].rsplit("::", 1)[1]: s["CandidateStepName"] for s in candidate["CandidateSteps"]}
    processing = answer(service, "DescribeProcessingJob", {"ProcessingJobName": steps["ProcessingJob"]})
    assert processing["ProcessingJobStatus"] == "Completed"
    assert [i["S3Input"]["S3Uri"] for i in processing["ProcessingInputs"]] == [
        "s3://bucket/steps-b/train/",
        "s3://bucket/steps-b/validation/",
    ]
    transform = answer(service, "DescribeTransformJob", {"TransformJobName": steps["TransformJob"]})
    assert transform["ModelName"] == candidate["CandidateName"] and transform["TransformJobStatus"] == "Completed"
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://bucket/steps-b/validation/"


def test_list_training_jobs_filters_sorts_and_pages(service):
    everything = answer(service, "ListTrainingJobs", {"MaxResults": 100})["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in everything] == [
        "steps-a-xgboost-001",
        "steps-a-xgboost-002",
        "steps-b-linear-learner-001",
    ]
    named = answer(service, "ListTrainingJobs", {"NameContains": "LINEAR", "StatusEquals": "Completed"})
    assert [s["TrainingJobName"] for s in named["TrainingJobSummaries"]] == ["steps-b-linear-learner-001"]
    assert answer(service, "ListTrainingJobs", {"StatusEquals": "Failed"})["TrainingJobSummaries"] == []
    pages, request = [], {"MaxResults": 1, "SortBy": "Name", "SortOrder": "Descending"}
    while True:
        page = answer(service, "ListTrainingJobs", request)
        pages += [s["TrainingJobName"] for s in page["TrainingJobSummaries"]]
        if not page.get("NextToken"):
            break
        request["NextToken"] = page["NextToken"]
    assert pages == [s["TrainingJobName"] for s in reversed(everything)]
    processing = answer(service, "ListProcessingJobs", {})["ProcessingJobSummaries"]
    assert [s["ProcessingJobName"] for s in processing] == ["steps-a-db-1", "steps-b-db-1"]


def test_unknown_steps_and_creating_jobs_are_refused_saying_why(service):
    with pytest.raises(ValidationException, match="TrainingJobName: Requested resource not found"):
        service.describe_training_job({"TrainingJobName": "nothing-of-the-kind"})
    with pytest.raises(ValidationException, match="ProcessingJobName: Could not find requested job with name nothing"):
        service.describe_processing_job({"ProcessingJobName": "nothing"})
    with pytest.raises(ValidationException, match="Could not find requested job with name nothing"):
        service.describe_transform_job({"TransformJobName": "nothing"})
    for operation in ("create_training_job", "create_processing_job"):
        with pytest.raises(ValidationException, match="does not run .* jobs of your own") as refused:
            getattr(service, operation)({})
        assert "CandidateSteps" in str(refused.value) and "CreateAutoMLJob" in str(refused.value)
