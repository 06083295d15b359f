"""Text classification data rules: every way a channel's rows can be unusable fails the job with
a reason naming the file, the column and the rule (checked before any model trains)."""

from __future__ import annotations

import pandas as pd
import pytest

from airflow_automl.local.engine.classification.text import MAX_TEXT_CHARACTERS, load_text_inputs
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.local.storage import Storage

ROWS = {
    "text": ["open a file", "read a file", "send a packet", "close a socket", "parse json", "write csv"],
    "label": ["files", "files", "network", "network", "formats", "formats"],
}


def spec_for(tmp_path, validation: bool = False):
    channels = [
        {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (tmp_path / "train").as_uri() + "/"}}}
    ]
    if validation:
        channels.append(
            {
                "ChannelType": "validation",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": (tmp_path / "valid").as_uri()}},
            }
        )
    request = {
        "AutoMLJobName": "texts",
        "AutoMLJobInputDataConfig": channels,
        "OutputDataConfig": {"S3OutputPath": (tmp_path / "out").as_uri()},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "DataSplitConfig": {"ValidationFraction": 0.5},
        "AutoMLProblemTypeConfig": {
            "TextClassificationJobConfig": {"ContentColumn": "text", "TargetLabelColumn": "label"}
        },
    }
    return job_spec_from_request("CreateAutoMLJobV2", request)


def write(tmp_path, folder: str, frame: pd.DataFrame) -> None:
    (tmp_path / folder).mkdir(exist_ok=True)
    frame.to_csv(tmp_path / folder / "data.csv", index=False)


@pytest.mark.parametrize(
    "change,expected",
    [
        (lambda f: f.drop(columns="text"), "Column 'text' (AutoMLProblemTypeConfig.TextClassificationJobConfig."),
        (lambda f: f.assign(text=f["text"].where(f.index != 2, "  ")), "has 1 empty text(s) (data row(s) 3)"),
        (lambda f: f.assign(label=f["label"].where(f.index != 4, None)), "Column 'label' (TargetLabelColumn)"),
        (lambda f: f.assign(label="files"), "holds one label ('files'); a classifier needs at least two"),
        (
            lambda f: f.assign(label=f["label"].where(f.index != 5, "numbers")),
            "label(s) 'formats', 'numbers' have a single example",
        ),
        (
            lambda f: f.assign(text=f["text"].where(f.index != 1, "x" * (MAX_TEXT_CHARACTERS + 1))),
            f"data row 2 has a text of {MAX_TEXT_CHARACTERS + 1} characters",
        ),
    ],
    ids=["missing-column", "empty-text", "missing-label", "one-label", "single-example", "too-long"],
)
def test_bad_training_data_fails_naming_the_file_column_and_rule(tmp_path, change, expected):
    write(tmp_path, "train", change(pd.DataFrame(ROWS)))
    with pytest.raises(JobFailed) as caught:
        load_text_inputs(Storage([tmp_path]), spec_for(tmp_path))
    assert expected in caught.value.reason
    assert "data.csv" in caught.value.reason


def test_a_validation_label_the_training_data_lacks_fails_naming_it(tmp_path):
    write(tmp_path, "train", pd.DataFrame(ROWS))
    write(tmp_path, "valid", pd.DataFrame({"text": ["add two numbers"], "label": ["numbers"]}))
    with pytest.raises(JobFailed) as caught:
        load_text_inputs(Storage([tmp_path]), spec_for(tmp_path, validation=True))
    assert (
        "the validation data" in caught.value.reason and "'numbers' are not in the training data" in caught.value.reason
    )


def test_the_holdout_keeps_every_label_on_both_sides(tmp_path):
    write(tmp_path, "train", pd.DataFrame(ROWS))
    inputs = load_text_inputs(Storage([tmp_path]), spec_for(tmp_path))
    assert sorted(inputs.train_labels) == sorted(inputs.holdout_labels) == ["files", "formats", "network"]
