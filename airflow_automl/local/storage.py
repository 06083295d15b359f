"""Reading and writing job data by URI: ``s3://`` through boto3 (any S3-compatible endpoint)
and ``file://`` on local disk, confined to the roots the service was started with."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Protocol, Self
from urllib.parse import SplitResult, unquote, urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Longest file name and path the local file system takes (ENAMETOOLONG beyond them).
_NAME_MAX = 255
_PATH_MAX = 4096

# Temporary files are created private (0600); the finished file gets ordinary permissions.
_FILE_MODE = 0o666 & ~_current_umask()


class ReadStream(Protocol):
    """What ``Storage.open_read`` gives: a local file or an S3 object's body, read in blocks."""

    def read(self, size: int = -1, /) -> bytes: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None, /
    ) -> None: ...


class StorageAccessError(Exception):
    """A URI was refused (outside the allowed roots, unsupported scheme) or could not be
    read or written. The message names the URI and the rule."""


class Storage:
    # For writers in the background (data capture): an unreachable S3 endpoint fails a write in
    # seconds rather than holding it (and the shutdown's last write) for minutes of retries.
    BACKGROUND_S3_CONFIG = Config(connect_timeout=5, read_timeout=30, retries={"max_attempts": 2})

    def __init__(self, file_roots: list[Path], s3_endpoint_url: str | None = None, s3_config: Config | None = None):
        # Resolve the roots once, so a root that is itself a symlink compares by its target.
        self.file_roots = [Path(os.path.realpath(root)) for root in file_roots]
        self.s3_endpoint_url = s3_endpoint_url
        self.s3_config = s3_config
        self._s3_client = None

    # ---- public interface -------------------------------------------------------------

    def list_objects(self, uri: str, skip_outside_roots: bool = False) -> list[str]:
        """Every object URI under a prefix, sorted. For file:// a prefix is a directory
        (all files below it) or a file-name prefix, like an S3 key prefix. A file below it that
        resolves outside the allowed roots (a symlink) is refused with StorageAccessError, or,
        with skip_outside_roots, left out of the listing (what a page listing a folder wants: one
        stray entry must not hide the others)."""
        scheme = _scheme(uri)
        if scheme == "file":
            return self._list_files(uri, skip_outside_roots)
        bucket, prefix = _split_s3(uri)
        found: list[str] = []
        try:
            paginator = self._s3().get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    if not item["Key"].endswith("/"):  # "folder" placeholder objects
                        found.append(f"s3://{bucket}/{item['Key']}")
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{uri}: cannot list objects under this S3 prefix: {error}") from error
        return sorted(found)

    def object_exists(self, uri: str) -> bool:
        """Whether ``uri`` names one object: a file under a root, or an S3 key as written (raw,
        not percent-decoded), the way a manifest's entries name them."""
        if _scheme(uri) == "file":
            return self._local_path(uri).is_file()
        bucket, key = _split_s3(uri)
        try:
            self._s3().head_object(Bucket=bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise StorageAccessError(f"{uri}: cannot look up S3 object: {error}") from error
        except BotoCoreError as error:
            raise StorageAccessError(f"{uri}: cannot look up S3 object: {error}") from error
        return True

    def open_read(self, uri: str) -> ReadStream:
        """A binary stream of one object, to read in blocks; use it as a context manager."""
        if _scheme(uri) == "file":
            path = self._local_path(uri)
            try:
                return open(path, "rb")
            except OSError as error:
                raise StorageAccessError(f"{uri}: cannot read file: {error.strerror or error}") from error
        bucket, key = _split_s3(uri)
        try:
            return _S3Stream(self._s3().get_object(Bucket=bucket, Key=key)["Body"], uri)
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{uri}: cannot read S3 object: {error}") from error

    def read_bytes(self, uri: str) -> bytes:
        if _scheme(uri) == "file":
            path = self._local_path(uri)
            try:
                return path.read_bytes()
            except OSError as error:
                raise StorageAccessError(f"{uri}: cannot read file: {error.strerror or error}") from error
        bucket, key = _split_s3(uri)
        try:
            return self._s3().get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{uri}: cannot read S3 object: {error}") from error

    def write_bytes(self, uri: str, data: bytes) -> None:
        if _scheme(uri) == "file":
            path = self._local_path(uri)
            self._atomic_local_write(uri, path, lambda handle: handle.write(data))
            return
        bucket, key = _split_s3(uri)
        try:
            self._s3().put_object(Bucket=bucket, Key=key, Body=data)
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{uri}: cannot write S3 object: {error}") from error

    def upload_file(self, local_path: Path, uri: str) -> None:
        local_path = Path(local_path)
        if _scheme(uri) == "file":
            path = self._local_path(uri)

            def copy(handle):
                with open(local_path, "rb") as source:
                    shutil.copyfileobj(source, handle)

            self._atomic_local_write(uri, path, copy)
            return
        bucket, key = _split_s3(uri)
        try:
            self._s3().upload_file(str(local_path), bucket, key)
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{uri}: cannot upload {local_path.name} to S3: {error}") from error

    def download_file(self, uri: str, local_path: Path) -> None:
        local_path = Path(local_path)
        local_path.parent.mkdir(parents=True, exist_ok=True)
        if _scheme(uri) == "file":
            path = self._local_path(uri)
            try:
                shutil.copyfile(path, local_path)
            except OSError as error:
                raise StorageAccessError(f"{uri}: cannot read file: {error.strerror or error}") from error
            return
        bucket, key = _split_s3(uri)
        try:
            self._s3().download_file(bucket, key, str(local_path))
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{uri}: cannot download S3 object: {error}") from error

    def check_uri(self, uri: str) -> None:
        """Raise StorageAccessError if ``uri`` would be refused: an unsupported scheme, or a
        file:// path outside the roots. Reads and writes nothing."""
        if _scheme(uri) == "file":
            self._local_path(uri)

    # ---- file:// ----------------------------------------------------------------------

    def _local_path(self, uri: str) -> Path:
        """The real path a file:// URI names, refused unless it lies under an allowed root.
        realpath resolves '..' (also after percent-decoding) and symlinks before the check."""
        parts = _split(uri)
        if parts.netloc not in ("", "localhost"):
            raise StorageAccessError(
                f"{uri}: file:// URIs must name a local path (file:///path), not host {parts.netloc!r}"
            )
        raw = unquote(parts.path)
        if not raw.startswith("/"):
            raise StorageAccessError(f"{uri}: file:// URIs must hold an absolute path (file:///path)")
        if "\x00" in raw:
            raise StorageAccessError(f"{uri}: file:// path contains a NUL character")
        try:
            encoded = raw.encode()
        except UnicodeEncodeError as error:
            raise StorageAccessError(f"{uri}: file:// path is not valid Unicode text ({error.reason})") from error
        too_long = next((part for part in encoded.split(b"/") if len(part) > _NAME_MAX), None)
        if too_long is not None:
            raise StorageAccessError(
                f"{uri}: file:// path has a segment of {len(too_long)} bytes; a file or directory name "
                f"may have at most {_NAME_MAX} bytes"
            )
        if len(encoded) > _PATH_MAX:
            raise StorageAccessError(f"{uri}: file:// path is longer than {_PATH_MAX} bytes")
        resolved = Path(os.path.realpath(raw))
        if not self.file_roots:
            raise StorageAccessError(
                f"{uri}: file:// access is disabled; start the service with --file-root DIR to allow a directory"
            )
        for root in self.file_roots:
            if resolved == root or resolved.is_relative_to(root):
                return resolved
        allowed = ", ".join(str(root) for root in self.file_roots)
        raise StorageAccessError(
            f"{uri}: path resolves to {resolved}, outside the allowed file roots ({allowed}); "
            "file:// URIs may only name paths under a --file-root directory ('..' and symlinks are resolved first)"
        )

    def _list_files(self, uri: str, skip_outside_roots: bool = False) -> list[str]:
        path = self._local_path(uri)
        if path.is_dir():
            candidates = (p for p in path.rglob("*") if p.is_file())
        else:
            # A file-name prefix, as with S3 keys: "data/train" matches "data/train.csv".
            parent = path.parent
            if not parent.is_dir():
                return []
            candidates = (p for p in parent.rglob("*") if p.is_file() and str(p).startswith(str(path)))
        found = []
        for candidate in candidates:
            # A symlink inside a root may point outside it: check every file, not only the prefix.
            try:
                real = self._local_path(candidate.as_uri())
            except StorageAccessError as error:
                if not skip_outside_roots:
                    raise
                log.warning("left out of the listing of %s: %s", uri, error)
                continue
            found.append(real.as_uri() if real == candidate else candidate.as_uri())
        return sorted(found)

    def _atomic_local_write(self, uri: str, path: Path, write: Callable[[BinaryIO], object]) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            try:
                with open(descriptor, "wb") as handle:
                    write(handle)
                os.chmod(temporary, _FILE_MODE)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            raise StorageAccessError(f"{uri}: cannot write file: {error.strerror or error}") from error

    # ---- s3:// ------------------------------------------------------------------------

    def _s3(self):
        if self._s3_client is None:
            self._s3_client = boto3.client("s3", endpoint_url=self.s3_endpoint_url, config=self.s3_config)
        return self._s3_client


class _S3Stream:
    """An S3 object's body whose read errors are told as StorageAccessError."""

    def __init__(self, body, uri: str):
        self._body = body
        self._uri = uri

    def read(self, size: int = -1) -> bytes:
        try:
            return self._body.read(None if size < 0 else size)
        except (ClientError, BotoCoreError) as error:
            raise StorageAccessError(f"{self._uri}: cannot read S3 object: {error}") from error

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _S3Stream:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None, /
    ) -> None:
        self.close()


def _scheme(uri: str) -> str:
    scheme = _split(uri).scheme.lower()
    if scheme not in ("s3", "file"):
        raise StorageAccessError(f"{uri}: unsupported URI scheme {scheme!r}; use s3:// or file://")
    return scheme


def _split(uri: str) -> SplitResult:
    """urlsplit, with its ValueError (e.g. an unbalanced '[' read as an IPv6 host) told as a
    refused URI rather than escaping as a crash."""
    try:
        return urlsplit(uri)
    except ValueError as error:
        raise StorageAccessError(f"{uri}: not a valid URI: {error}") from error


def _split_s3(uri: str) -> tuple[str, str]:
    parts = _split(uri)
    if not parts.netloc:
        raise StorageAccessError(f"{uri}: s3:// URIs must name a bucket (s3://bucket/key)")
    return parts.netloc, parts.path.lstrip("/")
