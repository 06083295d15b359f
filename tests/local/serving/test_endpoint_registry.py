"""Endpoint deployment and serving without training: tiny pickled models in a real store."""

from __future__ import annotations

import json
import pickle
import re

import numpy as np
import pytest

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.errors import ModelError, ValidationError
from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.operations.endpoints import EndpointRegistry
from airflow_automl.local.runs.deployment import deploy_best_model, deploy_if_requested, generated_endpoint_name
from airflow_automl.local.runs.training import StoreJobContext
from airflow_automl.local.serving.loading import model_dir
from airflow_automl.local.store import Store

ENDPOINT_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}\Z")


class ThresholdModel:
    """Predicts 1 when the feature x is above a threshold (picklable by reference)."""

    classes = [0, 1]

    def __init__(self, threshold: float):
        self.threshold = threshold

    def predict(self, frame):
        return (frame["x"].to_numpy() > self.threshold).astype(int)

    def predict_proba(self, frame):
        positive = (frame["x"].to_numpy() > self.threshold).astype(float) * 0.8 + 0.1
        return np.column_stack([1 - positive, positive])


@pytest.fixture
def service(tmp_path):
    config = ServiceConfig(data_dir=tmp_path / "data")
    return config, Store(config.db_path)


def _job(config: ServiceConfig, store: Store, name: str, *, threshold: float = 0.5, deploy: dict | None = None):
    """A job that ran (claimed by a run) and kept a model, as the engine leaves it."""
    spec = JobSpec(name=name, api_version=1, channels=(), output_path="file:///unused", target="y", **(deploy or {}))
    store.jobs.create(spec=spec, arn=config.job_arn(name), request={}, max_active_jobs=50)
    store.jobs.claim(name, "run-1")
    store.jobs.add_candidate(name, "run-1", {"CandidateName": f"{name}-c1", "CandidateStatus": "Completed"})
    store.jobs.set_best_candidate(name, "run-1", f"{name}-c1")
    directory = model_dir(config, name)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "best.pkl").write_bytes(pickle.dumps(ThresholdModel(threshold)))
    manifest = {
        "framework": "sklearn",
        "model_path": "best.pkl",
        "target": "y",
        "problem_type": "BinaryClassification",
        "feature_columns": ["x"],
        "best_candidate": f"{name}-c1",
    }
    (directory / "model.json").write_text(json.dumps(manifest))
    return store.jobs.get(name)


def test_generated_names_fit_the_endpoint_name_rules():
    longest_job_name = "j" * 31 + "1"
    name = generated_endpoint_name(longest_job_name)
    assert name.startswith(longest_job_name) and ENDPOINT_NAME.match(name)
    assert generated_endpoint_name("a") != generated_endpoint_name("a")


@pytest.mark.parametrize("outcome", ["MaxAutoMLJobRuntimeReached", "CandidateDefinitionsGenerated"])
def test_jobs_that_did_not_run_to_the_end_do_not_deploy(service, outcome):
    config, store = service
    _job(config, store, "short-job", deploy={"endpoint_name": "short-ep"})
    ctx = StoreJobContext(config, store, "short-job", "run-1")
    assert deploy_if_requested(config, store, ctx, "short-job", outcome) == outcome
    assert store.endpoints.get("short-ep") is None
    assert store.jobs.get("short-job").deploy_result is None


def test_a_completed_job_deploys_and_a_taken_name_is_a_deployment_error(service):
    config, store = service
    _job(config, store, "first", deploy={"endpoint_name": "shared-ep"})
    _job(config, store, "second", deploy={"endpoint_name": "Shared-EP"})
    first = StoreJobContext(config, store, "first", "run-1")
    assert deploy_if_requested(config, store, first, "first", "Completed") == "Completed"
    assert store.jobs.get("first").deploy_result == {"EndpointName": "shared-ep"}
    assert store.endpoints.get("shared-ep").status == "InService"
    second = StoreJobContext(config, store, "second", "run-1")
    assert deploy_if_requested(config, store, second, "second", "MaxCandidatesReached") == "ModelDeploymentError"
    job = store.jobs.get("second")
    assert job.deploy_result is None
    assert "Shared-EP" in job.partial_failure_reasons[0]["PartialFailureMessage"]
    assert store.endpoints.get("shared-ep").job_name == "first"


def test_loaded_models_are_bounded_and_predictions_follow_each_model(service):
    config, store = service
    registry = EndpointRegistry(config, store, max_loaded=2)
    for index, threshold in enumerate((0.0, 1.0, 2.0)):
        job = _job(config, store, f"job-{index}", threshold=threshold, deploy={"endpoint_name": f"ep-{index}"})
        assert deploy_best_model(config, store, job).error is None
    answers = [registry.invoke(f"ep-{i}", b"1.5\n0.5\n", "text/csv", None) for i in range(3)]
    assert answers == [
        (b"1\n1\n", "text/csv", "AllTraffic"),
        (b"1\n0\n", "text/csv", "AllTraffic"),
        (b"0\n0\n", "text/csv", "AllTraffic"),
    ]
    assert len(registry._loaded) == 2
    body, content_type, _ = registry.invoke("ep-0", b'[{"x": -1}]', "application/json", "application/json")
    assert content_type == "application/json"
    assert json.loads(body)["predictions"][0]["predicted_label"] == 0
    registry.delete("ep-0")
    with pytest.raises(ValidationError, match="not found"):
        registry.invoke("ep-0", b"1", "text/csv", None)


def test_a_manifest_pointing_outside_the_model_dir_is_refused(service, tmp_path):
    config, store = service
    job = _job(config, store, "escape", deploy={"endpoint_name": "escape-ep"})
    outside = tmp_path / "elsewhere.pkl"
    outside.write_bytes(pickle.dumps(ThresholdModel(0.0)))
    manifest_path = model_dir(config, "escape") / "model.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["model_path"] = "../../../../elsewhere.pkl"
    manifest_path.write_text(json.dumps(manifest))
    deployment = deploy_best_model(config, store, job)
    assert "points outside" in deployment.error
    assert store.endpoints.get("escape-ep").status == "Failed"
    registry = EndpointRegistry(config, store)
    with pytest.raises(ValidationError, match="Failed"):
        registry.invoke("escape-ep", b"1", "text/csv", None)


def test_bad_input_is_a_model_error_with_the_container_status(service):
    config, store = service
    job = _job(config, store, "strict", deploy={"endpoint_name": "strict-ep"})
    deploy_best_model(config, store, job)
    registry = EndpointRegistry(config, store)
    with pytest.raises(ModelError) as wrong_width:
        registry.invoke("strict-ep", b"1,2\n", "text/csv", None)
    assert wrong_width.value.members["OriginalStatusCode"] == 400
    with pytest.raises(ModelError) as wrong_accept:
        registry.invoke("strict-ep", b"1\n", "text/csv", "application/x-protobuf")
    assert wrong_accept.value.members["OriginalStatusCode"] == 406
    with pytest.raises(ValidationError, match="must match"):
        registry.invoke("bad_name", b"1", "text/csv", None)
    for inference_id in (" leading-space", "x" * 65, "tab\there"):
        with pytest.raises(ValidationError, match="InferenceId: .* printable ASCII"):
            registry.invoke("strict-ep", b"0.7\n", "text/csv", None, inference_id=inference_id)
    assert registry.invoke("strict-ep", b"x\n0.7\n", "text/csv", "*/*") == (b"1\n", "text/csv", "AllTraffic")
