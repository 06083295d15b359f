"""The leaderboard's order: SageMaker's ranking by the job's objective, and the orders a reader sorts by."""

from airflow_automl.presentation.leaderboard import leaderboard_rows, sorted_rows
from airflow_automl.presentation.objective import Objective, ranked


def _candidate(name: str, value: float | None, metric: str = "MSE", **extra) -> dict:
    final = {} if value is None else {"FinalAutoMLJobObjectiveMetric": {"MetricName": metric, "Value": value}}
    return {"CandidateName": name, "CandidateStatus": "Completed", **final, **extra}


def test_lower_is_better_ranks_ascending_and_sorting_keeps_unscored_last():
    candidates = [_candidate("a", 3.0), _candidate("b", 1.0), _candidate("c", None)]
    rows = leaderboard_rows(ranked(candidates, Objective("MSE", False)), "b")
    assert [r.name for r in rows] == ["b", "a", "c"]
    assert [r.rank for r in rows] == [1, 2, 3]
    assert [r.name for r in sorted_rows(rows, "metric", True)] == ["a", "b", "c"]
    assert [r.name for r in sorted_rows(rows, "metric", False)] == ["b", "a", "c"]
    assert [r.name for r in sorted_rows(rows, "name", True)] == ["c", "b", "a"]
    assert [r.name for r in sorted_rows(rows, "rank", True)] == ["c", "a", "b"]
    assert [r.name for r in sorted_rows(rows, "no-such-column", False)] == ["b", "a", "c"]


def test_among_equal_values_the_jobs_best_leads():
    candidates = [_candidate("a", 0.9, "F1"), _candidate("b", 0.9, "F1")]
    assert [c["CandidateName"] for c in ranked(candidates, Objective("F1", True), prefer="b")] == ["b", "a"]


def test_a_metric_this_package_does_not_know_ranks_by_the_type_sagemaker_reports():
    candidates = [
        {"CandidateName": n, "FinalAutoMLJobObjectiveMetric": {"MetricName": "NewLoss", "Type": "Minimize", "Value": v}}
        for n, v in (("a", 0.5), ("b", 0.2))
    ]
    objective = Objective.of({}, candidates)
    assert (objective.metric, objective.greater_is_better) == ("NewLoss", False)
    assert [c["CandidateName"] for c in ranked(candidates, objective)] == ["b", "a"]


def test_a_row_shows_the_value_the_best_mark_failure_and_model():
    candidate = _candidate(
        "a",
        0.123456,
        CandidateSteps=[{}, {}],
        FailureReason=None,
        InferenceContainers=[{"ModelDataUrl": "s3://b/a/model.tar.gz"}, {"ModelDataUrl": "s3://b/a/other.tar.gz"}],
        ObjectiveStatus="Succeeded",
    )
    (row,) = leaderboard_rows([candidate], "a")
    assert (row.shown_value, row.best, row.steps, row.model) == ("0.1235", True, 2, "s3://b/a/model.tar.gz")
    (row,) = leaderboard_rows([_candidate("a", None, FailureReason="out of memory")], None)
    assert (row.shown_value, row.best, row.failure) == ("", False, "out of memory")
