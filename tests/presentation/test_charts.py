"""The candidate chart and the trend over runs, on candidates shaped as SageMaker lists them."""

from airflow_automl.presentation.charts import RunValue, candidate_chart, trend_chart
from airflow_automl.presentation.leaderboard import leaderboard_rows
from airflow_automl.presentation.objective import Objective, ranked


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
    rows = leaderboard_rows(ranked(candidates, Objective("R2", True)), "job-a")
    assert [row.name for row in rows] == ["job-a", "job-b", "job-c", "job-d"]  # unscored last
    chart = candidate_chart(rows, "job")
    bars = {bar.label: bar for bar in chart.bars}
    assert set(bars) == {"a", "b", "c"}  # labels without the job-name prefix
    zero = chart.zero_x
    assert bars["a"].x == bars["b"].x == zero
    assert bars["c"].x + bars["c"].width == zero  # drawn leftwards from zero
    assert abs(bars["b"].width / bars["a"].width - 0.5) < 0.01  # lengths are proportional to the values
    assert abs(bars["c"].width / bars["a"].width - 0.25) < 0.01
    assert [bar.label for bar in chart.bars if bar.best] == ["a"]


def test_no_scored_candidate_no_chart():
    rows = leaderboard_rows([_candidate("job-a", None)], None)
    assert candidate_chart(rows, "job") is None


def test_the_trend_has_one_point_per_run_with_a_value_and_a_threshold_line():
    runs = [
        RunValue("r1", 0.80, 0.7, "r1"),
        RunValue("r2", None, 0.7, "r2"),  # job still running
        RunValue("r3", 0.85, 0.7, "r3"),
    ]
    chart = trend_chart(runs)
    assert [point.run_id for point in chart.points] == ["r1", "r3"]
    assert chart.points[0].x < chart.points[1].x
    assert chart.points[1].y < chart.points[0].y  # higher value, higher on the chart
    assert chart.threshold_path.startswith("M") and chart.threshold_path.count("L") == 2
    assert trend_chart([RunValue("r", None, None, "r")]) is None


def test_the_trend_axis_reads_round_values_and_holds_every_point():
    values = [0.0425, 0.1671, 0.2917, 0.2]
    chart = trend_chart([RunValue(f"r{i}", value, None, f"r{i}") for i, value in enumerate(values)])
    labels = [label for _, label in chart.ticks]
    assert labels == ["0.0", "0.1", "0.2", "0.3"]
    ys = [y for y, _ in chart.ticks]
    assert ys == sorted(ys, reverse=True)  # lowest value at the bottom
    bottom, top = chart.top + chart.plot_h, chart.top
    assert (ys[0], ys[-1]) == (bottom, top)  # the axis runs from the first tick to the last
    assert all(top <= point.y <= bottom for point in chart.points)


def test_one_run_gets_an_axis_around_its_value_and_a_threshold_across():
    chart = trend_chart([RunValue("r", 0.9, 0.6, "r")])
    labels = [float(label) for _, label in chart.ticks]
    assert labels[0] <= 0.6 and labels[-1] >= 0.9
    assert chart.threshold_path.count("L") == 1  # a line across the plot
