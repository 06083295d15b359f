"""A served ETS or ARIMA model applies the model training fitted for each item it saw (statsforecast's
forward), so sent the training data it forecasts exactly what the job forecast; a new item is
fitted afresh on the history sent; the fitted models load only from the job's model directory."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine import run_job
from airflow_automl.local.engine.forecasting.algorithms import LABELS
from airflow_automl.local.serving.loading import load_model
from tests.fixtures.forecasting import one_algorithm_job, store_demand_frame, write_job

QUANTILES = ["p10", "p50", "p90"]


def trained(tmp_path, algorithm: str) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """The training data (two stores' demand with a promotion flag and its future rows), the job's
    own forecast of the next horizon by the algorithm's candidate, and that candidate as an
    endpoint loads it."""
    raw, spec, ctx = one_algorithm_job(tmp_path, algorithm, items=2, days=49, quantiles=QUANTILES)
    assert run_job(spec, ctx).secondary_status == "Completed"
    name = next(n for n in ctx.candidate_names if f"-{LABELS[algorithm]}-" in n)
    job_forecast = pd.read_csv(tmp_path / "out" / "demand" / "forecasts" / name / "forecast.csv")
    return raw, job_forecast, load_model(ctx.model_dir, name)


def served_forecast(model, frame: pd.DataFrame) -> pd.DataFrame:
    answer, _ = model.render(model.parse(frame.to_csv(index=False).encode(), "text/csv"), "text/csv")
    return pd.read_csv(io.BytesIO(answer))


def same_forecast(served: pd.DataFrame, job: pd.DataFrame) -> bool:
    columns = ["mean", *QUANTILES]
    joined = served.merge(job, on=["sku", "day"], suffixes=("", "_job"), validate="one_to_one")
    assert len(joined) == len(job)
    return all(np.allclose(joined[c], joined[f"{c}_job"], rtol=1e-9, atol=1e-9) for c in columns)


@pytest.mark.parametrize("algorithm", ["ets", "arima"])
def test_a_seen_item_gets_the_jobs_own_forecast_from_the_model_training_fitted(tmp_path, algorithm):
    raw, job_forecast, model = trained(tmp_path, algorithm)
    own = tmp_path / "model" / "candidates" / model.candidate_name
    manifest = json.loads((own / "model.json").read_text())
    assert manifest["members"][0]["fitted"] == f"candidates/{model.candidate_name}/fitted.pkl"
    assert (own / "fitted.pkl").is_file()
    assert set(model.fitted[algorithm]) == set(raw["sku"])
    if algorithm == "arima":  # ARIMA regresses on the promotion flag, ETS ignores it
        assert ("promotion",) in {fitted.regressors for fitted in model.fitted["arima"].values()}

    assert same_forecast(served_forecast(model, raw), job_forecast)
    # Fitted afresh on the whole history (what a served model did before), the forecast differs:
    # the equality above holds because the model training fitted was applied.
    model.fitted = {}
    assert not same_forecast(served_forecast(model, raw), job_forecast)


def test_an_item_not_seen_in_training_is_fitted_on_the_history_sent(tmp_path, caplog):
    raw, job_forecast, model = trained(tmp_path, "arima")
    seen = raw["sku"].iloc[0]
    newcomer = raw[raw["sku"] == seen].assign(sku="newcomer", units=lambda f: f["units"] * 2)
    with caplog.at_level(logging.INFO, logger="airflow_automl.local.serving.forecasting"):
        forecast = served_forecast(model, pd.concat([raw[raw["sku"] == seen], newcomer], ignore_index=True))
    assert "ARIMA fits 1 item(s) not seen in training on the history sent: newcomer" in caplog.text
    assert list(forecast["sku"].unique()) == [seen, "newcomer"]
    new_rows = forecast[forecast["sku"] == "newcomer"]
    assert len(new_rows) == 7 and new_rows[["mean", *QUANTILES]].notna().all().all()
    assert same_forecast(forecast[forecast["sku"] == seen], job_forecast[job_forecast["sku"] == seen])
    # What the request fitted for the new item is not kept in the served model.
    assert "newcomer" not in model.fitted["arima"]


def test_a_fitted_model_that_cannot_forecast_the_history_sent_is_replaced_by_a_fresh_fit(tmp_path, caplog):
    raw, _, model = trained(tmp_path, "arima")
    # A model that regresses on the promotion flag, given it twice: X has a column too many.
    seen = next(sku for sku, fitted in model.fitted["arima"].items() if fitted.regressors == ("promotion",))
    model.fitted["arima"][seen] = replace(model.fitted["arima"][seen], regressors=("promotion", "promotion"))
    with caplog.at_level(logging.WARNING, logger="airflow_automl.local.engine.forecasting.forecasters"):
        forecast = served_forecast(model, raw[raw["sku"] == seen])
    assert f"ARIMA fitted in training for series {seen} cannot forecast the history sent" in caplog.text
    assert "fitting it afresh" in caplog.text
    assert len(forecast) == 7 and forecast[["mean", *QUANTILES]].notna().all().all()


def test_a_fitted_model_file_outside_the_model_dir_is_not_loaded(tmp_path):
    from airflow_automl.local.config import ServiceConfig
    from airflow_automl.local.serving.loading import ModelLoadError, load_job_model, model_dir

    (tmp_path / "planted.pkl").write_bytes(b"not loaded")
    config = ServiceConfig(data_dir=tmp_path / "data")
    directory = model_dir(config, "victim")
    directory.mkdir(parents=True)
    manifest = {
        "framework": "forecasting",
        "members": [{"candidate": "c", "algorithm": "arima", "weight": 1.0, "fitted": "../../../../planted.pkl"}],
    }
    (directory / "model.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"members\[0\]\.fitted .* points outside the job's model directory"):
        load_job_model(config, "victim")


def test_fitted_models_that_cannot_be_read_leave_every_item_to_a_fresh_fit(tmp_path, caplog):
    from tests.local.serving.test_forecasting import csv_body, forecast_csv, history, served

    served(tmp_path)  # a job's model of ETS, without fitted models
    manifest = json.loads((tmp_path / "model.json").read_text())
    manifest["members"][0]["fitted"] = "fitted-ets.pkl"
    (tmp_path / "model.json").write_text(json.dumps(manifest))
    (tmp_path / "fitted-ets.pkl").write_bytes(b"pickled by nothing this installation knows")
    with caplog.at_level(logging.WARNING, logger="airflow_automl.local.serving.forecasting"):
        model = load_model(tmp_path)
    assert "fitted-ets.pkl: the ETS models fitted in training cannot be read" in caplog.text
    assert model.fitted == {"ets": {}}
    forecast = forecast_csv(model, csv_body(history("apples", 28)))
    assert len(forecast) == 5 and forecast["mean"].notna().all()


def test_every_candidate_is_kept_and_a_member_of_the_ensemble_serves_its_own_forecast(tmp_path):
    raw = store_demand_frame(items=2, days=49, horizon=7).rename(columns={"date": "day"})
    spec, ctx = write_job(
        tmp_path,
        raw,
        ForecastHorizon=7,
        ForecastQuantiles=QUANTILES,
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets", "arima"]}]},
    )
    assert run_job(spec, ctx).secondary_status == "Completed"
    assert len(ctx.candidate_names) == 4  # the seasonal naive baseline, ETS, ARIMA and their ensemble
    for name in ctx.candidate_names:
        model = load_model(ctx.model_dir, name)
        assert model.candidate_name == name
        algorithm = ctx.candidate(name)["InferenceContainers"][0]["Environment"]["FORECAST_ALGORITHM"]
        if algorithm == "ensemble":
            assert {algorithm for algorithm, _ in model.members} <= {"arima", "ets", "seasonal-naive"}
            assert len(served_forecast(model, raw)) == 2 * 7  # every member forecasts what is sent
            continue
        job_forecast = pd.read_csv(tmp_path / "out" / "demand" / "forecasts" / name / "forecast.csv")
        if algorithm == "seasonal-naive":  # fits no model: the history sent is its model
            assert same_forecast(served_forecast(model, raw), job_forecast)
            continue
        # Each single-algorithm candidate applies the models it fitted, as the job's forecast did.
        assert model.members == [(algorithm, 1.0)] and set(model.fitted[algorithm]) == set(raw["sku"])
        assert same_forecast(served_forecast(model, raw), job_forecast)
