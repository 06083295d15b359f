"""The two AutoML API versions: where each request setting lives in each, and what each calls.

CreateAutoMLJob (V1) and CreateAutoMLJobV2 carry the same tabular settings at different paths.
``SETTING_PATHS`` is the one table of those paths; ``V1`` and ``V2`` hold each version's
operation names and its own request keys. The request rules, the operator's convenience
parameters, the hook, the poller, the describe view and the local service's conversion between
the versions (``convert_request``) all read them here.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore import xform_name

TABULAR_CONFIG = "TabularJobConfig"
# The V2 problem type config a path's "{config}" stands for, e.g. AutoMLProblemTypeConfig.TabularJobConfig.
PROBLEM_TYPE_CONFIG = "AutoMLProblemTypeConfig"

# Where each setting lives: (V1 path, V2 path). Dotted paths into the create request; "{config}"
# is the V2 problem type's config. A V1 path of None: the setting sits on every V1 channel,
# under CHANNEL_KEYS[setting].
SETTING_PATHS: dict[str, tuple[str | None, str]] = {
    "channels": ("InputDataConfig", "AutoMLJobInputDataConfig"),
    "problem_type": ("ProblemType", "{config}.ProblemType"),
    "mode": ("AutoMLJobConfig.Mode", "{config}.Mode"),
    "completion": ("AutoMLJobConfig.CompletionCriteria", "{config}.CompletionCriteria"),
    "algorithms_config": (
        "AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig",
        "{config}.CandidateGenerationConfig.AlgorithmsConfig",
    ),
    "feature_specification": (
        "AutoMLJobConfig.CandidateGenerationConfig.FeatureSpecificationS3Uri",
        "{config}.FeatureSpecificationS3Uri",
    ),
    "data_split": ("AutoMLJobConfig.DataSplitConfig", "DataSplitConfig"),
    "security": ("AutoMLJobConfig.SecurityConfig", "SecurityConfig"),
    "candidate_definitions_only": ("GenerateCandidateDefinitionsOnly", "{config}.GenerateCandidateDefinitionsOnly"),
    "target": (None, "{config}.TargetAttributeName"),
    "sample_weight": (None, "{config}.SampleWeightAttributeName"),
}
CHANNEL_KEYS = {"target": "TargetAttributeName", "sample_weight": "SampleWeightAttributeName"}
# Members both versions' create requests share, at the same place.
COMMON_KEYS = ("AutoMLJobName", "OutputDataConfig", "RoleArn", "Tags", "AutoMLJobObjective", "ModelDeployConfig")
# Channel members both versions' channels share (a V1 channel adds CHANNEL_KEYS).
CHANNEL_MEMBERS = ("ChannelType", "ContentType", "CompressionType", "DataSource")
# Where a job's problem type stands in a Describe answer once resolved.
RESOLVED_PROBLEM_TYPE_PATHS = (
    "ResolvedAttributes.ProblemType",
    "ResolvedAttributes.AutoMLProblemTypeResolvedAttributes.TabularResolvedAttributes.ProblemType",
)


@dataclass(frozen=True)
class ApiVersion:
    """One API version: its operations and the request keys only it has."""

    number: int
    create_operation: str
    describe_operation: str
    own_keys: frozenset[str]

    @property
    def create_method(self) -> str:
        """The boto3 client method, e.g. create_auto_ml_job_v2."""
        return str(xform_name(self.create_operation))

    @property
    def describe_method(self) -> str:
        return str(xform_name(self.describe_operation))

    def path(self, setting: str, config: str = TABULAR_CONFIG) -> str:
        """Dotted path of ``setting`` in this version's create request (V2: under ``config``)."""
        path = SETTING_PATHS[setting][self.number - 1]
        if path is None:
            raise KeyError(f"{setting} sits on each {self.path('channels')} entry in API V{self.number}")
        return path.format(config=f"{PROBLEM_TYPE_CONFIG}.{config}")

    def problem_type(self, description: Mapping[str, Any]) -> str | None:
        """The problem type of a Describe answer of this version: resolved, else as requested."""
        config_name = description.get("AutoMLProblemTypeConfigName")
        return (
            get_path(description, RESOLVED_PROBLEM_TYPE_PATHS[self.number - 1])
            or get_path(description, self.path("problem_type"))
            # A V2 problem type that is not tabular (TimeSeriesForecasting, ...) is its config's name.
            or (config_name if config_name not in (None, "Tabular") else None)
        )


V1 = ApiVersion(
    1,
    "CreateAutoMLJob",
    "DescribeAutoMLJob",
    frozenset({"InputDataConfig", "ProblemType", "AutoMLJobConfig", "GenerateCandidateDefinitionsOnly"}),
)
V2 = ApiVersion(
    2,
    "CreateAutoMLJobV2",
    "DescribeAutoMLJobV2",
    frozenset({"AutoMLJobInputDataConfig", "AutoMLProblemTypeConfig", "DataSplitConfig", "AutoMLComputeConfig"}),
)
API_VERSIONS = {1: V1, 2: V2}
CREATE_OPERATIONS = (V1.create_operation, V2.create_operation)


def by_create_operation(operation: str) -> ApiVersion:
    for version in API_VERSIONS.values():
        if version.create_operation == operation:
            return version
    raise ValueError(f"{operation} is not one of {' or '.join(CREATE_OPERATIONS)}")


def get_path(data: Any, path: str) -> Any:
    """Value at a dotted path of nested dicts, or None when any step is missing."""
    for step in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the value at a dotted path, creating the dicts on the way."""
    *parents, last = path.split(".")
    for step in parents:
        data = data.setdefault(step, {})
    data[last] = value


# -- one job, two API views ------------------------------------------------------------------------
# A job keeps the create request it was given; Describe of the other version translates it member
# by member, following AWS's guide for migrating V1 requests to V2.


def convert_request(request: Mapping[str, Any], to: ApiVersion) -> dict[str, Any]:
    """A tabular create request of one version, rewritten as the other's (a copy)."""
    source = V1 if to is V2 else V2
    request = copy.deepcopy(dict(request))
    converted: dict[str, Any] = {key: request[key] for key in COMMON_KEYS if request.get(key) is not None}
    if to is V2:
        converted[PROBLEM_TYPE_CONFIG] = {TABULAR_CONFIG: {}}
    for setting in SETTING_PATHS:
        if setting in CHANNEL_KEYS or setting == "channels":
            continue
        value = get_path(request, source.path(setting))
        if value is not None:
            set_path(converted, to.path(setting), value)
    channels = request.get(source.path("channels")) or []
    if to is V2:
        converted[to.path("channels")] = [
            {key: channel[key] for key in CHANNEL_MEMBERS if channel.get(key) is not None} for channel in channels
        ]
        for setting, key in CHANNEL_KEYS.items():
            # V1 repeats them per channel; the target is the first channel's, the weight the first one set.
            value = (
                next((c.get(key) for c in channels if c.get(key)), None)
                if setting == "sample_weight"
                else (channels[0][key] if channels else None)
            )
            if value is not None:
                set_path(converted, to.path(setting), value)
    else:
        shared = {key: get_path(request, source.path(setting)) for setting, key in CHANNEL_KEYS.items()}
        converted[to.path("channels")] = [
            {
                **{key: value for key, value in channel.items() if value is not None},
                **{key: value for key, value in shared.items() if value is not None},
            }
            for channel in channels
        ]
    return converted


def resolved_attributes_v2(resolved: Mapping[str, Any]) -> dict[str, Any]:
    """ResolvedAttributes (V1 shape, as the engine reports it) -> AutoMLResolvedAttributes (V2)."""
    v2 = {key: resolved[key] for key in ("AutoMLJobObjective", "CompletionCriteria") if resolved.get(key) is not None}
    problem_type = resolved.get("ProblemType")
    if problem_type is not None:
        # The V2 path below ResolvedAttributes.
        set_path(v2, RESOLVED_PROBLEM_TYPE_PATHS[1].split(".", 1)[1], problem_type)
    return v2
