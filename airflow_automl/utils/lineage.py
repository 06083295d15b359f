"""Lineage of an AutoML job: the data it read, the model it wrote, the facts of the run.

Two consumers read it:
- OpenLineage: the operator's and the sensor's ``get_openlineage_facets_on_*`` methods turn a job
  into datasets and a run facet. The OpenLineage classes live in ``openlineage_facets`` and are
  imported only inside ``openlineage_lineage()``, which only the OpenLineage provider calls, so
  without ``apache-airflow-providers-openlineage`` nothing here needs it.
- Airflow assets: ``model_asset_extra()`` is the extra of the asset event the operator emits when
  its job has a new best model, which a deployment DAG scheduled on the asset reads.

Datasets are named as the Amazon provider's SageMaker operators name them: ``s3://bucket/key`` is
namespace ``s3://bucket`` and name ``key``; ``file:///path`` (the local service) is namespace
``file`` and name ``/path`` (no trailing slash), as the common-io provider names file assets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_automl.utils.job_view import AutoMLJobView

if TYPE_CHECKING:
    from airflow_automl.utils.openlineage_facets import AutoMLJobLineage

RUN_FACET_NAME = "automlJob"


def dataset_identifier(uri: str) -> tuple[str, str]:
    """(namespace, name) of the OpenLineage dataset at ``uri``."""
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        return f"s3://{parts.netloc}", parts.path.lstrip("/") or "/"
    if parts.scheme == "file":
        # As Airflow's file assets, which drop a trailing slash: a directory and its URI with "/" are one dataset.
        return (f"file://{parts.netloc}" if parts.netloc else "file"), parts.path.rstrip("/") or "/"
    return f"{parts.scheme}://{parts.netloc}", parts.path


def _unique(uris: list[str | None]) -> list[str]:
    return list(dict.fromkeys(uri for uri in uris if uri))


def input_uris(view: AutoMLJobView) -> list[str]:
    """The training and validation channels' data, as the job's description states them."""
    return list(view.input_uris)


def output_uris(view: AutoMLJobView) -> list[str]:
    """The best candidate's model artifacts, then the job's output path."""
    return _unique([*view.model_artifacts, view.output_path])


def job_mode(view: AutoMLJobView) -> str | None:
    """AUTO, ENSEMBLING or HYPERPARAMETER_TUNING, where the description says."""
    return view.mode


def run_facts(view: AutoMLJobView, candidate_count: int | None) -> dict[str, Any]:
    """The run facet's fields (OpenLineage's camelCase)."""
    return {
        "jobName": view.job_name,
        "jobArn": view.job_arn,
        "apiVersion": view.api_version,
        "status": view.status,
        "problemType": view.problem_type,
        "objectiveMetricName": view.best_metric.get("MetricName") or view.objective_metric_name,
        "objectiveMetricValue": view.objective_metric_value,
        "bestCandidateName": view.best_candidate_name,
        "candidateCount": candidate_count,
        "mode": job_mode(view),
        "failureReason": view.failure_reason,
    }


def model_asset_extra(view: AutoMLJobView) -> dict[str, Any]:
    """What a model asset event says: which job, which candidate, how good, and where the model is."""
    artifacts = view.model_artifacts
    return {
        "job_name": view.job_name,
        "job_arn": view.job_arn,
        "best_candidate_name": view.best_candidate_name,
        "objective_metric_name": view.best_metric.get("MetricName") or view.objective_metric_name,
        "objective_metric_value": view.objective_metric_value,
        # The first inference container's model; model_artifacts lists every container's.
        "model_location": artifacts[0] if artifacts else None,
        "model_artifacts": artifacts,
        "output_path": view.output_path,
    }


def openlineage_lineage(
    view: AutoMLJobView | None,
    *,
    inputs: list[str],
    outputs: list[str],
    candidate_count: int | None = None,
) -> AutoMLJobLineage:
    """OperatorLineage with these datasets and, when the job is known, its run facet."""
    from airflow_automl.utils.openlineage_facets import operator_lineage

    return operator_lineage(
        inputs=[dataset_identifier(uri) for uri in inputs],
        outputs=[dataset_identifier(uri) for uri in outputs],
        run_facet_name=RUN_FACET_NAME,
        run_facts=run_facts(view, candidate_count) if view is not None else None,
    )
