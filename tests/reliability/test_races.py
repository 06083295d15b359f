"""Concurrent writers: racing creates of one name (in different cases) make exactly one job,
racing tag edits on one job leave a consistent tag set, and a stop racing the job's end
leaves it in one final state. Every limit checked against stored state (tags per resource,
active jobs) holds under concurrent writers: the check runs in the transaction that writes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


def _request(name: str, **extra) -> dict:
    return {
        **extra,
        "AutoMLJobName": name,
        "AutoMLJobInputDataConfig": [
            {
                "ChannelType": "training",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/in/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://b/out"},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "label"}},
    }


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("races"), engine=SCRIPTED_ENGINE, max_concurrent_jobs=2)
    yield service
    service.stop()


def _attempt(service, call):
    try:
        return "ok", call(service.client())
    except ClientError as error:
        return error.response["Error"]["Code"], None


def test_racing_creates_of_one_name_make_one_job(service):
    names = ["Race-Job", "race-job", "RACE-JOB", "race-JOB"] * 5
    with ThreadPoolExecutor(max_workers=len(names)) as pool:
        outcomes = list(pool.map(lambda n: _attempt(service, lambda c: c.create_auto_ml_job_v2(**_request(n))), names))
    codes = [code for code, _ in outcomes]
    assert codes.count("ok") == 1, codes
    assert set(codes) == {"ok", "ResourceInUse"}, codes
    listed = service.client().list_auto_ml_jobs(NameContains="race-job")["AutoMLJobSummaries"]
    assert len(listed) == 1


def test_racing_tag_edits_stay_consistent(service):
    arn = service.client().create_auto_ml_job_v2(**_request("tag-race"))["AutoMLJobArn"]

    def add(index):
        return _attempt(
            service, lambda c: c.add_tags(ResourceArn=arn, Tags=[{"Key": f"k{index % 10}", "Value": f"v{index}"}])
        )

    def delete(index):
        return _attempt(service, lambda c: c.delete_tags(ResourceArn=arn, TagKeys=[f"k{index % 10}"]))

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(lambda i: (add if i % 3 else delete)(i), range(90)))
    assert {code for code, _ in outcomes} == {"ok"}, outcomes
    tags = service.client().list_tags(ResourceArn=arn)["Tags"]
    keys = [tag["Key"] for tag in tags]
    assert len(keys) == len(set(keys)) <= 10


def test_stops_racing_a_jobs_end_leave_one_final_state(service):
    client = service.client()
    names = [f"stop-race-{i}" for i in range(6)]
    for name in names:
        client.create_auto_ml_job_v2(**_request(name))
    with ThreadPoolExecutor(max_workers=12) as pool:
        outcomes = list(pool.map(lambda n: _attempt(service, lambda c: c.stop_auto_ml_job(AutoMLJobName=n)), names * 2))
    assert {code for code, _ in outcomes} <= {"ok", "ValidationException", "ResourceNotFound"}, outcomes
    for name in names:
        job = service.wait_for_status(name, timeout=180)
        assert job["AutoMLJobStatus"] in ("Completed", "Stopped"), job
        assert job["AutoMLJobSecondaryStatus"] in ("Completed", "MaxCandidatesReached", "Stopped"), job


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_tag_adds_never_pass_the_tag_limit(service, round_):
    existing = [{"Key": f"have-{i}", "Value": "x"} for i in range(45)]
    arn = service.client().create_auto_ml_job_v2(**_request(f"tag-limit-{round_}", Tags=existing))["AutoMLJobArn"]

    def add(index):
        return _attempt(service, lambda c: c.add_tags(ResourceArn=arn, Tags=[{"Key": f"new-{index}", "Value": "y"}]))

    with ThreadPoolExecutor(max_workers=25) as pool:
        codes = [code for code, _ in pool.map(add, range(25))]
    tags = service.client().list_tags(ResourceArn=arn, MaxResults=100)["Tags"]
    assert len(tags) == 50, len(tags)
    assert codes.count("ok") == 5 and codes.count("ResourceLimitExceeded") == 20, codes


def test_concurrent_creates_never_pass_the_active_job_limit(tmp_path):
    limited = start_service(tmp_path, engine=SCRIPTED_ENGINE, max_active_jobs=3, max_concurrent_jobs=1)
    try:
        names = [f"slow-limit-{i}" for i in range(12)]
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            codes = [
                code
                for code, _ in pool.map(
                    lambda n: _attempt(limited, lambda c: c.create_auto_ml_job_v2(**_request(n))), names
                )
            ]
        assert codes.count("ok") == 3 and codes.count("ResourceLimitExceeded") == 9, codes
        listed = limited.client().list_auto_ml_jobs(StatusEquals="InProgress", MaxResults=100)["AutoMLJobSummaries"]
        assert len(listed) == 3
    finally:
        for job in limited.client().list_auto_ml_jobs(MaxResults=100)["AutoMLJobSummaries"]:
            limited.client().stop_auto_ml_job(AutoMLJobName=job["AutoMLJobName"])
        limited.stop()
