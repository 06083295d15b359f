"""DeepAR (the torch extra) trains through the forecasting engine on a few short series, one or two
epochs each: real backtests, real quantile forecasts. Without PyTorch these tests are skipped;
`make test-torch` installs the extra into its own virtual environment and runs them."""

from __future__ import annotations

import json
import time

import numpy as np
import pandas as pd
import pytest

pytestmark = [
    pytest.mark.torch,
    # gluonts 0.17 indexes tensors with lists, which torch warns about on every batch.
    pytest.mark.filterwarnings("ignore:Using a non-tuple sequence for multidimensional indexing:UserWarning"),
]
HOW_TO_RUN = "needs the torch extra (PyTorch, Lightning); `make test-torch` installs it into .venv-torch and runs this"
pytest.importorskip("torch", reason=HOW_TO_RUN)
pytest.importorskip("lightning", reason=HOW_TO_RUN)

from airflow_automl.local.engine.forecasting import _algorithms, forecasters, run_forecasting  # noqa: E402
from airflow_automl.local.engine.forecasting.algorithms import FORECASTERS  # noqa: E402
from airflow_automl.local.engine.forecasting.backtest import run_backtest  # noqa: E402
from airflow_automl.local.engine.forecasting.forecasters import OutOfTime, Settings  # noqa: E402
from airflow_automl.local.engine.forecasting.series import load_series  # noqa: E402
from airflow_automl.local.engine.job import StageTimes  # noqa: E402
from airflow_automl.local.jobspec import job_spec_from_request  # noqa: E402
from airflow_automl.local.storage import Storage  # noqa: E402
from tests.fixtures.engine_context import make_context  # noqa: E402

HORIZON = 5
QUANTILES = ["p5", "p30", "p50", "p95"]
ITEMS = ("apples", "pears", "plums")


def demand(days: int = 60) -> pd.DataFrame:
    """Weekly seasonality, a slow trend and noise, at a different level per item."""
    rng = np.random.default_rng(3)
    rows = []
    for number, sku in enumerate(ITEMS):
        day = np.arange(days)
        units = 30 + 15 * number + 8 * np.sin(2 * np.pi * day / 7) + 0.1 * day + rng.normal(0, 1.5, days)
        dates = pd.date_range("2024-01-01", periods=days, freq="D").strftime("%Y-%m-%d")
        rows.append(pd.DataFrame({"sku": sku, "date": dates, "units": units.round(1)}))
    return pd.concat(rows, ignore_index=True)


def spec_for(tmp_path, algorithms: list[str] | None):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    demand().to_csv(data / "demand.csv", index=False)
    time_series = {
        "ForecastFrequency": "D",
        "ForecastHorizon": HORIZON,
        "ForecastQuantiles": QUANTILES,
        "TimeSeriesConfig": {
            "TargetAttributeName": "units",
            "TimestampAttributeName": "date",
            "ItemIdentifierAttributeName": "sku",
        },
    }
    if algorithms:
        time_series["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": algorithms}]}
    request = {
        "AutoMLJobName": "demand-neural",
        "AutoMLJobInputDataConfig": [
            {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data.as_uri()}}}
        ],
        "OutputDataConfig": {"S3OutputPath": (tmp_path / "out").as_uri()},
        "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": time_series},
        "AutoMLJobObjective": {"MetricName": "WAPE"},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
    }
    return job_spec_from_request("CreateAutoMLJobV2", request)


@pytest.fixture
def two_epochs(monkeypatch):
    monkeypatch.setattr(forecasters, "NEURAL_MAX_EPOCHS", 2)


def test_deepar_trains_backtests_and_forecasts_every_quantile(tmp_path, two_epochs):
    spec = spec_for(tmp_path, ["deepar"])
    ctx = make_context(tmp_path)
    outcome = run_forecasting(spec, ctx, time.monotonic() + 600, StageTimes())

    assert outcome.secondary_status == "Completed", ctx.partial_failures
    # Seasonal naive comes first in every forecasting job: the baseline the others must beat.
    assert ctx.candidate_names == [
        "demand-neural-SeasonalNaive-001",
        "demand-neural-DeepAR-002",
        "demand-neural-Ensemble-003",
    ]
    assert ctx.best_candidate in ctx.candidate_names
    output = tmp_path / "out" / "demand-neural"
    for name, algorithm in (("demand-neural-DeepAR-002", "deepar"),):
        forecast = pd.read_csv(output / "forecasts" / name / "forecast.csv")
        assert len(forecast) == len(ITEMS) * HORIZON
        assert sorted(forecast["sku"].unique()) == list(ITEMS)
        values = forecast[["mean", *QUANTILES]].to_numpy()
        assert np.isfinite(values).all()
        assert (np.diff(forecast[QUANTILES].to_numpy(), axis=1) >= 0).all(), f"{name}: quantiles out of order"
        # Trained on two epochs, the network still forecasts each item near its own level.
        levels = forecast.groupby("sku")["p50"].mean()
        assert levels["apples"] < levels["pears"] < levels["plums"], levels

        accuracy = pd.read_csv(output / "backtest-results" / name / "accuracy-metrics-values" / "accuracy-metrics.csv")
        assert list(accuracy["window"]) == ["1", "2", "3", "all"]
        overall = accuracy[accuracy["window"] == "all"].iloc[0]
        for metric in ("RMSE", "WAPE", "MAPE", "MASE", "AverageWeightedQuantileLoss", "wQL[p5]", "wQL[p95]"):
            assert np.isfinite(overall[metric]), metric
        # Two epochs are short of ETS (0.03 on this data) but far better than a flat guess.
        assert overall["WAPE"] < 0.25
        backtest = pd.read_csv(output / "backtest-results" / name / "forecasted-values" / "forecasts.csv")
        assert len(backtest) == len(ITEMS) * 3 * HORIZON  # items x windows x horizon

        candidate = ctx.candidate(name)
        reported = {m["MetricName"]: m["Value"] for m in candidate["CandidateProperties"]["CandidateMetrics"]}
        assert reported["WAPE"] == pytest.approx(overall["WAPE"])
        description = json.loads((output / "explainability" / name / "candidate.json").read_text())
        assert description["algorithm"] == algorithm
        assert description["forecast_quantiles"] == QUANTILES
    assert (
        "DeepAREstimator"
        in json.loads((output / "explainability" / "demand-neural-DeepAR-002" / "candidate.json").read_text())[
            "library"
        ]
    )


@pytest.mark.parametrize("algorithm", ["deepar"])
def test_a_neural_forecaster_gives_the_same_forecast_twice(tmp_path, two_epochs, algorithm):
    spec = spec_for(tmp_path, [algorithm])
    data = load_series(Storage([tmp_path]), spec)
    settings = Settings(data.grid, spec.time_series.quantiles)
    first = run_backtest(data.frame, HORIZON, settings, FORECASTERS[algorithm])
    second = run_backtest(data.frame, HORIZON, settings, FORECASTERS[algorithm])
    pd.testing.assert_frame_equal(first[0], second[0])
    pd.testing.assert_frame_equal(first[1], second[1])


@pytest.mark.timeout(300)
def test_training_stops_within_the_jobs_time_left(tmp_path, monkeypatch):
    # Ten thousand epochs would take hours: the time left decides when each fit stops.
    monkeypatch.setattr(forecasters, "NEURAL_MAX_EPOCHS", 10_000)
    spec = spec_for(tmp_path, ["deepar"])
    data = load_series(Storage([tmp_path]), spec)
    settings = Settings(data.grid, spec.time_series.quantiles, deadline=time.monotonic() + 20)
    try:
        backtest, forecast = run_backtest(data.frame, HORIZON, settings, FORECASTERS["deepar"])
    except OutOfTime:
        return  # the second fit had too little time left to start: the job drops the candidate
    assert len(forecast) == len(ITEMS) * HORIZON and np.isfinite(forecast[QUANTILES].to_numpy()).all()


def test_a_fit_does_not_start_past_the_deadline(tmp_path):
    spec = spec_for(tmp_path, ["deepar"])
    data = load_series(Storage([tmp_path]), spec)
    settings = Settings(data.grid, spec.time_series.quantiles, deadline=time.monotonic() - 1)
    with pytest.raises(OutOfTime):
        run_backtest(data.frame, HORIZON, settings, FORECASTERS["deepar"])


def test_with_pytorch_a_job_that_chooses_no_algorithm_trains_the_neural_ones_too(tmp_path):
    assert _algorithms(spec_for(tmp_path, None)) == ["npts", "cnn-qr", "ets", "arima", "prophet", "deepar"]


@pytest.mark.parametrize("algorithm", ["deepar"])
def test_a_served_neural_model_forecasts_the_history_a_request_sends(tmp_path, two_epochs, algorithm):
    from tests.fixtures.forecasting import csv_body, forecast_csv, history, served

    model = served(tmp_path, members=((f"d-{algorithm}-001", algorithm, 1.0),))
    forecast = forecast_csv(model, csv_body(history("apples", 40), history("kiwis", 30, store="south", level=20)))
    assert list(forecast["sku"]) == ["apples"] * 5 + ["kiwis"] * 5
    assert np.isfinite(forecast[["p10", "p50", "p90", "mean"]].to_numpy()).all()
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()
    # Trained on these two items' history only, it still tells their levels (50 and 20) apart.
    levels = forecast.groupby("sku")["p50"].mean()
    assert levels["kiwis"] < levels["apples"], levels
