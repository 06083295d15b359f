"""Models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model the service can serve is an AutoML candidate's ``InferenceContainers``, copied into
``Containers`` or ``PrimaryContainer`` as DescribeAutoMLJob's (or DescribeAutoMLJobV2's)
BestCandidate returns them: the service recognises the candidate by its containers'
``ModelDataUrl`` and serves the model that candidate's job kept, tabular or time-series
forecasting alike. Images are recorded, never run. A container may instead name a registered
model package (``ModelPackageName``): the package's containers are served.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed
from airflow_automl.local.store import ModelRecord

DEFAULT_LIST_MODELS_MAX_RESULTS = 10
SERVABLE = (
    "the local service serves the best candidate of its own AutoML jobs: pass that candidate's "
    "InferenceContainers (DescribeAutoMLJob's or DescribeAutoMLJobV2's BestCandidate, or the "
    "AutoMLJobOperator's inference_containers) as Containers or PrimaryContainer"
)
MODEL_NOT_FOUND = NotFound(ValidationException, '{member}: could not find model "{arn}".')


class ModelOperations(Operations):
    # Provided by ModelRegistryOperations (model_registry.py): a package's containers, if deployable.
    package_containers: Callable[[str, str], list[dict]]

    def model_record(self, name: str) -> ModelRecord:
        return found(
            self.store.models.get(name), MODEL_NOT_FOUND, member="ModelName", arn=self.config.arn("model", name)
        )

    def _served_candidate(self, request: dict) -> tuple[str, str]:
        """(job name, candidate name) of the AutoML candidate the request's containers are."""
        if request.get("Containers") and request.get("PrimaryContainer"):
            raise ValidationException("PrimaryContainer: pass either PrimaryContainer or Containers, not both")
        containers = request.get("Containers") or (
            [request["PrimaryContainer"]] if request.get("PrimaryContainer") else []
        )
        if not containers:
            raise ValidationException(f"Containers: a model needs PrimaryContainer or Containers; {SERVABLE}")
        # A container naming a registered model package serves that package's containers.
        served: list[tuple[str, dict]] = []
        for index, container in enumerate(containers):
            where = "PrimaryContainer" if request.get("PrimaryContainer") else f"Containers[{index}]"
            if container.get("ModelPackageName"):
                served += [
                    (f"{where}.ModelPackageName", c)
                    for c in self.package_containers(container["ModelPackageName"], where)
                ]
            else:
                served.append((where, container))
        found: set[tuple[str, str]] = set()
        for where, container in served:
            if container.get("Mode", "SingleModel") != "SingleModel":
                raise ValidationException(f"{where}.Mode: only SingleModel is served; {SERVABLE}")
            url = container.get("ModelDataUrl")
            if not url:
                raise ValidationException(
                    f"{where}.ModelDataUrl: required here (ModelDataSource is not served); {SERVABLE}"
                )
            match = self.store.jobs.candidate_with_model_data(url)
            if match is None:
                raise ValidationException(f"{where}.ModelDataUrl: {url!r} is no AutoML candidate's model; {SERVABLE}")
            job_name, candidate_name, is_best = match
            if not is_best:
                raise ValidationException(
                    f"{where}.ModelDataUrl: {url!r} is candidate {candidate_name} of job {job_name}, which is not "
                    f"its best candidate; the job keeps only its best candidate's model, so {SERVABLE}"
                )
            found.add((job_name, candidate_name))
        if len(found) > 1:
            raise ValidationException(f"Containers: they belong to different candidates ({sorted(found)}); {SERVABLE}")
        return found.pop()

    def create_model(self, request: dict) -> dict:
        name = request["ModelName"]
        arn = self.config.arn("model", name)
        in_use = ValidationException(f'Cannot create already existing model "{arn}".')
        # A taken name is answered before the containers are checked; the create checks again.
        if self.store.models.get(name) is not None:
            raise in_use
        job_name, candidate_name = self._served_candidate(request)
        with creating(lambda _: in_use):
            self.store.models.create(
                name=name,
                arn=arn,
                request=request,
                job_name=job_name,
                candidate_name=candidate_name,
                tags=request.get("Tags") or (),
            )
        return {"ModelArn": arn}

    def describe_model(self, request: dict) -> dict:
        record = self.model_record(request["ModelName"])
        return {**record.request, "ModelArn": record.arn, "CreationTime": record.creation_time}

    def list_models(self, request: dict) -> dict:
        query = list_query(
            "ListModels",
            request,
            sort_by="CreationTime",
            sort_order="Descending",
            max_results=DEFAULT_LIST_MODELS_MAX_RESULTS,
        )
        return listed("ListModels", self.store.models.page(query), "Model")

    def delete_model(self, request: dict) -> dict:
        # Endpoints serving it keep serving: they hold the model resolved (as SageMaker's instances do).
        self.store.models.delete(self.model_record(request["ModelName"]).name)
        return {}
