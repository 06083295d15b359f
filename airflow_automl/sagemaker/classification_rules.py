"""The rules of CreateAutoMLJobV2's TextClassificationJobConfig and ImageClassificationJobConfig
that botocore's model states in prose (its shapes are checked by airflow_automl.sagemaker.shapes
first), as one rule function that airflow_automl.sagemaker.rules runs for every request.

Text classification reads CSV (with a header) or Parquet with a text column and a label column;
image classification reads images (an S3 prefix of label folders, or an augmented manifest).
"""

from __future__ import annotations

from airflow_automl.sagemaker.automl_request import AutoMLRequest
from airflow_automl.sagemaker.shapes import RequestValidationError, got_value

TEXT_CLASSIFICATION_CONFIG = "TextClassificationJobConfig"
IMAGE_CLASSIFICATION_CONFIG = "ImageClassificationJobConfig"
TEXT_CONFIG_PATH = f"AutoMLProblemTypeConfig.{TEXT_CLASSIFICATION_CONFIG}"

TEXT_CONTENT_TYPES: tuple[str, ...] = ("text/csv;header=present", "x-application/vnd.amazon+parquet")
TEXT_DATA_TYPES: tuple[str, ...] = ("S3Prefix", "ManifestFile")
IMAGE_CONTENT_TYPES: tuple[str, ...] = ("image/png", "image/jpeg", "image/*")
IMAGE_DATA_TYPES: tuple[str, ...] = ("S3Prefix", "AugmentedManifestFile")
DEFAULT_IMAGE_CONTENT_TYPE = "image/*"


def check_classification(job: AutoMLRequest) -> None:
    """Text: two different columns, CSV or Parquet channels from a prefix or a manifest.
    Images: image content types, from a prefix of label folders or an augmented manifest."""
    if job.problem_config == TEXT_CLASSIFICATION_CONFIG:
        config = job.request["AutoMLProblemTypeConfig"][TEXT_CLASSIFICATION_CONFIG]
        content, label = config.get("ContentColumn"), config.get("TargetLabelColumn")
        if content == label:
            raise RequestValidationError(
                f"{TEXT_CONFIG_PATH}.TargetLabelColumn",
                f"must differ from ContentColumn (both are {content!r}): one column holds the text, another the label",
            )
        _check_channels(job, TEXT_CONTENT_TYPES, TEXT_DATA_TYPES, "text classification")
    elif job.problem_config == IMAGE_CLASSIFICATION_CONFIG:
        _check_channels(job, IMAGE_CONTENT_TYPES, IMAGE_DATA_TYPES, "image classification")


def _check_channels(job: AutoMLRequest, content_types: tuple[str, ...], data_types: tuple[str, ...], what: str) -> None:
    for path, channel in job.channels():
        content_type = channel.get("ContentType")
        if content_type is not None and content_type not in content_types:
            raise RequestValidationError(
                f"{path}.ContentType",
                f"must be one of {', '.join(content_types)} for {what} {got_value(content_type)}",
            )
        source = (channel.get("DataSource") or {}).get("S3DataSource") or {}
        data_type = source.get("S3DataType")
        if data_type is not None and data_type not in data_types:
            raise RequestValidationError(
                f"{path}.DataSource.S3DataSource.S3DataType",
                f"must be one of {', '.join(data_types)} for {what} {got_value(data_type)}",
            )
