"""AutoMLDriftCheckOperator: a champion's training data as a Model Monitor baseline, and an
interval's captured endpoint traffic (or any data set) checked against it.

The same operator runs against AWS and the local service: SageMaker calls go through the AWS
connection, data is read and written at s3:// (through the same connection) or file:// URIs.

Baseline, first that applies:
  1. ``baseline_uri`` holding statistics.json and constraints.json (e.g. a Model Monitor baselining
     job's output, or this operator's own from an earlier run);
  2. ``model_package_arn``: the package's ``DriftCheckBaselines.ModelDataQuality`` files if it has
     them, else the AutoML job named in its ``CustomerMetadataProperties[job_metadata_key]``;
  3. ``job_name``: the AutoML job's training channel (its S3Uri, target attribute dropped);
  4. ``baseline_data_uri`` (a CSV with a header, or Parquet, file or prefix) and ``target_attribute_name``.
A baseline built from data is written to ``<output_uri>/baseline/`` in Model Monitor's schema.

Data checked: ``data_uri`` (any data set with a header), else the captured requests of
``endpoint_name``'s ``variant_name`` in [``interval_start``, ``interval_end``) (default: the run's
data interval) under ``capture_uri`` (default: the endpoint config's DataCaptureConfig
DestinationS3Uri), read from the ``<endpoint>/<variant>/yyyy/mm/dd/hh/`` folders data capture writes.

Writes ``statistics.json``, ``constraint_violations.json`` and ``report.md`` under ``output_uri``
and returns the summary (``drift``, ``drifted_features``, ``distances``, record counts, the per-feature
table and the files' URIs). Fewer than ``min_records`` records skip the task: too little to judge.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowSkipException

from airflow_automl.hooks.automl import AutoMLHook
from airflow_automl.utils.object_storage import ObjectStorage

if TYPE_CHECKING:
    import pandas as pd
    from airflow.sdk import Context

# airflow_automl.monitoring (pandas, scipy) is imported when the check runs, not when a DAG file
# that uses the operator is parsed: DAG parsing has a time limit.
DEFAULT_SIGNIFICANCE = 0.01

PARQUET_SUFFIXES = (".parquet", ".pq")


class AutoMLDriftCheckOperator(AwsBaseOperator[AutoMLHook]):
    """Check a data set, or an endpoint's captured traffic over an interval, for drift from a
    model's training data; see the module's documentation for how each input is found."""

    aws_hook_class = AutoMLHook
    template_fields: Sequence[str] = aws_template_fields(
        "output_uri",
        "endpoint_name",
        "variant_name",
        "capture_uri",
        "data_uri",
        "interval_start",
        "interval_end",
        "baseline_uri",
        "model_package_arn",
        "job_name",
        "baseline_data_uri",
        "target_attribute_name",
        "monitoring_config",
        "min_records",
    )
    template_fields_renderers = {"monitoring_config": "json"}

    def __init__(
        self,
        *,
        output_uri: str,
        endpoint_name: str | None = None,
        variant_name: str = "AllTraffic",
        capture_uri: str | None = None,
        data_uri: str | None = None,
        interval_start: str | datetime | None = None,
        interval_end: str | datetime | None = None,
        baseline_uri: str | None = None,
        model_package_arn: str | None = None,
        job_name: str | None = None,
        job_metadata_key: str = "automl_job",
        baseline_data_uri: str | None = None,
        target_attribute_name: str | None = None,
        monitoring_config: dict[str, Any] | None = None,
        significance: float = DEFAULT_SIGNIFICANCE,
        min_records: int | str = 100,
        fail_on_drift: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not (data_uri or endpoint_name):
            raise ValueError(
                "AutoMLDriftCheckOperator: give data_uri (a data set) or endpoint_name (its captured data)"
            )
        if not (baseline_uri or model_package_arn or job_name or baseline_data_uri):
            raise ValueError(
                "AutoMLDriftCheckOperator: give the baseline: baseline_uri, model_package_arn, job_name "
                "or baseline_data_uri"
            )
        self.output_uri = output_uri
        self.endpoint_name = endpoint_name
        self.variant_name = variant_name
        self.capture_uri = capture_uri
        self.data_uri = data_uri
        self.interval_start = interval_start
        self.interval_end = interval_end
        self.baseline_uri = baseline_uri
        self.model_package_arn = model_package_arn
        self.job_name = job_name
        self.job_metadata_key = job_metadata_key
        self.baseline_data_uri = baseline_data_uri
        self.target_attribute_name = target_attribute_name
        self.monitoring_config = monitoring_config
        self.significance = significance
        self.min_records = min_records
        self.fail_on_drift = fail_on_drift

    # --- baseline ----------------------------------------------------------------------------

    def _stored_baseline(
        self, storage: ObjectStorage, statistics_uri: str, constraints_uri: str
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        statistics = storage.read_text_if_exists(statistics_uri)
        constraints = storage.read_text_if_exists(constraints_uri)
        if statistics is None or constraints is None:
            return None
        return json.loads(statistics), json.loads(constraints)

    def _training_channel(self, job_name: str) -> tuple[str, str | None]:
        """The AutoML job's training data URI and its target attribute."""
        described = self.hook.conn.describe_auto_ml_job_v2(AutoMLJobName=job_name)
        channels = described.get("AutoMLJobInputDataConfig", [])
        training = [c for c in channels if c.get("ChannelType", "training") == "training"] or channels
        if not training:
            raise AirflowException(f"AutoML job {job_name}: it has no input channel to take a baseline from")
        source = training[0]["DataSource"]["S3DataSource"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise AirflowException(
                f"AutoML job {job_name}: its training channel is a {source['S3DataType']}; "
                "give baseline_data_uri for a baseline from a manifest"
            )
        tabular = described.get("AutoMLProblemTypeConfig", {}).get("TabularJobConfig", {})
        return source["S3Uri"], tabular.get("TargetAttributeName")

    def _read_table(self, storage: ObjectStorage, uri: str) -> pd.DataFrame:
        import pandas as pd

        uris = [u for u in storage.list_uris(uri) if not u.rsplit("/", 1)[-1].startswith("_")]
        if not uris:
            raise AirflowException(f"{uri}: no data there")
        frames = []
        for part in uris:
            data = io.BytesIO(storage.read(part))
            frames.append(pd.read_parquet(data) if part.endswith(PARQUET_SUFFIXES) else pd.read_csv(data))
        return pd.concat(frames, ignore_index=True)

    def resolve_baseline(self, storage: ObjectStorage) -> tuple[dict[str, Any], dict[str, Any], str]:
        """(statistics, constraints, where they came from)."""
        from airflow_automl.monitoring.baseline import suggest_baseline

        if self.baseline_uri:
            prefix = self.baseline_uri.rstrip("/")
            stored = self._stored_baseline(storage, f"{prefix}/statistics.json", f"{prefix}/constraints.json")
            if stored is None:
                raise AirflowException(
                    f"baseline_uri {prefix}: statistics.json and constraints.json are not both there"
                )
            return (*stored, prefix)
        data_uri, target, job_name = self.baseline_data_uri, self.target_attribute_name, self.job_name
        if self.model_package_arn:
            package = self.hook.conn.describe_model_package(ModelPackageName=self.model_package_arn)
            quality = package.get("DriftCheckBaselines", {}).get("ModelDataQuality", {})
            if quality.get("Statistics") and quality.get("Constraints"):
                stored = self._stored_baseline(storage, quality["Statistics"]["S3Uri"], quality["Constraints"]["S3Uri"])
                if stored is not None:
                    return (*stored, f"{self.model_package_arn} DriftCheckBaselines")
            job_name = package.get("CustomerMetadataProperties", {}).get(self.job_metadata_key) or job_name
            if not job_name:
                raise AirflowException(
                    f"model package {self.model_package_arn}: it has no DriftCheckBaselines.ModelDataQuality and "
                    f"no CustomerMetadataProperties[{self.job_metadata_key!r}] naming its AutoML job"
                )
        if job_name and not data_uri:
            data_uri, job_target = self._training_channel(job_name)
            target = target or job_target
        if not data_uri:
            raise AirflowException("no baseline data found: give baseline_data_uri")
        frame = self._read_table(storage, data_uri)
        if target:
            if target not in frame.columns:
                raise AirflowException(f"{data_uri}: the target attribute {target!r} is not a column")
            frame = frame.drop(columns=[target])
        statistics, constraints = suggest_baseline(frame, self.monitoring_config)
        prefix = f"{self.output_uri.rstrip('/')}/baseline"
        storage.write(f"{prefix}/statistics.json", json.dumps(statistics, indent=2).encode())
        storage.write(f"{prefix}/constraints.json", json.dumps(constraints, indent=2).encode())
        return statistics, constraints, data_uri

    # --- data checked --------------------------------------------------------------------------

    def _capture_destination(self) -> str:
        if self.capture_uri:
            return self.capture_uri.rstrip("/")
        client = self.hook.conn
        config_name = client.describe_endpoint(EndpointName=self.endpoint_name)["EndpointConfigName"]
        capture = client.describe_endpoint_config(EndpointConfigName=config_name).get("DataCaptureConfig") or {}
        if not capture.get("DestinationS3Uri"):
            raise AirflowException(
                f"endpoint {self.endpoint_name}: its config {config_name} has no DataCaptureConfig; "
                "enable capture or give capture_uri"
            )
        destination: str = capture["DestinationS3Uri"]
        return destination.rstrip("/")

    @staticmethod
    def _instant(value: str | datetime | None, name: str) -> datetime:
        if value is None:
            raise AirflowException(f"{name}: the run has no data interval; give interval_start and interval_end")
        return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))

    def read_current(
        self, storage: ObjectStorage, feature_names: list[str], context: Context
    ) -> tuple[pd.DataFrame, str]:
        from airflow_automl.monitoring.capture import CaptureFormatError, captured_frame, hour_prefixes

        if self.data_uri:
            return self._read_table(storage, self.data_uri), self.data_uri
        start = self._instant(self.interval_start or context.get("data_interval_start"), "interval_start")
        end = self._instant(self.interval_end or context.get("data_interval_end"), "interval_end")
        root = f"{self._capture_destination()}/{self.endpoint_name}/{self.variant_name}"
        files = [uri for hour in hour_prefixes(start, end) for uri in storage.list_uris(f"{root}/{hour}/")]
        self.log.info("%d capture files under %s for %s .. %s", len(files), root, start, end)
        try:
            frame = captured_frame(storage.lines(files), feature_names)
        except CaptureFormatError as error:
            raise AirflowException(str(error)) from error
        return frame, f"{root} [{start.isoformat()}, {end.isoformat()})"

    # --- run --------------------------------------------------------------------------------------

    def execute(self, context: Context) -> dict[str, Any]:
        from airflow_automl.monitoring.checks import check
        from airflow_automl.monitoring.report import markdown_report

        try:
            min_records = int(self.min_records)
        except ValueError:
            min_records = 0
        if min_records < 1:
            raise AirflowException(f"min_records: must be a whole number of at least 1, got {self.min_records!r}")
        storage = ObjectStorage(self.aws_conn_id)
        statistics, constraints, baseline_source = self.resolve_baseline(storage)
        feature_names = [feature["name"] for feature in constraints["features"]]
        frame, source = self.read_current(storage, feature_names, context)
        if len(frame) < min_records:
            raise AirflowSkipException(
                f"{source}: {len(frame)} records, fewer than min_records={min_records}: too few to judge drift"
            )
        result = check(frame, statistics, constraints, self.significance)
        prefix = self.output_uri.rstrip("/")
        links = {
            "report": f"{prefix}/report.md",
            "constraint_violations": f"{prefix}/constraint_violations.json",
            "statistics": f"{prefix}/statistics.json",
            "baseline_statistics": f"{baseline_source}/statistics.json"
            if self.baseline_uri
            else f"{prefix}/baseline/statistics.json",
            "baseline_constraints": f"{baseline_source}/constraints.json"
            if self.baseline_uri
            else f"{prefix}/baseline/constraints.json",
        }
        if self.model_package_arn and "DriftCheckBaselines" in baseline_source:
            links.pop("baseline_statistics")
            links.pop("baseline_constraints")
        storage.write(links["statistics"], json.dumps(result.statistics, indent=2).encode())
        storage.write(links["constraint_violations"], json.dumps(result.violations_document(), indent=2).encode())
        report = markdown_report(result, f"Drift check: {source}", links)
        storage.write(links["report"], report.encode())
        self.log.info("%s", report)
        summary = {**result.summary(), "source": source, "baseline_source": baseline_source, "links": links}
        if self.fail_on_drift and summary["drift"]:
            raise AirflowException(f"drift in {', '.join(summary['drifted_features'])}: see {links['report']}")
        return summary
