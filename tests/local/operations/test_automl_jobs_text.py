"""A real, small text classification job on the local service: documentation paragraphs of the
standard library in, labelled by the area of the library they document; TF-IDF candidates,
their soft vote, a leaderboard and artifacts out; the best candidate served by an endpoint answering
labels and, when asked, probabilities (tests/dags/test_automl_text_classification.py runs a batch
transform of it through the example DAG)."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
from botocore.exceptions import ClientError

from airflow_automl.examples.text_corpus import AREAS, CONTENT, LABEL, library_docstrings
from tests.fixtures.v2_jobs import wait_until_done

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
FAST_WAITER = {"Delay": 0.2, "MaxAttempts": 300}
PER_AREA = 40


def text_config(service, folder: str) -> dict:
    return {
        "AutoMLJobInputDataConfig": [
            {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri(folder)}}}
        ],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("text-output")},
        "RoleArn": ROLE,
        "AutoMLProblemTypeConfig": {
            "TextClassificationJobConfig": {"ContentColumn": CONTENT, "TargetLabelColumn": LABEL}
        },
    }


def local_path(uri: str) -> Path:
    return Path(urlparse(uri).path)


@pytest.fixture(scope="module")
def text_job(local_service):
    folder = local_service.file_root / "docstrings"
    folder.mkdir(parents=True, exist_ok=True)
    library_docstrings(per_area=PER_AREA).to_csv(folder / "train.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job_v2(AutoMLJobName="stdlib-areas", **text_config(local_service, "docstrings"))
    return wait_until_done(client, "stdlib-areas")


def test_the_job_completes_with_ranked_candidates_and_their_artifacts(local_service, text_job):
    assert text_job["AutoMLJobStatus"] == "Completed", text_job.get("FailureReason")
    assert text_job["AutoMLProblemTypeConfigName"] == "TextClassification"
    assert text_job["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "Accuracy"}
    candidates = local_service.client().list_candidates_for_auto_ml_job(
        AutoMLJobName="stdlib-areas", SortBy="FinalObjectiveMetricValue", SortOrder="Descending"
    )["Candidates"]
    names = [c["CandidateName"] for c in candidates]
    assert sorted(name.split("-", 2)[2].rsplit("-", 1)[0] for name in names) == [
        "char-sgd",
        "ensemble",
        "tfidf-lightgbm",
        "tfidf-logistic",
        "tfidf-naive-bayes",
    ]
    best = text_job["BestCandidate"]
    assert best["CandidateName"] == names[0]
    # Four areas: chance is 0.25; paragraphs about sockets, paths, JSON and numbers are told apart
    # far better than that from their words alone.
    assert best["FinalAutoMLJobObjectiveMetric"]["Value"] > 0.5
    reported = {m["StandardMetricName"] for m in best["CandidateProperties"]["CandidateMetrics"]}
    assert {"Accuracy", "BalancedAccuracy", "F1macro", "LogLoss"} <= reported

    locations = best["CandidateProperties"]["CandidateArtifactLocations"]
    insights = json.loads((local_path(locations["ModelInsights"]) / "insights.json").read_text())
    assert insights["metrics"]["Accuracy"] == pytest.approx(best["FinalAutoMLJobObjectiveMetric"]["Value"])
    matrix = insights["confusion_matrix"]
    assert matrix["labels"] == sorted(AREAS)
    assert sum(map(sum, matrix["rows_true_columns_predicted"])) == insights["holdout_rows"]
    leaderboard = pd.read_csv(local_service.file_root / "text-output" / "stdlib-areas" / "leaderboard.csv")
    assert leaderboard["CandidateName"].iloc[0] == best["CandidateName"]
    assert list(leaderboard["Accuracy"]) == sorted(leaderboard["Accuracy"], reverse=True)
    assert local_path(best["InferenceContainers"][0]["ModelDataUrl"]).is_file()


def test_a_text_request_naming_one_column_twice_is_refused_at_create(local_service):
    config = text_config(local_service, "docstrings")
    config["AutoMLProblemTypeConfig"]["TextClassificationJobConfig"]["TargetLabelColumn"] = CONTENT
    with pytest.raises(ClientError) as caught:
        local_service.client().create_auto_ml_job_v2(AutoMLJobName="same-columns", **config)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("AutoMLProblemTypeConfig.TextClassificationJobConfig.TargetLabelColumn")


# ---- serving ------------------------------------------------------------------------------------

SENT = [
    "Return the natural logarithm of x, correctly rounded.",
    "Connect to a remote address, sending the request headers to the server.",
    'Remove a directory and every file below it, like "rm -r", then return its path.',
]


@pytest.fixture(scope="module")
def text_endpoint(local_service, text_job):
    client = local_service.client()
    containers = text_job["BestCandidate"]["InferenceContainers"]
    client.create_model(ModelName="stdlib-areas-model", ExecutionRoleArn=ROLE, Containers=containers)
    client.create_endpoint_config(
        EndpointConfigName="stdlib-areas-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "stdlib-areas-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="stdlib-areas", EndpointConfigName="stdlib-areas-config")
    client.get_waiter("endpoint_in_service").wait(EndpointName="stdlib-areas", WaiterConfig=FAST_WAITER)
    return "stdlib-areas"


def test_an_endpoint_classifies_texts_sent_as_csv_or_json(local_service, text_endpoint):
    runtime = local_service.client("sagemaker-runtime")
    body = "\n".join(f'"{t.replace(chr(34), chr(34) * 2)}"' if '"' in t else t for t in SENT).encode()
    answer = runtime.invoke_endpoint(EndpointName=text_endpoint, ContentType="text/csv", Body=body)
    labels = answer["Body"].read().decode().split()
    assert len(labels) == len(SENT) and set(labels) <= set(AREAS)
    response = runtime.invoke_endpoint(
        EndpointName=text_endpoint,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps({"instances": [{CONTENT: t} for t in SENT]}).encode(),
    )
    predictions = json.loads(response["Body"].read())["predictions"]
    assert [p["predicted_label"] for p in predictions] == labels
    for prediction in predictions:
        assert prediction["labels"] == sorted(AREAS)
        assert sum(prediction["probabilities"]) == pytest.approx(1.0)
        assert prediction["probability"] == pytest.approx(max(prediction["probabilities"]))
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=text_endpoint, ContentType="application/json", Body=json.dumps({"instances": [{"x": 1}]})
        )
    assert caught.value.response["OriginalStatusCode"] == 400
    assert "text column 'text'" in caught.value.response["Error"]["Message"]
