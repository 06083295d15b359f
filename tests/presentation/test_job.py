"""One job, as the service's operations answer it (epoch seconds) and as boto3 does (datetimes),
reads the same on both pages."""

from datetime import UTC, datetime

from airflow_automl.presentation.job import JobPresentation

CREATED = datetime(2026, 5, 4, 3, 2, 1, tzinfo=UTC)
ENDED = datetime(2026, 5, 4, 3, 12, 1, tzinfo=UTC)


def _answer(created, ended, best=True) -> tuple[dict, list[dict]]:
    candidates = [
        {
            "CandidateName": f"churn-{name}",
            "CandidateStatus": status,
            "CreationTime": created,
            **({"FinalAutoMLJobObjectiveMetric": {"MetricName": "AUC", "Value": v, "Type": "Maximize"}} if v else {}),
        }
        for name, v, status in (("a", 0.71, "Completed"), ("b", 0.83, "Completed"), ("c", None, "Failed"))
    ]
    describe = {
        "AutoMLJobName": "churn",
        "AutoMLJobArn": "arn:aws:sagemaker:eu-west-1:123456789012:automl-job/churn",
        "AutoMLJobStatus": "Completed" if best else "InProgress",
        "AutoMLJobSecondaryStatus": "Completed" if best else "ModelTuning",
        "CreationTime": created,
        "AutoMLProblemTypeConfig": {"TabularJobConfig": {"ProblemType": "BinaryClassification"}},
        "AutoMLJobObjective": {"MetricName": "AUC"},
        "PartialFailureReasons": [{"PartialFailureMessage": "one candidate failed"}],
    }
    if best:
        describe |= {"EndTime": ended, "BestCandidate": candidates[1]}
    return describe, candidates


def test_epoch_seconds_and_datetimes_read_the_same():
    from_service = JobPresentation.of(*_answer(CREATED.timestamp(), ENDED.timestamp()))
    from_boto3 = JobPresentation.of(*_answer(CREATED, ENDED))
    assert from_service.created == from_boto3.created == "2026-05-04 03:02:01 UTC"
    assert from_service.ended == from_boto3.ended == "2026-05-04 03:12:01 UTC"
    assert from_service.rows == from_boto3.rows
    assert from_service.chart == from_boto3.chart


def test_a_finished_job():
    job = JobPresentation.of(*_answer(CREATED, ENDED))
    assert job.secondary_status is None  # "Completed" said once
    assert (job.objective.metric, job.objective.direction) == ("AUC", "higher is better")
    assert (job.best_name, job.best_value, job.best_is_final) == ("churn-b", "0.8300", True)
    assert [row.name for row in job.rows] == ["churn-b", "churn-a", "churn-c"]
    assert (job.completed, job.failed) == (2, 1)
    assert [bar.label for bar in job.chart.bars] == ["b", "a"]
    assert job.problem_type == "BinaryClassification"
    assert job.partial_failures == ["one candidate failed"]


def test_a_running_job_shows_its_best_so_far():
    job = JobPresentation.of(*_answer(CREATED, None, best=False))
    assert (job.best_name, job.best_is_final) == ("churn-b", False)
    assert (job.status, job.secondary_status, job.ended) == ("InProgress", "ModelTuning", "")


def test_a_job_without_candidates_yet():
    job = JobPresentation.of({"AutoMLJobName": "new", "AutoMLJobStatus": "InProgress"}, [])
    assert (job.best, job.rows, job.chart, job.artifacts, job.objective.metric) == (None, [], None, [], None)


def test_a_job_ended_without_candidates_is_finished_a_running_one_is_not():
    assert JobPresentation.of({"AutoMLJobName": "gone", "AutoMLJobStatus": "Failed"}, []).finished
    assert JobPresentation.of({"AutoMLJobName": "stopped", "AutoMLJobStatus": "Stopped"}, []).finished
    assert not JobPresentation.of({"AutoMLJobName": "new", "AutoMLJobStatus": "InProgress"}, []).finished
