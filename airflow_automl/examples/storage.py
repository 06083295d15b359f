"""The example DAGs' storage location: write and read objects at s3:// (through an AWS connection) or file:// URIs.

The same DAG then runs on AWS, on MinIO and on the local service with a local directory; only the
storage URI (a DAG param or an Airflow Variable) changes.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

SCHEMES = ("s3", "file")


def storage_uri(configured: str, variable: str = "automl_storage_uri") -> str:
    """``configured`` (a DAG param), else the Airflow Variable ``variable``; refused unless s3:// or file://."""
    from airflow.sdk import Variable

    uri = (configured or Variable.get(variable, default="")).rstrip("/")
    if urlsplit(uri).scheme not in SCHEMES:
        raise ValueError(
            f"storage_uri: {uri!r} is not an s3:// or file:// location; set the DAG param storage_uri "
            f"or the Airflow Variable {variable}"
        )
    return uri


def write_bytes(uri: str, data: bytes, aws_conn_id: str = "aws_default") -> None:
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        S3Hook(aws_conn_id=aws_conn_id).load_bytes(
            data, key=parts.path.lstrip("/"), bucket_name=parts.netloc, replace=True
        )
    elif parts.scheme == "file":
        path = Path(parts.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_bytes(data)
        partial.replace(path)  # readers never see half a file
    else:
        raise ValueError(f"{uri}: storage URIs must start with s3:// or file://")


def read_bytes(uri: str, aws_conn_id: str = "aws_default") -> bytes | None:
    """The object's bytes, or None when it does not exist yet."""
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        hook = S3Hook(aws_conn_id=aws_conn_id)
        key = parts.path.lstrip("/")
        if not hook.check_for_key(key, bucket_name=parts.netloc):
            return None
        return hook.get_key(key, bucket_name=parts.netloc).get()["Body"].read()
    if parts.scheme == "file":
        path = Path(parts.path)
        return path.read_bytes() if path.exists() else None
    raise ValueError(f"{uri}: storage URIs must start with s3:// or file://")
