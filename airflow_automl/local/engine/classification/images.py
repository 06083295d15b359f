"""Image classification data and candidates: JPEG and PNG images from an S3 prefix of label
folders (``<prefix>/<label>/<image>``) or an augmented manifest (JSON lines with ``source-ref``
and one label attribute), each read with Pillow, checked, and turned into features computed from
the image alone (no pretrained network): its pixels resized to small squares, its colour
histograms and its histograms of oriented gradients (scikit-image's HOG), for linear models and
gradient boosting, and (with the torch extra) its grey pixels for a small convolutional network."""

from __future__ import annotations

import io
import json
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from airflow_automl.local.engine.classification import Builder, Inputs
from airflow_automl.local.engine.data import channel_object_uris
from airflow_automl.local.engine.job import JobFailed
from airflow_automl.local.storage import StorageAccessError

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import Channel, JobSpec
    from airflow_automl.local.storage import Storage

# The local service's limits (stated in the docs): images per channel, bytes and pixels per image.
MAX_IMAGES = 10_000
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 4096 * 4096
FORMATS = ("JPEG", "PNG")
SIDE = 16  # images are resized to SIDE x SIDE pixels for the pixel features
GRAY_SIDE = 24
BINS = 16  # colour histogram bins per channel
# HOG over the grey image at HOG_SIDE x HOG_SIDE: 9 orientations in cells of 8x8 pixels, normalised
# over blocks of 2x2 cells (Dalal and Triggs' settings): 900 features. Measured on the digit images
# (benchmarks/image_classification_vs_direct.py) against 32 and 64 pixels and 4-pixel cells.
HOG_SIDE = 48
HOG_CELL = 8
HOG_BLOCK = 2
HOG_ORIENTATIONS = 9
# Where each kind of feature sits in a row of image_features (the order models were trained on:
# later kinds are appended, so a model kept before them reads the prefix it knows).
PIXEL_COLUMNS = slice(0, 3 * SIDE * SIDE + GRAY_SIDE * GRAY_SIDE + 3 * BINS)
GRAY_COLUMNS = slice(3 * SIDE * SIDE, 3 * SIDE * SIDE + GRAY_SIDE * GRAY_SIDE)
HOG_COLUMNS = slice(
    PIXEL_COLUMNS.stop,
    PIXEL_COLUMNS.stop + HOG_ORIENTATIONS * HOG_BLOCK**2 * (HOG_SIDE // HOG_CELL - HOG_BLOCK + 1) ** 2,
)
SOURCE_REF = "source-ref"
SHOWN = 5


class ImageError(ValueError):
    """The bytes are not a JPEG or PNG image the model reads; the message says why."""


def image_features(data: bytes) -> np.ndarray:
    """One image's features: RGB pixels at SIDE x SIDE, grey levels at GRAY_SIDE x GRAY_SIDE (both
    scaled to 0..1), per-channel colour histograms (fractions of the pixels), then the HOG of the
    grey image at HOG_SIDE x HOG_SIDE."""
    from PIL import Image, UnidentifiedImageError
    from skimage.feature import hog

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise ImageError(f"is a {image.format} image; only {' and '.join(FORMATS)} are read")
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise ImageError(
                    f"has {image.width}x{image.height} pixels; at most {MAX_IMAGE_PIXELS} pixels per image are read"
                )
            rgb = image.convert("RGB")
            rgb.load()
    except UnidentifiedImageError as error:
        raise ImageError("is not an image Pillow can read (neither JPEG nor PNG)") from error
    except (OSError, SyntaxError) as error:  # truncated or corrupt data Pillow found while decoding
        raise ImageError(f"is corrupt or truncated: {error}") from error
    pixels = np.asarray(rgb.resize((SIDE, SIDE)), dtype=np.float32).ravel() / 255
    gray = np.asarray(rgb.convert("L").resize((GRAY_SIDE, GRAY_SIDE)), dtype=np.float32).ravel() / 255
    histogram = np.asarray(rgb.histogram(), dtype=np.float32).reshape(3, 256 // BINS, BINS).sum(axis=2)
    histogram = histogram.ravel() / (rgb.width * rgb.height)
    gradients = hog(
        np.asarray(rgb.convert("L").resize((HOG_SIDE, HOG_SIDE)), dtype=np.float32) / 255,
        orientations=HOG_ORIENTATIONS,
        pixels_per_cell=(HOG_CELL, HOG_CELL),
        cells_per_block=(HOG_BLOCK, HOG_BLOCK),
    ).astype(np.float32)
    return np.concatenate([pixels, gray, histogram, gradients])


def load_image_inputs(storage: Storage, spec: JobSpec) -> Inputs:
    """Features and labels of the training and holdout images; JobFailed names the file and the rule."""
    training = next(c for c in spec.channels if c.channel_type == "training")
    features, labels = _read_channel(storage, training)
    values, counts = np.unique(labels, return_counts=True)
    where = f"The training channel ({training.uri})"
    if len(values) < 2:
        raise JobFailed(f"{where} holds images of one label ({values[0]!r}); a classifier needs at least two")
    single = [str(v) for v in values[counts < 2]]
    if single:
        raise JobFailed(
            f"{where}: label(s) {', '.join(map(repr, single[:SHOWN]))} have a single image; every label needs "
            "at least two (one to learn from, one to check against)"
        )
    validation = next((c for c in spec.channels if c.channel_type == "validation"), None)
    if validation is not None:
        held, held_labels = _read_channel(storage, validation)
        unseen = sorted(set(held_labels) - set(labels))
        if unseen:
            raise JobFailed(
                f"The validation channel ({validation.uri}): label(s) {', '.join(map(repr, unseen[:SHOWN]))} are "
                "not in the training channel; a classifier cannot learn a label it never sees"
            )
        return Inputs(
            "image", features, labels, held, held_labels, "the validation channel", {"feature_count": features.shape[1]}
        )
    rows, classes = len(labels), len(values)
    holdout_rows = math.ceil(rows * spec.validation_fraction)
    if holdout_rows < classes or rows - holdout_rows < classes:
        raise JobFailed(
            f"{where} has {rows} images of {classes} labels: a ValidationFraction of {spec.validation_fraction} "
            f"holds out {holdout_rows}, and both the holdout and the rest need an image of every label; "
            "add images or change ValidationFraction"
        )
    from sklearn.model_selection import train_test_split

    train_x, holdout_x, train_y, holdout_y = train_test_split(
        features, labels, test_size=holdout_rows, stratify=labels, random_state=0
    )
    return Inputs(
        "image",
        train_x,
        train_y,
        holdout_x,
        holdout_y,
        f"ValidationFraction {spec.validation_fraction} of the training images (stratified)",
        {"feature_count": features.shape[1]},
    )


def _read_channel(storage: Storage, channel: Channel) -> tuple[np.ndarray, np.ndarray]:
    if channel.data_type == "AugmentedManifestFile":
        listed = _manifest_images(storage, channel)
    else:
        listed = _folder_images(storage, channel)
    if len(listed) > MAX_IMAGES:
        raise JobFailed(
            f"The {channel.channel_type} channel ({channel.uri}) names {len(listed)} images; the local service "
            f"reads at most {MAX_IMAGES} per channel"
        )
    rows = []
    for uri, _ in listed:
        try:
            data = storage.read_bytes(uri)
        except StorageAccessError as error:
            raise JobFailed(f"Cannot read image {uri}: {error}") from error
        if len(data) > MAX_IMAGE_BYTES:
            raise JobFailed(f"Image {uri} has {len(data)} bytes; the local service reads at most {MAX_IMAGE_BYTES}")
        try:
            rows.append(image_features(data))
        except ImageError as error:
            raise JobFailed(f"Image {uri} {error}") from error
    return np.vstack(rows), np.asarray([label for _, label in listed], dtype=object).astype(str)


def _folder_images(storage: Storage, channel: Channel) -> list[tuple[str, str]]:
    """(image, label) for every object under the prefix: its label is the folder it is in."""
    prefix = channel.uri.rstrip("/") + "/"
    listed = []
    for uri in channel_object_uris(storage, channel):
        relative = uri[len(prefix) :] if uri.startswith(prefix) else uri.rsplit("/", 1)[-1]
        parts = relative.split("/")
        if len(parts) < 2 or not parts[-2]:
            raise JobFailed(
                f"Image {uri} is not in a label folder: an S3Prefix channel of images holds "
                f"<prefix>/<label>/<image>, the folder naming the image's label"
            )
        listed.append((uri, parts[-2]))
    return listed


def _manifest_images(storage: Storage, channel: Channel) -> list[tuple[str, str]]:
    """(image, label) for every line of an augmented manifest: {"source-ref": uri, "<label attribute>":
    label}; Ground Truth's "<attribute>-metadata" entries are skipped."""
    try:
        text = storage.read_bytes(channel.uri).decode("utf-8")
    except (StorageAccessError, UnicodeDecodeError) as error:
        raise JobFailed(f"Cannot read the augmented manifest {channel.uri}: {error}") from error
    listed = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"Augmented manifest {channel.uri}, line {number}"
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as error:
            raise JobFailed(f"{where} is not JSON: {error}") from error
        if not isinstance(entry, dict) or not isinstance(entry.get(SOURCE_REF), str):
            raise JobFailed(f"{where} has no {SOURCE_REF!r} naming the image")
        labels = [key for key in entry if key != SOURCE_REF and not key.endswith("-metadata")]
        if len(labels) != 1 or not isinstance(entry[labels[0]], (str, int)) or str(entry[labels[0]]).strip() == "":
            raise JobFailed(
                f"{where} must hold {SOURCE_REF!r} and one label attribute (a text or a number); "
                f"it has {', '.join(labels) or 'none'}"
            )
        listed.append((entry[SOURCE_REF], str(entry[labels[0]])))
    if not listed:
        raise JobFailed(f"The augmented manifest {channel.uri} names no image")
    return listed


def image_builders(deadline: float | None = None) -> list[Builder]:
    """Logistic regression on the standardised pixel features and on the HOG features, the small
    convolutional network when PyTorch is installed, and histogram gradient boosting on the pixel
    features (the soft vote of those that fit follows). ``deadline`` (time.monotonic()) bounds
    the network's epochs."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from airflow_automl.local.engine.torch_extra import torch_available

    def columns(name: str, where: slice) -> ColumnTransformer:
        return ColumnTransformer([(name, "passthrough", where)])

    logistic: dict[str, Any] = {"C": 0.1, "max_iter": 2000}
    # 32 bins instead of 255: with ~1,400 features and few images, finding splits over every bin was
    # most of the job's time; on the digit scans it fitted 3x faster at the same accuracy.
    boosting: dict[str, Any] = {
        "max_iter": 100,
        "learning_rate": 0.1,
        "max_bins": 32,
        "early_stopping": False,
        "random_state": 0,
    }
    features = {"rgb_pixels": f"{SIDE}x{SIDE}", "gray_pixels": f"{GRAY_SIDE}x{GRAY_SIDE}", "histogram_bins": BINS}
    hog_features = {
        "hog": {
            "gray_pixels": f"{HOG_SIDE}x{HOG_SIDE}",
            "orientations": HOG_ORIENTATIONS,
            "pixels_per_cell": HOG_CELL,
            "cells_per_block": HOG_BLOCK,
        }
    }
    builders = [
        Builder(
            "pixels-logistic",
            "Pillow features + scikit-learn StandardScaler and LogisticRegression",
            {"features": features, "model": logistic},
            lambda: make_pipeline(columns("pixels", PIXEL_COLUMNS), StandardScaler(), LogisticRegression(**logistic)),
        ),
        Builder(
            "hog-logistic",
            "scikit-image HOG features + scikit-learn StandardScaler and LogisticRegression",
            {"features": hog_features, "model": logistic},
            lambda: make_pipeline(columns("hog", HOG_COLUMNS), StandardScaler(), LogisticRegression(**logistic)),
        ),
    ]
    if torch_available():
        from airflow_automl.local.engine.classification.convnet import ConvNetClassifier

        network = ConvNetClassifier.default_settings()
        builders.append(
            Builder(
                "cnn",
                "PyTorch convolutional network (2 convolutions, pooling, linear), trained from scratch",
                {"features": {"gray_pixels": f"{GRAY_SIDE}x{GRAY_SIDE}"}, "model": network},
                lambda: ConvNetClassifier(
                    side=GRAY_SIDE, columns=(GRAY_COLUMNS.start, GRAY_COLUMNS.stop), deadline=deadline, **network
                ),
            )
        )
    builders.append(
        Builder(
            "pixels-gradient-boosting",
            "Pillow features + scikit-learn HistGradientBoostingClassifier",
            {"features": features, "model": boosting},
            lambda: make_pipeline(columns("pixels", PIXEL_COLUMNS), HistGradientBoostingClassifier(**boosting)),
        )
    )
    return builders
