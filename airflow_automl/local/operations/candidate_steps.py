"""The steps AutoML candidates name, as jobs: DescribeTrainingJob, ListTrainingJobs,
DescribeProcessingJob, ListProcessingJobs, and DescribeTransformJob for a candidate's transform
step (transform_jobs.py asks here for a name it does not hold).

Every candidate's CandidateSteps name a processing job (the job's data split, shared by its
candidates), a training job and a transform job (scoring the validation data). On the local
service these are read-only records of what the engine really did, in the shapes SageMaker
describes: the algorithm and its hyperparameters, the validation metrics as FinalMetricDataList,
the status and times, the model artifacts and the job's input channels. The steps ran in the
service's own worker process, so their resources are nominal. Creating a training or processing
job directly is not emulated and is refused saying so.
"""

from __future__ import annotations

from typing import Any

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import NotFound, Operations, found, list_query, listed
from airflow_automl.local.store import JobRecord, StepRecord
from airflow_automl.local.store.candidate_steps import PROCESSING, TRAINING, TRANSFORM

DEFAULT_LIST_MAX_RESULTS = 10
# What the steps report as their resources: they ran in a worker process on the service's machine.
NOMINAL_INSTANCE_TYPE = "ml.m5.xlarge"
NOMINAL_VOLUME_GB = 30
DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB = 86400
# The image a processing step reports (Autopilot's data-processing image has no public name).
PROCESSING_IMAGE = "683313688378.dkr.ecr.{region}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
STEPS_HELD = "the {kind} jobs the local service holds are the steps its AutoML candidates name (CandidateSteps)"
TRAINING_JOB_NOT_FOUND = NotFound(
    ValidationException,
    "{member}: Requested resource not found: no training job {name!r}; " + STEPS_HELD.format(kind="training"),
)
PROCESSING_JOB_NOT_FOUND = NotFound(
    ValidationException,
    "{member}: Could not find requested job with name {name}; " + STEPS_HELD.format(kind="processing"),
)
NOT_EMULATED = (
    "{member}: {operation} is not emulated: the local service does not run {kind} jobs of your own; "
    + STEPS_HELD
    + ", which it records as they train. Train with CreateAutoMLJob or CreateAutoMLJobV2."
)


class CandidateStepOperations(Operations):
    # -- helpers -------------------------------------------------------------------------------

    def _step(self, kind: str, name: str, missing: NotFound, member: str) -> tuple[StepRecord, JobRecord]:
        step = found(self.store.candidate_steps.get(kind, name), missing, member=member, name=name)
        job = found(self.store.jobs.get(step.job_name), missing, member=member, name=name)
        return step, job

    @staticmethod
    def _channels(job: JobRecord) -> list[dict]:
        """The job's data channels as a training job's: "train", and "validation" when it has one."""
        described = []
        for index, channel in enumerate(job.spec.channels):
            name = "validation" if channel.channel_type == "validation" else "train"
            described.append(
                {
                    "ChannelName": name if name == "validation" or index == 0 else f"{name}-{index}",
                    "DataSource": {"S3DataSource": {"S3DataType": channel.data_type, "S3Uri": channel.uri}},
                    "ContentType": channel.content_type,
                    "CompressionType": channel.compression,
                    "InputMode": "File",
                }
            )
        return described

    def _output_prefix(self, job: JobRecord) -> str:
        return f"{job.spec.output_path.rstrip('/')}/{job.name}"

    # -- training jobs -------------------------------------------------------------------------

    def describe_training_job(self, request: dict) -> dict:
        step, job = self._step(TRAINING, request["TrainingJobName"], TRAINING_JOB_NOT_FOUND, "TrainingJobName")
        assert step.candidate_name is not None, "a training step is a candidate's"
        candidate = self.store.jobs.get_candidate(job.name, step.candidate_name) or {}
        training = self.store.candidate_steps.training(job.name, step.candidate_name)
        containers = candidate.get("InferenceContainers") or [{}]
        ended = step.end_time if step.status in ("Completed", "Failed", "Stopped") else None
        seconds = training.get("TrainingSeconds")
        started = ended - seconds if ended is not None and seconds is not None else step.creation_time
        described: dict[str, Any] = {
            "TrainingJobName": step.name,
            "TrainingJobArn": step.arn,
            "AutoMLJobArn": job.arn,
            "ModelArtifacts": {"S3ModelArtifacts": containers[0].get("ModelDataUrl", "")},
            "TrainingJobStatus": step.status,
            "SecondaryStatus": step.secondary_status,
            "FailureReason": candidate.get("FailureReason"),
            "HyperParameters": training.get("HyperParameters") or {},
            "AlgorithmSpecification": {
                "TrainingImage": containers[0].get("Image", ""),
                "TrainingInputMode": "File",
                "MetricDefinitions": [],
            },
            "RoleArn": job.request.get("RoleArn"),
            "InputDataConfig": self._channels(job),
            "OutputDataConfig": {"S3OutputPath": f"{self._output_prefix(job)}/models"},
            "ResourceConfig": {
                "InstanceType": NOMINAL_INSTANCE_TYPE,
                "InstanceCount": 1,
                "VolumeSizeInGB": NOMINAL_VOLUME_GB,
            },
            "StoppingCondition": {
                "MaxRuntimeInSeconds": job.spec.max_runtime_per_training_job or DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB
            },
            "CreationTime": started,
            "TrainingStartTime": started,
            "TrainingEndTime": ended,
            "LastModifiedTime": step.last_modified_time,
            "SecondaryStatusTransitions": self._transitions(step.status, started, ended),
            "FinalMetricDataList": [
                {
                    "MetricName": f"{metric.get('Set', 'Validation').lower()}:{metric['MetricName']}",
                    "Value": metric["Value"],
                    "Timestamp": ended or step.last_modified_time,
                }
                for metric in (candidate.get("CandidateProperties") or {}).get("CandidateMetrics") or []
                if isinstance(metric.get("Value"), (int, float))
            ],
            "EnableNetworkIsolation": False,
            "EnableInterContainerTrafficEncryption": False,
            "EnableManagedSpotTraining": False,
        }
        if ended is not None:
            described["TrainingTimeInSeconds"] = max(0, round(ended - started))
            described["BillableTimeInSeconds"] = described["TrainingTimeInSeconds"]
        if training.get("Algorithm"):
            # Which estimator trained, as an Autopilot container names it in its environment.
            described["Environment"] = {"AUTOML_TRAINING_ALGORITHM": training["Algorithm"]}
        return {key: value for key, value in described.items() if value is not None}

    @staticmethod
    def _transitions(status: str, started: float, ended: float | None) -> list[dict]:
        transitions = [{"Status": "Training", "StartTime": started, "StatusMessage": "Training the candidate"}]
        if ended is not None:
            transitions[0]["EndTime"] = ended
            transitions.append({"Status": status, "StartTime": ended, "EndTime": ended, "StatusMessage": status})
        return transitions

    def list_training_jobs(self, request: dict) -> dict:
        query = list_query(
            "ListTrainingJobs",
            request,
            sort_by="CreationTime",
            sort_order="Ascending",
            max_results=DEFAULT_LIST_MAX_RESULTS,
        )
        if request.get("WarmPoolStatusEquals") or request.get("TrainingPlanArnEquals"):
            # No step uses a warm pool or a training plan.
            return {"TrainingJobSummaries": []}
        return listed("ListTrainingJobs", self.store.candidate_steps.page(TRAINING, query), "TrainingJob", "Training")

    def create_training_job(self, request: dict) -> dict:
        raise ValidationException(
            NOT_EMULATED.format(member="TrainingJobName", operation="CreateTrainingJob", kind="training")
        )

    # -- processing jobs -----------------------------------------------------------------------

    def describe_processing_job(self, request: dict) -> dict:
        step, job = self._step(PROCESSING, request["ProcessingJobName"], PROCESSING_JOB_NOT_FOUND, "ProcessingJobName")
        inputs = [
            {
                "InputName": channel["ChannelName"],
                "AppManaged": False,
                "S3Input": {
                    "S3Uri": channel["DataSource"]["S3DataSource"]["S3Uri"],
                    "LocalPath": f"/opt/ml/processing/input/{channel['ChannelName']}",
                    "S3DataType": channel["DataSource"]["S3DataSource"]["S3DataType"],
                    "S3InputMode": "File",
                },
            }
            for channel in self._channels(job)
        ]
        return {
            "ProcessingJobName": step.name,
            "ProcessingJobArn": step.arn,
            "AutoMLJobArn": job.arn,
            "ProcessingInputs": inputs,
            "ProcessingResources": {
                "ClusterConfig": {
                    "InstanceCount": 1,
                    "InstanceType": NOMINAL_INSTANCE_TYPE,
                    "VolumeSizeInGB": NOMINAL_VOLUME_GB,
                }
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": DEFAULT_MAX_RUNTIME_PER_TRAINING_JOB},
            "AppSpecification": {"ImageUri": PROCESSING_IMAGE.format(region=self.config.region)},
            "RoleArn": job.request.get("RoleArn"),
            "ProcessingJobStatus": step.status,
            "ExitMessage": "The data was read, checked and split into training and validation rows",
            "CreationTime": step.creation_time,
            "ProcessingStartTime": step.creation_time,
            "ProcessingEndTime": step.end_time,
            "LastModifiedTime": step.last_modified_time,
        }

    def list_processing_jobs(self, request: dict) -> dict:
        query = list_query(
            "ListProcessingJobs",
            request,
            sort_by="CreationTime",
            sort_order="Ascending",
            max_results=DEFAULT_LIST_MAX_RESULTS,
        )
        page = self.store.candidate_steps.page(PROCESSING, query)
        return listed("ListProcessingJobs", page, "ProcessingJob", "Processing")

    def create_processing_job(self, request: dict) -> dict:
        raise ValidationException(
            NOT_EMULATED.format(member="ProcessingJobName", operation="CreateProcessingJob", kind="processing")
        )

    # -- a candidate's transform step ----------------------------------------------------------

    def candidate_transform_step(self, name: str) -> dict | None:
        """DescribeTransformJob's answer for a candidate's transform step, or None if no candidate names it."""
        step = self.store.candidate_steps.get(TRANSFORM, name)
        job = None if step is None else self.store.jobs.get(step.job_name)
        if step is None or job is None:
            return None
        channels = self._channels(job)
        validation = next((c for c in channels if c["ChannelName"] == "validation"), channels[0] if channels else None)
        source = (validation or {}).get("DataSource", {}).get("S3DataSource") or {"S3DataType": "S3Prefix", "S3Uri": ""}
        ended = step.end_time if step.status in ("Completed", "Failed", "Stopped") else None
        return {
            "TransformJobName": step.name,
            "TransformJobArn": step.arn,
            "AutoMLJobArn": job.arn,
            "TransformJobStatus": step.status,
            "ModelName": step.candidate_name,
            "TransformInput": {
                "DataSource": {"S3DataSource": source},
                "ContentType": "text/csv",
                "SplitType": "Line",
                "CompressionType": "None",
            },
            "TransformResources": {"InstanceType": NOMINAL_INSTANCE_TYPE, "InstanceCount": 1},
            "CreationTime": step.creation_time,
            "TransformStartTime": step.creation_time,
            "TransformEndTime": ended,
        }
