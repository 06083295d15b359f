"""The plugin's charts and leaderboard ordering, on candidates shaped as SageMaker lists them."""

from airflow_automl.ui.views import Objective, bar_chart, leaderboard_rows, trend_chart


def _candidate(name: str, value: float | None, metric: str = "R2") -> dict:
    final = {} if value is None else {"FinalAutoMLJobObjectiveMetric": {"MetricName": metric, "Value": value}}
    return {"CandidateName": name, "CandidateStatus": "Completed", **final}


def test_bars_start_at_zero_and_negative_scores_extend_left_of_it():
    candidates = [
        _candidate("job-a", 0.8),
        _candidate("job-b", 0.4),
        _candidate("job-c", -0.2),
        _candidate("job-d", None),
    ]
    rows = leaderboard_rows(candidates, Objective("R2", True), "job-a", "rank", False)
    assert [row["name"] for row in rows] == ["job-a", "job-b", "job-c", "job-d"]  # unscored last
    chart = bar_chart(rows, "job")
    bars = {bar.label: bar for bar in chart["bars"]}
    assert set(bars) == {"a", "b", "c"}
    zero = chart["zero_x"]
    assert bars["a"].x == bars["b"].x == zero
    assert bars["c"].x + bars["c"].width == zero  # drawn leftwards from zero
    assert abs(bars["b"].width / bars["a"].width - 0.5) < 0.01  # lengths are proportional to the values
    assert abs(bars["c"].width / bars["a"].width - 0.25) < 0.01


def test_lower_is_better_ranks_ascending_and_sorting_keeps_unscored_last():
    candidates = [_candidate("a", 3.0, "MSE"), _candidate("b", 1.0, "MSE"), _candidate("c", None, "MSE")]
    objective = Objective("MSE", False)
    assert [r["name"] for r in leaderboard_rows(candidates, objective, "b", "rank", False)] == ["b", "a", "c"]
    assert [r["name"] for r in leaderboard_rows(candidates, objective, "b", "metric", True)] == ["a", "b", "c"]
    assert [r["name"] for r in leaderboard_rows(candidates, objective, "b", "name", True)] == ["c", "b", "a"]


def test_the_trend_has_one_point_per_run_with_a_value_and_a_threshold_line():
    runs = [
        {"run_id": "r1", "value": 0.80, "threshold": 0.7, "label": "r1"},
        {"run_id": "r2", "value": None, "threshold": 0.7, "label": "r2"},  # job still running
        {"run_id": "r3", "value": 0.85, "threshold": 0.7, "label": "r3"},
    ]
    chart = trend_chart(runs)
    assert [point.run_id for point in chart["points"]] == ["r1", "r3"]
    assert chart["points"][0].x < chart["points"][1].x
    assert chart["points"][1].y < chart["points"][0].y  # higher value, higher on the chart
    assert chart["threshold_path"].startswith("M") and chart["threshold_path"].count("L") == 2
    assert trend_chart([{"run_id": "r", "value": None, "threshold": None, "label": "r"}]) is None


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
