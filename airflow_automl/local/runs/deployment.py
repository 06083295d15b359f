"""The worker's deployment step: a job with ModelDeployConfig deploys its best model.

A job that asked for a deployment and ran to its end with a best candidate gets an endpoint, a
model and an endpoint config (all named as the endpoint), and its worker loads the model once to
prove it serves. A deployment problem never fails the job: it keeps its candidates and reports
ModelDeploymentError with the reason.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass

from airflow_automl.local.config import ServiceConfig
from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.operations.endpoints import VARIANT_NAME
from airflow_automl.local.serving.loading import load_job_model
from airflow_automl.local.store import (
    EndpointConfigNameInUse,
    EndpointNameInUse,
    JobRecord,
    ModelNameInUse,
    Store,
)

log = logging.getLogger(__name__)

# Jobs that ran to the end deploy; MaxAutoMLJobRuntimeReached leaves unfinished steps such as
# deployment undone (the reference), and a definitions-only job has no model.
DEPLOYING_OUTCOMES = ("Completed", "MaxCandidatesReached")


def generated_endpoint_name(job_name: str) -> str:
    """AutoGenerateEndpointName: the job's name plus a short unique suffix (job names are at most
    32 characters, so the result fits EndpointName's 63 and its pattern)."""
    return f"{job_name}-ep-{uuid.uuid4().hex[:8]}"


def requested_endpoint_name(spec: JobSpec) -> str | None:
    """The endpoint a job's ModelDeployConfig asks for, or None if it asks for no deployment."""
    if spec.endpoint_name:
        return spec.endpoint_name
    if spec.auto_generate_endpoint_name:
        return generated_endpoint_name(spec.name)
    return None


@dataclass(frozen=True)
class Deployment:
    endpoint_name: str | None  # set when an endpoint record exists (InService or Failed)
    error: str | None  # the PartialFailureReason when the deployment failed


def deploy_best_model(config: ServiceConfig, store: Store, job: JobRecord) -> Deployment:
    """Create the job's endpoint, with a model and an endpoint config of the endpoint's name as
    Autopilot generates them (DescribeModel and DescribeEndpointConfig show them), and prove its
    model loads. Never raises for a deployment problem: the job keeps its candidates and reports
    the failure (ModelDeploymentError)."""
    name = requested_endpoint_name(job.spec)
    assert name is not None and job.best_candidate_name is not None
    variant = {
        "VariantName": VARIANT_NAME,
        "ModelName": name,
        "JobName": job.name,
        "CandidateName": job.best_candidate_name,
        "Weight": 1.0,
        "InstanceCount": 1,
        "InstanceType": None,
    }
    try:
        store.endpoints.create(name=name, arn=config.endpoint_arn(name), endpoint_config_name=name, variants=[variant])
    except EndpointNameInUse:
        return Deployment(
            None,
            f"ModelDeployConfig.EndpointName: an endpoint named {name!r} already exists; the best candidate "
            f"{job.best_candidate_name} was not deployed (delete that endpoint or choose another name)",
        )
    try:
        _create_model_and_config(config, store, job, job.best_candidate_name, name)
    except (ModelNameInUse, EndpointConfigNameInUse) as error:
        kind = "a model" if isinstance(error, ModelNameInUse) else "an endpoint config"
        reason = (
            f"ModelDeployConfig: {kind} named {name!r} already exists, so the endpoint's own could not be made; "
            "delete it or choose another EndpointName"
        )
        store.endpoints.set_status(name, "Failed", reason)
        return Deployment(name, reason)
    try:
        load_job_model(config, job.name, job.best_candidate_name)
    except Exception as error:  # any failure to load is the deployment's failure, reported on the job
        log.exception("job %s: deploying %s to endpoint %s failed", job.name, job.best_candidate_name, name)
        reason = f"The best candidate {job.best_candidate_name} could not be loaded for endpoint {name}: {error}"
        store.endpoints.set_status(name, "Failed", reason)
        return Deployment(name, reason)
    store.endpoints.set_status(name, "InService")
    return Deployment(name, None)


def _create_model_and_config(
    config: ServiceConfig, store: Store, job: JobRecord, candidate_name: str, name: str
) -> None:
    candidate = store.jobs.get_candidate(job.name, candidate_name) or {}
    model_request = {"ModelName": name, "Containers": candidate.get("InferenceContainers") or []}
    if job.request.get("RoleArn"):
        model_request["ExecutionRoleArn"] = job.request["RoleArn"]
    store.models.create(
        name=name,
        arn=config.arn("model", name),
        request=model_request,
        job_name=job.name,
        candidate_name=candidate_name,
    )
    config_request = {
        "EndpointConfigName": name,
        "ProductionVariants": [
            {"VariantName": VARIANT_NAME, "ModelName": name, "InitialInstanceCount": 1, "InitialVariantWeight": 1.0}
        ],
    }
    store.endpoint_configs.create(name=name, arn=config.arn("endpoint-config", name), request=config_request)


def deploy_if_requested(config: ServiceConfig, store: Store, ctx, job_name: str, secondary: str) -> str:
    """ModelDeployConfig: deploy the best candidate of a job that ran to its end; the job's final
    secondary status (ModelDeploymentError when the deployment failed; the job keeps its candidates).
    ctx is the worker's StoreJobContext, which writes for the job's run."""
    job = store.jobs.get(job_name)
    if job is None or not (job.spec.endpoint_name or job.spec.auto_generate_endpoint_name):
        return secondary
    if secondary not in DEPLOYING_OUTCOMES or job.best_candidate_name is None:
        return secondary
    ctx.set_secondary_status("DeployingModel")
    deployment = deploy_best_model(config, store, job)
    if deployment.endpoint_name is not None:
        ctx.set_model_deploy_result({"EndpointName": deployment.endpoint_name})
    if deployment.error is not None:
        ctx.add_partial_failure(deployment.error)
        return "ModelDeploymentError"
    return secondary
