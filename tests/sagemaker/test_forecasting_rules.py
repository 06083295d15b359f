"""TimeSeriesForecastingJobConfig requests: each rule of the API's prose refuses a request with the
field and the rule, and a full valid request becomes the engine's TimeSeriesSpec."""

from __future__ import annotations

import pytest

from airflow_automl.local import jobspec
from airflow_automl.sagemaker import metrics
from airflow_automl.sagemaker import rules as spec
from airflow_automl.sagemaker.shapes import RequestValidationError

V2 = "CreateAutoMLJobV2"
CONFIG = "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig"


def forecast_request(**config) -> dict:
    time_series = {
        "ForecastFrequency": "1W",
        "ForecastHorizon": 4,
        "TimeSeriesConfig": {
            "TargetAttributeName": "demand",
            "TimestampAttributeName": "week",
            "ItemIdentifierAttributeName": "sku",
        },
    }
    time_series.update(config)
    return {
        "AutoMLJobName": "demand-1",
        "AutoMLJobInputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/demand/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "AutoMLProblemTypeConfig": {"TimeSeriesForecastingJobConfig": time_series},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
    }


def refused(request: dict) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as caught:
        spec.validate_request(V2, request)
    return caught.value


def full_request() -> dict:
    request = forecast_request(
        ForecastFrequency="D",
        ForecastHorizon=14,
        ForecastQuantiles=["p10", "p50", "p95"],
        Transformations={
            "Filling": {
                "demand": {"frontfill": "none", "middlefill": "zero", "backfill": "value", "backfill_value": "2"},
                "price": {"middlefill": "median", "futurefill": "max"},
            },
            "Aggregation": {"demand": "avg"},
        },
        TimeSeriesConfig={
            "TargetAttributeName": "demand",
            "TimestampAttributeName": "day",
            "ItemIdentifierAttributeName": "sku",
            "GroupingAttributeNames": ["store"],
        },
        HolidayConfig=[{"CountryCode": "DE"}],
        CandidateGenerationConfig={"AlgorithmsConfig": [{"AutoMLAlgorithms": ["ets", "arima", "npts", "prophet"]}]},
        CompletionCriteria={"MaxCandidates": 1, "MaxAutoMLJobRuntimeInSeconds": 600},
    )
    request["AutoMLJobObjective"] = {"MetricName": "WAPE"}
    request["AutoMLJobInputDataConfig"][0]["ContentType"] = "x-application/vnd.amazon+parquet"
    return request


def test_a_full_request_is_valid_and_becomes_the_engines_view():
    job = jobspec.job_spec_from_request(V2, full_request())
    assert job.target == "demand"
    assert job.metric_name == "WAPE"
    assert job.algorithms == ("ets", "arima", "npts", "prophet")
    series = job.time_series
    assert (series.frequency, series.horizon, series.timestamp, series.item_id) == ("D", 14, "day", "sku")
    assert series.grouping == ("store",)
    assert series.quantiles == ("p10", "p50", "p95")
    assert series.aggregation == {"demand": "avg"}
    assert series.filling["demand"]["backfill_value"] == "2"
    assert series.holiday_country == "DE"
    assert jobspec.JobSpec.from_dict(job.to_dict()) == job


def test_quantiles_default_to_p10_p50_p90():
    assert jobspec.job_spec_from_request(V2, forecast_request()).time_series.quantiles == ("p10", "p50", "p90")


@pytest.mark.parametrize(
    "frequency,unit",
    [("60min", "Minute"), ("24H", "Hour"), ("7D", "Day"), ("5W", "Week"), ("12M", "Month"), ("2Y", "Year")],
)
def test_a_frequency_must_not_overlap_the_next_larger_unit(frequency, unit):
    error = refused(forecast_request(ForecastFrequency=frequency))
    assert error.field == f"{CONFIG}.ForecastFrequency"
    assert "must not overlap the next larger unit" in error.rule and unit in error.rule


def test_a_frequency_that_is_no_count_and_unit_breaks_the_pattern():
    error = refused(forecast_request(ForecastFrequency="2days"))
    assert error.field == f"{CONFIG}.ForecastFrequency"
    assert "pattern" in error.rule


@pytest.mark.parametrize("problem_configs", ["text", {"TimeSeriesForecastingJobConfig": "text"}])
def test_a_problem_config_of_the_wrong_type_is_refused_by_its_shape_not_a_crash(problem_configs):
    request = {**forecast_request(), "AutoMLProblemTypeConfig": problem_configs}
    error = refused(request)
    assert error.field.startswith("AutoMLProblemTypeConfig")


def test_the_horizon_is_at_most_500_steps():
    spec.validate_request(V2, forecast_request(ForecastHorizon=500))
    error = refused(forecast_request(ForecastHorizon=501))
    assert error.field == f"{CONFIG}.ForecastHorizon" and "at most 500 time steps" in error.rule


@pytest.mark.parametrize(
    "quantiles,fragment,field",
    [
        (["p10", "p20", "p30", "p40", "p50", "p60"], "at most 5", "ForecastQuantiles"),
        (["p0"], "pattern", "ForecastQuantiles[0]"),
        (["p100"], "", "ForecastQuantiles[0]"),
        (["p50", "p50"], "must be unique", "ForecastQuantiles[1]"),
    ],
)
def test_quantiles_are_p1_to_p99_up_to_five_and_unique(quantiles, fragment, field):
    error = refused(forecast_request(ForecastQuantiles=quantiles))
    assert error.field == f"{CONFIG}.{field}", str(error)
    assert fragment in error.rule


def test_series_columns_are_distinct():
    error = refused(
        forecast_request(
            TimeSeriesConfig={
                "TargetAttributeName": "demand",
                "TimestampAttributeName": "week",
                "ItemIdentifierAttributeName": "sku",
                "GroupingAttributeNames": ["store", "sku"],
            }
        )
    )
    assert error.field == f"{CONFIG}.TimeSeriesConfig.GroupingAttributeNames[1]"
    assert "'sku' is also ItemIdentifierAttributeName" in error.rule


@pytest.mark.parametrize(
    "filling,field,fragment",
    [
        ({"price": {"frontfill": "none"}}, "price.frontfill", "target column 'demand' only"),
        ({"demand": {"frontfill": "zero"}}, "demand.frontfill", "must be 'none'"),
        ({"demand": {"middlefill": "linear"}}, "demand.middlefill", "one of zero, value, median, mean, min, max"),
        ({"demand": {"backfill": "value"}}, "demand.backfill_value", "is required when backfill is 'value'"),
        (
            {"demand": {"backfill": "zero", "backfill_value": "3"}},
            "demand.backfill_value",
            "only allowed with 'backfill'",
        ),
        (
            {"demand": {"futurefill": "value", "futurefill_value": "many"}},
            "demand.futurefill_value",
            "must be a number",
        ),
    ],
)
def test_filling_rules(filling, field, fragment):
    error = refused(forecast_request(Transformations={"Filling": filling}))
    assert error.field == f"{CONFIG}.Transformations.Filling.{field}", str(error)
    assert fragment in error.rule


def test_aggregation_is_for_the_target_only():
    error = refused(forecast_request(Transformations={"Aggregation": {"price": "sum"}}))
    assert error.field == f"{CONFIG}.Transformations.Aggregation.price"
    assert "target column 'demand' only" in error.rule


def test_one_training_channel_only():
    request = forecast_request()
    request["AutoMLJobInputDataConfig"].append(
        {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/later/"}},
            "ChannelType": "validation",
        }
    )
    error = refused(request)
    assert error.field == "AutoMLJobInputDataConfig[1].ChannelType" and "must be training" in error.rule


def test_no_data_split_for_time_series():
    request = forecast_request()
    request["DataSplitConfig"] = {"ValidationFraction": 0.2}
    error = refused(request)
    assert error.field == "DataSplitConfig" and "must not be set for time-series forecasting" in error.rule


@pytest.mark.parametrize(
    "change,field,fragment",
    [
        ({"CompressionType": "Gzip"}, "CompressionType", "must be None"),
        ({"ContentType": "image/png"}, "ContentType", "must be one of"),
        (
            {"DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://b/m"}}},
            "DataSource.S3DataSource.S3DataType",
            "must be S3Prefix",
        ),
    ],
)
def test_time_series_channels(change, field, fragment):
    request = forecast_request()
    request["AutoMLJobInputDataConfig"][0].update(change)
    error = refused(request)
    assert error.field == f"AutoMLJobInputDataConfig[0].{field}", str(error)
    assert fragment in error.rule


@pytest.mark.parametrize("metric", ["RMSE", "MASE", "MAPE", "WAPE", "AverageWeightedQuantileLoss"])
def test_forecasting_metrics_are_accepted_and_minimized(metric):
    request = forecast_request()
    request["AutoMLJobObjective"] = {"MetricName": metric}
    spec.validate_request(V2, request)
    assert metrics.objective_type(metric) == "Minimize"


def test_tabular_metrics_are_refused_for_forecasting():
    request = forecast_request()
    request["AutoMLJobObjective"] = {"MetricName": "AUC"}
    error = refused(request)
    assert error.field == "AutoMLJobObjective.MetricName" and "TimeSeriesForecastingJobConfig" in error.rule


def test_the_default_forecasting_objective_is_average_wql():
    assert metrics.NON_TABULAR_DEFAULT_OBJECTIVE["TimeSeriesForecastingJobConfig"] == "AverageWeightedQuantileLoss"


def test_max_candidates_is_one_for_forecasting():
    error = refused(forecast_request(CompletionCriteria={"MaxCandidates": 2}))
    assert error.field == f"{CONFIG}.CompletionCriteria.MaxCandidates" and "must be 1" in error.rule


def test_an_unknown_holiday_country_is_refused_by_the_local_service():
    job = jobspec.job_spec_from_request(V2, forecast_request(HolidayConfig=[{"CountryCode": "QQ"}]))
    with pytest.raises(RequestValidationError) as caught:
        jobspec.check_holiday_country(job)
    assert caught.value.field == f"{CONFIG}.HolidayConfig[0].CountryCode"
    assert "'QQ'" in caught.value.rule
    jobspec.check_holiday_country(
        jobspec.job_spec_from_request(V2, forecast_request(HolidayConfig=[{"CountryCode": "US"}]))
    )
