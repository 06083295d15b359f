"""Loading a kept text or image classification candidate for serving."""

from __future__ import annotations

import importlib.util
import json

import pytest

from airflow_automl.local.engine.job import MODEL_MANIFEST
from airflow_automl.local.serving.loading import ModelLoadError, load_model


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="this service has torch")
def test_a_network_kept_by_a_service_with_torch_is_refused_naming_the_extra(tmp_path):
    # A pickle that needs torch to load, as a convolutional network's does.
    (tmp_path / "model.pkl").write_bytes(b"ctorch\nTensor\n.")
    manifest = {
        "framework": "classification",
        "model_path": "model.pkl",
        "classes": ["0", "1"],
        "input": "image",
        "target": "label",
        "best_candidate": "digits-cnn-003",
    }
    (tmp_path / MODEL_MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ModelLoadError, match=r"model.pkl needs the module 'torch'.*airflow-automl\[torch\]"):
        load_model(tmp_path)
