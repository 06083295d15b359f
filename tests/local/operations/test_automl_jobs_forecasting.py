"""A real, small time-series forecasting job on the local service: three daily series in, a
leaderboard of backtested candidates (an ensemble among them), artifacts and forecasts out; its
best candidate served by an endpoint and a batch transform, forecasting the history it is sent."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from airflow_automl.local.engine.torch_extra import neural_forecasting_available
from tests.fixtures.v2_jobs import wait_until_done

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
        "AutoMLJobInputDataConfig": [
            {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri(folder)}}}
        ],
        "OutputDataConfig": {"S3OutputPath": service.file_uri("forecast-output")},
        "RoleArn": ROLE,
        "AutoMLJobObjective": {"MetricName": "WAPE"},
        "AutoMLProblemTypeConfig": {
            "TimeSeriesForecastingJobConfig": {
                "ForecastFrequency": "D",
                "ForecastHorizon": HORIZON,
                "ForecastQuantiles": ["p10", "p50", "p90"],
                "TimeSeriesConfig": {
                    "TargetAttributeName": "units",
                    "TimestampAttributeName": "date",
                    "ItemIdentifierAttributeName": "sku",
                },
                "HolidayConfig": [{"CountryCode": "US"}],
                "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["npts", "ets", "prophet"]}]},
                "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": 240},
            }
        },
    }
    config.update(overrides)
    return config


def local_path(uri: str) -> Path:
    return Path(urlparse(uri).path)


@pytest.fixture(scope="module")
def forecast_job(local_service):
    folder = local_service.file_root / "demand"
    folder.mkdir(parents=True, exist_ok=True)
    demand().to_csv(folder / "demand.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job_v2(
        AutoMLJobName="demand-forecast",
        **forecast_config(local_service, "demand"),
        ModelDeployConfig={"EndpointName": "demand-forecast-auto"},
    )
    return wait_until_done(client, "demand-forecast")


def test_the_job_completes_with_a_backtested_leaderboard(local_service, forecast_job):
    assert forecast_job["AutoMLJobStatus"] == "Completed", forecast_job.get("FailureReason")
    assert forecast_job["AutoMLProblemTypeConfigName"] == "TimeSeriesForecasting"
    assert forecast_job["ResolvedAttributes"]["AutoMLJobObjective"] == {"MetricName": "WAPE"}
    candidates = local_service.client().list_candidates_for_auto_ml_job(
        AutoMLJobName="demand-forecast", SortBy="FinalObjectiveMetricValue", SortOrder="Ascending"
    )["Candidates"]
    names = [c["CandidateName"] for c in candidates]
    assert sorted(name.split("-")[-2] for name in names) == ["ETS", "Ensemble", "NPTS", "Prophet", "SeasonalNaive"]
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


def test_a_related_column_without_values_for_the_horizon_fails_the_job_naming_it(local_service):
    folder = local_service.file_root / "demand-no-future"
    folder.mkdir(parents=True, exist_ok=True)
    demand(days=40).assign(promotion=0).to_csv(folder / "demand.csv", index=False)
    client = local_service.client()
    client.create_auto_ml_job_v2(AutoMLJobName="demand-no-future", **forecast_config(local_service, "demand-no-future"))
    job = wait_until_done(client, "demand-no-future")
    assert job["AutoMLJobStatus"] == "Failed"
    assert "Column 'promotion'" in job["FailureReason"] and "Filling.promotion.futurefill" in job["FailureReason"]


@pytest.mark.skipif(neural_forecasting_available(), reason="the torch extra is installed: deepar trains")
def test_neural_forecasters_are_refused_at_create_naming_the_extra(local_service):
    config = forecast_config(local_service, "demand")
    time_series = config["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    time_series["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["deepar", "ets"]}]}
    with pytest.raises(ClientError) as caught:
        local_service.client().create_auto_ml_job_v2(AutoMLJobName="demand-deepar", **config)
    message = caught.value.response["Error"]["Message"]
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "AlgorithmsConfig[0].AutoMLAlgorithms" in message and "deepar" in message
    assert "airflow-automl[torch]" in message


@pytest.mark.torch
@pytest.mark.skipif(
    not neural_forecasting_available(),
    reason="needs the torch extra (PyTorch, Lightning); `make test-torch` installs it and runs this",
)
def test_with_the_torch_extra_deepar_trains_on_the_service(local_service):
    folder = local_service.file_root / "demand-neural"
    folder.mkdir(parents=True, exist_ok=True)
    demand().to_csv(folder / "demand.csv", index=False)
    config = forecast_config(local_service, "demand-neural")
    time_series = config["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    time_series["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["deepar"]}]}
    client = local_service.client()
    client.create_auto_ml_job_v2(AutoMLJobName="demand-neural", **config)
    job = wait_until_done(client, "demand-neural")
    assert job["AutoMLJobStatus"] == "Completed", job.get("FailureReason")
    names = [
        c["CandidateName"] for c in client.list_candidates_for_auto_ml_job(AutoMLJobName="demand-neural")["Candidates"]
    ]
    assert sorted(names) == [
        "demand-neural-DeepAR-002",
        "demand-neural-Ensemble-003",
        "demand-neural-SeasonalNaive-001",
    ]
    # Weekly seasonality plus noise of 1.5 around ~40 units, as for the other candidates.
    assert 0 < job["BestCandidate"]["FinalAutoMLJobObjectiveMetric"]["Value"] < 0.1
    forecast = pd.read_csv(
        local_path(job["BestCandidate"]["InferenceContainers"][0]["ModelDataUrl"]).parent.parent.parent
        / "forecasts"
        / job["BestCandidate"]["CandidateName"]
        / "forecast.csv"
    )
    assert len(forecast) == 3 * HORIZON
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()


def test_a_forecasting_job_is_described_by_v2_only(local_service, forecast_job):
    with pytest.raises(ClientError) as caught:
        local_service.client().describe_auto_ml_job(AutoMLJobName="demand-forecast")
    assert "DescribeAutoMLJobV2" in caught.value.response["Error"]["Message"]


# ---- serving: endpoints, batch transform, the registry -----------------------------------------

# Polls often, gives up only after three minutes: the waiter returns as soon as the state is reached.
FAST_WAITER = {"Delay": 0.2, "MaxAttempts": 900}


def history_body(frame: pd.DataFrame) -> bytes:
    """History as the training data had it: the same columns, with the header row."""
    return frame.to_csv(index=False).encode()


def seen_and_new_items() -> pd.DataFrame:
    """A trained item's whole history, and a new item whose history ends two weeks earlier."""
    history = demand()
    newcomer = history[history["sku"] == "pears"].iloc[:42].assign(sku="quinces")
    return pd.concat([history[history["sku"] == "apples"], newcomer], ignore_index=True)


def check_forecast(forecast: pd.DataFrame, history: pd.DataFrame) -> None:
    """HORIZON rows per item from the day after its last one, quantiles in order, values like its history."""
    assert list(forecast.columns) == ["sku", "date", "p10", "p50", "p90", "mean"]
    assert list(forecast["sku"].unique()) == list(history["sku"].unique())
    for sku, rows in forecast.groupby("sku"):
        sent = history[history["sku"] == sku]
        last = pd.Timestamp(sent["date"].max())
        assert list(pd.to_datetime(rows["date"])) == list(pd.date_range(last + pd.Timedelta(days=1), periods=HORIZON))
        low, high = sent["units"].min(), sent["units"].max()
        assert rows["p50"].between(low - 10, high + 10).all(), (sku, rows["p50"].tolist(), low, high)
    assert (forecast["p10"] <= forecast["p50"]).all() and (forecast["p50"] <= forecast["p90"]).all()


@pytest.fixture(scope="module")
def forecast_model(local_service, forecast_job):
    """A model, endpoint config and endpoint made from the job's BestCandidate, as for a tabular job."""
    client = local_service.client()
    client.create_model(
        ModelName="demand-model", ExecutionRoleArn=ROLE, Containers=forecast_job["BestCandidate"]["InferenceContainers"]
    )
    client.create_endpoint_config(
        EndpointConfigName="demand-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "demand-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="demand-serving", EndpointConfigName="demand-config")
    client.get_waiter("endpoint_in_service").wait(EndpointName="demand-serving", WaiterConfig=FAST_WAITER)
    return "demand-model"


def invoke(local_service, body: bytes, accept: str = "text/csv", content_type: str = "text/csv") -> bytes:
    runtime = local_service.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName="demand-serving", ContentType=content_type, Accept=accept, Body=body
    )
    assert response["ContentType"] == accept
    return response["Body"].read()


def test_an_endpoint_forecasts_each_item_from_the_history_sent(local_service, forecast_model):
    history = seen_and_new_items()
    forecast = pd.read_csv(io.BytesIO(invoke(local_service, history_body(history))))
    check_forecast(forecast, history)
    # The model forecasts from what it is sent: a history twice as high gives a forecast about twice as high.
    doubled = history.assign(units=history["units"] * 2)
    answer = json.loads(invoke(local_service, history_body(doubled), accept="application/json"))["predictions"]
    rows = pd.DataFrame(answer)
    check_forecast(rows, doubled)
    ratio = rows["p50"].sum() / forecast["p50"].sum()
    assert 1.7 < ratio < 2.3, ratio


def test_bad_history_gets_a_client_error_naming_the_column_and_the_endpoint_keeps_serving(
    local_service, forecast_model
):
    runtime = local_service.client("sagemaker-runtime")
    history = demand(days=21)
    broken = {
        "TargetAttributeName 'units' is not a column": history.drop(columns="units"),
        "Timestamp column 'date' of the request has a value that is not a timestamp: 'soon'": history.assign(
            date=history["date"].where(history.index != 4, "soon")
        ),
        "item 'plums' has timestamp '2024-01-01' more than once": pd.concat([history, history.iloc[[42]]]),
        "Item 'apples' has 2 time step(s)": history.iloc[:2],
    }
    for expected, frame in broken.items():
        with pytest.raises(ClientError) as caught:
            runtime.invoke_endpoint(EndpointName="demand-serving", ContentType="text/csv", Body=history_body(frame))
        assert caught.value.response["Error"]["Code"] == "ModelError"
        assert caught.value.response["OriginalStatusCode"] == 400
        assert expected in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(EndpointName="demand-serving", ContentType="text/csv", Body=b"sku,date,units\n")
    assert "no rows of history" in caught.value.response["Error"]["Message"]
    assert len(pd.read_csv(io.BytesIO(invoke(local_service, history_body(history))))) == 3 * HORIZON


def test_a_transform_with_split_type_none_forecasts_each_input_file(local_service, forecast_model):
    inputs = local_service.file_root / "forecast-inputs"
    inputs.mkdir()
    history = demand()
    (inputs / "fruit.csv").write_bytes(history_body(history))
    (inputs / "new.csv").write_bytes(history_body(seen_and_new_items().tail(42)))
    client = local_service.client()
    client.create_transform_job(
        TransformJobName="demand-batch",
        ModelName=forecast_model,
        BatchStrategy="SingleRecord",
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("forecast-inputs")}
            },
            "ContentType": "text/csv",
            "SplitType": "None",
        },
        TransformOutput={"S3OutputPath": local_service.file_uri("forecast-batch"), "Accept": "text/csv"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    client.get_waiter("transform_job_completed_or_stopped").wait(
        TransformJobName="demand-batch", WaiterConfig=FAST_WAITER
    )
    job = client.describe_transform_job(TransformJobName="demand-batch")
    assert job["TransformJobStatus"] == "Completed", job.get("FailureReason")
    output = local_service.file_root / "forecast-batch"
    check_forecast(pd.read_csv(output / "fruit.csv.out"), history)
    check_forecast(pd.read_csv(output / "new.csv.out"), seen_and_new_items().tail(42))


def test_a_transform_of_bad_history_fails_naming_the_file_and_the_column(local_service, forecast_model):
    inputs = local_service.file_root / "forecast-bad-inputs"
    inputs.mkdir()
    (inputs / "no-units.csv").write_bytes(history_body(demand(days=21).drop(columns="units")))
    client = local_service.client()
    client.create_transform_job(
        TransformJobName="demand-batch-bad",
        ModelName=forecast_model,
        TransformInput={
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("forecast-bad-inputs")}
            },
            "ContentType": "text/csv",
            "SplitType": "None",
        },
        TransformOutput={"S3OutputPath": local_service.file_uri("forecast-bad-batch")},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    deadline = time.monotonic() + 120
    while (job := client.describe_transform_job(TransformJobName="demand-batch-bad"))[
        "TransformJobStatus"
    ] == "InProgress":
        assert time.monotonic() < deadline, "the transform is still InProgress after 120 s"
        time.sleep(0.2)
    assert job["TransformJobStatus"] == "Failed"
    assert "Input file" in job["FailureReason"] and "no-units.csv" in job["FailureReason"]
    assert "TargetAttributeName 'units' is not a column of the request" in job["FailureReason"]


def test_a_transform_splitting_lines_is_refused_for_a_forecasting_model(local_service, forecast_model):
    with pytest.raises(ClientError) as caught:
        local_service.client().create_transform_job(
            TransformJobName="demand-lines",
            ModelName=forecast_model,
            TransformInput={
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": local_service.file_uri("demand")}},
                "ContentType": "text/csv",
                "SplitType": "Line",
            },
            TransformOutput={"S3OutputPath": local_service.file_uri("forecast-lines")},
            TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
        )
    message = caught.value.response["Error"]["Message"]
    assert message.startswith("TransformInput.SplitType: 'Line' splits each input file")
    assert "time-series forecasting model" in message and "use None" in message


def test_model_deploy_config_deploys_the_best_forecaster(local_service, forecast_job):
    assert forecast_job["ModelDeployResult"] == {"EndpointName": "demand-forecast-auto"}
    runtime = local_service.client("sagemaker-runtime")
    response = runtime.invoke_endpoint(
        EndpointName="demand-forecast-auto",
        ContentType="text/csv",
        Accept="application/jsonlines",
        Body=history_body(demand()),
    )
    lines = response["Body"].read().decode().splitlines()
    assert len(lines) == 3 * HORIZON and set(json.loads(lines[0])) == {"sku", "date", "p10", "p50", "p90", "mean"}


def test_a_registered_forecaster_can_be_made_a_model(local_service, forecast_job):
    client = local_service.client()
    package = client.create_model_package(
        ModelPackageName="demand-forecaster",
        InferenceSpecification={
            "Containers": forecast_job["BestCandidate"]["InferenceContainers"],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    client.create_model(
        ModelName="demand-from-package", ExecutionRoleArn=ROLE, PrimaryContainer={"ModelPackageName": package}
    )
    assert client.describe_model(ModelName="demand-from-package")["PrimaryContainer"]["ModelPackageName"] == package


# Slow: the worker's imports alone took 40 s on a loaded machine, and a job must outlast them.
@pytest.mark.slow
def test_a_job_stopped_at_its_limit_in_the_middle_of_a_fit_serves_its_best_finished_candidate(local_service):
    """AutoARIMA with a daily season of 24 hours takes many seconds for one series: a job of 60 s
    stops it inside the worker (in the middle of its fit; on a loaded machine the worker's start-up
    may take the 60 s, and it does not start), lists it in PartialFailureReasons, and ends by itself,
    not killed by the supervisor, with the seasonal naive baseline it always trains first, which an
    endpoint serves. The fast version, in the test process: tests/local/engine/forecasting."""
    hours = 24 * 13  # under two weeks: only the daily cycle, so ARIMA is a seasonal ARIMA of period 24
    step = np.arange(hours)
    load = 100 + 20 * np.sin(2 * np.pi * step / 24) + np.random.default_rng(3).normal(0, 3, hours)
    stamps = pd.date_range("2024-03-04", periods=hours, freq="h").strftime("%Y-%m-%d %H:%M:%S")
    history = pd.DataFrame({"sku": "meter", "date": stamps, "units": load.round(2)})
    folder = local_service.file_root / "hourly"
    folder.mkdir(parents=True, exist_ok=True)
    history.to_csv(folder / "load.csv", index=False)
    config = forecast_config(local_service, "hourly")
    problem = config["AutoMLProblemTypeConfig"]["TimeSeriesForecastingJobConfig"]
    problem.update(
        ForecastFrequency="H",
        ForecastHorizon=12,
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["arima"]}]},
        CompletionCriteria={"MaxAutoMLJobRuntimeInSeconds": 60},
    )
    del problem["HolidayConfig"]
    client = local_service.client()
    client.create_auto_ml_job_v2(AutoMLJobName="hourly-limit", **config)
    job = wait_until_done(client, "hourly-limit")

    assert (job["AutoMLJobStatus"], job["AutoMLJobSecondaryStatus"]) == ("Completed", "MaxAutoMLJobRuntimeReached"), (
        job.get("FailureReason")
    )
    reasons = [r["PartialFailureMessage"] for r in job["PartialFailureReasons"]]
    assert any(r.startswith("Candidate hourly-limit-ARIMA-002: ARIMA") for r in reasons), reasons
    best = job["BestCandidate"]
    assert best["CandidateName"] == "hourly-limit-SeasonalNaive-001"
    client.create_model(ModelName="hourly-model", ExecutionRoleArn=ROLE, Containers=best["InferenceContainers"])
    client.create_endpoint_config(
        EndpointConfigName="hourly-config",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": "hourly-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    client.create_endpoint(EndpointName="hourly-serving", EndpointConfigName="hourly-config")
    client.get_waiter("endpoint_in_service").wait(EndpointName="hourly-serving", WaiterConfig=FAST_WAITER)
    answer = local_service.client("sagemaker-runtime").invoke_endpoint(
        EndpointName="hourly-serving", ContentType="text/csv", Accept="text/csv", Body=history_body(history)
    )
    forecast = pd.read_csv(io.BytesIO(answer["Body"].read()))
    assert len(forecast) == 12 and forecast["date"].iloc[0] == "2024-03-17 00:00:00"
    # The last day repeated (its first twelve hours).
    assert np.allclose(forecast["mean"], history["units"].iloc[-24:-12])
