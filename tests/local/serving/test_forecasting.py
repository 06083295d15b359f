"""A forecasting job's served model: the manifest it keeps, the history a request sends put on the
job's grid, a fresh forecast of each item's next horizon, and Autopilot's answer formats; bad
history refused naming the column and the rule."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from airflow_automl.local.engine.torch_extra import neural_forecasting_available
from airflow_automl.local.jobspec import TimeSeriesSpec
from airflow_automl.local.serving.forecasting import ForecastingModel
from airflow_automl.local.serving.formats import ModelInputError
from tests.fixtures.forecasting import DAILY, csv_body, forecast_csv, history, served


def input_error(model: ForecastingModel, body: bytes, content_type: str = "text/csv") -> str:
    with pytest.raises(ModelInputError) as caught:
        model.render(model.parse(body, content_type), "text/csv")
    return str(caught.value)


def test_the_manifest_loads_as_a_forecasting_model(tmp_path):
    model = served(tmp_path, members=(("d-NPTS-001", "npts", 0.3), ("d-ETS-002", "ets", 0.7)))
    manifest = json.loads((tmp_path / "model.json").read_text())
    assert manifest["framework"] == "forecasting" and manifest["grid_origin"] == "2024-01-01T00:00:00"
    assert isinstance(model, ForecastingModel) and model.forecasts_from_history
    assert model.members == [("npts", 0.3), ("ets", 0.7)]
    assert model.time_series == DAILY and model.origin == pd.Timestamp("2024-01-01")


def test_a_manifest_naming_an_unknown_algorithm_does_not_load(tmp_path):
    with pytest.raises(ValueError, match="algorithm.*lstm-x"):
        served(tmp_path, members=(("d-LSTM-001", "lstm-x", 1.0),))


@pytest.mark.skipif(neural_forecasting_available(), reason="the torch extra is installed: deepar is served")
def test_a_neural_model_without_the_torch_extra_does_not_load_naming_it(tmp_path):
    with pytest.raises(ValueError, match=r"algorithm.*deepar.*airflow-automl\[torch\]"):
        served(tmp_path, members=(("d-DeepAR-001", "deepar", 1.0),))


def test_each_item_is_forecast_from_its_own_last_timestamp(tmp_path):
    model = served(tmp_path)
    # One item ends on 03-28, the other (a new one) on 03-20.
    forecast = forecast_csv(model, csv_body(history("apples", 28), history("kiwis", 20, store="south", level=20)))
    assert list(forecast.columns) == ["sku", "store", "day", "p10", "p50", "p90", "mean"]
    assert list(forecast["sku"]) == ["apples"] * 5 + ["kiwis"] * 5
    apples, kiwis = forecast[forecast.sku == "apples"], forecast[forecast.sku == "kiwis"]
    assert list(apples["day"]) == [f"2024-03-{d}" for d in range(29, 32)] + ["2024-04-01", "2024-04-02"]
    assert list(kiwis["day"]) == [f"2024-03-{d}" for d in range(21, 26)] and set(kiwis["store"]) == {"south"}
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()
    assert 30 < apples["p50"].mean() < 70 and 0 < kiwis["p50"].mean() < 40


def test_json_and_json_lines_answers_hold_the_same_rows(tmp_path):
    model = served(tmp_path, members=(("d-NPTS-001", "npts", 0.5), ("d-ETS-002", "ets", 0.5)))
    frame = model.parse(csv_body(history("apples", 21)), "text/csv")
    document, media_type = model.render(frame, "application/json")
    rows = json.loads(document)["predictions"]
    assert media_type == "application/json" and len(rows) == 5
    assert list(rows[0]) == ["sku", "store", "day", "p10", "p50", "p90", "mean"]
    assert rows[0]["sku"] == "apples" and rows[0]["day"] == "2024-03-22"
    lines, media_type = model.render(frame, "application/jsonlines")
    assert media_type == "application/jsonlines"
    assert [json.loads(line)["day"] for line in lines.splitlines()] == [row["day"] for row in rows]


def test_json_records_are_read_as_history_rows(tmp_path):
    model = served(tmp_path)
    records = history("apples", 14).to_dict(orient="records")
    from_json = model.parse(json.dumps({"instances": records}).encode(), "application/json")
    from_lines = model.parse(b"\n".join(json.dumps(r).encode() for r in records), "application/jsonlines")
    assert len(from_json) == len(from_lines) == 14
    assert len(model.forecast(from_lines)) == 5


def test_history_goes_on_the_jobs_grid_with_its_aggregation(tmp_path):
    # Weeks starting on Sundays (the job's first day, 2024-01-07); the request's days start on a Wednesday.
    weekly = TimeSeriesSpec(
        frequency="W", horizon=2, timestamp="day", item_id="sku", quantiles=("p50",), aggregation={"units": "sum"}
    )
    model = served(tmp_path, members=(("d-NPTS-001", "npts", 1.0),), series=weekly, origin="2024-01-07")
    days = pd.DataFrame({"sku": "a", "day": pd.date_range("2024-01-10", periods=39).strftime("%Y-%m-%d"), "units": 1.0})
    forecast = forecast_csv(model, csv_body(days))
    # 39 days from Wed 01-10 end on Sat 02-17, in the week of Sun 02-11: the forecast starts on 02-18.
    assert list(forecast["day"]) == ["2024-02-18", "2024-02-25"]
    assert forecast["p50"].between(3, 8).all()  # about seven units a week


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda f: f.drop(columns="units"), "TargetAttributeName 'units' is not a column of the request"),
        (
            lambda f: f.assign(day=f["day"].where(f.index != 3, "someday")),
            "Timestamp column 'day' of the request has a value that is not a timestamp: 'someday' in data row 4",
        ),
        (lambda f: pd.concat([f, f.iloc[[2]]]), "item 'apples/north' has timestamp '2024-03-03' more than once"),
        (
            lambda f: f.assign(units=f["units"].astype(str).where(f.index != 1, "lots")),
            "Target column 'units' of the request must be numeric: 'lots' in data row 2",
        ),
        (
            lambda f: f.iloc[:2],
            "Item 'apples/north' has 2 time step(s) of D in column 'day' of the request; "
            "the model forecasts from at least 3",
        ),
        (lambda f: f.iloc[:4], "ETS cannot forecast the history sent"),
    ],
)
def test_bad_history_is_refused_naming_the_column_and_the_rule(tmp_path, change, expected):
    assert expected in input_error(served(tmp_path), csv_body(change(history("apples", 14))))


def test_bodies_without_history_are_refused(tmp_path):
    model = served(tmp_path)
    assert "The request body is empty" in input_error(model, b"")
    assert "holds no rows of history" in input_error(model, b"sku,store,day,units\n")
    headerless = history("apples", 14).to_csv(index=False, header=False).encode()
    assert "first row must be a header naming its columns" in input_error(model, headerless)
    assert "not valid JSON" in input_error(model, b"{", "application/json")
    with pytest.raises(ModelInputError, match="SAGEMAKER_INFERENCE_OUTPUT applies to tabular models"):
        model.render(model.parse(csv_body(history("apples", 14)), "text/csv"), "text/csv", ["predicted_label"])


def test_columns_the_job_did_not_use_are_left_out_and_related_ones_are_required(tmp_path):
    model = served(tmp_path)
    noted = history("apples", 14).assign(note="restocked on Mondays")
    assert len(forecast_csv(model, csv_body(noted))) == 5
    model.related = ["promotion"]
    assert "Column(s) 'promotion' of the training data are related time series" in input_error(model, csv_body(noted))
