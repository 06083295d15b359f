"""What a CreateTransformJob request asks of the local service, checked once at create time.

The request shape is botocore's; these are the rules on top of it: which of SageMaker's
settings the local service can carry out (S3Prefix or ManifestFile input, text/csv or JSON
Lines, SplitType Line or None) and how they combine, each refused with the field at fault.
"""

from __future__ import annotations

from dataclasses import dataclass

from airflow_automl.local.serving.formats import CSV, IMAGE_TYPES, JSON, JSON_LINES
from airflow_automl.local.transform.data_processing import JsonPathFilter
from airflow_automl.sagemaker.shapes import RequestValidationError

# What a transform's records may be, and what it may ask the predictions in.
TRANSFORM_CONTENT_TYPES = (CSV, JSON_LINES, *IMAGE_TYPES)
TRANSFORM_ACCEPT_TYPES = (CSV, JSON_LINES, JSON)
DEFAULT_MAX_PAYLOAD_MB = 6  # SageMaker's default MaxPayloadInMB
MAX_PAYLOAD_MB = 100  # SageMaker's limit on MaxPayloadInMB
MB = 1024 * 1024
# Autopilot's inference containers: which keys they answer per record, e.g. "predicted_label,probability".
INFERENCE_OUTPUT = "SAGEMAKER_INFERENCE_OUTPUT"
INFERENCE_KEYS = ("predicted_label", "probability", "probabilities", "labels")


@dataclass(frozen=True)
class TransformSettings:
    data_type: str  # S3Prefix | ManifestFile
    input_uri: str
    content_type: str
    compression: str  # None | Gzip
    split_type: str  # Line | None
    batch_strategy: str  # MultiRecord | SingleRecord
    max_payload_bytes: int | None  # None: no limit (MaxPayloadInMB = 0)
    output_path: str
    accept: str
    assemble_with: str  # Line | None
    input_filter: JsonPathFilter
    output_filter: JsonPathFilter
    join_input: bool
    inference_keys: list[str] | None  # from Environment; None: the model's container decides

    @property
    def processes_records(self) -> bool:
        """Whether each record goes through the DataProcessing filters or join, one by one."""
        return self.join_input or not self.input_filter.is_root or not self.output_filter.is_root


def inference_keys(environment: dict | None, field: str) -> list[str] | None:
    """SAGEMAKER_INFERENCE_OUTPUT of an environment as a list of keys, checked."""
    value = (environment or {}).get(INFERENCE_OUTPUT)
    if value is None:
        return None
    keys = [key.strip().lower() for key in value.split(",") if key.strip()]
    unknown = [key for key in keys if key not in INFERENCE_KEYS]
    if not keys or unknown:
        raise RequestValidationError(
            f"{field}.{INFERENCE_OUTPUT}", f"{value!r}: use a comma-separated list of {', '.join(INFERENCE_KEYS)}"
        )
    return keys


def forecast_split_error(model_name: str, split_type: str) -> RequestValidationError:
    """A forecasting model reads each item's whole history: split into lines, a file forecasts nothing."""
    return RequestValidationError(
        "TransformInput.SplitType",
        f"{split_type!r} splits each input file into records, but model {model_name} is a time-series forecasting "
        "model, which reads a whole file of history (with its header row) as one request: use None "
        "(and BatchStrategy SingleRecord)",
    )


def _media_type(value: str | None) -> str | None:
    return value.split(";")[0].strip().lower() if value else None


def transform_settings(request: dict) -> TransformSettings:
    """The settings of a CreateTransformJob request; RequestValidationError names the field and
    the rule for anything the local service cannot carry out."""
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    transform_input = request["TransformInput"]
    output = request["TransformOutput"]
    processing = request.get("DataProcessing") or {}

    data_type = source["S3DataType"]
    if data_type not in ("S3Prefix", "ManifestFile"):
        raise RequestValidationError(
            "TransformInput.DataSource.S3DataSource.S3DataType",
            f"{data_type!r} is not supported by the local service; use S3Prefix or ManifestFile",
        )
    content_type = _media_type(transform_input.get("ContentType")) or CSV
    if content_type not in TRANSFORM_CONTENT_TYPES:
        raise RequestValidationError(
            "TransformInput.ContentType",
            f"{transform_input.get('ContentType')!r} is not supported; the model reads {CSV} or {JSON_LINES} "
            f"(an image classifier: {', '.join(IMAGE_TYPES)})",
        )
    split_type = transform_input.get("SplitType") or "None"
    if content_type in IMAGE_TYPES and split_type != "None":
        raise RequestValidationError(
            "TransformInput.SplitType",
            f"{split_type!r} would cut images apart; use None: each {content_type} file is one image",
        )
    if split_type not in ("Line", "None"):
        raise RequestValidationError(
            "TransformInput.SplitType", f"{split_type!r} is not supported for {content_type}; use Line or None"
        )
    accept = _media_type(output.get("Accept")) or (CSV if content_type == CSV else JSON_LINES)
    if accept not in TRANSFORM_ACCEPT_TYPES:
        raise RequestValidationError(
            "TransformOutput.Accept",
            f"{output.get('Accept')!r} is not supported; use {', '.join(TRANSFORM_ACCEPT_TYPES)}",
        )
    payload_mb = request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB)
    if payload_mb > MAX_PAYLOAD_MB:
        raise RequestValidationError("MaxPayloadInMB", f"{payload_mb} is more than the maximum of {MAX_PAYLOAD_MB}")
    batch_strategy = request.get("BatchStrategy") or ("MultiRecord" if split_type == "Line" else "SingleRecord")
    if batch_strategy == "MultiRecord" and split_type == "None":
        raise RequestValidationError(
            "BatchStrategy", "MultiRecord needs TransformInput.SplitType Line (with None each file is one record)"
        )

    join_input = (processing.get("JoinSource") or "None") == "Input"
    settings = TransformSettings(
        data_type=data_type,
        input_uri=source["S3Uri"],
        content_type=content_type,
        compression=transform_input.get("CompressionType") or "None",
        split_type=split_type,
        batch_strategy=batch_strategy,
        max_payload_bytes=payload_mb * MB if payload_mb else None,
        output_path=output["S3OutputPath"],
        accept=accept,
        assemble_with=output.get("AssembleWith") or "None",
        input_filter=JsonPathFilter.compile("DataProcessing.InputFilter", processing.get("InputFilter")),
        output_filter=JsonPathFilter.compile("DataProcessing.OutputFilter", processing.get("OutputFilter")),
        join_input=join_input,
        inference_keys=inference_keys(request.get("Environment"), "Environment"),
    )
    if settings.processes_records:
        if split_type != "Line":
            raise RequestValidationError(
                "TransformInput.SplitType",
                "DataProcessing's filters and JoinSource work on records: set SplitType to Line",
            )
        joined_type = CSV if content_type == CSV else JSON_LINES
        if join_input and (accept == CSV) != (content_type == CSV):
            raise RequestValidationError(
                "TransformOutput.Accept",
                f"JoinSource Input joins each prediction to its {content_type} input record, so the output is "
                f"{joined_type} too: set Accept to {joined_type}",
            )
        if accept == JSON:
            raise RequestValidationError(
                "TransformOutput.Accept",
                f"with DataProcessing each record's prediction is one line: use {CSV} or {JSON_LINES}",
            )
    return settings
