"""CNN-QR's stand-in, the global gradient-boosted quantile regression (gradient_boosting.py), trained
for real with LightGBM on small store demand: it learns the promotions from the related time series,
beats seasonal naive on held-out weeks, forecasts each series after its own last step with ordered
quantiles, grows fewer trees rather than overrun its deadline, and trains in a job and a served
model without PyTorch."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from airflow_automl.local.engine.forecasting import gradient_boosting, run_forecasting
from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS
from airflow_automl.local.engine.forecasting.backtest import run_backtest
from airflow_automl.local.engine.forecasting.forecasters import MEAN, WINDOW, OutOfTime
from airflow_automl.local.engine.forecasting.series import SERIES_ID, STEP, TARGET
from airflow_automl.local.engine.job import StageTimes
from airflow_automl.local.engine.torch_extra import missing_torch_forecast_message
from airflow_automl.local.serving.loading import load_model
from tests.fixtures.forecasting import one_algorithm_job, promoted_demand, wape

QUANTILES = ["p10", "p50", "p90"]


def test_it_learns_the_promotions_and_beats_seasonal_naive_on_held_out_weeks():
    frame, actual, settings = promoted_demand()
    horizon = int(frame[STEP].max() - frame.loc[frame[TARGET].notna(), STEP].max())
    without = frame[frame[TARGET].notna()].drop(columns="promotion")
    scores = {}
    for label, data in (("with", frame), ("without", without)):
        _, forecast = FORECASTERS["cnn-qr"](data, horizon, [], settings)
        scores[label] = wape(forecast, actual)
    _, naive = FORECASTERS["seasonal-naive"](frame, horizon, [], replace(settings, fitted={}))
    scores["seasonal naive"] = wape(naive, actual)
    print(scores)
    # The promotions lift sales by 45 %: one model of every item learns that from the related column.
    assert scores["with"] < 0.9 * scores["without"]
    assert scores["with"] < scores["seasonal naive"]


def test_backtests_and_forecast_cover_each_series_after_its_own_last_step_with_ordered_quantiles():
    frame, actual, settings = promoted_demand(items=3, days=70, horizon=7)
    # The third item's history ends two days early (its future rows stay): it is forecast from its own end.
    last_history = int(frame.loc[frame[TARGET].notna(), STEP].max())
    short = frame[SERIES_ID] == sorted(frame[SERIES_ID].unique())[2]
    frame = frame[~(short & frame[STEP].between(last_history - 1, last_history))]
    backtest, forecast = run_backtest(frame, 7, settings, FORECASTERS["cnn-qr"])
    assert backtest[WINDOW].nunique() == 3 and backtest[TARGET].notna().all()
    assert np.isfinite(backtest[[MEAN, *QUANTILES]].to_numpy()).all()
    ends = frame[frame[TARGET].notna()].groupby(SERIES_ID)[STEP].max()
    for series_id, steps in forecast.groupby(SERIES_ID)[STEP]:
        assert list(steps) == list(range(ends[series_id] + 1, ends[series_id] + 8)), series_id
    assert (np.diff(forecast[QUANTILES].to_numpy(), axis=1) >= 0).all()
    assert (forecast[MEAN] == forecast["p50"]).all()  # p50 is the point forecast


def test_it_gives_the_same_forecast_twice():
    frame, _, settings = promoted_demand(items=2, days=60, horizon=7)
    first = FORECASTERS["cnn-qr"](frame, 7, [45], settings)
    second = FORECASTERS["cnn-qr"](frame, 7, [45], settings)
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


def test_under_a_deadline_it_grows_fewer_trees_instead_of_overrunning(monkeypatch):
    frame, _, settings = promoted_demand(items=2, days=60, horizon=7)
    history = frame[frame[TARGET].notna()]
    # Far more rounds than two seconds allow on any machine: the callback ends each model early.
    monkeypatch.setattr(gradient_boosting, "ROUNDS", 1_000_000)
    deadline = time.monotonic() + 2.0
    models = gradient_boosting._train(history, 7, [7], replace(settings, deadline=deadline), fits_left=1)
    assert sorted(models) == [0.1, 0.5, 0.9]
    assert all(0 < model.num_trees() < 1_000_000 for model in models.values())


def test_a_fit_does_not_start_without_time_for_it():
    frame, _, settings = promoted_demand(items=2, days=60, horizon=7)
    with pytest.raises(OutOfTime):
        run_backtest(frame, 7, replace(settings, deadline=time.monotonic() + 0.1), FORECASTERS["cnn-qr"])


def test_a_job_trains_cnn_qr_without_pytorch_and_keeps_it_servable(tmp_path):
    assert missing_torch_forecast_message(["cnn-qr"]) is None
    raw, spec, ctx = one_algorithm_job(tmp_path, "cnn-qr", items=3, days=63, quantiles=QUANTILES)
    outcome = run_forecasting(spec, ctx, time.monotonic() + 300, StageTimes())
    assert outcome.secondary_status == "Completed", ctx.partial_failures
    assert ctx.candidate_names == ["demand-SeasonalNaive-001", "demand-CNN-QR-002", "demand-Ensemble-003"]
    output = tmp_path / "out" / "demand"
    description = json.loads((output / "explainability" / "demand-CNN-QR-002" / "candidate.json").read_text())
    assert description["algorithm"] == "cnn-qr" and "standing in for CNN-QR" in description["library"]
    assert description["related_time_series"] == ["promotion"]
    forecast = pd.read_csv(output / "forecasts" / "demand-CNN-QR-002" / "forecast.csv")
    assert sorted(forecast["day"].unique()) == sorted(raw.loc[raw["units"].isna(), "day"].unique())
    assert len(forecast) == 3 * 7

    # Served as an endpoint serves it: trained again on the history a request sends.
    model = load_model(ctx.model_dir, "demand-CNN-QR-002")
    served = model.forecast(raw)
    assert len(served) == 3 * 7 and served["p10"].le(served["p90"]).all()
