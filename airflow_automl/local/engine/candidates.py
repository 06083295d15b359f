"""Candidates in SageMaker's AutoMLCandidate shape: names, the processing/training/transform
steps that produced them, their inference containers and their validation metrics."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_automl.sagemaker.metric_values import candidate_metrics
from airflow_automl.sagemaker.metrics import objective_type

if TYPE_CHECKING:
    from airflow_automl.local.jobspec import JobSpec

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
# SageMaker's AutoGluon inference image; the local service serves the model itself.
AUTOGLUON_IMAGE = "763104351884.dkr.ecr.{region}.amazonaws.com/autogluon-inference:{version}-cpu-py311"
SKLEARN_IMAGE = "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-xgboost:1.7-1"
NAME_LIMIT = 64  # CandidateName and CandidateStepName
# What an Autopilot classification container can answer besides the label (SAGEMAKER_INFERENCE_OUTPUT);
# SageMaker's SDK reads it from the candidate's container before it sets inference_response_keys.
INFERENCE_SUPPORTED = {"SAGEMAKER_INFERENCE_SUPPORTED": "predicted_label,probability,probabilities,labels"}


@dataclass(frozen=True)
class Placement:
    """Where a job's candidates live: ARNs' region and account, and the job's output prefix."""

    job_name: str
    output_prefix: str  # <S3OutputPath>/<job name>
    region: str = DEFAULT_REGION
    account_id: str = DEFAULT_ACCOUNT_ID

    @classmethod
    def for_job(cls, spec: JobSpec, ctx) -> Placement:
        return cls(
            job_name=spec.name,
            output_prefix=f"{spec.output_path.rstrip('/')}/{spec.name}",
            region=getattr(ctx, "region", None) or DEFAULT_REGION,
            account_id=getattr(ctx, "account_id", None) or DEFAULT_ACCOUNT_ID,
        )

    def arn(self, resource: str, name: str) -> str:
        return f"arn:aws:sagemaker:{self.region}:{self.account_id}:{resource}/{name.lower()}"

    def model_uri(self, candidate_name: str) -> str:
        return f"{self.output_prefix}/models/{candidate_name}/model.tar.gz"

    def uri(self, relative: str) -> str:
        return f"{self.output_prefix}/{relative}"


def candidate_name(job_name: str, model: str, number: int) -> str:
    """`<job-name-prefix>-<model>-<nnn>`, within CandidateName's 64 characters."""
    model_part = re.sub(r"[^A-Za-z0-9]+", "-", model).strip("-")
    suffix = f"-{model_part}-{number:03d}"
    return job_name[: NAME_LIMIT - len(suffix)] + suffix


def build_candidate(
    placement: Placement,
    name: str,
    objective: str,
    metrics: dict[str, float],
    image: str,
    environment: dict[str, str] | None = None,
    status: str = "Completed",
    artifact_locations: dict[str, str] | None = None,
) -> dict:
    """One AutoMLCandidate. CreationTime/EndTime/LastModifiedTime are filled by the store."""
    steps = [
        ("AWS::SageMaker::ProcessingJob", "processing-job", f"{placement.job_name[:40]}-db-1"),
        ("AWS::SageMaker::TrainingJob", "training-job", name),
        ("AWS::SageMaker::TransformJob", "transform-job", f"{name[: NAME_LIMIT - 3]}-tr"),
    ]
    candidate: dict[str, Any] = {
        "CandidateName": name,
        "ObjectiveStatus": "Succeeded" if objective in metrics else "Failed",
        "CandidateSteps": [
            {
                "CandidateStepType": step_type,
                "CandidateStepArn": placement.arn(resource, step_name),
                "CandidateStepName": step_name,
            }
            for step_type, resource, step_name in steps
        ],
        "CandidateStatus": status,
        "InferenceContainers": [
            {
                "Image": image,
                "ModelDataUrl": placement.model_uri(name),
                "Environment": environment or {},
            }
        ],
        "CandidateProperties": {"CandidateMetrics": candidate_metrics(metrics)},
    }
    if objective in metrics:
        candidate["FinalAutoMLJobObjectiveMetric"] = {
            "Type": objective_type(objective),
            "MetricName": objective,
            "Value": metrics[objective],
            "StandardMetricName": objective,
        }
    if artifact_locations:
        candidate["CandidateProperties"]["CandidateArtifactLocations"] = artifact_locations
    return candidate
