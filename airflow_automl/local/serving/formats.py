"""The media types and answer keys of Autopilot's inference containers, shared by endpoints and
batch transform, and the error a body that does not fit a model raises."""

from __future__ import annotations

CSV = "text/csv"
JSON = "application/json"
JSON_LINES = "application/jsonlines"  # one row per line in, one prediction per line out
# An image classifier's request body is one image.
IMAGE_TYPES = ("image/jpeg", "image/png", "application/x-image")
# What a request may send, and what it may ask the answer in.
CONTENT_TYPES = (CSV, JSON, JSON_LINES, *IMAGE_TYPES)
ACCEPT_TYPES = (CSV, JSON, JSON_LINES, "*/*")
# What Autopilot's inference containers can answer per row (SAGEMAKER_INFERENCE_OUTPUT).
INFERENCE_KEYS = ("predicted_label", "probability", "probabilities", "labels")


class ModelInputError(ValueError):
    """The request body does not fit the model's input; the message says why."""
