"""Endpoint configs: CreateEndpointConfig, DescribeEndpointConfig, ListEndpointConfigs,
DeleteEndpointConfig. Their ProductionVariants name models; several variants split traffic by
InitialVariantWeight; DataCaptureConfig makes an endpoint capture its invocations to s3:// or
file:// (serving/data_capture.py). Instance types and counts, KMS keys and shadow variants are
recorded and described back, not emulated."""

from __future__ import annotations

from airflow_automl.local.errors import ValidationException
from airflow_automl.local.operations.base import NotFound, Operations, creating, found, list_query, listed
from airflow_automl.local.serving.data_capture import CAPTURE_SCHEMES
from airflow_automl.local.storage import Storage, StorageAccessError
from airflow_automl.local.store import EndpointConfigRecord, ModelRecord
from airflow_automl.local.transform.settings import inference_keys
from airflow_automl.sagemaker.shapes import RequestValidationError

DEFAULT_LIST_ENDPOINT_CONFIGS_MAX_RESULTS = 10
DEFAULT_VARIANT_WEIGHT = 1.0
ENDPOINT_CONFIG_NOT_FOUND = NotFound(ValidationException, '{member}: could not find endpoint configuration "{arn}".')


class EndpointConfigOperations(Operations):
    def endpoint_config_record(self, name: str) -> EndpointConfigRecord:
        arn = self.config.arn("endpoint-config", name)
        return found(
            self.store.endpoint_configs.get(name), ENDPOINT_CONFIG_NOT_FOUND, member="EndpointConfigName", arn=arn
        )

    def resolved_variants(self, config: EndpointConfigRecord) -> list[dict]:
        """The config's variants with their models resolved, as an endpoint keeps them."""
        variants = []
        for variant in config.variants:
            model = self.store.models.get(variant["ModelName"])
            if model is None:
                raise ValidationException(
                    f"EndpointConfigName: variant {variant['VariantName']} of {config.name} names model "
                    f'"{self.config.arn("model", variant["ModelName"])}", which does not exist any more'
                )
            variants.append(
                {
                    "VariantName": variant["VariantName"],
                    "ModelName": model.name,
                    "JobName": model.job_name,
                    "CandidateName": model.candidate_name,
                    "InferenceKeys": self._inference_keys(model),
                    "Weight": variant.get("InitialVariantWeight", DEFAULT_VARIANT_WEIGHT),
                    "InstanceCount": variant.get("InitialInstanceCount", 1),
                    "InstanceType": variant.get("InstanceType"),
                }
            )
        return variants

    def _check_data_capture(self, capture: dict | None) -> None:
        """A destination the service can write captured invocations to (what SageMaker finds only
        when it writes, the service tells at once: a file:// path outside its roots)."""
        if not capture:
            return
        destination = capture["DestinationS3Uri"]
        if not destination.lower().startswith(CAPTURE_SCHEMES):
            raise ValidationException(
                f"DataCaptureConfig.DestinationS3Uri: {destination!r}: the local service captures to "
                f"{' or '.join(CAPTURE_SCHEMES)} URIs"
            )
        try:
            Storage(list(self.config.file_roots)).check_uri(destination)
        except StorageAccessError as error:
            raise ValidationException(f"DataCaptureConfig.DestinationS3Uri: {error}") from error

    @staticmethod
    def _inference_keys(model: ModelRecord) -> list[str] | None:
        """What the model's last container answers (its SAGEMAKER_INFERENCE_OUTPUT, as Autopilot's
        containers read it, e.g. from the SDK's inference_response_keys); None: the default."""
        containers = model.request.get("Containers") or [model.request.get("PrimaryContainer") or {}]
        try:
            return inference_keys(containers[-1].get("Environment"), f"model {model.name}: Environment")
        except RequestValidationError as error:
            raise ValidationException(str(error)) from error

    def create_endpoint_config(self, request: dict) -> dict:
        name = request["EndpointConfigName"]
        arn = self.config.arn("endpoint-config", name)
        in_use = ValidationException(f'Cannot create already existing endpoint configuration "{arn}".')
        # A taken name is answered before the variants are checked; the create checks again.
        if self.store.endpoint_configs.get(name) is not None:
            raise in_use
        variants = request["ProductionVariants"]
        names = [variant["VariantName"] for variant in variants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValidationException(
                f"ProductionVariants: VariantName must be unique; repeated: {', '.join(duplicates)}"
            )
        for index, variant in enumerate(variants):
            if not variant.get("ModelName"):
                # botocore leaves it optional for inference components, which the service does not emulate.
                raise ValidationException(
                    f"ProductionVariants[{index}].ModelName: required; "
                    "each variant serves a model made with CreateModel"
                )
            if self.store.models.get(variant["ModelName"]) is None:
                raise ValidationException(
                    f"ProductionVariants[{index}].ModelName: could not find model "
                    f'"{self.config.arn("model", variant["ModelName"])}"; create it with CreateModel first'
                )
        if sum(variant.get("InitialVariantWeight", DEFAULT_VARIANT_WEIGHT) for variant in variants) <= 0:
            raise ValidationException("ProductionVariants: at least one InitialVariantWeight must be more than 0")
        self._check_data_capture(request.get("DataCaptureConfig"))
        with creating(lambda _: in_use):
            self.store.endpoint_configs.create(name=name, arn=arn, request=request, tags=request.get("Tags") or ())
        return {"EndpointConfigArn": arn}

    def describe_endpoint_config(self, request: dict) -> dict:
        record = self.endpoint_config_record(request["EndpointConfigName"])
        return {**record.request, "EndpointConfigArn": record.arn, "CreationTime": record.creation_time}

    def list_endpoint_configs(self, request: dict) -> dict:
        query = list_query(
            "ListEndpointConfigs",
            request,
            sort_by="CreationTime",
            sort_order="Descending",
            max_results=DEFAULT_LIST_ENDPOINT_CONFIGS_MAX_RESULTS,
        )
        return listed("ListEndpointConfigs", self.store.endpoint_configs.page(query), "EndpointConfig")

    def delete_endpoint_config(self, request: dict) -> dict:
        # Endpoints using it keep serving what they loaded, as on SageMaker.
        self.store.endpoint_configs.delete(self.endpoint_config_record(request["EndpointConfigName"]).name)
        return {}
