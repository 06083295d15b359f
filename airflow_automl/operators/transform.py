"""The Amazon provider's SageMakerTransformOperator, also for transform input at file:// URIs.

The provider's hook checks that a transform's s3:// input exists before it creates the job; a
file:// URI (storage under the local service's file roots) cannot pass that check, and the
service checks such input itself, naming the URI when it is not under a root. Everything else,
s3:// input included, is the provider's own code.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from airflow.providers.amazon.aws.hooks.sagemaker import SageMakerHook
from airflow.providers.amazon.aws.operators.sagemaker import SageMakerTransformOperator


class FileOrS3SageMakerHook(SageMakerHook):
    def check_s3_url(self, s3url: str) -> bool:
        if urlsplit(s3url).scheme == "file":
            return True
        return super().check_s3_url(s3url)


class FileOrS3TransformOperator(SageMakerTransformOperator):
    """SageMakerTransformOperator whose input may also be file:// on the local service."""

    aws_hook_class = FileOrS3SageMakerHook
