"""What only the plugin's pages show of a job: time used against the budget, and where reports open."""

from datetime import UTC, datetime

from airflow_automl.presentation.artifacts import Artifact
from airflow_automl.ui.views import artifact_links, elapsed_seconds, max_runtime_seconds

REPORT = Artifact("job-a: Explainability", "s3://bucket/job/expl/report.html")


def test_locally_reports_open_on_the_services_artifact_pages():
    (link,) = artifact_links([REPORT], "job", "http://127.0.0.1:8787/", presign=lambda uri: "presigned")
    assert link.href == "http://127.0.0.1:8787/jobs/job/artifacts?uri=s3%3A%2F%2Fbucket%2Fjob%2Fexpl%2Freport.html"


def test_on_aws_reports_are_presigned():
    signed = []

    def presign(uri: str) -> str:
        signed.append(uri)
        return f"https://signed/{uri}"

    for endpoint in (None, "https://api.sagemaker.eu-west-1.amazonaws.com"):
        (link,) = artifact_links([REPORT], "job", endpoint, presign)
        assert link.href == f"https://signed/{REPORT.uri}"
    assert signed == [REPORT.uri, REPORT.uri]


def test_budget_wherever_the_api_version_put_it_and_time_used():
    v1 = {"AutoMLJobConfig": {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 600}}}
    v2 = {"AutoMLProblemTypeConfig": {"TabularJobConfig": {"CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 60}}}}
    assert (max_runtime_seconds(v1), max_runtime_seconds(v2), max_runtime_seconds({})) == (600, 60, None)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    assert elapsed_seconds({"CreationTime": created, "EndTime": created.replace(minute=2)}) == 120
    assert elapsed_seconds({"CreationTime": created}, now=created.replace(second=30)) == 30
    assert elapsed_seconds({}) is None


def test_on_aws_objects_get_presigned_urls_and_prefixes_the_s3_console():
    from urllib.parse import parse_qs, urlsplit

    import boto3

    from airflow_automl.ui.views import s3_console_or_presigned

    s3 = boto3.client("s3", region_name="eu-west-1", aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="secret")
    signed = urlsplit(s3_console_or_presigned(s3, "eu-west-1", "s3://bucket/churn/job/report.html"))
    assert signed.path.endswith("/churn/job/report.html") and "bucket" in signed.netloc + signed.path
    query = parse_qs(signed.query)
    assert any("Signature" in key for key in query) and any("Expires" in key for key in query)
    console = s3_console_or_presigned(s3, "eu-west-1", "s3://bucket/churn/job/")
    assert console == "https://s3.console.aws.amazon.com/s3/buckets/bucket?region=eu-west-1&prefix=churn/job/"
