"""Storage: file:// confined to its roots, atomic local writes, s3:// through a real S3 endpoint
(moto's server on a loopback port)."""

import os
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from airflow_automl.local.storage import Storage, StorageAccessError


@pytest.fixture
def root(tmp_path):
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    return allowed


@pytest.fixture
def storage(root):
    return Storage([root])


def test_file_round_trip_and_listing(storage, root):
    storage.write_bytes((root / "data" / "b.csv").as_uri(), b"b")
    storage.write_bytes((root / "data" / "nested" / "a.csv").as_uri(), b"a")
    storage.write_bytes((root / "database.csv").as_uri(), b"c")

    assert storage.read_bytes((root / "data" / "b.csv").as_uri()) == b"b"
    assert storage.list_objects((root / "data").as_uri()) == [
        (root / "data" / "b.csv").as_uri(),
        (root / "data" / "nested" / "a.csv").as_uri(),
    ]
    # A non-directory prefix matches file names the way an S3 key prefix does.
    assert storage.list_objects((root / "data").as_uri() + "b") == [(root / "database.csv").as_uri()]
    assert storage.list_objects((root / "nothing-here").as_uri()) == []


def test_write_is_atomic_and_leaves_no_temp_files(storage, root):
    target = root / "out" / "model.bin"
    storage.write_bytes(target.as_uri(), b"first")
    storage.write_bytes(target.as_uri(), b"second")
    assert target.read_bytes() == b"second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["model.bin"]


def test_upload_and_download_file(storage, root, tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"payload")
    storage.upload_file(source, (root / "up" / "x.bin").as_uri())
    storage.download_file((root / "up" / "x.bin").as_uri(), tmp_path / "back" / "x.bin")
    assert (tmp_path / "back" / "x.bin").read_bytes() == b"payload"


@pytest.mark.parametrize(
    "suffix",
    ["/../outside.txt", "/%2e%2e/outside.txt", "/sub/%2E%2E/%2e%2e/outside.txt"],
    ids=["dotdot", "encoded-dotdot", "encoded-upper"],
)
def test_dot_dot_escapes_are_refused_before_reading(storage, root, suffix):
    (root.parent / "outside.txt").write_bytes(b"secret")
    (root / "sub").mkdir()
    uri = "file://" + str(root) + suffix
    with pytest.raises(StorageAccessError) as caught:
        storage.read_bytes(uri)
    assert uri in str(caught.value)
    assert "outside the allowed file roots" in str(caught.value)


def test_write_outside_roots_is_refused_before_writing(storage, root):
    target = root.parent / "escaped.txt"
    with pytest.raises(StorageAccessError, match="outside the allowed file roots"):
        storage.write_bytes(target.as_uri(), b"x")
    assert not target.exists()


def test_symlink_escape_is_refused(storage, root):
    secret = root.parent / "secret"
    secret.mkdir()
    (secret / "data.csv").write_bytes(b"secret")
    os.symlink(secret, root / "link")
    with pytest.raises(StorageAccessError, match="outside the allowed file roots"):
        storage.read_bytes((root / "link" / "data.csv").as_uri())
    # A symlinked file inside a listed directory is caught too.
    (root / "listed").mkdir()
    os.symlink(secret / "data.csv", root / "listed" / "data.csv")
    with pytest.raises(StorageAccessError, match="outside the allowed file roots"):
        storage.list_objects((root / "listed").as_uri())


def test_a_listing_for_a_page_leaves_a_stray_symlink_out_and_keeps_the_rest(storage, root):
    secret = root.parent / "secret.txt"
    secret.write_bytes(b"secret")
    (root / "report").mkdir()
    (root / "report" / "a.html").write_bytes(b"a")
    (root / "report" / "b.html").write_bytes(b"b")
    os.symlink(secret, root / "report" / "stray.txt")
    assert storage.list_objects((root / "report").as_uri(), skip_outside_roots=True) == [
        (root / "report" / "a.html").as_uri(),
        (root / "report" / "b.html").as_uri(),
    ]
    with pytest.raises(StorageAccessError, match="outside the allowed file roots"):
        storage.list_objects((root / "report").as_uri())  # data listings still refuse it


def test_sibling_directory_with_root_as_name_prefix_is_refused(storage, root):
    sibling = root.parent / (root.name + "-other")
    sibling.mkdir()
    (sibling / "f").write_bytes(b"x")
    with pytest.raises(StorageAccessError, match="outside the allowed file roots"):
        storage.read_bytes((sibling / "f").as_uri())


def test_no_roots_means_no_file_access(tmp_path):
    with pytest.raises(StorageAccessError, match="--file-root"):
        Storage([]).read_bytes((tmp_path / "x").as_uri())


def test_unsupported_scheme_and_remote_host_are_refused(storage):
    with pytest.raises(StorageAccessError, match="unsupported URI scheme"):
        storage.read_bytes("http://example.com/x")
    with pytest.raises(StorageAccessError, match="local path"):
        storage.read_bytes("file://otherhost/etc/passwd")


@pytest.mark.parametrize("uri", ["https://0[", "s3://bucket[/key", "file://[/data.csv"])
def test_unparseable_uri_is_refused_not_a_crash(storage, uri):
    # urlsplit raises ValueError for an unbalanced '[' (read as an IPv6 host).
    with pytest.raises(StorageAccessError, match="not a valid URI"):
        storage.check_uri(uri)


def test_missing_file_is_a_storage_error_naming_the_uri(storage, root):
    uri = (root / "missing.csv").as_uri()
    with pytest.raises(StorageAccessError, match="cannot read file") as caught:
        storage.read_bytes(uri)
    assert uri in str(caught.value)


# ---- s3:// against moto's server -------------------------------------------------------


def test_s3_listing_reads_every_page(s3_endpoint, tmp_path):
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket="paged")
    keys = [f"train/part-{i:04d}.csv" for i in range(1003)]  # more than one 1000-key page
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: client.put_object(Bucket="paged", Key=key, Body=b"x"), keys))
    client.put_object(Bucket="paged", Key="other/ignored.csv", Body=b"x")

    storage = Storage([tmp_path], s3_endpoint_url=s3_endpoint)
    assert storage.list_objects("s3://paged/train/") == [f"s3://paged/{k}" for k in keys]


def test_s3_round_trip(s3_endpoint, tmp_path):
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="trip")
    storage = Storage([tmp_path], s3_endpoint_url=s3_endpoint)
    storage.write_bytes("s3://trip/out/a.bin", b"abc")
    assert storage.read_bytes("s3://trip/out/a.bin") == b"abc"
    local = tmp_path / "file.bin"
    local.write_bytes(b"uploaded")
    storage.upload_file(local, "s3://trip/out/b.bin")
    storage.download_file("s3://trip/out/b.bin", tmp_path / "down" / "b.bin")
    assert (tmp_path / "down" / "b.bin").read_bytes() == b"uploaded"
    assert storage.list_objects("s3://trip/out") == ["s3://trip/out/a.bin", "s3://trip/out/b.bin"]


def test_s3_missing_object_and_bucket_are_storage_errors(s3_endpoint, tmp_path):
    storage = Storage([tmp_path], s3_endpoint_url=s3_endpoint)
    with pytest.raises(StorageAccessError, match="s3://no-such-bucket/x"):
        storage.read_bytes("s3://no-such-bucket/x")
    with pytest.raises(StorageAccessError, match="cannot list"):
        storage.list_objects("s3://no-such-bucket/prefix")
