"""The rules the CreateAutoMLJob reference states in prose, for CreateAutoMLJob and
CreateAutoMLJobV2, written as small named rule functions.

Used by the Airflow operator (before it submits) and by the local service (before it accepts
a job), after the shape rules of botocore's model (airflow_automl.sagemaker.shapes). Where each setting
lives in either API version comes from airflow_automl.sagemaker.api_versions, the objective metrics
from airflow_automl.sagemaker.metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from airflow_automl.sagemaker.api_versions import (
    CREATE_OPERATIONS,
    V2,
    get_path,
)
from airflow_automl.sagemaker.automl_request import (
    AutoMLRequest,
    automl_request,
)
from airflow_automl.sagemaker.classification_rules import check_classification
from airflow_automl.sagemaker.forecasting_rules import (
    TIME_SERIES_CONFIG,
    check_time_series,
    explain_frequency,
)
from airflow_automl.sagemaker.metrics import NON_TABULAR_OBJECTIVES, OBJECTIVES
from airflow_automl.sagemaker.shapes import (
    RequestValidationError,
    got_value,
    validate_shape,
)

ENSEMBLING_ALGORITHMS: tuple[str, ...] = (
    "catboost",
    "extra-trees",
    "fastai",
    "lightgbm",
    "linear-learner",
    "nn-torch",
    "randomforest",
    "xgboost",
)
HPO_ALGORITHMS: tuple[str, ...] = ("linear-learner", "mlp", "xgboost")
TIME_SERIES_ALGORITHMS: tuple[str, ...] = ("cnn-qr", "deepar", "prophet", "arima", "npts", "ets")

CONTENT_TYPES: tuple[str, ...] = ("text/csv;header=present", "x-application/vnd.amazon+parquet")
DEFAULT_CONTENT_TYPE = "text/csv;header=present"
DEFAULT_COMPRESSION = "None"
DEFAULT_CHANNEL_TYPE = "training"
DEFAULT_VALIDATION_FRACTION = 0.2
MAX_OUTPUT_PATH_LENGTH = 512
MAX_TABULAR_CANDIDATES = 750


def _rule_metric_allowed_for_problem(job: AutoMLRequest) -> None:
    metric = get_path(job.request, "AutoMLJobObjective.MetricName")
    if metric is None:
        return
    path = "AutoMLJobObjective.MetricName"
    if job.tabular:
        problem_type = job.value("problem_type")
        if problem_type is None:
            allowed = sorted({m for metrics in OBJECTIVES.values() for m in metrics})
            if metric not in allowed:
                raise RequestValidationError(
                    path, f"must be a tabular objective metric, one of {', '.join(allowed)} {got_value(metric)}"
                )
        elif metric not in OBJECTIVES[problem_type]:
            raise RequestValidationError(
                path,
                f"must be one of {', '.join(OBJECTIVES[problem_type])} "
                f"for ProblemType {problem_type} {got_value(metric)}",
            )
        return
    objectives = NON_TABULAR_OBJECTIVES.get(job.problem_config) if job.problem_config else None
    if objectives is not None and metric not in objectives:
        raise RequestValidationError(
            path, f"must be one of {', '.join(objectives)} for {job.problem_config} {got_value(metric)}"
        )


def _rule_algorithms_config(job: AutoMLRequest) -> None:
    """AlgorithmsConfig: one entry only, not with Mode AUTO, algorithms of the mode."""
    path = job.path("algorithms_config")
    config = job.value("algorithms_config")
    if config is None:
        return
    if job.tabular and job.mode == "AUTO":
        raise RequestValidationError(
            path,
            "must not be set when Mode is AUTO (set Mode to ENSEMBLING or HYPERPARAMETER_TUNING to choose algorithms)",
        )
    if len(config) != 1:
        raise RequestValidationError(path, f"must hold exactly one AutoMLAlgorithms entry (got {len(config)})")
    if job.tabular:
        allowed = ENSEMBLING_ALGORITHMS if job.mode == "ENSEMBLING" else HPO_ALGORITHMS
        context = f"Mode {job.mode}"
    elif job.problem_config == "TimeSeriesForecastingJobConfig":
        allowed, context = TIME_SERIES_ALGORITHMS, "time-series forecasting"
    else:
        return
    for index, algorithm in enumerate(config[0].get("AutoMLAlgorithms") or ()):
        item_path = f"{path}[0].AutoMLAlgorithms[{index}]"
        if job.tabular and algorithm in TIME_SERIES_ALGORITHMS:
            raise RequestValidationError(
                item_path, f"{algorithm!r} is a time-series forecasting algorithm, not valid for tabular jobs"
            )
        if algorithm not in allowed:
            raise RequestValidationError(
                item_path, f"must be one of {', '.join(allowed)} for {context} {got_value(algorithm)}"
            )


def _rule_validation_fraction(job: AutoMLRequest) -> None:
    path = f"{job.path('data_split')}.ValidationFraction"
    fraction = get_path(job.request, path)
    if fraction is not None and not 0 < fraction < 1:
        raise RequestValidationError(path, f"must be greater than 0 and less than 1 {got_value(fraction)}")


def _rule_endpoint_name(job: AutoMLRequest) -> None:
    """EndpointName is given if and only if AutoGenerateEndpointName is false."""
    deploy = job.request.get("ModelDeployConfig")
    if deploy is None:
        return
    if deploy.get("AutoGenerateEndpointName"):
        if deploy.get("EndpointName") is not None:
            raise RequestValidationError(
                "ModelDeployConfig.EndpointName", "must not be set when AutoGenerateEndpointName is true"
            )
    elif deploy.get("EndpointName") is None:
        raise RequestValidationError(
            "ModelDeployConfig.EndpointName", "is required when AutoGenerateEndpointName is false or absent"
        )


def _rule_max_candidates(job: AutoMLRequest) -> None:
    path = f"{job.path('completion')}.MaxCandidates"
    candidates = get_path(job.request, path)
    if candidates is None:
        return
    if job.tabular and not 1 <= candidates <= MAX_TABULAR_CANDIDATES:
        raise RequestValidationError(
            path, f"must be at least 1 and at most {MAX_TABULAR_CANDIDATES} {got_value(candidates)}"
        )
    if not job.tabular and candidates != 1:
        raise RequestValidationError(path, f"must be 1 for {job.problem_config} {got_value(candidates)}")


def _rule_output_path_length(job: AutoMLRequest) -> None:
    output_path = get_path(job.request, "OutputDataConfig.S3OutputPath")
    if output_path is not None and len(output_path) > MAX_OUTPUT_PATH_LENGTH:
        raise RequestValidationError(
            "OutputDataConfig.S3OutputPath",
            f"must be {MAX_OUTPUT_PATH_LENGTH} characters or less (got {len(output_path)})",
        )


def _rule_channel_types(job: AutoMLRequest) -> None:
    """At most one training and one validation channel, and a training one."""
    seen: dict[str, str] = {}
    for path, channel in job.channels():
        channel_type = channel.get("ChannelType") or DEFAULT_CHANNEL_TYPE
        if channel_type in seen:
            raise RequestValidationError(
                f"{path}.ChannelType",
                f"at most one {channel_type} channel is allowed ({seen[channel_type]} is {channel_type} too)",
            )
        seen[channel_type] = path
    if seen and "training" not in seen:
        raise RequestValidationError(
            job.path("channels"), "must include a training channel (ChannelType training, the default)"
        )


def _rule_channel_data_source(job: AutoMLRequest) -> None:
    for path, channel in job.channels():
        if channel.get("DataSource") is None:
            raise RequestValidationError(f"{path}.DataSource", "is required")


def _rule_channel_content_type(job: AutoMLRequest) -> None:
    """Tabular and time-series data: CSV with a header, or Parquet."""
    if not job.tabular and job.problem_config != TIME_SERIES_CONFIG:
        return
    for path, channel in job.channels():
        content_type = channel.get("ContentType")
        if content_type is not None and content_type not in CONTENT_TYPES:
            raise RequestValidationError(
                f"{path}.ContentType", f"must be one of {', '.join(CONTENT_TYPES)} {got_value(content_type)}"
            )


def _rule_channels_agree(job: AutoMLRequest) -> None:
    """Training and validation channels share ContentType and TargetAttributeName."""
    channels = list(job.channels())
    if len(channels) < 2:
        return
    (first_path, first), others = channels[0], channels[1:]
    for path, channel in others:
        first_type = first.get("ContentType") or DEFAULT_CONTENT_TYPE
        if (channel.get("ContentType") or DEFAULT_CONTENT_TYPE) != first_type:
            raise RequestValidationError(
                f"{path}.ContentType",
                f"must equal {first_path}.ContentType ({first_type!r}): training and validation channels share it",
            )
        if job.api_version == 1 and channel.get("TargetAttributeName") != first.get("TargetAttributeName"):
            raise RequestValidationError(
                f"{path}.TargetAttributeName",
                f"must equal {first_path}.TargetAttributeName "
                f"({first.get('TargetAttributeName')!r}): "
                f"training and validation channels share it",
            )


def _rule_augmented_manifest(job: AutoMLRequest) -> None:
    """AugmentedManifestFile is for V2 jobs only, and not for tabular data."""
    for path, channel in job.channels():
        data_type = get_path(channel, "DataSource.S3DataSource.S3DataType")
        if data_type != "AugmentedManifestFile":
            continue
        field_path = f"{path}.DataSource.S3DataSource.S3DataType"
        if job.api_version == 1:
            raise RequestValidationError(
                field_path,
                "AugmentedManifestFile is available for CreateAutoMLJobV2 only; use S3Prefix or ManifestFile",
            )
        if job.tabular:
            raise RequestValidationError(
                field_path, "AugmentedManifestFile is not available for tabular jobs; use S3Prefix or ManifestFile"
            )


def _rule_sample_weight(job: AutoMLRequest) -> None:
    """Sample weights: ENSEMBLING mode only (AUTO may become it), never the target column."""
    targets = [target for _, target in job.targets()]
    for path, weight in job.sample_weights():
        if job.mode == "HYPERPARAMETER_TUNING":
            raise RequestValidationError(path, "is supported in ENSEMBLING mode only (Mode is HYPERPARAMETER_TUNING)")
        if weight in targets:
            raise RequestValidationError(path, f"must differ from the target column {weight!r}")


def _rule_unique_tag_keys(job: AutoMLRequest) -> None:
    seen: dict[str, int] = {}
    for index, tag in enumerate(job.request.get("Tags") or ()):
        key = tag.get("Key")
        if key in seen:
            raise RequestValidationError(f"Tags[{index}].Key", f"must be unique: {key!r} is also Tags[{seen[key]}].Key")
        seen[key] = index


SEMANTIC_RULES: tuple[Callable[[AutoMLRequest], None], ...] = (
    _rule_channel_data_source,
    _rule_channel_types,
    _rule_channel_content_type,
    _rule_channels_agree,
    _rule_augmented_manifest,
    _rule_output_path_length,
    _rule_metric_allowed_for_problem,
    _rule_algorithms_config,
    _rule_max_candidates,
    _rule_validation_fraction,
    _rule_sample_weight,
    _rule_endpoint_name,
    _rule_unique_tag_keys,
    check_time_series,
    check_classification,
)


def validate_request(operation: str, request: Mapping[str, Any]) -> None:
    """Raise RequestValidationError for the first rule ``request`` breaks.

    Shape rules apply to any sagemaker operation; the reference's semantic rules
    to CreateAutoMLJob and CreateAutoMLJobV2 (any problem type; see local.jobspec.require_trainable).
    """
    if operation == V2.create_operation:
        explain_frequency(request)
    validate_shape(operation, request)
    if operation in CREATE_OPERATIONS:
        job = automl_request(operation, request)
        for rule in SEMANTIC_RULES:
            rule(job)
