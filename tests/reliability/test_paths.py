"""URIs that try to escape the service's --file-root are refused before any read or write:
CreateAutoMLJob answers a ValidationException naming the field and the URI, so no job (and no
worker) exists for them; a symlink swapped in after the job was accepted is caught when the
engine reads. Nothing is written outside the root."""

from __future__ import annotations

import contextlib
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from botocore.exceptions import ClientError

from tests.fixtures.service import start_service

pytestmark = [pytest.mark.reliability, pytest.mark.integration]


def _write_dataset(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=600), "b": rng.integers(0, 9, 600)})
    frame["label"] = (frame["a"] + rng.normal(scale=0.5, size=600) > 0).astype(int)
    frame.to_csv(path, index=False)


def _snapshot(directory: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in directory.rglob("*")}


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    base = tmp_path_factory.mktemp("paths")
    service = start_service(base, max_concurrent_jobs=3)
    root = service.file_root
    outside = base / "outside"
    _write_dataset(outside / "data" / "train.csv")
    _write_dataset(root / "inside" / "train.csv")
    (root / "link-to-outside").symlink_to(outside, target_is_directory=True)
    (root / "inside-file-link.csv").symlink_to(outside / "data" / "train.csv")
    yield service, root, outside
    service.stop()


def _request(name: str, input_uri: str, output_uri: str) -> dict:
    return {
        "AutoMLJobName": name,
        "AutoMLJobInputDataConfig": [
            {"ChannelType": "training", "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": input_uri}}}
        ],
        "OutputDataConfig": {"S3OutputPath": output_uri},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "AutoMLProblemTypeConfig": {
            "TabularJobConfig": {
                "TargetAttributeName": "label",
                "Mode": "ENSEMBLING",
                "CompletionCriteria": {"MaxCandidates": 1, "MaxRuntimePerTrainingJobInSeconds": 5},
            }
        },
    }


ESCAPING_INPUTS = {
    "dot-dot": "{root}/../outside/data/train.csv",
    "dot-dot-deep": "{root}/inside/../../outside/data/",
    "encoded-dots": "{root}/%2e%2e/outside/data/train.csv",
    "encoded-dots-and-slash": "{root}/%2E%2E%2Foutside%2Fdata%2Ftrain.csv",
    "symlinked-directory": "{root}/link-to-outside/data/",
    "symlinked-file": "{root}/inside-file-link.csv",
    "absolute-elsewhere": "{outside}/data/train.csv",
    "system-file": "/etc/passwd",
}

ESCAPING_OUTPUTS = {
    "dot-dot": "{root}/../outside/written",
    "encoded-dots": "{root}/%2e%2e/outside/written",
    "symlinked-directory": "{root}/link-to-outside/written",
    "absolute-elsewhere": "{outside}/written",
}


def _file_uri(template: str, root: Path, outside: Path) -> str:
    return "file://" + template.format(root=root, outside=outside)


@pytest.mark.parametrize("case", sorted(ESCAPING_INPUTS))
def test_escaping_input_uri_is_refused_naming_it(layout, case):
    service, root, outside = layout
    before = _snapshot(outside)
    uri = _file_uri(ESCAPING_INPUTS[case], root, outside)
    name = f"escape-in-{case}"
    with pytest.raises(ClientError) as caught:
        service.client().create_auto_ml_job_v2(**_request(name, uri, (root / "out").as_uri()))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("AutoMLJobInputDataConfig[0].DataSource.S3DataSource.S3Uri: ")
    assert uri in error["Message"]
    with pytest.raises(ClientError, match="ResourceNotFound"):
        service.client().describe_auto_ml_job_v2(AutoMLJobName=name)
    assert _snapshot(outside) == before


@pytest.mark.parametrize("case", sorted(ESCAPING_OUTPUTS))
def test_escaping_output_uri_is_refused_naming_it(layout, case):
    service, root, outside = layout
    before = _snapshot(outside)
    uri = _file_uri(ESCAPING_OUTPUTS[case], root, outside)
    with pytest.raises(ClientError) as caught:
        service.client().create_auto_ml_job_v2(**_request(f"escape-out-{case}", (root / "inside").as_uri() + "/", uri))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("OutputDataConfig.S3OutputPath: ") and uri in error["Message"]
    assert _snapshot(outside) == before
    assert not (outside / "written").exists()


def test_other_schemes_and_hosts_are_refused(layout):
    service, root, _ = layout
    for uri in ("https://example.com/data/", f"file://otherhost{root}/inside/", "ftp://x/y"):
        with pytest.raises(ClientError) as caught:
            service.client().create_auto_ml_job_v2(**_request("escape-scheme", uri, (root / "out").as_uri()))
        assert caught.value.response["Error"]["Code"] == "ValidationException", uri


def test_a_symlink_swapped_in_after_create_is_caught_at_read(layout):
    """The URI passes the create-time check; by the time the worker reads, the directory is a
    symlink to outside: the job fails naming the URI and the rule, and reads nothing there."""
    service, root, outside = layout
    swapped = root / "swapped"
    swapped.mkdir()
    client = service.client()
    # The swap takes milliseconds; a worker needs seconds to import the engine before it reads.
    name = "escape-swapped"
    client.create_auto_ml_job_v2(**_request(name, swapped.as_uri() + "/", (root / "out").as_uri()))
    swapped.rmdir()
    swapped.symlink_to(outside / "data", target_is_directory=True)
    before = _snapshot(outside)
    job = service.wait_for_status(name, timeout=180)
    assert job["AutoMLJobStatus"] == "Failed"
    assert "outside the allowed file roots" in job["FailureReason"] and "swapped" in job["FailureReason"]
    assert _snapshot(outside) == before


def _tiny_filesystem(path: Path) -> bool:
    path.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(path)], capture_output=True)
    return result.returncode == 0


def test_unwritable_and_full_output_locations_fail_the_job_naming_them(layout):
    service, root, _ = layout
    client = service.client()
    blocker = root / "a-file"
    blocker.write_text("not a directory")
    cases = {"unwritable": (root / "a-file" / "out").as_uri()}
    full = root / "full-disk"
    mounted = _tiny_filesystem(full)
    if mounted:
        # Fill the filesystem, leaving a few bytes: the job's first output write runs out of space.
        with open(full / "filler", "wb") as filler, contextlib.suppress(OSError):  # running out of space is the point
            filler.write(b"\0" * (64 * 1024))
        cases["disk-full"] = full.as_uri() + "/out"
    try:
        for case, output in cases.items():
            client.create_auto_ml_job_v2(**_request(f"output-{case}", (root / "inside").as_uri() + "/", output))
        for case, output in cases.items():
            job = service.wait_for_status(f"output-{case}", timeout=240)
            assert job["AutoMLJobStatus"] == "Failed", (case, job.get("FailureReason"))
            reason = job["FailureReason"]
            assert "S3OutputPath" in reason and output in reason, (case, reason)
        if mounted:
            assert not list(full.rglob("*.tmp")), "a failed write left its temporary file behind"
    finally:
        if mounted:
            subprocess.run(["umount", str(full)], check=False)
    if not mounted:
        pytest.skip("cannot mount a small tmpfs here: the disk-full case was not run (the unwritable one was)")
