"""The operator's extra link: region-aware SageMaker console, or the local service's job page."""

from airflow_automl.links.automl import automl_job_url, is_aws_endpoint


def test_console_link_follows_the_region():
    assert automl_job_url("churn-20261127-3f9a00", "eu-west-1") == (
        "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1"
        "#/automl-jobs/churn-20261127-3f9a00/details"
    )


def test_console_link_uses_the_partitions_domain():
    assert automl_job_url("j", "cn-north-1").startswith("https://cn-north-1.console.amazonaws.cn/")
    assert automl_job_url("j", "us-gov-west-1").startswith("https://us-gov-west-1.console.amazonaws-us-gov.com/")


def test_aws_endpoints_keep_the_console_link():
    url = automl_job_url("j", "us-east-2", "https://api.sagemaker.us-east-2.amazonaws.com")
    assert url.startswith("https://us-east-2.console.aws.amazon.com/sagemaker/")


def test_local_service_endpoint_links_to_its_job_page():
    assert automl_job_url("churn-1", "us-east-1", "http://127.0.0.1:8787/") == "http://127.0.0.1:8787/jobs/churn-1"
    assert not is_aws_endpoint("http://localhost:8787")
    assert is_aws_endpoint(None)


def test_persist_stores_the_link_inputs_and_the_url_before_the_task_ends():
    from types import SimpleNamespace

    from airflow_automl.links.automl import AutoMLJobLink

    pushed = {}
    ti = SimpleNamespace(xcom_push=lambda key, value: pushed.__setitem__(key, value))
    AutoMLJobLink.persist({"ti": ti}, "churn-1", "eu-west-1", None, "aws_prod")
    assert pushed["automl_job_link"] == {
        "job_name": "churn-1",
        "region_name": "eu-west-1",
        "endpoint_url": None,
        "aws_conn_id": "aws_prod",
    }
    # The key Airflow's UI reads, so the link works while the task is still deferred.
    assert pushed[AutoMLJobLink().xcom_key].startswith("https://eu-west-1.console.aws.amazon.com/sagemaker/")
