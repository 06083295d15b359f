"""Models: CreateModel, DescribeModel, ListModels, DeleteModel.

A model the service can serve is an AutoML candidate's ``InferenceContainers``, copied into
``Containers`` or ``PrimaryContainer`` as ListCandidatesForAutoMLJob (or a Describe's
BestCandidate) returns them: the service recognises the candidate by its containers'
``ModelDataUrl`` and serves the model that candidate's job kept (every Completed candidate's is
kept), tabular or time-series forecasting alike; the containers must be that candidate's, in its
order. Images are recorded, never run. A container may instead name a registered model package
(``ModelPackageName``): the package's containers are served.
"""

from __future__ import annotations

from collections.abc import Callable

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed
from airflow_automl.local.store import ModelRecord

DEFAULT_LIST_MODELS_MAX_RESULTS = 10
SERVABLE = (
    "the local service serves the candidates of its own AutoML jobs: pass a candidate's "
    "InferenceContainers (ListCandidatesForAutoMLJob's, DescribeAutoMLJob's or DescribeAutoMLJobV2's "
    "BestCandidate, or the AutoMLJobOperator's inference_containers) as Containers or PrimaryContainer"
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
            found.add(match[:2])
        if len(found) > 1:
            raise ValidationException(f"Containers: they belong to different candidates ({sorted(found)}); {SERVABLE}")
        job_name, candidate_name = found.pop()
        self._check_candidate_containers(job_name, candidate_name, served)
        return job_name, candidate_name

    def _check_candidate_containers(self, job_name: str, candidate_name: str, served: list[tuple[str, dict]]) -> None:
        """The containers are the candidate's InferenceContainers (their images and models, in their
        order; the environment is the caller's), and the candidate completed. Whether its job kept
        the model is found when it loads (an endpoint Failed, a transform job Failed, saying so)."""
        candidate = self.store.jobs.get_candidate(job_name, candidate_name) or {}
        expected = candidate.get("InferenceContainers") or []
        where = served[0][0].split("[")[0].split(".")[0]
        if len(served) != len(expected) or any(
            (container.get("Image"), container.get("ModelDataUrl")) != (own.get("Image"), own.get("ModelDataUrl"))
            for (_, container), own in zip(served, expected, strict=False)
        ):
            listed_containers = ", ".join(f"{c.get('Image')} with {c.get('ModelDataUrl')}" for c in expected)
            raise ValidationException(
                f"{where}: candidate {candidate_name} of job {job_name} is served by its {len(expected)} inference "
                f"container(s) exactly ({listed_containers}), in that order; got {len(served)}. {SERVABLE}"
            )
        status = candidate.get("CandidateStatus")
        if status != "Completed":
            raise ValidationException(
                f"{where}: candidate {candidate_name} of job {job_name} is {status}; only a Completed candidate "
                f"has a model to serve. {SERVABLE}"
            )

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
