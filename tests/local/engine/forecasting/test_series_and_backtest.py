"""The forecasting engine's data rules and metrics: data that breaks a rule fails the job naming
the column; aggregation and filling put the series on the ForecastFrequency grid; the backtest
metrics match their definitions on numbers worked by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine.forecasting.backtest import metrics
from airflow_automl.local.engine.forecasting.series import load_series
from tests.fixtures.forecasting import failure, write_job


def daily(days: int = 12, items=("a", "b")) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"sku": item, "day": f"2024-03-{d + 1:02d}", "units": float(d + i)}
            for i, item in enumerate(items)
            for d in range(days)
        ]
    )


def test_unparseable_timestamps_name_the_column_and_the_value(tmp_path):
    frame = daily()
    frame.loc[5, "day"] = "yesterday"
    reason = failure(tmp_path, frame)
    assert "Timestamp column 'day'" in reason and "'yesterday'" in reason and "data row 6" in reason


def test_duplicate_item_and_timestamp_name_the_columns(tmp_path):
    frame = pd.concat([daily(), daily().iloc[[3]]], ignore_index=True)
    reason = failure(tmp_path, frame)
    assert "'sku' and 'day'" in reason and "item 'a'" in reason and "more than once" in reason


def test_a_horizon_longer_than_a_quarter_of_the_time_steps_fails(tmp_path):
    reason = failure(tmp_path, daily(days=12), ForecastHorizon=4)
    assert "ForecastHorizon 4 is more than a quarter of the 12 time steps" in reason
    assert "column 'day'" in reason and "at most 3" in reason


def test_a_non_numeric_target_fails_naming_it(tmp_path):
    frame = daily()
    frame["units"] = frame["units"].astype(object)
    frame.loc[2, "units"] = "many"
    reason = failure(tmp_path, frame)
    assert "Target column 'units'" in reason and "'many'" in reason


def test_a_missing_column_is_named_with_its_setting(tmp_path):
    reason = failure(tmp_path, daily().rename(columns={"sku": "product"}))
    assert "ItemIdentifierAttributeName 'sku' is not a column" in reason and "product" in reason


def test_aggregation_and_filling_put_series_on_the_grid(tmp_path):
    # Two readings on 2024-03-03 for item a (summed by default, averaged when asked), a gap on
    # 2024-03-05 (middlefill), and item b ending two days early (backfill).
    rows = [{"sku": "a", "day": f"2024-03-{d:02d} 0{h}:00", "units": 2.0} for d in range(1, 13) for h in (1,)]
    rows.append({"sku": "a", "day": "2024-03-03 09:00", "units": 4.0})
    rows = [r for r in rows if not r["day"].startswith("2024-03-05")]
    rows += [{"sku": "b", "day": f"2024-03-{d:02d}", "units": 10.0 + d} for d in range(1, 11)]
    frame = pd.DataFrame(rows)
    spec, ctx = write_job(
        tmp_path,
        frame,
        Transformations={
            "Filling": {"units": {"middlefill": "value", "middlefill_value": "7", "backfill": "max"}},
            "Aggregation": {"units": "avg"},
        },
    )
    data = load_series(ctx.storage, spec)
    a = data.frame[data.frame.unique_id == "a"].set_index("ds")["y"]
    b = data.frame[data.frame.unique_id == "b"].set_index("ds")["y"]
    assert a[pd.Timestamp("2024-03-03")] == 3.0  # avg of 2 and 4
    assert a[pd.Timestamp("2024-03-05")] == 7.0  # middlefill value
    assert len(b) == 12 and b[pd.Timestamp("2024-03-12")] == 20.0  # backfill max
    assert data.time_steps == 12 and data.grid.season_length == 7


def test_weekly_grid_keeps_the_datas_weekday(tmp_path):
    frame = pd.DataFrame(
        [
            {"sku": "a", "day": str((pd.Timestamp("2024-01-07") + pd.Timedelta(weeks=w)).date()), "units": float(w)}
            for w in range(12)
        ]
    )
    spec, ctx = write_job(tmp_path, frame, ForecastFrequency="W")
    data = load_series(ctx.storage, spec)
    assert (data.frame["ds"].dt.day_name() == "Sunday").all()
    assert data.grid.timestamps([12])[0] == pd.Timestamp("2024-03-31")


def test_metrics_match_their_definitions():
    results = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "y": [10.0, 20.0, 0.0, 10.0],
            "mean": [12.0, 18.0, 1.0, 10.0],
            "p10": [8.0, 15.0, 0.0, 7.0],
            "p90": [14.0, 22.0, 2.0, 13.0],
        }
    )
    scale = pd.Series({"a": 2.0, "b": 1.0})
    values = metrics(results, ("p10", "p90"), scale)
    assert values["RMSE"] == pytest.approx(np.sqrt((4 + 4 + 1 + 0) / 4))
    assert values["WAPE"] == pytest.approx(5 / 40)
    assert values["MAPE"] == pytest.approx((2 / 10 + 2 / 20 + 0 / 10) / 3)
    assert values["MASE"] == pytest.approx(((2 + 2) / 2 / 2 + (1 + 0) / 2 / 1) / 2)
    # p10: under-forecasts cost 0.1 per unit, over-forecasts 0.9.
    p10 = 2 * (0.1 * 2 + 0.1 * 5 + 0 + 0.1 * 3) / 40
    p90 = 2 * (0.1 * 4 + 0.1 * 2 + 0.1 * 2 + 0.1 * 3) / 40
    assert values["wQL[p10]"] == pytest.approx(p10)
    assert values["wQL[p90]"] == pytest.approx(p90)
    assert values["AverageWeightedQuantileLoss"] == pytest.approx((p10 + p90) / 2)


def test_holidays_are_counted_per_time_step():
    from airflow_automl.local.engine.forecasting.forecasters import holiday_counts
    from airflow_automl.local.engine.forecasting.series import Grid

    # Weeks starting on Mondays from 2024-12-16: Christmas (Wed) in the second, New Year's Day in the third.
    weekly = Grid(1, "W", pd.Timestamp("2024-12-16"))
    assert list(holiday_counts(weekly, np.arange(4), "US")) == [0, 1, 1, 0]
    daily = Grid(1, "D", pd.Timestamp("2024-07-03"))
    assert list(holiday_counts(daily, np.arange(3), "US")) == [0, 1, 0]


def test_the_ensemble_weights_its_members():
    from airflow_automl.local.engine.forecasting.forecasters import ensemble

    first = pd.DataFrame(
        {"unique_id": ["a", "a"], "step": [1, 2], "mean": [10.0, 20.0], "p10": [8.0, 18.0], "p90": [12.0, 22.0]}
    )
    second = first.assign(mean=[20.0, 40.0], p10=[30.0, 30.0], p90=[10.0, 50.0])
    combined = ensemble([first, second], ("p10", "p90"), [3.0, 1.0])
    assert list(combined["mean"]) == [12.5, 25.0]
    # p10 and p90 averaged, then put back in order where the members disagree.
    # First point: p10 averages to 13.5 and p90 to 11.5, so they swap.
    assert list(combined["p10"]) == [11.5, 21.0] and list(combined["p90"]) == [13.5, 29.0]


def test_a_frame_goes_on_the_grid_of_a_given_origin(tmp_path):
    """What a served model does with the history a request sends: the job's grid, not one of its own."""
    from airflow_automl.local.engine.forecasting.series import SeriesDataError, series_from_frame

    spec, _ = write_job(tmp_path, daily(), ForecastFrequency="W")
    # Days from a Wednesday, on the job's grid of weeks starting on Sundays.
    days = pd.DataFrame({"sku": "a", "day": pd.date_range("2024-01-10", periods=14).strftime("%Y-%m-%d"), "units": 1.0})
    data = series_from_frame(days, spec.target, spec.time_series, "the request", origin=pd.Timestamp("2024-01-07"))
    assert (data.frame["ds"].dt.day_name() == "Sunday").all()
    assert list(data.frame["y"]) == [4.0, 7.0, 3.0]  # Wed-Sat, a whole week, Sun-Tue
    with pytest.raises(SeriesDataError) as caught:
        series_from_frame(days.drop(columns="units"), spec.target, spec.time_series, "the request")
    assert caught.value.reason.startswith("TargetAttributeName 'units' is not a column of the request;")


@pytest.mark.parametrize("algorithm", ["ets", "arima"])
def test_statsforecast_candidates_check_the_deadline_before_each_series(algorithm):
    """One AutoARIMA fit can take a minute, so a job's deadline is checked series by series:
    a deadline that passes while the first series is fitted stops the candidate there."""
    from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS
    from airflow_automl.local.engine.forecasting.forecasters import OutOfTime, Settings
    from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET, TIMESTAMP, Grid

    grid = Grid(1, "D", pd.Timestamp("2024-03-01"))
    steps = np.arange(30)
    frame = pd.concat(
        [
            pd.DataFrame(
                {SERIES_ID: item, STEP: steps, TIMESTAMP: grid.timestamps(steps), TARGET: 10.0 + number + np.sin(steps)}
            )
            for number, item in enumerate("abc")
        ],
        ignore_index=True,
    )
    checks = []

    class DeadlineAfterFirstSeries(Settings):
        """The clock passes the deadline once the first series has been fitted."""

        def check_time(self):
            checks.append(len(checks))
            if len(checks) > 1:
                raise OutOfTime()

    with pytest.raises(OutOfTime):
        FORECASTERS[algorithm](frame, 2, [23, 25, 27], DeadlineAfterFirstSeries(grid, ("p10", "p50", "p90")))
    assert len(checks) == 2
