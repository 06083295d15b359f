"""What a batch transform says about a record too large to send: the cap it met, and a remedy
that changes something (raising a MaxPayloadInMB that is already 0 does not)."""

from __future__ import annotations

import pytest

from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.storage import Storage
from airflow_automl.local.transform import runner
from airflow_automl.local.transform.settings import transform_settings

MB = 1024 * 1024


class NeverCalled:
    forecasts_from_history = False
    feature_columns = ["x"]

    def parse(self, body, content_type):
        raise AssertionError("a record over the cap never reaches the model")


def run(tmp_path, line_bytes: int, split_type: str, max_payload_mb: int) -> str:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "rows.csv").write_bytes(b"1\n" + b"9" * line_bytes + b"\n2\n")
    request = {
        "TransformJobName": "cap",
        "ModelName": "m",
        "MaxPayloadInMB": max_payload_mb,
        "TransformInput": {
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (tmp_path / "in").as_uri() + "/"}},
            "ContentType": "text/csv",
            "SplitType": split_type,
        },
        "TransformOutput": {"S3OutputPath": (tmp_path / "out").as_uri()},
        "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    with pytest.raises(JobFailed) as failed:
        runner.run_transform(
            transform_settings(request), NeverCalled(), Storage([tmp_path]), tmp_path / "scratch", lambda: False
        )
    return failed.value.reason


@pytest.mark.parametrize("split_type", ["Line", "None"])
def test_with_no_limit_the_message_names_the_services_cap_not_a_setting_to_raise(tmp_path, monkeypatch, split_type):
    """Regression: MaxPayloadInMB 0 ("no limit") was told to raise MaxPayloadInMB."""
    monkeypatch.setattr(runner, "_LONGEST_RECORD", 2 * MB)  # the 100 MB cap, scaled down
    reason = run(tmp_path, 3 * MB, split_type, max_payload_mb=0)
    assert "2 MB, the longest record the local service reads (MaxPayloadInMB is 0, no limit)" in reason
    assert "raise MaxPayloadInMB" not in reason


def test_a_record_over_a_set_limit_is_told_to_raise_it_up_to_the_cap(tmp_path):
    reason = run(tmp_path, 2 * MB, "Line", max_payload_mb=1)
    assert reason.startswith(f"Input file {(tmp_path / 'in' / 'rows.csv').as_uri()}, line 2:")
    assert "larger than MaxPayloadInMB (1 MB); raise MaxPayloadInMB (at most 100; 0: no limit" in reason
