"""Objects at s3:// (through an Airflow AWS connection) or file:// URIs: read, write, list.

The drift check reads training data and captured traffic and writes its reports wherever the job's
data lives: S3 on AWS (or an S3-compatible endpoint), a local directory with the local service.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ObjectStorage:
    def __init__(self, aws_conn_id: str | None = "aws_default"):
        self.aws_conn_id = aws_conn_id
        self._s3: Any = None

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            from airflow.providers.amazon.aws.hooks.s3 import S3Hook

            self._s3 = S3Hook(aws_conn_id=self.aws_conn_id)
        return self._s3

    @staticmethod
    def _parts(uri: str) -> tuple[str, str, str]:
        parts = urlsplit(uri)
        if parts.scheme not in ("s3", "file"):
            raise ValueError(f"{uri}: not an s3:// or file:// URI")
        return parts.scheme, parts.netloc, parts.path

    def read(self, uri: str) -> bytes:
        scheme, bucket, path = self._parts(uri)
        if scheme == "s3":
            body: bytes = self.s3.get_key(path.lstrip("/"), bucket_name=bucket).get()["Body"].read()
            return body
        return Path(path).read_bytes()

    def read_text_if_exists(self, uri: str) -> str | None:
        scheme, bucket, path = self._parts(uri)
        if scheme == "s3":
            if not self.s3.check_for_key(path.lstrip("/"), bucket_name=bucket):
                return None
            return self.read(uri).decode()
        file = Path(path)
        return file.read_text() if file.is_file() else None

    def write(self, uri: str, data: bytes) -> None:
        scheme, bucket, path = self._parts(uri)
        if scheme == "s3":
            self.s3.load_bytes(data, key=path.lstrip("/"), bucket_name=bucket, replace=True)
            return
        file = Path(path)
        file.parent.mkdir(parents=True, exist_ok=True)
        partial = file.with_name(f".{file.name}.partial")
        partial.write_bytes(data)
        partial.replace(file)  # readers never see half a file

    def list_uris(self, uri: str) -> list[str]:
        """The URIs of the objects at ``uri`` (a single object) or under it (a prefix), sorted."""
        scheme, bucket, path = self._parts(uri)
        if scheme == "s3":
            keys = self.s3.list_keys(bucket_name=bucket, prefix=path.lstrip("/")) or []
            return sorted(f"s3://{bucket}/{key}" for key in keys if not key.endswith("/"))
        root = Path(path)
        if root.is_file():
            return [root.as_uri()]
        if not root.is_dir():
            return []
        return sorted(p.as_uri() for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))

    def lines(self, uris: Sequence[str]) -> Iterator[tuple[str, str]]:
        """(uri, line) for every line of the objects, in order."""
        for uri in uris:
            for line in self.read(uri).decode("utf-8").splitlines():
                yield uri, line
