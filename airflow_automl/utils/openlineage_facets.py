"""OpenLineage objects for an AutoML job. Imports OpenLineage: import this module only from code
the OpenLineage provider calls (``airflow_automl.utils.lineage`` does so lazily)."""

from __future__ import annotations

from typing import Any

from airflow.providers.openlineage.extractors import OperatorLineage
from attrs import define
from openlineage.client.event_v2 import Dataset
from openlineage.client.facet_v2 import RunFacet


@define
class AutoMLJobRunFacet(RunFacet):
    """The SageMaker AutoML job a task ran or gated, and what it produced."""

    jobName: str  # noqa: N815 (OpenLineage facets use camelCase)
    jobArn: str | None  # noqa: N815
    apiVersion: int  # noqa: N815
    status: str
    problemType: str | None  # noqa: N815
    objectiveMetricName: str | None  # noqa: N815
    objectiveMetricValue: float | None  # noqa: N815
    bestCandidateName: str | None  # noqa: N815
    candidateCount: int | None  # noqa: N815
    mode: str | None
    failureReason: str | None  # noqa: N815

    # ARNs, names and metric names are not secrets: keep them readable in redacted events.
    _additional_skip_redact = ["jobName", "jobArn", "bestCandidateName", "objectiveMetricName", "failureReason"]


# What the operator and the sensor report: datasets, and the run facet above.
AutoMLJobLineage = OperatorLineage[Dataset, RunFacet]


def operator_lineage(
    *,
    inputs: list[tuple[str, str]],
    outputs: list[tuple[str, str]],
    run_facet_name: str,
    run_facts: dict[str, Any] | None,
) -> AutoMLJobLineage:
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name) for namespace, name in inputs],
        outputs=[Dataset(namespace=namespace, name=name) for namespace, name in outputs],
        run_facets={run_facet_name: AutoMLJobRunFacet(**run_facts)} if run_facts is not None else {},
    )
