"""A real, small time-series forecasting job on the local service: three daily series in, a
leaderboard of backtested candidates (an ensemble among them), artifacts and forecasts out."""

from __future__ import annotations

import io
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

pytestmark = pytest.mark.integration

ROLE = "arn:aws:iam::123456789012:role/automl"
HORIZON = 7


def demand(days: int = 56) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    rows = []
    for number, sku in enumerate(("apples", "pears", "plums")):
        day = np.arange(days)
        units = 30 + 10 * number + 8 * np.sin(2 * np.pi * day / 7) + 0.1 * day + rng.normal(0, 1.5, days)
        dates = pd.date_range("2024-01-01", periods=days, freq="D").strftime("%Y-%m-%d")
        rows.append(pd.DataFrame({"sku": sku, "date": dates, "units": units.round(1)}))
    return pd.concat(rows, ignore_index=True)


def forecast_config(service, folder: str, **overrides) -> dict:
    config = {
        "AutoMLJobInputDataConfig": [{"DataSource": {"S3DataSource": {
            "S3DataType": "S3Prefix", "S3Uri": service.file_uri(folder)}}}],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("forecast-output")},
        "RoleArn": ROLE,
        "AutoMLJobObjective": {"MetricName": "WAPE"},
        "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": {
            "ForecastFrequency": "D",
            "ForecastHorizon": HORIZON,
            "ForecastQuantiles": ["p10", "p50", "p90"],
            "TimeSeriesConfig": {"TargetAttributeName": "units", "TimestampAttributeName": "date",
                                 "ItemIdentifierAttributeName": "sku"},
            "HolidayConfig": [{"CountryCode": "US"}],
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["npts", "ets", "prophet"]}]},
            "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 240},
        }},
    }
    config.update(overrides)
    return config


def wait_until_done(client, name: str) -> dict:
    deadline = time.monotonic() + 300
    while True:
        job = client.describe_auto_ml_job_v2(AutoMLJobName=name)
        if job["AutoMLJobStatus"] not in ("InProgress", "Stopping"):
            return job
        assert time.monotonic() < deadline, f"job {name} still {job['AutoMLJobSecondaryStatus']} after 300 s"
        time.sleep(0.25)


def local_path(uri: str) -> Path:
    return Path(urlparse(uri).path)


@pytest.fixture(scope="module")
def forecast_job(local_service):
    folder = local_service.file_root / "demand"
    folder.mkdir(parents=True, exist_ok=True)
    demand().to_csv(folder / "demand.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job_v2(AutoMLJobName="demand-forecast", **forecast_config(local_service, "demand"))
    return wait_until_done(client, "demand-forecast")


def test_the_job_completes_with_a_backtested_leaderboard(local_service, forecast_job):
    assert forecast_job["AutoMLJobStatus"] == "Completed", forecast_job.get("FailureReason")
    assert forecast_job["AutoMLProblemTypeConfigName"] == "TimeSeriesForecasting"
    assert forecast_job["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "WAPE"}
    candidates = local_service.client().list_candidates_for_auto_ml_job(
        AutoMLJobName="demand-forecast", SortBy="FinalObjectiveMetricValue", SortOrder="Ascending")["Candidates"]
    names = [c["CandidateName"] for c in candidates]
    assert sorted(name.split("-")[-2] for name in names) == ["ETS", "Ensemble", "NPTS", "Prophet"]
    best = forecast_job["BestCandidate"]
    assert best["CandidateName"] == names[0]
    assert best["FinalAutoMLJobObjectiveMetric"]["MetricName"] == "WAPE"
    # Weekly seasonality plus noise of 1.5 around ~40 units: a real model forecasts within 10%.
    assert 0 < best["FinalAutoMLJobObjectiveMetric"]["Value"] < 0.1
    reported = {m["MetricName"] for m in best["CandidateProperties"]["CandidateMetrics"]}
    assert reported == {"RMSE", "WAPE", "MAPE", "MASE", "AverageWeightedQuantileLoss"}


def test_backtest_results_and_forecasts_are_written_where_the_candidate_points(forecast_job):
    best = forecast_job["BestCandidate"]
    locations = best["CandidateProperties"]["CandidateArtifactLocations"]
    backtest = local_path(locations["BacktestResults"])
    accuracy = pd.read_csv(backtest / "accuracy-metrics-values" / "accuracy-metrics.csv")
    assert list(accuracy["window"]) == ["1", "2", "3", "all"]
    overall = accuracy[accuracy["window"] == "all"].iloc[0]
    assert overall["WAPE"] == pytest.approx(best["FinalAutoMLJobObjectiveMetric"]["Value"])
    forecasted = pd.read_csv(backtest / "forecasted-values" / "forecasts.csv")
    assert set(forecasted.columns) >= {"sku", "date", "backtest_window", "units", "mean", "p10", "p50", "p90"}
    assert len(forecasted) == 3 * 3 * HORIZON  # items x windows x horizon

    model = local_path(best["InferenceContainers"][0]["ModelDataUrl"])
    forecast = pd.read_csv(model.parent.parent.parent / "forecasts" / best["CandidateName"] / "forecast.csv")
    assert len(forecast) == 3 * HORIZON
    assert forecast["date"].min() == "2024-02-26" and forecast["date"].max() == "2024-03-03"
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()
    import tarfile

    with tarfile.open(model) as archive:
        assert sorted(archive.getnames()) == ["forecast.csv", "model.json"]
        shipped = pd.read_csv(io.BytesIO(archive.extractfile("forecast.csv").read()))
    pd.testing.assert_frame_equal(shipped, forecast)


def test_the_leaderboard_file_lists_every_candidate_best_first(local_service, forecast_job):
    output = local_service.file_root / "forecast-output" / "demand-forecast"
    leaderboard = pd.read_csv(output / "leaderboard.csv")
    assert leaderboard["CandidateName"].iloc[0] == forecast_job["BestCandidate"]["CandidateName"]
    assert list(leaderboard["WAPE"]) == sorted(leaderboard["WAPE"])
    assert (leaderboard.loc[leaderboard["Algorithm"] != "ensemble", "FitTimeSeconds"] > 0).all()


def test_data_that_breaks_a_rule_fails_the_job_naming_the_column(local_service):
    folder = local_service.file_root / "demand-bad"
    folder.mkdir(parents=True, exist_ok=True)
    frame = demand(days=40)
    frame.loc[10, "date"] = "31/31/2024"
    frame.to_csv(folder / "demand.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job_v2(AutoMLJobName="demand-bad-dates", **forecast_config(local_service, "demand-bad"))
    job = wait_until_done(client, "demand-bad-dates")
    assert job["AutoMLJobStatus"] == "Failed"
    assert "Timestamp column 'date'" in job["FailureReason"] and "'31/31/2024'" in job["FailureReason"]


def test_neural_forecasters_are_refused_at_create_naming_the_extra(local_service):
    config = forecast_config(local_service, "demand")
    time_series = config["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    time_series["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["deepar", "ets"]}]}
    with pytest.raises(ClientError) as caught:
        local_service.client().create_auto_ml_job_v2(AutoMLJobName="demand-deepar", **config)
    message = caught.value.response["Error"]["Message"]
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "AlgorithmsConfig[0].AutoMLAlgorithms" in message and "deepar" in message
    assert "airflow-automl[torch]" in message or "not trained by the local service" in message


def test_a_forecasting_job_is_described_by_v2_only(local_service, forecast_job):
    with pytest.raises(ClientError) as caught:
        local_service.client().describe_auto_ml_job(AutoMLJobName="demand-forecast")
    assert "DescribeAutoMLJobV2" in caught.value.response["Error"]["Message"]


def test_a_forecasting_candidate_is_not_served(local_service, forecast_job):
    best = forecast_job["BestCandidate"]
    with pytest.raises(ClientError) as caught:
        local_service.client().create_model(
            ModelName="demand-model", ExecutionRoleArn=ROLE,
            PrimaryContainer={k: best["InferenceContainers"][0][k] for k in ("Image", "ModelDataUrl")})
    message = caught.value.response["Error"]["Message"]
    assert "time-series forecasting job demand-forecast" in message and "forecast.csv" in message
