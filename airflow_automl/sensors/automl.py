"""AutoMLBestCandidateSensor: gate downstream tasks on an AutoML job's best candidate (and its score)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, AirflowSensorTimeout, conf
from airflow.sdk import PokeReturnValue

from airflow_automl.hooks.automl import AutoMLHook
from airflow_automl.links.automl import AutoMLJobLink
from airflow_automl.sagemaker.metrics import greater_is_better
from airflow_automl.triggers.automl import ERROR, TIMEOUT, AutoMLJobTrigger
from airflow_automl.utils.job_view import AutoMLJobView, JobSummary
from airflow_automl.utils.lineage import openlineage_lineage, output_uris
from airflow_automl.utils.naming import add_naming_macro

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_automl.utils.openlineage_facets import AutoMLJobLineage


class AutoMLBestCandidateSensor(AwsBaseSensor[AutoMLHook]):
    """
    Wait until an AutoML job has its best candidate, optionally requiring a minimum score.

    Passes when the job has ended with a best candidate (Completed, or Stopped/Failed after one was
    trained) whose objective value is at least as good as ``metric_threshold`` in the metric's
    direction (higher for AUC/F1/Accuracy/R2..., lower for MSE/RMSE/MAE...). Fails at once, without
    retries, when the job ended without a candidate or the threshold is missed; with ``soft_fail``
    the task is skipped instead. Returns the job summary (XCom), like AutoMLJobOperator.

    :param job_name: the AutoML job (templated; ``{{ automl_job_name('churn') }}`` works here too).
    :param metric_threshold: the objective value the best candidate must reach (templated).
    :param api_version: which Describe operation to use (default 2, which answers for both).
    :param leaderboard_size: how many best candidates the summary lists.
    :param deferrable: wait in the triggerer; ``poke_interval`` is the trigger's poll interval and
        ``timeout`` its deadline. Default ``[operators] default_deferrable``.
    :param aws_conn_id: the AWS connection (default ``aws_default``), as for the operator.
    :param region_name: AWS region; default: the connection's.

    ``poke_interval``, ``timeout``, ``mode`` and ``soft_fail`` are Airflow's, as for any sensor.

    :return: (XCom ``return_value``) the same job summary as ``AutoMLJobOperator``
        (:class:`~airflow_automl.utils.job_view.JobSummary`).
    :raises AirflowFailException: (no retries) when ``metric_threshold`` is not a number, the job ended
        without a best candidate, or its best candidate misses the threshold (skipped instead with
        ``soft_fail=True``).
    :raises AirflowSensorTimeout: when ``timeout`` passes while the job runs.
    :raises AirflowException: when the deferred wait ends in an error (the job does not exist, SageMaker
        refused the call).

    With the OpenLineage provider installed, the task reports the job it gated: the job's model and
    output path as its inputs, and the job's ``automlJob`` run facet.
    """

    aws_hook_class = AutoMLHook
    template_fields: Sequence[str] = aws_template_fields("job_name", "metric_threshold", "api_version")
    operator_extra_links = (AutoMLJobLink(),)
    ui_color = "#b5e3c4"

    def __init__(
        self,
        *,
        job_name: str,
        metric_threshold: float | str | None = None,
        api_version: int | None = None,
        leaderboard_size: int = 5,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.job_name = job_name
        self.metric_threshold = metric_threshold
        self.api_version = api_version
        self.leaderboard_size = leaderboard_size
        self.deferrable = deferrable
        # The ended job the gate judged: what its lineage reports, passed or not.
        self._gated_job: AutoMLJobView | None = None

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Context, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        # Mapped or not, rendering goes through here (see AutoMLJobOperator).
        add_naming_macro(context)
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)

    @property
    def _api_version(self) -> int | None:
        return int(self.api_version) if self.api_version else None

    def _threshold(self) -> float | None:
        if self.metric_threshold is None or self.metric_threshold == "":
            return None
        try:
            return float(self.metric_threshold)
        except (TypeError, ValueError) as error:
            raise AirflowFailException(f"metric_threshold: must be a number, got {self.metric_threshold!r}") from error

    def _describe(self) -> AutoMLJobView:
        if not self.job_name or not str(self.job_name).strip():
            raise AirflowFailException(
                "job_name: rendered empty; when it comes from XCom, check that the upstream task returned its summary"
            )
        return self.hook.describe_job(self.job_name, self._api_version)

    def evaluate(self, view: AutoMLJobView) -> JobSummary | None:
        """The summary when the best candidate is final and good enough; None while the job runs."""
        if not view.is_terminal:
            self.log.info("%s; waiting for its best candidate", view.describe_progress())
            return None
        self._gated_job = view
        if view.best_candidate_name is None:
            raise AirflowFailException(
                f"AutoML job {view.job_name} ended {view.status} without a best candidate: "
                f"{view.failure_reason or 'no reason given'}"
            )
        threshold = self._threshold()
        value = view.objective_metric_value
        metric = view.best_metric.get("MetricName") or view.objective_metric_name
        if threshold is not None:
            if value is None:
                raise AirflowFailException(
                    f"AutoML job {view.job_name}: best candidate {view.best_candidate_name} has no "
                    f"objective value to compare with metric_threshold={threshold}"
                )
            greater = greater_is_better(metric, view.best_metric.get("Type"))
            if (value < threshold) if greater else (value > threshold):
                direction = "higher" if greater else "lower"
                raise AirflowFailException(
                    f"AutoML job {view.job_name}: best candidate {view.best_candidate_name} has "
                    f"{metric} = {value:.6g}, which misses metric_threshold={threshold:.6g} "
                    f"({direction} is better)"
                )
        self.log.info(
            "AutoML job %s: best candidate %s, %s = %s%s",
            view.job_name,
            view.best_candidate_name,
            metric,
            value,
            f" (threshold {threshold})" if threshold is not None else "",
        )
        return view.to_summary(self.hook.leaderboard(view, self.leaderboard_size))

    def poke(self, context: Context) -> PokeReturnValue:
        summary = self.evaluate(self._describe())
        return PokeReturnValue(is_done=summary is not None, xcom_value=summary)

    def execute(self, context: Context) -> Any:
        if self.job_name:
            AutoMLJobLink.persist(
                context, self.job_name, self.hook.conn_region_name, self.hook.endpoint_url, self.aws_conn_id
            )
        if not self.deferrable:
            return super().execute(context)
        summary = self.evaluate(self._describe())
        if summary is not None:
            return summary
        self.defer(
            trigger=AutoMLJobTrigger(
                job_name=self.job_name,
                aws_conn_id=self.aws_conn_id,
                region_name=self.region_name,
                poll_interval=self.poke_interval,
                api_version=self._api_version,
                deadline=time.time() + self.timeout,
                # The sensor watches a job it does not own: killing it must not stop the job.
                stop_job_on_kill=False,
                verify=self.verify,
                botocore_config=self.botocore_config,
            ),
            method_name="execute_complete",
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> JobSummary:
        if not event or "status" not in event:
            raise AirflowException(f"AutoML job trigger sent no usable event: {event!r}")
        if event["status"] == TIMEOUT:
            raise AirflowSensorTimeout(event.get("message"))
        if event["status"] == ERROR:
            raise AirflowException(event.get("message"))
        summary = self.evaluate(self._describe())
        if summary is None:
            raise AirflowException(f"AutoML job {self.job_name} is still running after the trigger's final event")
        return summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> AutoMLJobLineage:
        """Inputs: what the gated job produced (its best model, its output path); its run facet."""
        view = self._gated_job
        if view is None:
            return openlineage_lineage(None, inputs=[], outputs=[])
        return openlineage_lineage(view, inputs=output_uris(view), outputs=[])
