"""Related time series in forecasting jobs: extra numeric columns (a price, a promotion flag) are
averaged per time step, filled with their own Filling rules, read for the forecast horizon from
future rows (target empty), never counted as history, and used by ARIMA and Prophet, which
forecast the demo data's promoted days better with them than without. A FeatureSpecificationS3Uri
chooses which columns are related time series."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS
from airflow_automl.local.engine.forecasting.backtest import run_backtest
from airflow_automl.local.engine.forecasting.forecasters import MEAN, WINDOW, forecast_prophet
from airflow_automl.local.engine.forecasting.series import (
    SERIES_ID,
    STEP,
    TARGET,
    TIMESTAMP,
    as_of,
    load_series,
    related_columns,
    split_future,
)
from tests.fixtures.forecasting import failure, promoted_demand, store_demand_frame, wape, write_job


def daily_with_price(days: int = 12, future: int = 2, items=("a", "b")) -> pd.DataFrame:
    """``days`` of history and ``future`` future rows (units empty) per item, with a price column."""
    return pd.DataFrame(
        [
            {
                "sku": item,
                "day": str((pd.Timestamp("2024-03-01") + pd.Timedelta(days=d)).date()),
                "units": float(d + i) if d < days else np.nan,
                "price": 2.0 + d / 10,
            }
            for i, item in enumerate(items)
            for d in range(days + future)
        ]
    )


def test_related_columns_are_kept_and_future_rows_follow_the_history(tmp_path):
    spec, ctx = write_job(tmp_path, daily_with_price())
    data = load_series(ctx.storage, spec)
    assert data.related == ["price"] and related_columns(data.frame) == ["price"]
    history, future = split_future(data.frame)
    # Future rows are not history: the time steps, the last step and the horizon check ignore them.
    assert data.time_steps == 12 and data.last_step == 11
    assert len(history) == 2 * 12 and history[TARGET].notna().all()
    assert sorted(future[STEP].unique()) == [12, 13] and future[TARGET].isna().all()
    assert future.set_index([SERIES_ID, STEP])["price"][("b", 13)] == pytest.approx(3.3)


def test_future_rows_do_not_count_for_the_horizon_rule(tmp_path):
    # 11 time steps of history and 6 future rows: a horizon of 3 is more than a quarter of 11.
    reason = failure(tmp_path, daily_with_price(days=11, future=6), ForecastHorizon=3)
    assert "ForecastHorizon 3 is more than a quarter of the 11 time steps" in reason


def test_rows_past_the_horizon_are_left_out(tmp_path):
    spec, ctx = write_job(tmp_path, daily_with_price(future=5))
    data = load_series(ctx.storage, spec)
    assert int(data.frame[STEP].max()) == 13  # the history's last step 11 plus ForecastHorizon 2


def test_related_values_are_averaged_per_time_step(tmp_path):
    # Daily rows into 2-day steps: units summed (the target's default), the price averaged.
    spec, ctx = write_job(tmp_path, daily_with_price(days=24, future=4), ForecastFrequency="2D")
    data = load_series(ctx.storage, spec)
    first = data.frame[(data.frame[SERIES_ID] == "a") & (data.frame[STEP] == 0)].iloc[0]
    assert first[TARGET] == 0.0 + 1.0 and first["price"] == pytest.approx((2.0 + 2.1) / 2)
    assert data.time_steps == 12


def test_gaps_are_filled_with_the_columns_own_rules(tmp_path):
    frame = daily_with_price(future=3)
    frame.loc[(frame.sku == "a") & (frame.day == "2024-03-04"), "price"] = np.nan  # middle of the history
    frame.loc[(frame.sku == "b") & (frame.day >= "2024-03-11"), "price"] = np.nan  # end of the history on
    frame.loc[(frame.sku == "a") & (frame.day == "2024-03-15"), "price"] = np.nan  # a future row
    spec, ctx = write_job(
        tmp_path,
        frame,
        ForecastHorizon=3,
        Transformations={
            "Filling": {
                "price": {"middlefill": "value", "middlefill_value": "9", "backfill": "max", "futurefill": "zero"}
            }
        },
    )
    price = load_series(ctx.storage, spec).frame.set_index([SERIES_ID, TIMESTAMP])["price"]
    assert price[("a", pd.Timestamp("2024-03-04"))] == 9.0
    assert price[("b", pd.Timestamp("2024-03-12"))] == pytest.approx(2.9)  # backfill (b's largest) up to
    assert price[("b", pd.Timestamp("2024-03-13"))] == 0.0  # the history's end, then futurefill
    assert price[("a", pd.Timestamp("2024-03-15"))] == 0.0
    assert price[("a", pd.Timestamp("2024-03-14"))] == pytest.approx(3.3)  # given future values are kept


def test_missing_future_values_without_futurefill_fail_naming_the_column(tmp_path):
    reason = failure(tmp_path, daily_with_price(future=1))
    assert "Column 'price'" in reason and "related time series" in reason
    assert "item 'a' at 2024-03-14" in reason and "Transformations.Filling.price.futurefill" in reason


def test_a_gap_without_a_filling_rule_fails_naming_the_column(tmp_path):
    frame = daily_with_price()
    frame.loc[5, "price"] = np.nan
    reason = failure(tmp_path, frame)
    assert "Column 'price'" in reason and "item 'a' at 2024-03-06" in reason
    assert "Transformations.Filling.price.middlefill" in reason


def test_a_related_column_that_is_not_numeric_fails_naming_it(tmp_path):
    frame = daily_with_price().astype({"price": object})
    frame.loc[3, "price"] = "cheap"
    reason = failure(tmp_path, frame)
    assert "Column 'price'" in reason and "must be numeric" in reason and "'cheap' in data row 4" in reason


def test_a_backtest_window_sees_the_windows_actual_related_values():
    frame = pd.DataFrame(
        {
            SERIES_ID: "a",
            STEP: range(10),
            TIMESTAMP: pd.date_range("2024-01-01", periods=10),
            TARGET: [float(v) for v in range(8)] + [np.nan, np.nan],
            "price": np.arange(10.0),
        }
    )
    window = as_of(frame, cutoff=5, horizon=2)
    assert list(window[STEP]) == list(range(8))
    assert window[TARGET].isna().tolist() == [False] * 6 + [True] * 2
    assert list(window["price"]) == list(range(8))  # the window's own prices, not the future rows'


@pytest.mark.integration
def test_arima_and_prophet_forecast_promoted_days_better_with_the_promotions():
    # The demo data's promotions lift sales by 45 %; the last two weeks hold several promoted days.
    np.random.seed(0)  # Prophet's predictive samples
    frame, actual, settings = promoted_demand()
    assert actual.merge(frame, on=[SERIES_ID, STEP])["promotion"].sum() >= 5
    without = frame[frame[TARGET].notna()].drop(columns="promotion")
    history_end = int(without[STEP].max())
    horizon = int(frame[STEP].max()) - history_end
    scores = {}
    for label, data in (("with", frame), ("without", without)):
        _, arima = FORECASTERS["arima"](data, horizon, [history_end - horizon], settings)
        scores[("arima", label)] = wape(arima, actual)
        scores[("prophet", label)] = wape(forecast_prophet(data, horizon, settings), actual)
    print(scores)
    assert scores[("arima", "with")] < 0.9 * scores[("arima", "without")]
    assert scores[("prophet", "with")] < 0.9 * scores[("prophet", "without")]


@pytest.mark.parametrize("algorithm", ["ets", "npts"])
def test_algorithms_without_regressors_forecast_the_future_rows_steps(algorithm):
    frame, actual, settings = promoted_demand(items=2, days=60, horizon=7)
    backtest, forecast = run_backtest(frame, 7, settings, FORECASTERS[algorithm])
    # Backtest windows lie in the history; the forecast covers exactly the future rows' steps.
    assert backtest[TARGET].notna().all() and backtest[STEP].max() == int(actual[STEP].min()) - 1
    assert backtest[WINDOW].nunique() == 3
    assert sorted(map(tuple, forecast[[SERIES_ID, STEP]].to_numpy())) == sorted(
        map(tuple, actual[[SERIES_ID, STEP]].to_numpy())
    )


def with_features(tmp_path, document, frame=None) -> dict:
    path = tmp_path / "features.json"
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    frame = daily_with_price() if frame is None else frame
    return {"frame": frame.assign(discount=0.5), "FeatureSpecificationS3Uri": path.as_uri()}


def test_the_feature_specification_chooses_the_related_time_series(tmp_path):
    config = with_features(tmp_path, {"FeatureAttributeNames": ["discount"]})
    spec, ctx = write_job(tmp_path, config.pop("frame"), **config)
    assert spec.feature_specification_uri.endswith("features.json")
    assert load_series(ctx.storage, spec).related == ["discount"]


def test_columns_typed_other_than_numeric_are_left_out(tmp_path):
    config = with_features(tmp_path, {"FeatureDataTypes": {"price": "categorical"}})
    spec, ctx = write_job(tmp_path, config.pop("frame"), **config)
    assert load_series(ctx.storage, spec).related == ["discount"]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "is not valid JSON"),
        (
            {"FeatureAttributeNames": ["promo"]},
            "FeatureAttributeNames names 'promo', not among the input data's columns",
        ),
        ({"FeatureAttributeNames": ["sku"]}, "must not include 'sku', a column TimeSeriesConfig sets"),
        ({"FeatureAttributeNames": ["units"]}, "must not include the target column 'units'"),
        ({"FeatureDataTypes": {"price": "sequence"}}, "in time-series forecasting the types are"),
    ],
)
def test_a_bad_feature_specification_fails_naming_the_file_and_the_rule(tmp_path, document, expected):
    config = with_features(tmp_path, document)
    reason = failure(tmp_path, config.pop("frame"), **config)
    assert reason.startswith("AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig.FeatureSpecificationS3Uri file:")
    assert "features.json" in reason and expected in reason


def test_arima_fits_a_series_whose_regressors_depend_on_each_other_without_them():
    frame, actual, settings = promoted_demand(items=2, days=60, horizon=7)
    frame["promotion_copy"] = frame["promotion"]  # the same regressor twice: rank deficient
    history_end = int(frame.loc[frame[TARGET].notna(), STEP].max())
    _, forecast = FORECASTERS["arima"](frame, 7, [history_end - 7], settings)
    assert len(forecast) == len(actual) and forecast[MEAN].notna().all()


def test_a_job_forecasts_the_future_rows_steps_and_says_which_candidates_used_the_related_series(tmp_path):
    from airflow_automl.local.engine import run_job

    raw = store_demand_frame(items=2, days=49, horizon=7)
    spec, ctx = write_job(
        tmp_path,
        raw.rename(columns={"date": "day"}),
        ForecastHorizon=7,
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets", "arima"]}]},
    )
    assert run_job(spec, ctx).secondary_status == "Completed"
    output = tmp_path / "out" / "demand"
    for name in ctx.candidate_names:
        description = json.loads((output / "explainability" / name / "candidate.json").read_text())
        expected = ["promotion"] if description["algorithm"] in ("arima", "ensemble") else []
        assert description["related_time_series"] == expected
        forecast = pd.read_csv(output / "forecasts" / name / "forecast.csv")
        assert sorted(forecast["day"].unique()) == sorted(raw.loc[raw["units"].isna(), "date"].unique())
        backtest = pd.read_csv(output / "backtest-results" / name / "forecasted-values" / "forecasts.csv")
        assert backtest["day"].max() < forecast["day"].min() and backtest["units"].notna().all()


def test_a_served_model_reads_each_items_future_rows_after_its_own_history():
    from airflow_automl.local.jobspec import TimeSeriesSpec
    from airflow_automl.local.serving.forecasting import ForecastingModel
    from airflow_automl.local.serving.formats import ModelInputError

    series = TimeSeriesSpec(frequency="D", horizon=3, timestamp="day", item_id="sku")
    model = ForecastingModel("best", "units", series, pd.Timestamp("2024-01-01"), [("arima", 1.0)], ["promotion"])
    # Item a's history ends on day 20, b's on day 18; each is followed by its three future rows.
    rows = [
        {
            "sku": sku,
            "day": str((pd.Timestamp("2024-01-01") + pd.Timedelta(days=d)).date()),
            "units": 10.0 + d % 7 + 5 * (d % 3 == 0) if d < days else np.nan,
            "promotion": float(d % 3 == 0),
        }
        for sku, days in (("a", 20), ("b", 18))
        for d in range(days + 3)
    ]
    forecast = model.forecast(pd.DataFrame(rows))
    days = forecast.groupby("sku")["day"].agg(["min", "max"])
    assert list(days.loc["a"]) == ["2024-01-21", "2024-01-23"] and list(days.loc["b"]) == ["2024-01-19", "2024-01-21"]
    # Without b's last future row the request is refused naming the column, the item and the day.
    with pytest.raises(ModelInputError) as caught:
        model.forecast(pd.DataFrame(rows[:-1]))
    assert "Column 'promotion'" in str(caught.value) and "item 'b' at 2024-01-21" in str(caught.value)
