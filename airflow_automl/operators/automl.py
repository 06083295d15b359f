"""AutoMLJobOperator: submit a SageMaker AutoML job, wait for it (in the worker or the triggerer), return its result."""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException, conf

try:
    from airflow.sdk.exceptions import TaskDeferralTimeout
except ImportError:  # Airflow 3.1: the Task SDK raises Airflow core's
    from airflow.exceptions import TaskDeferralTimeout  # type: ignore[no-redef]

from airflow_automl.hooks.automl import JOB_REFUSED_CODES, AutoMLApiError, AutoMLHook, AutoMLJobAlreadyExists
from airflow_automl.links.automl import AutoMLJobLink
from airflow_automl.sagemaker.api_versions import (
    API_VERSIONS,
    CHANNEL_KEYS,
    PROBLEM_TYPE_CONFIG,
    TABULAR_CONFIG,
    V1,
    V2,
    ApiVersion,
    by_create_operation,
)
from airflow_automl.sagemaker.job_status import FAILED_STATUSES
from airflow_automl.triggers.automl import FAILED, STOPPED, SUCCESS, TIMEOUT, AutoMLJobTrigger
from airflow_automl.utils.job_view import AutoMLJobView, JobSummary
from airflow_automl.utils.lineage import input_uris, model_asset_extra, openlineage_lineage, output_uris
from airflow_automl.utils.naming import add_naming_macro, automl_job_name, incremented_job_name

if TYPE_CHECKING:
    from airflow.sdk import Context

    from airflow_automl.utils.openlineage_facets import AutoMLJobLineage

ACTIONS_IF_JOB_EXISTS = ("reattach", "increment", "fail")
# Tags the operator puts on every job it creates: how a retry recognises its own job.
TAG_DAG_ID = "airflow:dag_id"
TAG_RUN_ID = "airflow:run_id"
TAG_TASK_ID = "airflow:task_id"
TAG_MAP_INDEX = "airflow:map_index"
_MAX_NAME_ATTEMPTS = 100


def detect_api_version(config: Mapping[str, Any], api_version: int | None) -> int:
    """1 or 2: the explicit parameter, else what the request's keys say, else 2 (AWS's recommendation)."""
    if api_version is not None:
        if api_version not in (1, 2):
            raise AirflowFailException(f"api_version: must be 1 or 2, got {api_version!r}")
        return api_version
    keys = set(config)
    if keys & V2.own_keys and keys & V1.own_keys:
        raise AirflowFailException(
            f"config: mixes {V1.create_operation} keys {sorted(keys & V1.own_keys)} with {V2.create_operation} keys "
            f"{sorted(keys & V2.own_keys)}; use one API version"
        )
    return 1 if keys & V1.own_keys else 2


def _tag_value(value: str) -> str:
    """SageMaker tag values allow letters, digits, spaces and _.:/=+-@ (256 at most); run ids may hold '~'."""
    return re.sub(r"[^\w.:/=+\-@ ]", "_", value)[:256]


def _dig(data: dict[str, Any], *path: str) -> dict[str, Any]:
    for key in path:
        data = data.setdefault(key, {})
    return data


class AutoMLJobOperator(AwsBaseOperator[AutoMLHook]):
    """
    Create a SageMaker AutoML job (CreateAutoMLJob or CreateAutoMLJobV2) and wait for its best candidate.

    The request is ``config`` with the shortcut parameters merged in, strings rendered from templates
    coerced to the numbers and booleans the API wants, and checked against botocore's model and the API
    reference's rules before anything is sent. The job is tagged ``airflow:dag_id``, ``airflow:run_id``,
    ``airflow:task_id`` and ``airflow:map_index`` (``-1`` when not mapped): a retry finds its own job by
    name and tags and reattaches to it instead of creating a second one.

    :param job_name: the job's name (templated). ``{{ automl_job_name('churn') }}`` gives
        ``<prefix>-<YYYYMMDD>-<hash>`` (at most 32 characters), unique per DAG run and map index and the
        same on every retry of it. Defaults to such a name built from the task id.
    :param config: the API request without ``AutoMLJobName`` (templated, nested values too): V1 keys such
        as ``InputDataConfig`` and ``AutoMLJobConfig``, or V2 keys such as ``AutoMLJobInputDataConfig``
        and ``AutoMLProblemTypeConfig``. ``"MaxCandidates": "{{ params.n }}"`` becomes a number.
    :param api_version: 1 (CreateAutoMLJob) or 2 (CreateAutoMLJobV2); default: from ``config``'s keys, else 2.
    :param input_uri: shortcut for the training channel's ``S3Uri``, e.g. ``"s3://bucket/data/"`` (or
        ``file://`` on the local service).
    :param target_attribute: shortcut for ``TargetAttributeName``, the column to predict.
    :param output_path: shortcut for ``OutputDataConfig.S3OutputPath``.
    :param problem_type: ``BinaryClassification``, ``MulticlassClassification`` or ``Regression``.
    :param objective_metric: ``AutoMLJobObjective.MetricName``, e.g. ``"F1"``.
    :param max_runtime_seconds: ``CompletionCriteria.MaxAutoMLJobRuntimeInSeconds``, e.g. ``3600``.
    :param max_candidates: ``CompletionCriteria.MaxCandidates``, e.g. ``20``.
    :param mode: ``AUTO``, ``ENSEMBLING`` or ``HYPERPARAMETER_TUNING``.
    :param role_arn: ``RoleArn``, the role SageMaker runs the job as.
    :param tags: extra job tags, e.g. ``{"project": "churn"}``, besides the ``airflow:*`` tags.
    :param action_if_job_exists: when the name is taken: ``reattach`` (default: wait on the existing job
        when this DAG run, task and map index created it and it has not failed; after a ``Failed`` or
        ``Stopped`` one submit ``<name>-2``, ...), ``increment`` (always a new suffixed name) or ``fail``.
    :param wait_for_completion: ``False`` returns right after submitting, with the job's status then.
    :param deferrable: wait in the triggerer (:class:`~airflow_automl.triggers.automl.AutoMLJobTrigger`)
        instead of holding a worker slot; default ``[operators] default_deferrable``.
    :param poll_interval: seconds between status checks (default 30).
    :param max_wait: give up after this long (seconds or a ``timedelta``); the job is then stopped if
        ``stop_job_on_kill``.
    :param stop_job_on_kill: stop the job when the task is killed, times out or gives up (default True).
    :param leaderboard_size: how many best candidates the returned summary's ``leaderboard`` lists (default 5).
    :param outlets: Airflow assets that get an event when the job completes; its extra holds
        ``job_name``, ``job_arn``, ``best_candidate_name``, ``objective_metric_name``,
        ``objective_metric_value``, ``model_location``, ``model_artifacts`` and ``output_path``.
        Needs ``wait_for_completion=True``.
    :param aws_conn_id: the AWS connection (default ``aws_default``); its ``endpoint_url`` (or
        ``service_config.sagemaker.endpoint_url``) may point at the local service.
    :param region_name: AWS region; default: the connection's.
    :param verify: TLS certificate verification, as in the Amazon provider's operators.
    :param botocore_config: botocore client configuration, as in the Amazon provider's operators.

    :return: (XCom ``return_value``) the job summary, a
        :class:`~airflow_automl.utils.job_view.JobSummary`: ``job_name``, ``job_arn``, ``status``,
        ``best_candidate_name``, ``objective_metric_name``, ``objective_metric_value``,
        ``inference_containers``, ``model_artifacts``, ``leaderboard`` and more. The task also pushes
        the extra link's data under the XCom key ``automl_job_link``.
    :raises ValueError: at DAG parse time, for an unknown ``action_if_job_exists`` or ``outlets``
        without ``wait_for_completion``.
    :raises AirflowFailException: (no retries) for a request that breaks the API's rules, naming the
        field; a ``config`` that mixes V1 and V2 keys; a name taken by another task instance's job, or
        any taken name with ``action_if_job_exists="fail"``.
    :raises AirflowException: when the job ends ``Failed`` or ``Stopped`` (with SageMaker's reason), or
        ``max_wait`` passes.

    With the OpenLineage provider installed, the task reports the job's input data, its model and
    output path, and an ``automlJob`` run facet.
    """

    aws_hook_class = AutoMLHook
    template_fields: Sequence[str] = aws_template_fields(
        "job_name",
        "config",
        "api_version",
        "input_uri",
        "target_attribute",
        "output_path",
        "problem_type",
        "objective_metric",
        "max_runtime_seconds",
        "max_candidates",
        "mode",
        "role_arn",
        "tags",
    )
    template_fields_renderers = {"config": "json", "tags": "json"}
    operator_extra_links = (AutoMLJobLink(),)
    ui_color = "#b5e3c4"

    def __init__(
        self,
        *,
        job_name: str | None = None,
        config: dict[str, Any] | None = None,
        api_version: int | None = None,
        input_uri: str | None = None,
        target_attribute: str | None = None,
        output_path: str | None = None,
        problem_type: str | None = None,
        objective_metric: str | None = None,
        max_runtime_seconds: int | str | None = None,
        max_candidates: int | str | None = None,
        mode: str | None = None,
        role_arn: str | None = None,
        tags: dict[str, str] | None = None,
        action_if_job_exists: str = "reattach",
        wait_for_completion: bool = True,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 30,
        max_wait: timedelta | float | None = None,
        stop_job_on_kill: bool = True,
        leaderboard_size: int = 5,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if action_if_job_exists not in ACTIONS_IF_JOB_EXISTS:
            raise ValueError(
                f"action_if_job_exists: must be one of {', '.join(ACTIONS_IF_JOB_EXISTS)}, got {action_if_job_exists!r}"
            )
        self.job_name = job_name
        self.config = config or {}
        self.api_version = api_version
        self.input_uri = input_uri
        self.target_attribute = target_attribute
        self.output_path = output_path
        self.problem_type = problem_type
        self.objective_metric = objective_metric
        self.max_runtime_seconds = max_runtime_seconds
        self.max_candidates = max_candidates
        self.mode = mode
        self.role_arn = role_arn
        self.tags = tags or {}
        self.action_if_job_exists = action_if_job_exists
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = poll_interval
        self.max_wait = max_wait.total_seconds() if isinstance(max_wait, timedelta) else max_wait
        self.stop_job_on_kill = stop_job_on_kill
        self.leaderboard_size = leaderboard_size
        self._submitted_job_name: str | None = None
        # The ended job the task saw last: its lineage and its outlets' asset events describe it.
        self._finished_job: AutoMLJobView | None = None
        if self.outlets and not wait_for_completion:
            raise ValueError(
                "outlets: an asset event announces a finished job's model, so outlets need wait_for_completion=True"
            )

    # --- templating and the request -------------------------------------------------------

    def _do_render_template_fields(
        self, parent: Any, template_fields: Any, context: Context, jinja_env: Any, seen_oids: set[int]
    ) -> None:
        # The one rendering step both an ordinary and a mapped task go through (a mapped task is
        # rendered by its unmapped copy, which skips render_template_fields).
        add_naming_macro(context)
        super()._do_render_template_fields(parent, template_fields, context, jinja_env, seen_oids)

    def build_request(self) -> tuple[str, dict[str, Any]]:
        """(operation, request): ``config`` with the convenience parameters merged in, coerced and validated."""
        from airflow_automl.sagemaker.rules import validate_request
        from airflow_automl.sagemaker.shapes import RequestValidationError, coerce_request

        if not isinstance(self.config, Mapping):
            raise AirflowFailException(f"config: must be a mapping (the API request), got {type(self.config).__name__}")
        if "AutoMLJobName" in self.config:
            raise AirflowFailException("config.AutoMLJobName: set the name with job_name, not in config")
        api_version = detect_api_version(self.config, int(self.api_version) if self.api_version else None)
        version = API_VERSIONS[api_version]
        operation = version.create_operation
        request = copy.deepcopy(dict(self.config))
        self._merge_parameters(request, version)
        user_tags = [{"Key": str(key), "Value": str(value)} for key, value in self.tags.items()]
        if user_tags:
            request["Tags"] = [t for t in request.get("Tags", []) if t["Key"] not in self.tags] + user_tags
        try:
            request = coerce_request(operation, request)
            validate_request(operation, {**request, "AutoMLJobName": self.job_name})
        except RequestValidationError as error:
            raise AirflowFailException(f"{operation} request is invalid: {error}") from error
        return operation, request

    def _merge_parameters(self, request: dict[str, Any], version: ApiVersion) -> None:
        """Write the convenience parameters where ``version`` keeps each setting (apiversions.SETTING_PATHS)."""
        configs = request.get(PROBLEM_TYPE_CONFIG) or {}
        # A V2 request for another problem type keeps its own config: the tabular parameters do not apply.
        tabular = version is V1 or TABULAR_CONFIG in configs or not configs
        if version is V2 and tabular:
            _dig(request, PROBLEM_TYPE_CONFIG, TABULAR_CONFIG)
        if self.output_path is not None:
            _dig(request, "OutputDataConfig")["S3OutputPath"] = self.output_path
        if self.objective_metric is not None:
            _dig(request, "AutoMLJobObjective")["MetricName"] = self.objective_metric
        if self.role_arn is not None:
            request["RoleArn"] = self.role_arn
        channels = request.setdefault(version.path("channels"), [])
        if self.input_uri is not None:
            self._set_input_uri(channels, self.input_uri, v2=version is V2)
        if not tabular:
            return
        completion = {
            "MaxAutoMLJobRuntimeInSeconds": self.max_runtime_seconds,
            "MaxCandidates": self.max_candidates,
        }
        for key, value in completion.items():
            if value is not None:
                _dig(request, *version.path("completion").split("."))[key] = value
        settings = {"problem_type": self.problem_type, "mode": self.mode, "target": self.target_attribute}
        for setting, value in settings.items():
            if value is None:
                continue
            if setting in CHANNEL_KEYS and version is V1:
                for channel in channels:  # V1 names the target on every channel
                    channel[CHANNEL_KEYS[setting]] = value
            else:
                *parents, last = version.path(setting).split(".")
                _dig(request, *parents)[last] = value

    @staticmethod
    def _set_input_uri(channels: list[dict[str, Any]], uri: str, v2: bool) -> None:
        training = next((c for c in channels if c.get("ChannelType", "training") == "training"), None)
        if training is None:
            training = {"ChannelType": "training"} if v2 else {}
            channels.insert(0, training)
        source = _dig(training, "DataSource", "S3DataSource")
        source.setdefault("S3DataType", "S3Prefix")
        source["S3Uri"] = uri

    # --- submit or reattach ---------------------------------------------------------------

    @staticmethod
    def run_tags(context: Context) -> dict[str, str]:
        """The tags that say which task instance owns a job: a mapped task's map index is part of it."""
        ti = context["ti"]
        return {
            TAG_DAG_ID: _tag_value(ti.dag_id),
            TAG_RUN_ID: _tag_value(ti.run_id),
            TAG_TASK_ID: _tag_value(ti.task_id),
            TAG_MAP_INDEX: str(ti.map_index),
        }

    def submit_or_reattach(self, context: Context, request: dict[str, Any], api_version: int) -> AutoMLJobView | None:
        """Create the job, or find the one this run already created.

        Returns the existing job's view, or None if it created the job.
        """
        base_name = self.job_name
        if not base_name:
            raise AirflowFailException("job_name: not set; execute() names the job before submitting it")
        run_tags = self.run_tags(context)
        for attempt in range(1, _MAX_NAME_ATTEMPTS + 1):
            name = incremented_job_name(base_name, attempt)
            existing = self.hook.find_job(name, api_version)
            if existing is None:
                try:
                    self.hook.create_job(name, request, api_version=api_version, tags=run_tags)
                except AutoMLJobAlreadyExists:
                    # Created concurrently, or our create went through but its answer was lost.
                    existing = self.hook.find_job(name, api_version)
                    if existing is None:
                        raise
                else:
                    self.log.info("Created AutoML job %s (API V%d)", name, api_version)
                    self._submitted_job_name = name
                    return None
            if self.action_if_job_exists == "fail":
                raise AirflowFailException(
                    f"job_name: AutoML job {name} already exists ({existing.status}) and "
                    "action_if_job_exists='fail'; choose another name or 'reattach'/'increment'"
                )
            if self.action_if_job_exists == "increment":
                continue
            tags = self.hook.get_tags(existing.job_arn) if existing.job_arn else {}
            owner = {key: tags.get(key) for key in run_tags}
            if owner != run_tags:
                raise AirflowFailException(
                    f"job_name: AutoML job {name} already exists and was not created by this task instance "
                    f"(DAG run, task and map index; its tags: {owner}); use a name unique per run and map index "
                    "such as {{ automl_job_name('<prefix>') }}, or action_if_job_exists='increment'"
                )
            if existing.status in FAILED_STATUSES:
                self.log.info(
                    "AutoML job %s of this run ended %s (%s); submitting a new job",
                    name,
                    existing.status,
                    existing.failure_reason,
                )
                continue
            self.log.info("Reattaching to AutoML job %s of this run (%s)", name, existing.status)
            self._submitted_job_name = name
            return existing
        raise AirflowFailException(f"job_name: {_MAX_NAME_ATTEMPTS} names derived from {base_name} are taken")

    # --- execution ------------------------------------------------------------------------

    def execute(self, context: Context) -> JobSummary:
        if not self.job_name:
            self.job_name = automl_job_name(self.task_id, context)
        operation, request = self.build_request()
        api_version = by_create_operation(operation).number
        existing = self.submit_or_reattach(context, request, api_version)
        name = self._submitted_job_name
        assert name is not None, "submit_or_reattach records the job it created or reattached to"
        AutoMLJobLink.persist(context, name, self.hook.conn_region_name, self.hook.endpoint_url, self.aws_conn_id)

        view = existing or self.hook.describe_job(name, api_version)
        if not self.wait_for_completion:
            return view.to_summary()
        if view.is_terminal:
            return self._result(view)
        deadline = time.time() + self.max_wait if self.max_wait else None
        if self.deferrable:
            # [START defer_to_trigger]
            self.defer(
                trigger=AutoMLJobTrigger(
                    job_name=name,
                    aws_conn_id=self.aws_conn_id,
                    region_name=self.region_name,
                    poll_interval=self.poll_interval,
                    api_version=api_version,
                    deadline=deadline,
                    stop_job_on_kill=self.stop_job_on_kill,
                    verify=self.verify,
                    botocore_config=self.botocore_config,
                ),
                method_name="execute_complete",
                timeout=self.execution_timeout,
            )
            # [END defer_to_trigger]
        return self._result(self._wait_in_worker(name, api_version, deadline))

    def _wait_in_worker(self, name: str, api_version: int, deadline: float | None) -> AutoMLJobView:
        last_progress = None
        while True:
            try:
                view = self.hook.describe_job(name, api_version)
            except AutoMLApiError as error:
                if error.code in JOB_REFUSED_CODES:
                    raise
                self.log.warning("Polling AutoML job %s failed, will poll again: %s", name, error)
            else:
                if (view.status, view.secondary_status) != last_progress:
                    last_progress = (view.status, view.secondary_status)
                    self.log.info("%s", self._progress_line(view))
                if view.is_terminal:
                    return view
            if deadline is not None and time.time() >= deadline:
                self._stop_for(name, f"it was still running after max_wait={self.max_wait}s")
                raise AirflowException(f"AutoML job {name} did not finish within max_wait={self.max_wait}s")
            time.sleep(
                self.poll_interval if deadline is None else max(0.0, min(self.poll_interval, deadline - time.time()))
            )

    def _progress_line(self, view: AutoMLJobView) -> str:
        line = view.describe_progress()
        try:
            count = self.hook.count_candidates(view.job_name)
        except AutoMLApiError as error:
            return f"{line} (candidates unknown: {error.message})"
        return f"{line}, {count} candidate{'s' if count != 1 else ''} so far"

    def _result(self, view: AutoMLJobView) -> JobSummary:
        self._finished_job = view
        if view.status != "Completed":
            raise AirflowException(view.failure_message())
        summary = view.to_summary(self.hook.leaderboard(view, self.leaderboard_size))
        self.log.info(
            "AutoML job %s completed: best candidate %s, %s = %s",
            view.job_name,
            summary["best_candidate_name"],
            summary["objective_metric_name"],
            summary["objective_metric_value"],
        )
        return summary

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> JobSummary:
        """Turn the trigger's event into the result, or a clear error."""
        if not event or "status" not in event:
            raise AirflowException(f"AutoML job trigger sent no usable event: {event!r}")
        status = event["status"]
        name = event.get("job_name") or self.job_name
        if not name:
            raise AirflowException(f"AutoML job trigger sent an event without a job name: {event!r}")
        self._submitted_job_name = name
        if status == SUCCESS:
            api_version = (event.get("summary") or {}).get("api_version")
            return self._result(self.hook.describe_job(name, api_version))
        if status == TIMEOUT:
            self._stop_for(name, "it was still running at max_wait")
            raise AirflowException(event.get("message") or f"AutoML job {name} timed out")
        if status in (FAILED, STOPPED):
            raise AirflowException(event.get("message") or f"AutoML job {name} ended {status}")
        raise AirflowException(f"Waiting for AutoML job {name} failed: {event.get('message')}")

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        # A deferral that hits execution_timeout comes back here as TaskDeferralTimeout: stop the job too.
        try:
            return super().resume_execution(next_method, next_kwargs, context)
        except TaskDeferralTimeout:
            self._stop_for(self._submitted_job_name or self.job_name, "its task timed out while deferred")
            raise

    def _stop_for(self, name: str | None, why: str) -> None:
        if not (self.stop_job_on_kill and name):
            return
        self.log.info("Stopping AutoML job %s because %s", name, why)
        try:
            self.hook.stop_job(name)
        except AutoMLApiError as error:
            self.log.error("Could not stop AutoML job %s: %s", name, error)

    def on_kill(self) -> None:
        """The task was killed (or hit execution_timeout) while polling in the worker."""
        self._stop_for(self._submitted_job_name, "its task was killed")

    # --- assets and lineage ---------------------------------------------------------------

    def post_execute(self, context: Context, result: Any = None) -> None:
        """The job completed: give each Asset outlet's event the new model (on every path, deferred or not)."""
        super().post_execute(context, result)
        from airflow.sdk import Asset

        if self._finished_job is None:
            return
        extra = model_asset_extra(self._finished_job)
        for outlet in self.outlets:
            if isinstance(outlet, Asset):
                context["outlet_events"][outlet].extra.update(extra)

    def _ended_job(self) -> AutoMLJobView | None:
        """The job this task ran, as it ended; described now when the task only heard of its end from the trigger."""
        if self._finished_job is None and self._submitted_job_name:
            self._finished_job = self.hook.describe_job(self._submitted_job_name)
        return self._finished_job

    def _candidate_count(self, job_name: str) -> int | None:
        try:
            return self.hook.count_candidates(job_name)
        except AutoMLApiError as error:
            self.log.warning("Lineage of AutoML job %s goes without its candidate count: %s", job_name, error)
            return None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> AutoMLJobLineage:
        """Inputs: the job's channels; outputs: the best candidate's model and the output path; the run facet."""
        view = self._ended_job()
        if view is None:
            return openlineage_lineage(None, inputs=[], outputs=[])
        if not view.is_terminal:  # wait_for_completion=False: only the data it reads is known yet
            return openlineage_lineage(view, inputs=input_uris(view), outputs=[])
        return openlineage_lineage(
            view,
            inputs=input_uris(view),
            outputs=output_uris(view),
            candidate_count=self._candidate_count(view.job_name),
        )

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> AutoMLJobLineage:
        """The data the failed job read, and the run facet with SageMaker's failure reason; no model."""
        view = self._ended_job()
        if view is None:  # failed before a job existed (an invalid request, a name taken)
            return openlineage_lineage(None, inputs=[], outputs=[])
        return openlineage_lineage(
            view, inputs=input_uris(view), outputs=[], candidate_count=self._candidate_count(view.job_name)
        )
