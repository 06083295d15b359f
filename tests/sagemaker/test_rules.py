"""Request rules: botocore shapes for any operation, the reference's AutoML rules,
template coercion and the JobSpec view."""

import copy
import datetime
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_automl.local import jobspec
from airflow_automl.sagemaker import rules as spec
from airflow_automl.sagemaker import shapes
from airflow_automl.sagemaker.shapes import RequestValidationError

V1 = "CreateAutoMLJob"
V2 = "CreateAutoMLJobV2"
ROLE = "arn:aws:iam::123456789012:role/automl"


def minimal_v1() -> dict:
    return {
        "AutoMLJobName": "churn-1",
        "InputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/"}},
                "TargetAttributeName": "y",
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "RoleArn": ROLE,
    }


def minimal_v2() -> dict:
    return {
        "AutoMLJobName": "churn-2",
        "AutoMLJobInputDataConfig": [
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "AutoMLProblemTypeConfig": {"TabularJobConfig": {"TargetAttributeName": "y"}},
        "RoleArn": ROLE,
    }


def full_v1() -> dict:
    request = minimal_v1()
    request["InputDataConfig"] = [
        {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/"}},
            "CompressionType": "Gzip",
            "TargetAttributeName": "y",
            "ContentType": "x-application/vnd.amazon+parquet",
            "ChannelType": "training",
            "SampleWeightAttributeName": "weight",
        },
        {
            "DataSource": {"S3DataSource": {"S3DataType": "ManifestFile", "S3Uri": "s3://bucket/valid.manifest"}},
            "TargetAttributeName": "y",
            "ContentType": "x-application/vnd.amazon+parquet",
            "ChannelType": "validation",
        },
    ]
    request["OutputDataConfig"]["KmsKeyId"] = "alias/automl"
    request["ProblemType"] = "BinaryClassification"
    request["AutoMLJobObjective"] = {"MetricName": "AUC"}
    request["AutoMLJobConfig"] = {
        "CompletionCriteria": {
            "MaxCandidates": 10,
            "MaxRuntimePerTrainingJobInSeconds": 60,
            "MaxAutoMLJobRuntimeInSeconds": 600,
        },
        "SecurityConfig": {
            "VolumeKmsKeyId": "alias/volume",
            "EnableInterContainerTrafficEncryption": True,
            "VpcConfig": {"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-1234"]},
        },
        "CandidateGenerationConfig": {
            "FeatureSpecificationS3Uri": "s3://bucket/features.json",
            "AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm", "catboost"]}],
        },
        "DataSplitConfig": {"ValidationFraction": 0.25},
        "Mode": "ENSEMBLING",
    }
    request["GenerateCandidateDefinitionsOnly"] = False
    request["Tags"] = [{"Key": "team", "Value": "growth"}, {"Key": "env", "Value": "dev"}]
    request["ModelDeployConfig"] = {"AutoGenerateEndpointName": False, "EndpointName": "churn-endpoint"}
    return request


def full_v2() -> dict:
    request = minimal_v2()
    request["AutoMLJobInputDataConfig"] = [
        {
            "ChannelType": "training",
            "ContentType": "text/csv;header=present",
            "CompressionType": "None",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/train/"}},
        },
        {
            "ChannelType": "validation",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/valid/"}},
        },
    ]
    request["AutoMLProblemTypeConfig"] = {
        "TabularJobConfig": {
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", "mlp"]}]},
            "CompletionCriteria": {"MaxCandidates": 5, "MaxAutoMLJobRuntimeInSeconds": 300},
            "FeatureSpecificationS3Uri": "s3://bucket/features.json",
            "Mode": "HYPERPARAMETER_TUNING",
            "GenerateCandidateDefinitionsOnly": True,
            "ProblemType": "Regression",
            "TargetAttributeName": "price",
        }
    }
    request["AutoMLJobObjective"] = {"MetricName": "RMSE"}
    request["SecurityConfig"] = {"VolumeKmsKeyId": "alias/volume"}
    request["DataSplitConfig"] = {"ValidationFraction": 0.1}
    request["ModelDeployConfig"] = {"AutoGenerateEndpointName": True}
    request["Tags"] = [{"Key": "team", "Value": "pricing"}]
    return request


def tabular_v2(request: dict) -> dict:
    return request["AutoMLProblemTypeConfig"]["TabularJobConfig"]


def rejected(operation: str, request: dict) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as caught:
        spec.validate_request(operation, request)
    error = caught.value
    assert str(error) == f"{error.field}: {error.rule}"
    return error


def assert_rejected(operation: str, request: dict, field: str, rule_fragment: str) -> RequestValidationError:
    error = rejected(operation, request)
    assert error.field == field, str(error)
    assert rule_fragment in error.rule, str(error)
    return error


# ------------------------------------------------------------------ valid requests


@pytest.mark.parametrize("operation,build", [(V1, minimal_v1), (V1, full_v1), (V2, minimal_v2), (V2, full_v2)])
def test_valid_requests_pass(operation, build):
    spec.validate_request(operation, build())


def test_local_file_uris_are_accepted_where_s3_uris_are():
    request = minimal_v1()
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] = "file:///data/train.csv"
    request["OutputDataConfig"]["S3OutputPath"] = "file:///data/out"
    spec.validate_request(V1, request)


def test_image_classification_v2_request_is_valid_and_trained_locally():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {"ImageClassificationJobConfig": {}}
    request["AutoMLJobObjective"] = {"MetricName": "Accuracy"}
    spec.validate_request(V2, request)
    jobspec.require_trainable(request)
    job = jobspec.job_spec_from_request(V2, request)
    assert job.image_classification and jobspec.JobSpec.from_dict(job.to_dict()) == job


def test_require_trainable_accepts_tabular_and_time_series_requests_and_specs():
    jobspec.require_trainable(minimal_v1())
    jobspec.require_trainable(minimal_v2())
    jobspec.require_trainable(jobspec.job_spec_from_request(V1, minimal_v1()))
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {
        "TimeSeriesForecastingJobConfig": {
            "ForecastFrequency": "1D",
            "ForecastHorizon": 7,
            "TimeSeriesConfig": {
                "TargetAttributeName": "demand",
                "TimestampAttributeName": "ts",
                "ItemIdentifierAttributeName": "item",
            },
        }
    }
    jobspec.require_trainable(request)


# ------------------------------------------------------------------ shape rules


def test_job_name_must_match_the_whole_pattern():
    request = minimal_v1()
    request["AutoMLJobName"] = "my_job"
    error = rejected(V1, request)
    assert str(error) == "AutoMLJobName: must match pattern [a-zA-Z0-9](-*[a-zA-Z0-9]){0,31} (got 'my_job')"
    request["AutoMLJobName"] = "ok-prefix-then_bad"  # a prefix matches; the whole must
    assert_rejected(V1, request, "AutoMLJobName", "must match pattern")


def test_job_name_pattern_constant_comes_from_botocore():
    assert shapes.JOB_NAME_PATTERN == "[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}"
    assert re.fullmatch(shapes.JOB_NAME_PATTERN, "churn-2024-01")


def test_job_name_max_length():
    request = minimal_v1()
    request["AutoMLJobName"] = "a" * 33
    assert_rejected(V1, request, "AutoMLJobName", "must be at most 32 characters long (got 33)")


def test_string_min_length():
    request = minimal_v1()
    request["InputDataConfig"][0]["TargetAttributeName"] = ""
    assert_rejected(V1, request, "InputDataConfig[0].TargetAttributeName", "must be at least 1 characters long")


def test_required_member_names_its_path():
    request = minimal_v1()
    del request["InputDataConfig"][0]["TargetAttributeName"]
    assert str(rejected(V1, request)) == "InputDataConfig[0].TargetAttributeName: is required"
    request = minimal_v1()
    del request["RoleArn"]
    assert_rejected(V1, request, "RoleArn", "is required")
    request = minimal_v1()
    request["OutputDataConfig"]["S3OutputPath"] = None
    assert_rejected(V1, request, "OutputDataConfig.S3OutputPath", "is required")


def test_unknown_member_is_rejected():
    request = minimal_v1()
    request["AutoMLJobConfig"] = {"CompletionCriteria": {"MaxCandidate": 3}}
    error = assert_rejected(V1, request, "AutoMLJobConfig.CompletionCriteria.MaxCandidate", "is not a known field")
    assert "MaxCandidates" in error.rule
    request = minimal_v1()
    request["JobName"] = "x"
    assert_rejected(V1, request, "JobName", "is not a known field")


def test_v1_only_members_are_unknown_to_v2():
    request = minimal_v2()
    request["InputDataConfig"] = minimal_v1()["InputDataConfig"]
    assert_rejected(V2, request, "InputDataConfig", "is not a known field")


def test_max_candidates_upper_and_lower_bounds():
    request = minimal_v1()
    request["AutoMLJobConfig"] = {"CompletionCriteria": {"MaxCandidates": 751}}
    error = rejected(V1, request)
    assert error.field == "AutoMLJobConfig.CompletionCriteria.MaxCandidates"
    assert str(error).startswith("AutoMLJobConfig.CompletionCriteria.MaxCandidates: must be at most 750")
    request["AutoMLJobConfig"]["CompletionCriteria"]["MaxCandidates"] = 0
    assert_rejected(V1, request, "AutoMLJobConfig.CompletionCriteria.MaxCandidates", "must be at least 1")
    request["AutoMLJobConfig"]["CompletionCriteria"]["MaxCandidates"] = 750
    spec.validate_request(V1, request)


def test_runtime_minimum():
    request = minimal_v2()
    tabular_v2(request)["CompletionCriteria"] = {"MaxAutoMLJobRuntimeInSeconds": 0}
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.TabularJobConfig.CompletionCriteria.MaxAutoMLJobRuntimeInSeconds",
        "must be at least 1",
    )


@pytest.mark.parametrize(
    "path,value,expected",
    [
        (("AutoMLJobConfig", "CompletionCriteria", "MaxCandidates"), "10", "must be an integer (got '10')"),
        (("AutoMLJobConfig", "CompletionCriteria", "MaxCandidates"), True, "must be an integer (got True)"),
        (("AutoMLJobConfig", "CompletionCriteria", "MaxCandidates"), 2.5, "must be an integer"),
        (("AutoMLJobConfig", "DataSplitConfig", "ValidationFraction"), "0.2", "must be a number"),
        (("AutoMLJobConfig", "SecurityConfig", "EnableInterContainerTrafficEncryption"), "true", "must be a boolean"),
        (("GenerateCandidateDefinitionsOnly",), 1, "must be a boolean"),
        (("AutoMLJobName",), 12, "must be a string"),
        (("Tags",), {"Key": "a", "Value": "b"}, "must be a list"),
        (("AutoMLJobConfig",), [], "must be an object"),
    ],
)
def test_types_are_checked(path, value, expected):
    request = minimal_v1()
    target = request
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = value
    assert_rejected(V1, request, ".".join(path), expected)


def test_float_shape_accepts_integers():
    request = minimal_v2()
    request["DataSplitConfig"] = {"ValidationFraction": 0.5}
    spec.validate_request(V2, request)


def test_enum_values():
    request = minimal_v1()
    request["ProblemType"] = "Classification"
    error = assert_rejected(V1, request, "ProblemType", "must be one of")
    assert "BinaryClassification" in error.rule and "'Classification'" in error.rule
    request = minimal_v1()
    request["InputDataConfig"][0]["CompressionType"] = "Zip"
    assert_rejected(V1, request, "InputDataConfig[0].CompressionType", "must be one of None, Gzip")
    request = minimal_v1()
    request["AutoMLJobConfig"] = {"Mode": "FAST"}
    assert_rejected(V1, request, "AutoMLJobConfig.Mode", "must be one of AUTO, ENSEMBLING, HYPERPARAMETER_TUNING")
    request = minimal_v1()
    request["InputDataConfig"][0]["ChannelType"] = "test"
    assert_rejected(V1, request, "InputDataConfig[0].ChannelType", "must be one of training, validation")


def test_list_length_bounds():
    request = minimal_v1()
    request["InputDataConfig"] = []
    assert_rejected(V1, request, "InputDataConfig", "must have at least 1 items (got 0)")
    request["InputDataConfig"] = minimal_v1()["InputDataConfig"] * 3
    assert_rejected(V1, request, "InputDataConfig", "must have at most 2 items (got 3)")
    request = minimal_v1()
    request["Tags"] = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert_rejected(V1, request, "Tags", "must have at most 50 items")


def test_nested_list_item_path():
    request = full_v1()
    request["AutoMLJobConfig"]["SecurityConfig"]["VpcConfig"]["Subnets"] = ["subnet-1", "subnet_2"]
    assert_rejected(V1, request, "AutoMLJobConfig.SecurityConfig.VpcConfig.Subnets[1]", "must match pattern")


def test_uri_and_role_patterns():
    request = minimal_v1()
    request["OutputDataConfig"]["S3OutputPath"] = "bucket/output"
    assert_rejected(V1, request, "OutputDataConfig.S3OutputPath", "must match pattern (https|s3)://")
    request = minimal_v1()
    request["RoleArn"] = "arn:aws:iam::12345:role/automl-role"
    assert_rejected(V1, request, "RoleArn", "must match pattern")


def test_unicode_tag_pattern():
    request = minimal_v1()
    request["Tags"] = [{"Key": "équipe données", "Value": "Zoë 1"}]
    spec.validate_request(V1, request)
    request["Tags"] = [{"Key": "team", "Value": "a*b"}]
    assert_rejected(V1, request, "Tags[0].Value", "must match pattern")


def test_union_needs_exactly_one_member():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"]["ImageClassificationJobConfig"] = {}
    error = assert_rejected(V2, request, "AutoMLProblemTypeConfig", "must set exactly one of")
    assert "got ImageClassificationJobConfig, TabularJobConfig" in error.rule
    request["AutoMLProblemTypeConfig"] = {}
    assert_rejected(V2, request, "AutoMLProblemTypeConfig", "(got none)")


def test_every_pattern_in_the_model_compiles():
    model = shapes.sagemaker_model()
    patterns = {model.shape_for(name).metadata.get("pattern") for name in model.shape_names} - {None}
    assert len(patterns) > 100
    for pattern in patterns:
        shapes.compile_pattern(pattern)


def test_java_pattern_translation():
    astral = shapes.compile_pattern(r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*")
    assert astral.fullmatch("db\U0001f600\t") and not astral.fullmatch("a\x01")
    lambda_arn = shapes.compile_pattern(r"arn:[\p{Alnum}\-]+:lambda:[\p{Alnum}\-]+:[0-9]{12}:function:.*")
    assert lambda_arn.fullmatch("arn:aws:lambda:us-east-1:123456789012:function:f")
    assert not lambda_arn.fullmatch("arn:aws:lambda:us_east:123456789012:function:f")
    bounded = shapes.compile_pattern(r"([\p{L}\p{Z}\p{N}_.:\/=+\-@]*)${1,128}")
    assert bounded.fullmatch("key 1") and not bounded.fullmatch("key*")


def test_other_operations_use_the_same_walker():
    spec.validate_request("DescribeAutoMLJob", {"AutoMLJobName": "churn-1"})
    assert_rejected("DescribeAutoMLJob", {}, "AutoMLJobName", "is required")
    spec.validate_request(
        "ListAutoMLJobs",
        {
            "CreationTimeAfter": datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC),
            "CreationTimeBefore": 1735689600,
            "LastModifiedTimeAfter": "2024-01-01T00:00:00Z",
            "StatusEquals": "Completed",
            "MaxResults": 10,
        },
    )
    assert_rejected("ListAutoMLJobs", {"MaxResults": 101}, "MaxResults", "must be at most 100")
    assert_rejected("ListAutoMLJobs", {"CreationTimeAfter": "last tuesday"}, "CreationTimeAfter", "must be a timestamp")
    assert_rejected("ListAutoMLJobs", {"SortBy": "Size"}, "SortBy", "must be one of")


def test_map_keys_and_values_are_walked():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {
        "TextGenerationJobConfig": {
            "BaseModelName": "Falcon7BInstruct",
            "TextGenerationHyperParameters": {"epochCount": "5", "learning rate": "0.1"},
        }
    }
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.TextGenerationJobConfig.TextGenerationHyperParameters['learning rate']",
        "must match pattern",
    )


def test_request_must_be_an_object():
    error = rejected(V1, ["not", "a", "dict"])
    assert "must be an object" in error.rule


# ------------------------------------------------------------------ reference rules


def test_metric_must_suit_the_problem_type():
    request = minimal_v1()
    request["ProblemType"] = "Regression"
    request["AutoMLJobObjective"] = {"MetricName": "AUC"}
    error = assert_rejected(V1, request, "AutoMLJobObjective.MetricName", "for ProblemType Regression")
    assert "MAE, MSE, R2, RMSE" in error.rule
    request["ProblemType"] = "MulticlassClassification"
    request["AutoMLJobObjective"] = {"MetricName": "F1"}
    assert_rejected(V1, request, "AutoMLJobObjective.MetricName", "for ProblemType MulticlassClassification")
    request["AutoMLJobObjective"] = {"MetricName": "F1macro"}
    spec.validate_request(V1, request)


def test_v2_metric_must_suit_the_problem_type():
    request = minimal_v2()
    tabular_v2(request)["ProblemType"] = "BinaryClassification"
    request["AutoMLJobObjective"] = {"MetricName": "R2"}
    assert_rejected(V2, request, "AutoMLJobObjective.MetricName", "for ProblemType BinaryClassification")


def test_metric_without_problem_type_must_be_tabular():
    request = minimal_v1()
    request["AutoMLJobObjective"] = {"MetricName": "MASE"}
    assert_rejected(V1, request, "AutoMLJobObjective.MetricName", "must be a tabular objective metric")
    request["AutoMLJobObjective"] = {"MetricName": "RecallMacro"}
    spec.validate_request(V1, request)


def test_non_tabular_metrics():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {"ImageClassificationJobConfig": {}}
    request["AutoMLJobObjective"] = {"MetricName": "F1"}
    assert_rejected(V2, request, "AutoMLJobObjective.MetricName", "must be one of Accuracy")
    request["AutoMLJobObjective"] = {"MetricName": "Accuracy"}
    spec.validate_request(V2, request)


@pytest.mark.parametrize("mode,algorithm", [("ENSEMBLING", "mlp"), ("HYPERPARAMETER_TUNING", "lightgbm")])
def test_algorithms_must_belong_to_the_mode(mode, algorithm):
    request = minimal_v1()
    request["AutoMLJobConfig"] = {
        "Mode": mode,
        "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost", algorithm]}]},
    }
    assert_rejected(
        V1,
        request,
        "AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig[0].AutoMLAlgorithms[1]",
        f"for Mode {mode}",
    )


def test_every_listed_algorithm_of_each_mode_is_accepted():
    for mode, algorithms in (
        ("ENSEMBLING", spec.ENSEMBLING_ALGORITHMS),
        ("HYPERPARAMETER_TUNING", spec.HPO_ALGORITHMS),
    ):
        request = minimal_v2()
        tabular_v2(request)["Mode"] = mode
        tabular_v2(request)["CandidateGenerationConfig"] = {
            "AlgorithmsConfig": [{"AutoMLAlgorithms": list(algorithms)}]
        }
        spec.validate_request(V2, request)


def test_empty_algorithm_list_means_all_of_the_mode():
    request = minimal_v1()
    request["AutoMLJobConfig"] = {
        "Mode": "ENSEMBLING",
        "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": []}]},
    }
    spec.validate_request(V1, request)
    assert jobspec.job_spec_from_request(V1, request).algorithms == ()


def test_time_series_algorithm_is_never_tabular():
    request = minimal_v2()
    tabular_v2(request)["Mode"] = "ENSEMBLING"
    tabular_v2(request)["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["deepar"]}]}
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.TabularJobConfig.CandidateGenerationConfig.AlgorithmsConfig[0].AutoMLAlgorithms[0]",
        "time-series forecasting algorithm",
    )


def test_time_series_config_takes_time_series_algorithms_only():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {
        "TimeSeriesForecastingJobConfig": {
            "ForecastFrequency": "D",
            "ForecastHorizon": 3,
            "TimeSeriesConfig": {
                "TargetAttributeName": "y",
                "TimestampAttributeName": "t",
                "ItemIdentifierAttributeName": "i",
            },
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost"]}]},
        }
    }
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.TimeSeriesForecastingJobConfig.CandidateGenerationConfig"
        ".AlgorithmsConfig[0].AutoMLAlgorithms[0]",
        "for time-series forecasting",
    )


@pytest.mark.parametrize("mode", [None, "AUTO"])
def test_no_algorithms_config_with_auto_mode(mode):
    request = minimal_v1()
    request["AutoMLJobConfig"] = {
        "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost"]}]}
    }
    if mode:
        request["AutoMLJobConfig"]["Mode"] = mode
    assert_rejected(
        V1, request, "AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig", "must not be set when Mode is AUTO"
    )


def test_algorithms_config_holds_exactly_one_entry():
    request = minimal_v2()
    tabular_v2(request)["Mode"] = "ENSEMBLING"
    tabular_v2(request)["CandidateGenerationConfig"] = {"AlgorithmsConfig": []}
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.TabularJobConfig.CandidateGenerationConfig.AlgorithmsConfig",
        "exactly one AutoMLAlgorithms entry (got 0)",
    )
    # Two entries: the botocore shape already caps the list at one.
    tabular_v2(request)["CandidateGenerationConfig"] = {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["xgboost"]}] * 2}
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.TabularJobConfig.CandidateGenerationConfig.AlgorithmsConfig",
        "must have at most 1 items",
    )


@pytest.mark.parametrize("fraction", [0, 0.0, 1, 1.0])
def test_validation_fraction_is_strictly_between_0_and_1(fraction):
    request = minimal_v1()
    request["AutoMLJobConfig"] = {"DataSplitConfig": {"ValidationFraction": fraction}}
    assert_rejected(
        V1, request, "AutoMLJobConfig.DataSplitConfig.ValidationFraction", "must be greater than 0 and less than 1"
    )
    request = minimal_v2()
    request["DataSplitConfig"] = {"ValidationFraction": fraction}
    assert_rejected(V2, request, "DataSplitConfig.ValidationFraction", "must be greater than 0 and less than 1")


def test_endpoint_name_if_and_only_if_not_auto_generated():
    request = minimal_v1()
    request["ModelDeployConfig"] = {"AutoGenerateEndpointName": True, "EndpointName": "ep"}
    assert_rejected(V1, request, "ModelDeployConfig.EndpointName", "must not be set when AutoGenerateEndpointName")
    for deploy in ({"AutoGenerateEndpointName": False}, {}):
        request["ModelDeployConfig"] = deploy
        assert_rejected(V1, request, "ModelDeployConfig.EndpointName", "is required when AutoGenerateEndpointName")
    for deploy in (
        {"AutoGenerateEndpointName": True},
        {"EndpointName": "ep"},
        {"AutoGenerateEndpointName": False, "EndpointName": "ep"},
    ):
        request["ModelDeployConfig"] = deploy
        spec.validate_request(V1, request)


def test_non_tabular_max_candidates_is_one():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {"ImageClassificationJobConfig": {"CompletionCriteria": {"MaxCandidates": 2}}}
    assert_rejected(
        V2,
        request,
        "AutoMLProblemTypeConfig.ImageClassificationJobConfig.CompletionCriteria.MaxCandidates",
        "must be 1 for ImageClassificationJobConfig",
    )


def test_output_path_at_most_512_characters():
    request = minimal_v1()
    request["OutputDataConfig"]["S3OutputPath"] = "s3://bucket/" + "a" * 501
    assert_rejected(V1, request, "OutputDataConfig.S3OutputPath", "512 characters or less (got 513)")
    request["OutputDataConfig"]["S3OutputPath"] = "s3://bucket/" + "a" * 500
    spec.validate_request(V1, request)


def test_at_most_one_channel_of_each_type():
    request = minimal_v1()
    request["InputDataConfig"] = minimal_v1()["InputDataConfig"] * 2  # both default to training
    error = assert_rejected(V1, request, "InputDataConfig[1].ChannelType", "at most one training channel")
    assert "InputDataConfig[0]" in error.rule
    request = full_v2()
    request["AutoMLJobInputDataConfig"][0]["ChannelType"] = "validation"
    assert_rejected(V2, request, "AutoMLJobInputDataConfig[1].ChannelType", "at most one validation channel")


def test_a_training_channel_is_required():
    request = minimal_v1()
    request["InputDataConfig"][0]["ChannelType"] = "validation"
    assert_rejected(V1, request, "InputDataConfig", "must include a training channel")


def test_channel_needs_a_data_source():
    request = minimal_v2()
    del request["AutoMLJobInputDataConfig"][0]["DataSource"]
    assert_rejected(V2, request, "AutoMLJobInputDataConfig[0].DataSource", "is required")
    request = minimal_v1()
    del request["InputDataConfig"][0]["DataSource"]
    assert_rejected(V1, request, "InputDataConfig[0].DataSource", "is required")


def test_channels_share_target_and_content_type():
    request = full_v1()
    request["InputDataConfig"][1]["TargetAttributeName"] = "label"
    assert_rejected(V1, request, "InputDataConfig[1].TargetAttributeName", "must equal InputDataConfig[0]")
    request = full_v1()
    del request["InputDataConfig"][1]["ContentType"]  # the default, CSV, differs from Parquet
    assert_rejected(V1, request, "InputDataConfig[1].ContentType", "must equal InputDataConfig[0].ContentType")
    request = full_v2()
    request["AutoMLJobInputDataConfig"][1]["ContentType"] = "x-application/vnd.amazon+parquet"
    assert_rejected(V2, request, "AutoMLJobInputDataConfig[1].ContentType", "must equal")


@pytest.mark.parametrize(
    "operation,build,channels", [(V1, minimal_v1, "InputDataConfig"), (V2, minimal_v2, "AutoMLJobInputDataConfig")]
)
def test_content_type_is_csv_or_parquet(operation, build, channels):
    request = build()
    request[channels][0]["ContentType"] = "application/json"
    error = assert_rejected(operation, request, f"{channels}[0].ContentType", "must be one of")
    assert "text/csv;header=present" in error.rule and "x-application/vnd.amazon+parquet" in error.rule


def test_augmented_manifest_is_v2_only_and_not_tabular():
    request = minimal_v1()
    request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = "AugmentedManifestFile"
    assert_rejected(V1, request, "InputDataConfig[0].DataSource.S3DataSource.S3DataType", "CreateAutoMLJobV2 only")
    request = minimal_v2()
    request["AutoMLJobInputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = "AugmentedManifestFile"
    assert_rejected(
        V2, request, "AutoMLJobInputDataConfig[0].DataSource.S3DataSource.S3DataType", "not available for tabular jobs"
    )
    request["AutoMLProblemTypeConfig"] = {"ImageClassificationJobConfig": {}}
    spec.validate_request(V2, request)


def test_sample_weights_only_without_hyperparameter_tuning():
    request = minimal_v1()
    request["InputDataConfig"][0]["SampleWeightAttributeName"] = "w"
    for mode in (None, "AUTO", "ENSEMBLING"):
        request["AutoMLJobConfig"] = {"Mode": mode} if mode else {}
        spec.validate_request(V1, request)
    request["AutoMLJobConfig"] = {"Mode": "HYPERPARAMETER_TUNING"}
    assert_rejected(V1, request, "InputDataConfig[0].SampleWeightAttributeName", "ENSEMBLING mode only")
    request = minimal_v2()
    tabular_v2(request).update(SampleWeightAttributeName="w", Mode="HYPERPARAMETER_TUNING")
    assert_rejected(
        V2, request, "AutoMLProblemTypeConfig.TabularJobConfig.SampleWeightAttributeName", "ENSEMBLING mode only"
    )


def test_sample_weight_is_not_the_target():
    request = minimal_v1()
    request["InputDataConfig"][0]["SampleWeightAttributeName"] = "y"
    assert_rejected(V1, request, "InputDataConfig[0].SampleWeightAttributeName", "must differ from the target")
    request = minimal_v2()
    tabular_v2(request)["SampleWeightAttributeName"] = "y"
    assert_rejected(
        V2, request, "AutoMLProblemTypeConfig.TabularJobConfig.SampleWeightAttributeName", "must differ from the target"
    )


def test_tag_keys_are_unique():
    request = full_v2()
    request["Tags"] = [{"Key": "team", "Value": "a"}, {"Key": "env", "Value": "b"}, {"Key": "team", "Value": "c"}]
    error = assert_rejected(V2, request, "Tags[2].Key", "must be unique")
    assert "Tags[0]" in error.rule


# ------------------------------------------------------------------ constants


def test_algorithm_constants_agree_with_botocore():
    model = shapes.sagemaker_model()
    algorithms = set(model.shape_for("AutoMLAlgorithm").enum)
    assert set(spec.ENSEMBLING_ALGORITHMS) | set(spec.HPO_ALGORITHMS) | set(spec.TIME_SERIES_ALGORITHMS) == algorithms


# ------------------------------------------------------------------ coercion


def test_coerce_converts_rendered_strings_by_shape():
    request = minimal_v1()
    request["AutoMLJobConfig"] = {
        "CompletionCriteria": {
            "MaxCandidates": "30",
            "MaxAutoMLJobRuntimeInSeconds": " 600 ",
            "MaxRuntimePerTrainingJobInSeconds": "60.0",
        },
        "DataSplitConfig": {"ValidationFraction": "0.2"},
        "SecurityConfig": {"EnableInterContainerTrafficEncryption": "True"},
    }
    request["GenerateCandidateDefinitionsOnly"] = "false"
    request["ModelDeployConfig"] = {"AutoGenerateEndpointName": "true"}
    original = copy.deepcopy(request)
    coerced = shapes.coerce_request(V1, request)
    assert request == original, "the input must not be changed"
    config = coerced["AutoMLJobConfig"]
    assert config["CompletionCriteria"] == {
        "MaxCandidates": 30,
        "MaxAutoMLJobRuntimeInSeconds": 600,
        "MaxRuntimePerTrainingJobInSeconds": 60,
    }
    assert config["DataSplitConfig"]["ValidationFraction"] == 0.2
    assert config["SecurityConfig"]["EnableInterContainerTrafficEncryption"] is True
    assert coerced["GenerateCandidateDefinitionsOnly"] is False
    assert coerced["ModelDeployConfig"]["AutoGenerateEndpointName"] is True
    assert coerced["AutoMLJobName"] == "churn-1" and coerced["InputDataConfig"] == request["InputDataConfig"]
    spec.validate_request(V1, coerced)


def test_coerce_leaves_strings_at_string_shapes_and_unknown_members():
    request = minimal_v2()
    tabular_v2(request)["TargetAttributeName"] = "42"
    request["Tags"] = [{"Key": "count", "Value": "true"}]
    request["Unknown"] = "5"
    coerced = shapes.coerce_request(V2, request)
    assert tabular_v2(coerced)["TargetAttributeName"] == "42"
    assert coerced["Tags"] == [{"Key": "count", "Value": "true"}]
    assert coerced["Unknown"] == "5"


def test_coerce_v2_nested_numbers():
    request = minimal_v2()
    tabular_v2(request)["CompletionCriteria"] = {"MaxCandidates": "3"}
    request["DataSplitConfig"] = {"ValidationFraction": "0.3"}
    coerced = shapes.coerce_request(V2, request)
    assert tabular_v2(coerced)["CompletionCriteria"]["MaxCandidates"] == 3
    assert coerced["DataSplitConfig"]["ValidationFraction"] == 0.3


@pytest.mark.parametrize(
    "path,value,expected",
    [
        (("AutoMLJobConfig", "CompletionCriteria", "MaxCandidates"), "thirty", "must be an integer (got 'thirty')"),
        (("AutoMLJobConfig", "CompletionCriteria", "MaxCandidates"), "2.5", "must be an integer"),
        (("AutoMLJobConfig", "DataSplitConfig", "ValidationFraction"), "a fifth", "must be a number"),
        (("AutoMLJobConfig", "DataSplitConfig", "ValidationFraction"), "nan", "must be a finite number"),
        (("GenerateCandidateDefinitionsOnly",), "yes", "must be a boolean"),
    ],
)
def test_coerce_rejects_unparseable_values(path, value, expected):
    request = minimal_v1()
    target = request
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = value
    with pytest.raises(RequestValidationError) as caught:
        shapes.coerce_request(V1, request)
    assert caught.value.field == ".".join(path)
    assert expected in caught.value.rule


# ------------------------------------------------------------------ JobSpec


def test_minimal_v1_spec_gets_the_defaults():
    job = jobspec.job_spec_from_request(V1, minimal_v1())
    assert job.name == "churn-1" and job.api_version == 1
    assert job.channels == (
        jobspec.Channel(
            uri="s3://bucket/train/",
            data_type="S3Prefix",
            compression="None",
            content_type="text/csv;header=present",
            channel_type="training",
            target="y",
            sample_weight=None,
        ),
    )
    assert job.target == "y" and job.output_path == "s3://bucket/output"
    assert (job.problem_type, job.metric_name, job.mode, job.algorithms) == (None, None, "AUTO", ())
    assert job.validation_fraction == 0.2
    assert (job.max_candidates, job.max_runtime_per_training_job, job.max_job_runtime) == (None, None, None)
    assert not job.generate_candidate_definitions_only and not job.auto_generate_endpoint_name
    assert job.endpoint_name is None and job.sample_weight is None and job.vpc_config is None


def test_full_v1_spec():
    job = jobspec.job_spec_from_request(V1, full_v1())
    assert [c.channel_type for c in job.channels] == ["training", "validation"]
    assert job.training_channel.compression == "Gzip" and job.training_channel.sample_weight == "weight"
    assert job.validation_channel.data_type == "ManifestFile"
    assert job.validation_channel.content_type == "x-application/vnd.amazon+parquet"
    assert job.sample_weight == "weight"
    assert (job.problem_type, job.metric_name, job.mode) == ("BinaryClassification", "AUC", "ENSEMBLING")
    assert job.algorithms == ("lightgbm", "catboost")
    assert (job.max_candidates, job.max_runtime_per_training_job, job.max_job_runtime) == (10, 60, 600)
    assert job.validation_fraction == 0.25
    assert job.feature_specification_uri == "s3://bucket/features.json"
    assert job.endpoint_name == "churn-endpoint" and not job.auto_generate_endpoint_name
    assert (job.kms_key_id, job.volume_kms_key_id) == ("alias/automl", "alias/volume")
    assert job.vpc_config == {"SecurityGroupIds": ["sg-12345678"], "Subnets": ["subnet-1234"]}
    assert job.enable_inter_container_traffic_encryption


def test_full_v2_spec():
    job = jobspec.job_spec_from_request(V2, full_v2())
    assert job.api_version == 2 and job.target == "price"
    assert all(c.target == "price" for c in job.channels)
    assert (job.problem_type, job.metric_name, job.mode) == ("Regression", "RMSE", "HYPERPARAMETER_TUNING")
    assert job.algorithms == ("xgboost", "mlp")
    assert (job.max_candidates, job.max_job_runtime) == (5, 300)
    assert job.validation_fraction == 0.1
    assert job.generate_candidate_definitions_only and job.auto_generate_endpoint_name
    assert job.volume_kms_key_id == "alias/volume"


def test_v2_sample_weight_reaches_every_channel():
    request = full_v2()
    tabular_v2(request)["Mode"] = "ENSEMBLING"
    del tabular_v2(request)["CandidateGenerationConfig"]
    tabular_v2(request)["SampleWeightAttributeName"] = "w"
    job = jobspec.job_spec_from_request(V2, request)
    assert job.sample_weight == "w" and all(c.sample_weight == "w" for c in job.channels)


@pytest.mark.parametrize("operation,build", [(V1, minimal_v1), (V1, full_v1), (V2, minimal_v2), (V2, full_v2)])
def test_job_spec_round_trips_through_json(operation, build):
    job = jobspec.job_spec_from_request(operation, build())
    restored = jobspec.JobSpec.from_dict(json.loads(json.dumps(job.to_dict())))
    assert restored == job
    assert isinstance(restored.channels, tuple) and isinstance(restored.algorithms, tuple)


def test_job_spec_from_request_validates():
    request = minimal_v1()
    request["AutoMLJobConfig"] = {"DataSplitConfig": {"ValidationFraction": 1.5}}
    with pytest.raises(RequestValidationError):
        jobspec.job_spec_from_request(V1, request)
    with pytest.raises(ValueError, match="DescribeAutoMLJob"):
        jobspec.job_spec_from_request("DescribeAutoMLJob", {"AutoMLJobName": "x"})


# ------------------------------------------------------------------ properties


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.from_regex(shapes.JOB_NAME_PATTERN, fullmatch=True), st.text(max_size=40)))
def test_job_name_accepted_exactly_when_pattern_and_length_allow(name):
    request = minimal_v1()
    request["AutoMLJobName"] = name
    allowed = re.fullmatch(shapes.JOB_NAME_PATTERN, name) is not None and 1 <= len(name) <= 32
    if allowed:
        spec.validate_request(V1, request)
    else:
        assert rejected(V1, request).field == "AutoMLJobName"


@settings(max_examples=100, deadline=None)
@given(
    candidates=st.integers(min_value=-(10**6), max_value=10**6),
    fraction=st.floats(min_value=-2, max_value=2, allow_nan=False),
)
def test_coerced_numbers_equal_their_rendered_text_and_are_then_judged(candidates, fraction):
    request = minimal_v1()
    request["AutoMLJobConfig"] = {
        "CompletionCriteria": {"MaxCandidates": str(candidates)},
        "DataSplitConfig": {"ValidationFraction": str(fraction)},
    }
    coerced = shapes.coerce_request(V1, request)
    assert coerced["AutoMLJobConfig"]["CompletionCriteria"]["MaxCandidates"] == candidates
    assert coerced["AutoMLJobConfig"]["DataSplitConfig"]["ValidationFraction"] == fraction
    valid = 1 <= candidates <= 750 and 0 < fraction < 1
    if valid:
        spec.validate_request(V1, coerced)
    else:
        rejected(V1, coerced)


def text_classification_v2() -> dict:
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {
        "TextClassificationJobConfig": {"ContentColumn": "review", "TargetLabelColumn": "sentiment"}
    }
    return request


def test_text_classification_requests_name_the_field_they_break():
    spec.validate_request(V2, text_classification_v2())
    request = text_classification_v2()
    request["AutoMLProblemTypeConfig"]["TextClassificationJobConfig"]["TargetLabelColumn"] = "review"
    assert_rejected(
        V2, request, "AutoMLProblemTypeConfig.TextClassificationJobConfig.TargetLabelColumn", "must differ from"
    )
    request = text_classification_v2()
    request["AutoMLJobInputDataConfig"][0]["ContentType"] = "image/png"
    assert_rejected(V2, request, "AutoMLJobInputDataConfig[0].ContentType", "for text classification")
    request = text_classification_v2()
    request["AutoMLJobInputDataConfig"][0]["DataSource"]["S3DataSource"]["S3DataType"] = "AugmentedManifestFile"
    assert_rejected(
        V2, request, "AutoMLJobInputDataConfig[0].DataSource.S3DataSource.S3DataType", "for text classification"
    )
    job = jobspec.job_spec_from_request(V2, text_classification_v2())
    assert (job.text.content_column, job.target) == ("review", "sentiment")
    assert jobspec.JobSpec.from_dict(job.to_dict()) == job


def test_text_generation_is_still_refused_locally():
    request = minimal_v2()
    request["AutoMLProblemTypeConfig"] = {"TextGenerationJobConfig": {"BaseModelName": "Falcon7BInstruct"}}
    with pytest.raises(RequestValidationError) as caught:
        jobspec.job_spec_from_request(V2, request)
    assert caught.value.field == "AutoMLProblemTypeConfig.TextGenerationJobConfig"
    assert "TextClassificationJobConfig, ImageClassificationJobConfig" in caught.value.rule
