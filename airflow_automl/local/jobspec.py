"""The local service's view of an AutoML job (``JobSpec``), whichever API version created it.

``job_spec_from_request`` validates a CreateAutoMLJob, or a tabular, time-series forecasting,
text or image classification CreateAutoMLJobV2 request, and turns it into the one view the store keeps and the training
engine works from.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import asdict, dataclass

from airflow_automl.sagemaker.api_versions import (
    CREATE_OPERATIONS,
    TABULAR_CONFIG,
    get_path,
)
from airflow_automl.sagemaker.automl_request import DEFAULT_MODE, automl_request
from airflow_automl.sagemaker.classification_rules import IMAGE_CLASSIFICATION_CONFIG, TEXT_CLASSIFICATION_CONFIG
from airflow_automl.sagemaker.forecasting_rules import CONFIG_PATH as TIME_SERIES_PATH
from airflow_automl.sagemaker.forecasting_rules import (
    DEFAULT_QUANTILES,
    TIME_SERIES_CONFIG,
)
from airflow_automl.sagemaker.rules import (
    DEFAULT_CHANNEL_TYPE,
    DEFAULT_COMPRESSION,
    DEFAULT_CONTENT_TYPE,
    DEFAULT_VALIDATION_FRACTION,
    validate_request,
)
from airflow_automl.sagemaker.shapes import RequestValidationError

TRAINED_PROBLEM_CONFIGS = (
    TABULAR_CONFIG,
    TIME_SERIES_CONFIG,
    TEXT_CLASSIFICATION_CONFIG,
    IMAGE_CLASSIFICATION_CONFIG,
)


def require_trainable(spec_or_request: JobSpec | Mapping) -> None:
    """Refuse a V2 request whose problem type the local service does not train (it trains tabular,
    time-series forecasting, text and image classification problems)."""
    if isinstance(spec_or_request, JobSpec) or not isinstance(spec_or_request, Mapping):
        return  # a JobSpec is trainable by construction; a malformed request is validate_request's to report
    problem_configs = spec_or_request.get("AutoMLProblemTypeConfig")
    if not isinstance(problem_configs, Mapping):
        return  # a V1 request (always tabular), or a malformed one
    for name, value in problem_configs.items():
        if value is not None and name not in TRAINED_PROBLEM_CONFIGS:
            raise RequestValidationError(
                f"AutoMLProblemTypeConfig.{name}",
                f"is not supported here: only tabular, time-series forecasting, text and image classification "
                f"problems are trained locally (use {', '.join(TRAINED_PROBLEM_CONFIGS)})",
            )


@dataclass(frozen=True)
class TimeSeriesSpec:
    """A TimeSeriesForecastingJobConfig as the forecasting engine uses it."""

    frequency: str
    horizon: int
    timestamp: str
    item_id: str
    grouping: tuple[str, ...] = ()
    quantiles: tuple[str, ...] = DEFAULT_QUANTILES
    filling: dict | None = None  # column -> {method: value}
    aggregation: dict | None = None  # target column -> method
    holiday_country: str | None = None

    @classmethod
    def from_config(cls, config: Mapping) -> TimeSeriesSpec:
        series = config["TimeSeriesConfig"]
        transformations = config.get("Transformations") or {}
        holidays = config.get("HolidayConfig") or []
        return cls(
            frequency=config["ForecastFrequency"],
            horizon=int(config["ForecastHorizon"]),
            timestamp=series["TimestampAttributeName"],
            item_id=series["ItemIdentifierAttributeName"],
            grouping=tuple(series.get("GroupingAttributeNames") or ()),
            quantiles=tuple(config.get("ForecastQuantiles") or DEFAULT_QUANTILES),
            filling=copy.deepcopy(dict(transformations["Filling"])) if transformations.get("Filling") else None,
            aggregation=dict(transformations["Aggregation"]) if transformations.get("Aggregation") else None,
            holiday_country=holidays[0].get("CountryCode") if holidays else None,
        )


def check_holiday_country(spec: JobSpec) -> None:
    """The local engine takes holiday calendars from the holidays package: refuse a country it lacks."""
    country = spec.time_series.holiday_country if spec.time_series else None
    if country is None:
        return
    import holidays

    if country not in holidays.list_supported_countries():
        raise RequestValidationError(
            f"{TIME_SERIES_PATH}.HolidayConfig[0].CountryCode",
            f"has no holiday calendar here (the holidays package knows no {country!r}); "
            "use an ISO 3166-1 alpha-2 code such as US, DE or FR",
        )


@dataclass(frozen=True)
class TextSpec:
    """A TextClassificationJobConfig as the text engine uses it (the label column is JobSpec.target)."""

    content_column: str


@dataclass(frozen=True)
class Channel:
    uri: str
    data_type: str = "S3Prefix"  # S3Prefix | ManifestFile
    compression: str = DEFAULT_COMPRESSION  # None | Gzip
    content_type: str = DEFAULT_CONTENT_TYPE  # text/csv;header=present | x-application/vnd.amazon+parquet
    channel_type: str = DEFAULT_CHANNEL_TYPE  # training | validation
    target: str = ""
    sample_weight: str | None = None


@dataclass(frozen=True)
class JobSpec:
    """A tabular AutoML job as the engine sees it, whichever API version created it."""

    name: str
    api_version: int
    channels: tuple[Channel, ...]
    output_path: str
    target: str
    problem_type: str | None = None  # None: inferred from the data
    metric_name: str | None = None  # None: metrics.DEFAULT_OBJECTIVE of its problem type
    mode: str = DEFAULT_MODE
    algorithms: tuple[str, ...] = ()  # empty: every algorithm of the mode
    max_candidates: int | None = None
    max_runtime_per_training_job: int | None = None
    max_job_runtime: int | None = None
    validation_fraction: float = DEFAULT_VALIDATION_FRACTION
    feature_specification_uri: str | None = None
    generate_candidate_definitions_only: bool = False
    endpoint_name: str | None = None
    auto_generate_endpoint_name: bool = False
    sample_weight: str | None = None
    # Recorded and returned by Describe; not enforced by the local service.
    kms_key_id: str | None = None
    volume_kms_key_id: str | None = None
    vpc_config: dict | None = None
    enable_inter_container_traffic_encryption: bool = False
    # Time-series forecasting jobs (TimeSeriesForecastingJobConfig); None for tabular ones.
    time_series: TimeSeriesSpec | None = None
    # Text classification jobs (TextClassificationJobConfig); None for the others.
    text: TextSpec | None = None
    # Image classification jobs (ImageClassificationJobConfig).
    image_classification: bool = False

    @property
    def training_channel(self) -> Channel:
        return next(c for c in self.channels if c.channel_type == "training")

    @property
    def validation_channel(self) -> Channel | None:
        return next((c for c in self.channels if c.channel_type == "validation"), None)

    def to_dict(self) -> dict:
        data = asdict(self)
        data["channels"] = [asdict(channel) for channel in self.channels]
        data["algorithms"] = list(self.algorithms)
        if self.time_series is not None:
            data["time_series"]["grouping"] = list(self.time_series.grouping)
            data["time_series"]["quantiles"] = list(self.time_series.quantiles)
        return data

    @classmethod
    def from_dict(cls, data: Mapping) -> JobSpec:
        values = dict(data)
        values["channels"] = tuple(Channel(**channel) for channel in values.get("channels", ()))
        values["algorithms"] = tuple(values.get("algorithms", ()))
        if values.get("vpc_config") is not None:
            values["vpc_config"] = copy.deepcopy(dict(values["vpc_config"]))
        if values.get("time_series") is not None:
            series = dict(values["time_series"])
            series["grouping"] = tuple(series.get("grouping", ()))
            series["quantiles"] = tuple(series.get("quantiles", DEFAULT_QUANTILES))
            values["time_series"] = TimeSeriesSpec(**series)
        if values.get("text") is not None:
            values["text"] = TextSpec(**values["text"])
        return cls(**values)


def _channel(channel: Mapping, target: str, sample_weight: str | None) -> Channel:
    source = channel["DataSource"]["S3DataSource"]
    return Channel(
        uri=source["S3Uri"],
        data_type=source["S3DataType"],
        compression=channel.get("CompressionType") or DEFAULT_COMPRESSION,
        content_type=channel.get("ContentType") or DEFAULT_CONTENT_TYPE,
        channel_type=channel.get("ChannelType") or DEFAULT_CHANNEL_TYPE,
        target=target,
        sample_weight=sample_weight,
    )


def job_spec_from_request(operation: str, request: Mapping) -> JobSpec:
    """Validate a CreateAutoMLJob, or a tabular, time-series or text classification
    CreateAutoMLJobV2 request, and return its JobSpec."""
    if operation not in CREATE_OPERATIONS:
        raise ValueError(f"job specs come from {' or '.join(CREATE_OPERATIONS)}, not {operation}")
    validate_request(operation, request)
    require_trainable(request)
    job = automl_request(operation, request)
    time_series = None
    text = None
    if job.problem_config == TEXT_CLASSIFICATION_CONFIG:
        config = request["AutoMLProblemTypeConfig"][TEXT_CLASSIFICATION_CONFIG]
        text = TextSpec(content_column=config["ContentColumn"])
        target, sample_weight = config["TargetLabelColumn"], None
        channels = tuple(_channel(c, target, None) for _, c in job.channels())
    elif job.problem_config == IMAGE_CLASSIFICATION_CONFIG:
        target, sample_weight = "label", None  # the label folder, or the manifest's label attribute
        channels = tuple(_channel(c, target, None) for _, c in job.channels())
    elif job.problem_config == TIME_SERIES_CONFIG:
        config = request["AutoMLProblemTypeConfig"][TIME_SERIES_CONFIG]
        time_series = TimeSeriesSpec.from_config(config)
        target, sample_weight = config["TimeSeriesConfig"]["TargetAttributeName"], None
        channels = tuple(_channel(c, target, None) for _, c in job.channels())
    elif job.api_version == 1:
        channels = tuple(
            _channel(c, c["TargetAttributeName"], c.get("SampleWeightAttributeName")) for _, c in job.channels()
        )
        target = channels[0].target
        sample_weight = next((c.sample_weight for c in channels if c.channel_type == "training"), None)
    else:
        target, sample_weight = job.value("target"), job.value("sample_weight")
        channels = tuple(_channel(c, target, sample_weight) for _, c in job.channels())
    completion = job.value("completion") or {}
    algorithms_config = job.value("algorithms_config") or []
    deploy = request.get("ModelDeployConfig") or {}
    security = job.value("security") or {}
    fraction = get_path(request, f"{job.path('data_split')}.ValidationFraction")
    return JobSpec(
        name=request["AutoMLJobName"],
        api_version=job.api_version,
        channels=channels,
        output_path=request["OutputDataConfig"]["S3OutputPath"],
        target=target,
        problem_type=job.value("problem_type"),
        metric_name=get_path(request, "AutoMLJobObjective.MetricName"),
        mode=job.mode,
        algorithms=tuple(algorithms_config[0].get("AutoMLAlgorithms") or ()) if algorithms_config else (),
        max_candidates=completion.get("MaxCandidates"),
        max_runtime_per_training_job=completion.get("MaxRuntimePerTrainingJobInSeconds"),
        max_job_runtime=completion.get("MaxAutoMLJobRuntimeInSeconds"),
        validation_fraction=float(fraction) if fraction is not None else DEFAULT_VALIDATION_FRACTION,
        feature_specification_uri=job.value("feature_specification"),
        generate_candidate_definitions_only=bool(job.value("candidate_definitions_only")),
        endpoint_name=deploy.get("EndpointName"),
        auto_generate_endpoint_name=bool(deploy.get("AutoGenerateEndpointName")),
        sample_weight=sample_weight,
        kms_key_id=get_path(request, "OutputDataConfig.KmsKeyId"),
        volume_kms_key_id=security.get("VolumeKmsKeyId"),
        vpc_config=copy.deepcopy(dict(security["VpcConfig"])) if security.get("VpcConfig") else None,
        enable_inter_container_traffic_encryption=bool(security.get("EnableInterContainerTrafficEncryption")),
        time_series=time_series,
        text=text,
        image_classification=job.problem_config == IMAGE_CLASSIFICATION_CONFIG,
    )
