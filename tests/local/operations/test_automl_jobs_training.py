"""A real, small training job end to end: CSV on disk in, models and a leaderboard out."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
from sklearn.datasets import load_breast_cancer

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"


@pytest.fixture(scope="module")
def trained_job(local_service):
    """One job trained by the real engine, shared by the tests of this module."""
    frame = load_breast_cancer(as_frame=True).frame  # 569 rows: Autopilot needs at least 500
    frame = frame.rename(columns=lambda column: column.replace(" ", "_"))
    data_dir = local_service.file_root / "breast-cancer"
    data_dir.mkdir(parents=True, exist_ok=True)
    frame.to_csv(data_dir / "train.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job(
        AutoMLJobName="breast-cancer",
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("breast-cancer")}
                },
                "TargetAttributeName": "target",
            }
        ],
        OutputDataConfig={"S3OutputPath": local_service.file_uri("output")},
        AutoMLJobConfig={
            "Mode": "ENSEMBLING",
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm", "randomforest"]}]},
            "CompletionCriteria": {"MaxCandidates": 3, "MaxAutoMLJobRuntimeInSeconds": 120},
        },
    )
    secondary_statuses: list[str] = []
    deadline = time.monotonic() + 300
    while True:
        job = client.describe_auto_ml_job(AutoMLJobName="breast-cancer")
        if not secondary_statuses or secondary_statuses[-1] != job["AutoMLJobSecondaryStatus"]:
            secondary_statuses.append(job["AutoMLJobSecondaryStatus"])
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            break
        assert time.monotonic() < deadline, f"training still {job['AutoMLJobSecondaryStatus']} after 300 s"
        time.sleep(0.25)
    return job, secondary_statuses


def test_the_job_completes_through_sagemaker_statuses(trained_job):
    job, secondary_statuses = trained_job
    assert job["AutoMLJobStatus"] == "Completed", job.get("FailureReason")
    assert job["AutoMLJobSecondaryStatus"] in ("Completed", "MaxCandidatesReached")
    assert "TrainingModels" in secondary_statuses
    assert secondary_statuses[-1] == job["AutoMLJobSecondaryStatus"]


def test_problem_type_and_default_metric_are_resolved(trained_job):
    job, _ = trained_job
    resolved = job["ResolvedAttributes"]
    assert resolved["ProblemType"] == "BinaryClassification"
    assert resolved["AutoMLJobObjective"] == {"MetricName": "F1"}
    assert resolved["CompletionCriteria"]["MaxCandidates"] == 3


def test_best_candidate_is_the_best_listed_candidate(local_service, trained_job):
    job, _ = trained_job
    best = job["BestCandidate"]
    assert best["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "F1"
    assert 0.8 < best["FinalAutoMLJobObjectiveMetric"]["Value"] <= 1.0
    candidates = local_service.client().list_candidates_for_auto_ml_job(
        AutoMLJobName="breast-cancer", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )["Candidates"]
    assert 1 <= len(candidates) <= 3
    assert candidates[0]["FinalAutoMLJobObjectiveMetric"]["Value"] == best["FinalAutoMLJobObjectiveMetric"]["Value"]
    assert best["CandidateName"] in {c["CandidateName"] for c in candidates}
    assert best["InferenceContainers"] and best["CandidateSteps"]


def test_models_and_leaderboard_are_under_the_output_path(local_service, trained_job):
    job, _ = trained_job
    job_output = local_service.file_root / "output" / "breast-cancer"
    assert (job_output / "leaderboard.csv").is_file()
    model_url = job["BestCandidate"]["InferenceContainers"][0]["ModelDataUrl"]
    model_path = Path(urlparse(model_url).path)
    assert model_path.is_file()
    assert job_output in model_path.parents


def test_bad_data_fails_the_job_with_a_reason_and_the_service_carries_on(local_service):
    small = local_service.file_root / "too-small"
    small.mkdir(exist_ok=True)
    (small / "data.csv").write_text("x,target\n" + "".join(f"{i},{i % 2}\n" for i in range(50)))
    client = local_service.client()
    client.create_auto_ml_job(
        AutoMLJobName="too-small",
        RoleArn=ROLE,
        InputDataConfig=[
            {
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("too-small")}
                },
                "TargetAttributeName": "target",
            }
        ],
        OutputDataConfig={"S3OutputPath": local_service.file_uri("output")},
    )
    job = local_service.wait_for_status("too-small", timeout=120)
    assert job["AutoMLJobStatus"] == "Failed"
    assert "500" in job["FailureReason"]
    assert client.describe_auto_ml_job(AutoMLJobName="breast-cancer")["AutoMLJobStatus"] == "Completed"
