"""Image classification data: label folders and augmented manifests read with Pillow; an image
it cannot read, or a layout it does not understand, fails the job naming the file and the rule."""

from __future__ import annotations

import json

import pytest

from airflow_automl.examples.digit_images import digit_images
from airflow_automl.local.engine.classification.images import image_features, load_image_inputs
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.jobspec import job_spec_from_request
from airflow_automl.local.storage import Storage


def spec_for(uri: str, data_type: str = "S3Prefix"):
    request = {
        "AutoMLJobName": "digits",
        "AutoMLJobInputDataConfig": [{"DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": uri}}}],
        "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
        "RoleArn": "arn:aws:iam::123456789012:role/automl",
        "AutoMLProblemTypeConfig": {"ImageClassificationJobConfig": {}},
    }
    return job_spec_from_request("CreateAutoMLJobV2", request)


def write_folders(root, per_digit: int = 4, fmt: str = "PNG"):
    for label, name, data in digit_images(per_digit, digits=(0, 1, 7), fmt=fmt):
        (root / label).mkdir(parents=True, exist_ok=True)
        (root / label / name).write_bytes(data)


def test_label_folders_give_each_image_its_folders_label(tmp_path):
    write_folders(tmp_path / "images", fmt="JPEG")
    inputs = load_image_inputs(Storage([tmp_path]), spec_for((tmp_path / "images").as_uri()))
    assert sorted([*inputs.train_labels, *inputs.holdout_labels]) == ["0"] * 4 + ["1"] * 4 + ["7"] * 4
    assert inputs.train.shape[1] == inputs.serving["feature_count"]


def test_an_augmented_manifest_names_each_image_and_its_label(tmp_path):
    write_folders(tmp_path / "images")
    lines = [
        {"source-ref": path.as_uri(), "digit": path.parent.name, "digit-metadata": {"human-annotated": "yes"}}
        for path in sorted((tmp_path / "images").rglob("*.png"))
    ]
    (tmp_path / "train.manifest").write_text("\n".join(json.dumps(line) for line in lines))
    spec = spec_for((tmp_path / "train.manifest").as_uri(), "AugmentedManifestFile")
    inputs = load_image_inputs(Storage([tmp_path]), spec)
    assert len(inputs.train_labels) + len(inputs.holdout_labels) == 12
    lines[3] = {"source-ref": lines[3]["source-ref"]}
    (tmp_path / "train.manifest").write_text("\n".join(json.dumps(line) for line in lines))
    with pytest.raises(JobFailed) as caught:
        load_image_inputs(Storage([tmp_path]), spec)
    assert "train.manifest, line 4 must hold 'source-ref' and one label attribute" in caught.value.reason


@pytest.mark.parametrize(
    "name,content,expected",
    [
        ("broken.png", b"\x89PNG\r\n\x1a\n not really", "is not an image Pillow can read"),
        ("notes.png", b"a text file", "is not an image Pillow can read"),
        ("cut.jpg", None, "is corrupt or truncated"),
    ],
)
def test_an_image_pillow_cannot_read_fails_naming_the_file(tmp_path, name, content, expected):
    write_folders(tmp_path / "images")
    if content is None:  # a real JPEG cut in half
        content = next(digit_images(1, digits=(1,), fmt="JPEG"))[2][:300]
    (tmp_path / "images" / "7" / name).write_bytes(content)
    with pytest.raises(JobFailed) as caught:
        load_image_inputs(Storage([tmp_path]), spec_for((tmp_path / "images").as_uri()))
    assert f"Image {(tmp_path / 'images' / '7' / name).as_uri()} {expected}" in caught.value.reason


def test_an_image_outside_a_label_folder_fails_naming_it(tmp_path):
    write_folders(tmp_path / "images")
    (tmp_path / "images" / "stray.png").write_bytes(next(digit_images(1, digits=(1,)))[2])
    with pytest.raises(JobFailed) as caught:
        load_image_inputs(Storage([tmp_path]), spec_for((tmp_path / "images").as_uri()))
    assert "stray.png is not in a label folder" in caught.value.reason


def test_a_gif_is_refused_by_format():
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (4, 4)).save(buffer, format="GIF")
    with pytest.raises(ValueError, match="is a GIF image; only JPEG and PNG are read"):
        image_features(buffer.getvalue())


def test_without_torch_the_network_is_not_offered_and_hog_features_follow_the_pixels(monkeypatch):
    from airflow_automl.local.engine import torch_extra
    from airflow_automl.local.engine.classification.images import HOG_COLUMNS, PIXEL_COLUMNS, image_builders

    monkeypatch.setattr(torch_extra, "torch_available", lambda: False)
    assert [b.label for b in image_builders()] == ["pixels-logistic", "hog-logistic", "pixels-gradient-boosting"]
    features = image_features(next(digit_images(1, digits=(4,)))[2])
    # The pixel features come first, so a model kept before HOG was added reads the same prefix.
    assert PIXEL_COLUMNS.stop == HOG_COLUMNS.start and len(features) == HOG_COLUMNS.stop
    assert features[HOG_COLUMNS].max() > 0
