"""The rules a SageMaker AutoML request must follow, in one place.

Two layers, both used by the Airflow operator (before it submits) and by the local
service (before it accepts a job):

* shape rules for any ``sagemaker`` operation, read from botocore's service model:
  known members, required members, types, lengths, ranges, enums and patterns
  (botocore's own client-side validator skips max, enum and pattern);
* the semantic rules that the CreateAutoMLJob reference states in prose, for
  CreateAutoMLJob and CreateAutoMLJobV2, written as small named rule functions.
"""

from __future__ import annotations

import copy
import datetime
import functools
import math
import re
import sys
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.model import Shape
from botocore.utils import parse_timestamp

V1_OPERATION = "CreateAutoMLJob"
V2_OPERATION = "CreateAutoMLJobV2"
CREATE_OPERATIONS = (V1_OPERATION, V2_OPERATION)


@functools.cache
def sagemaker_model():
    """botocore's service model for SageMaker: the authority for every request shape."""
    return botocore.session.get_session().get_service_model("sagemaker")


JOB_NAME_PATTERN: str = sagemaker_model().shape_for("AutoMLJobName").metadata["pattern"]

# Tabular problem types and their objective metrics, as the reference lists them.
TABULAR_METRICS: dict[str, tuple[str, ...]] = {
    "Regression": ("MAE", "MSE", "R2", "RMSE"),
    "BinaryClassification": ("Accuracy", "AUC", "BalancedAccuracy", "F1", "Precision", "Recall"),
    "MulticlassClassification": ("Accuracy", "BalancedAccuracy", "F1macro", "PrecisionMacro", "RecallMacro"),
}
DEFAULT_METRIC: dict[str, str] = {
    "Regression": "MSE",
    "BinaryClassification": "F1",
    "MulticlassClassification": "Accuracy",
}
# Objective metrics of the V2 problem types that are not tabular (text generation takes none).
CLASSIFICATION_METRICS: tuple[str, ...] = ("Accuracy",)
TIME_SERIES_METRICS: tuple[str, ...] = ("RMSE", "MASE", "MAPE", "WAPE", "AverageWeightedQuantileLoss")
NON_TABULAR_METRICS: dict[str, tuple[str, ...]] = {
    "ImageClassificationJobConfig": CLASSIFICATION_METRICS,
    "TextClassificationJobConfig": CLASSIFICATION_METRICS,
    "TimeSeriesForecastingJobConfig": TIME_SERIES_METRICS,
}

ENSEMBLING_ALGORITHMS: tuple[str, ...] = (
    "catboost", "extra-trees", "fastai", "lightgbm", "linear-learner", "nn-torch", "randomforest", "xgboost",
)
HPO_ALGORITHMS: tuple[str, ...] = ("linear-learner", "mlp", "xgboost")
TIME_SERIES_ALGORITHMS: tuple[str, ...] = ("cnn-qr", "deepar", "prophet", "arima", "npts", "ets")

MODES: tuple[str, ...] = ("AUTO", "ENSEMBLING", "HYPERPARAMETER_TUNING")
CONTENT_TYPES: tuple[str, ...] = ("text/csv;header=present", "x-application/vnd.amazon+parquet")
DEFAULT_CONTENT_TYPE = "text/csv;header=present"
DEFAULT_COMPRESSION = "None"
DEFAULT_CHANNEL_TYPE = "training"
DEFAULT_MODE = "AUTO"
DEFAULT_VALIDATION_FRACTION = 0.2
MAX_OUTPUT_PATH_LENGTH = 512
MAX_TABULAR_CANDIDATES = 750
TABULAR_CONFIG = "TabularJobConfig"

# The local service also reads file:// URIs (under its allowed roots); SageMaker itself
# rejects them server-side, so accepting them here costs nothing against AWS.
LOCAL_URI_PREFIX = "file://"
_URI_SHAPES = frozenset({"S3Uri"})

# Direction of every metric a candidate can report (botocore's AutoMLMetricExtendedEnum).
_GREATER_IS_BETTER = frozenset({
    "AUC", "F1", "F1macro", "Accuracy", "BalancedAccuracy", "R2",
    "Recall", "RecallMacro", "Precision", "PrecisionMacro",
    "Rouge1", "Rouge2", "RougeL", "RougeLSum",
})
_LOWER_IS_BETTER = frozenset({
    "MSE", "RMSE", "MAE", "MAPE", "MASE", "WAPE", "AverageWeightedQuantileLoss", "LogLoss",
    "InferenceLatency", "Perplexity", "ValidationLoss", "TrainingLoss",
})


def metric_greater_is_better(metric_name: str) -> bool:
    """True when a larger value of the metric means a better model."""
    if metric_name in _GREATER_IS_BETTER:
        return True
    if metric_name in _LOWER_IS_BETTER:
        return False
    known = ", ".join(sorted(_GREATER_IS_BETTER | _LOWER_IS_BETTER))
    raise ValueError(f"unknown objective metric {metric_name!r} (known: {known})")


class RequestValidationError(ValueError):
    """A request broke a rule. ``field`` is the dotted path, ``rule`` says what was wrong."""

    def __init__(self, field: str, rule: str):
        self.field = field
        self.rule = rule
        super().__init__(f"{field}: {rule}")


# --------------------------------------------------------------------------- patterns

def _unicode_class(category: str) -> str:
    """Character-class body (ranges) for a Java \\p{..} class, which Python's re lacks."""
    ranges = _unicode_ranges()
    if category not in ranges:
        raise ValueError(f"pattern class \\p{{{category}}} is not supported (known: {', '.join(sorted(ranges))})")
    return ranges[category]


@functools.cache
def _unicode_ranges() -> dict[str, str]:
    members: dict[str, list[int]] = {}
    for code_point in range(sys.maxunicode + 1):
        category = unicodedata.category(chr(code_point))  # e.g. "Lu": in \p{Lu} and in \p{L}
        members.setdefault(category, []).append(code_point)
        members.setdefault(category[0], []).append(code_point)
    ranges = {key: _ranges_text(points) for key, points in members.items()}
    ranges["Alnum"] = "a-zA-Z0-9"  # POSIX class: ASCII only, as in Java
    ranges["Alpha"] = "a-zA-Z"
    ranges["Digit"] = "0-9"
    return ranges


def _ranges_text(points: list[int]) -> str:
    parts, start, previous = [], None, None
    for point in points + [-2]:
        if start is None:
            start = previous = point
        elif point == previous + 1:
            previous = point
        else:
            parts.append(re.escape(chr(start)) if start == previous
                         else f"{re.escape(chr(start))}-{re.escape(chr(previous))}")
            start = previous = point
    return "".join(parts)


_JAVA_CLASS = re.compile(r"\\p\{(\w+)\}")
_SURROGATE_PAIR = re.compile(r"\\u(D[89AB][0-9A-F]{2})\\u(D[C-F][0-9A-F]{2})", re.IGNORECASE)
_QUANTIFIED_END = re.compile(r"\$\{\d+(,\d*)?\}$")


@functools.cache
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a botocore (Java-flavoured) pattern for Python's re.

    The model writes Unicode classes as ``\\p{L}``, astral characters as UTF-16
    surrogate pairs (``\\uD800\\uDC00``) and sometimes a quantified end anchor
    (``(...)${1,128}``, a length the shape's min/max already bound); all are rewritten
    to what re understands.
    """
    def pair(match: re.Match[str]) -> str:
        high, low = int(match.group(1), 16), int(match.group(2), 16)
        return f"\\U{0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00):08X}"

    translated = _QUANTIFIED_END.sub("$", _SURROGATE_PAIR.sub(pair, pattern))
    pieces, position = [], 0
    for match in _JAVA_CLASS.finditer(translated):
        before = translated[:match.start()]
        inside_class = before.count("[") - before.count("\\[") > before.count("]") - before.count("\\]")
        body = _unicode_class(match.group(1))
        pieces.append(translated[position:match.start()])
        pieces.append(body if inside_class else f"[{body}]")
        position = match.end()
    pieces.append(translated[position:])
    return re.compile("".join(pieces))


# --------------------------------------------------------------------------- shape walker

def _join(path: str, member: str) -> str:
    return f"{path}.{member}" if path else member


def _got(value: Any) -> str:
    text = repr(value)
    return f"(got {text[:80]}{'...' if len(text) > 80 else ''})"


_TYPE_NAMES = {
    "string": "a string", "integer": "an integer", "long": "an integer", "float": "a number",
    "double": "a number", "boolean": "a boolean (true or false)", "list": "a list",
    "map": "a map (object)", "structure": "an object", "timestamp": "a timestamp", "blob": "bytes",
}


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return (_is_integer(value) or isinstance(value, float)) and math.isfinite(value)


def _is_timestamp(value: Any) -> bool:
    if isinstance(value, (datetime.datetime, datetime.date)) or _is_number(value):
        return True
    if isinstance(value, str):
        try:
            parse_timestamp(value)
        except (ValueError, TypeError):
            return False
        return True
    return False


_TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "integer": _is_integer,
    "long": _is_integer,
    "float": _is_number,
    "double": _is_number,
    "boolean": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, (list, tuple)),
    "map": lambda v: isinstance(v, Mapping),
    "structure": lambda v: isinstance(v, Mapping),
    "timestamp": _is_timestamp,
    "blob": lambda v: isinstance(v, (bytes, bytearray, str)) or hasattr(v, "read"),
}


def _check_shape(shape: Shape, value: Any, path: str) -> None:
    """Raise RequestValidationError for the first shape rule ``value`` breaks."""
    type_name = shape.type_name
    if not _TYPE_CHECKS.get(type_name, lambda v: True)(value):
        raise RequestValidationError(path, f"must be {_TYPE_NAMES[type_name]} {_got(value)}")
    limits = shape.metadata
    if type_name == "structure":
        _check_structure(shape, value, path)
    elif type_name == "list":
        _check_count(limits, len(value), path, "item")
        for index, item in enumerate(value):
            _check_shape(shape.member, item, f"{path}[{index}]")
    elif type_name == "map":
        _check_count(limits, len(value), path, "entry")
        for key, item in value.items():
            _check_shape(shape.key, key, f"{path}[{key!r}]")
            _check_shape(shape.value, item, f"{path}[{key!r}]")
    elif type_name == "string":
        _check_string(shape, value, path)
    elif type_name in ("integer", "long", "float", "double"):
        if "min" in limits and value < limits["min"]:
            raise RequestValidationError(path, f"must be at least {limits['min']} {_got(value)}")
        if "max" in limits and value > limits["max"]:
            raise RequestValidationError(path, f"must be at most {limits['max']} {_got(value)}")


def _check_structure(shape: Shape, value: Mapping, path: str) -> None:
    members = shape.members
    for name in value:
        if name not in members:
            expected = ", ".join(members)
            raise RequestValidationError(_join(path, str(name)), f"is not a known field (expected one of {expected})")
    for name in shape.required_members:
        if value.get(name) is None:
            raise RequestValidationError(_join(path, name), "is required")
    if shape.metadata.get("union"):
        chosen = [name for name in members if value.get(name) is not None]
        if len(chosen) != 1:
            raise RequestValidationError(
                path or shape.name,
                f"must set exactly one of {', '.join(members)} (got {', '.join(chosen) or 'none'})",
            )
    for name, member_shape in members.items():
        if name in value:
            _check_shape(member_shape, value[name], _join(path, name))


def _check_count(limits: Mapping, count: int, path: str, noun: str) -> None:
    plural = "entries" if noun == "entry" else f"{noun}s"
    if "min" in limits and count < limits["min"]:
        raise RequestValidationError(path, f"must have at least {limits['min']} {plural} (got {count})")
    if "max" in limits and count > limits["max"]:
        raise RequestValidationError(path, f"must have at most {limits['max']} {plural} (got {count})")


def _check_string(shape: Shape, value: str, path: str) -> None:
    limits = shape.metadata
    enum = getattr(shape, "enum", None)
    if enum and value not in enum:
        raise RequestValidationError(path, f"must be one of {', '.join(enum)} {_got(value)}")
    if "min" in limits and len(value) < limits["min"]:
        raise RequestValidationError(path, f"must be at least {limits['min']} characters long (got {len(value)})")
    if "max" in limits and len(value) > limits["max"]:
        raise RequestValidationError(path, f"must be at most {limits['max']} characters long (got {len(value)})")
    pattern = limits.get("pattern")
    if pattern is None:
        return
    if shape.name in _URI_SHAPES and value.startswith(LOCAL_URI_PREFIX) and len(value) > len(LOCAL_URI_PREFIX):
        return
    if compile_pattern(pattern).fullmatch(value) is None:
        raise RequestValidationError(path, f"must match pattern {pattern} {_got(value)}")


def _input_shape(operation: str) -> Shape | None:
    """The operation's input shape; botocore raises OperationNotFoundError for unknown names."""
    return sagemaker_model().operation_model(operation).input_shape


def validate_shape(operation: str, request: Mapping) -> None:
    """Check ``request`` against botocore's input shape for ``operation`` only."""
    shape = _input_shape(operation)
    if not isinstance(request, Mapping):
        raise RequestValidationError(f"{operation}Request", f"must be an object {_got(request)}")
    if shape is None:
        if request:
            raise RequestValidationError(next(iter(request)), f"is not a known field ({operation} takes none)")
        return
    _check_structure(shape, request, "")


# --------------------------------------------------------------------------- coercion

_TRUE, _FALSE = frozenset({"true"}), frozenset({"false"})


def coerce_request(operation: str, request: Mapping) -> dict:
    """Deep copy of ``request`` with strings at number and boolean shapes converted.

    Airflow renders templated values to strings ("30", "0.2", "True"); botocore's shape
    says what they should be. Anything that is not such a string is left as it is.
    """
    result = copy.deepcopy(dict(request))
    shape = _input_shape(operation)
    return result if shape is None else _coerce(shape, result, "")


def _coerce(shape: Shape, value: Any, path: str) -> Any:
    type_name = shape.type_name
    if type_name == "structure" and isinstance(value, dict):
        for name, item in list(value.items()):
            if name in shape.members:
                value[name] = _coerce(shape.members[name], item, _join(path, name))
        return value
    if type_name == "list" and isinstance(value, list):
        return [_coerce(shape.member, item, f"{path}[{index}]") for index, item in enumerate(value)]
    if type_name == "map" and isinstance(value, dict):
        return {key: _coerce(shape.value, item, f"{path}[{key!r}]") for key, item in value.items()}
    if not isinstance(value, str):
        return value
    text = value.strip()
    if type_name in ("integer", "long"):
        return _parse_integer(text, value, path)
    if type_name in ("float", "double"):
        try:
            number = float(text)
        except ValueError:
            raise RequestValidationError(path, f"must be a number {_got(value)}") from None
        if not math.isfinite(number):
            raise RequestValidationError(path, f"must be a finite number {_got(value)}")
        return number
    if type_name == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise RequestValidationError(path, f"must be a boolean (true or false) {_got(value)}")
    return value


def _parse_integer(text: str, original: str, path: str) -> int:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)  # "30.0" is what some templates render for 30
    except ValueError:
        raise RequestValidationError(path, f"must be an integer {_got(original)}") from None
    if not number.is_integer():
        raise RequestValidationError(path, f"must be an integer {_got(original)}")
    return int(number)


# --------------------------------------------------------------------------- semantic rules

def _get(data: Any, path: str) -> Any:
    """Value at a dotted path of nested dicts, or None when any step is missing."""
    for step in path.split("."):
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


# Where each setting lives in a V1 request and in a V2 one ({config}: the problem type config).
_V1_PATHS = {
    "channels": "InputDataConfig",
    "problem_type": "ProblemType",
    "mode": "AutoMLJobConfig.Mode",
    "completion": "AutoMLJobConfig.CompletionCriteria",
    "algorithms_config": "AutoMLJobConfig.CandidateGenerationConfig.AlgorithmsConfig",
    "feature_specification": "AutoMLJobConfig.CandidateGenerationConfig.FeatureSpecificationS3Uri",
    "data_split": "AutoMLJobConfig.DataSplitConfig",
    "security": "AutoMLJobConfig.SecurityConfig",
    "candidate_definitions_only": "GenerateCandidateDefinitionsOnly",
}
_V2_PATHS = {
    "channels": "AutoMLJobInputDataConfig",
    "problem_type": "{config}.ProblemType",
    "mode": "{config}.Mode",
    "completion": "{config}.CompletionCriteria",
    "algorithms_config": "{config}.CandidateGenerationConfig.AlgorithmsConfig",
    "feature_specification": "{config}.FeatureSpecificationS3Uri",
    "data_split": "DataSplitConfig",
    "security": "SecurityConfig",
    "candidate_definitions_only": "{config}.GenerateCandidateDefinitionsOnly",
    "target": "{config}.TargetAttributeName",
    "sample_weight": "{config}.SampleWeightAttributeName",
}


@dataclass(frozen=True)
class _AutoMLRequest:
    """A CreateAutoMLJob or V2 request, with the paths where each setting lives."""

    request: Mapping
    api_version: int
    problem_config: str | None  # V2: the AutoMLProblemTypeConfig member; V1: TabularJobConfig

    @property
    def tabular(self) -> bool:
        return self.problem_config == TABULAR_CONFIG

    @property
    def config_path(self) -> str:
        return f"AutoMLProblemTypeConfig.{self.problem_config}"

    def path(self, setting: str) -> str:
        if self.api_version == 1:
            return _V1_PATHS[setting]
        return _V2_PATHS[setting].format(config=self.config_path)

    def value(self, setting: str) -> Any:
        return _get(self.request, self.path(setting))

    @property
    def mode(self) -> str:
        return self.value("mode") or DEFAULT_MODE

    def channels(self) -> Iterator[tuple[str, Mapping]]:
        for index, channel in enumerate(self.request.get(self.path("channels")) or ()):
            yield f"{self.path('channels')}[{index}]", channel

    def targets(self) -> Iterator[tuple[str, str]]:
        """(path, target column) for every place the request names one."""
        if self.api_version == 1:
            for path, channel in self.channels():
                yield f"{path}.TargetAttributeName", channel.get("TargetAttributeName")
        elif self.tabular:
            yield self.path("target"), self.value("target")

    def sample_weights(self) -> Iterator[tuple[str, str]]:
        """(path, weight column) for every place the request names one."""
        if self.api_version == 1:
            for path, channel in self.channels():
                if channel.get("SampleWeightAttributeName") is not None:
                    yield f"{path}.SampleWeightAttributeName", channel["SampleWeightAttributeName"]
        elif self.tabular and self.value("sample_weight") is not None:
            yield self.path("sample_weight"), self.value("sample_weight")


def _rule_metric_allowed_for_problem(job: _AutoMLRequest) -> None:
    metric = _get(job.request, "AutoMLJobObjective.MetricName")
    if metric is None:
        return
    path = "AutoMLJobObjective.MetricName"
    if job.tabular:
        problem_type = job.value("problem_type")
        if problem_type is None:
            allowed = sorted({m for metrics in TABULAR_METRICS.values() for m in metrics})
            if metric not in allowed:
                raise RequestValidationError(
                    path, f"must be a tabular objective metric, one of {', '.join(allowed)} {_got(metric)}")
        elif metric not in TABULAR_METRICS[problem_type]:
            raise RequestValidationError(
                path, f"must be one of {', '.join(TABULAR_METRICS[problem_type])} "
                      f"for ProblemType {problem_type} {_got(metric)}")
        return
    allowed = NON_TABULAR_METRICS.get(job.problem_config)
    if allowed is not None and metric not in allowed:
        raise RequestValidationError(
            path, f"must be one of {', '.join(allowed)} for {job.problem_config} {_got(metric)}")


def _rule_algorithms_config(job: _AutoMLRequest) -> None:
    """AlgorithmsConfig: one entry only, not with Mode AUTO, algorithms of the mode."""
    path = job.path("algorithms_config")
    config = job.value("algorithms_config")
    if config is None:
        return
    if job.tabular and job.mode == "AUTO":
        raise RequestValidationError(path, "must not be set when Mode is AUTO (set Mode to ENSEMBLING or "
                                           "HYPERPARAMETER_TUNING to choose algorithms)")
    if len(config) != 1:
        raise RequestValidationError(path, f"must hold exactly one AutoMLAlgorithms entry (got {len(config)})")
    if job.tabular:
        allowed = ENSEMBLING_ALGORITHMS if job.mode == "ENSEMBLING" else HPO_ALGORITHMS
        context = f"Mode {job.mode}"
    elif job.problem_config == "TimeSeriesForecastingJobConfig":
        allowed, context = TIME_SERIES_ALGORITHMS, "time-series forecasting"
    else:
        return
    for index, algorithm in enumerate(config[0].get("AutoMLAlgorithms") or ()):
        item_path = f"{path}[0].AutoMLAlgorithms[{index}]"
        if job.tabular and algorithm in TIME_SERIES_ALGORITHMS:
            raise RequestValidationError(
                item_path, f"{algorithm!r} is a time-series forecasting algorithm, not valid for tabular jobs")
        if algorithm not in allowed:
            raise RequestValidationError(item_path, f"must be one of {', '.join(allowed)} for {context} {_got(algorithm)}")


def _rule_validation_fraction(job: _AutoMLRequest) -> None:
    path = f"{job.path('data_split')}.ValidationFraction"
    fraction = _get(job.request, path)
    if fraction is not None and not 0 < fraction < 1:
        raise RequestValidationError(path, f"must be greater than 0 and less than 1 {_got(fraction)}")


def _rule_endpoint_name(job: _AutoMLRequest) -> None:
    """EndpointName is given if and only if AutoGenerateEndpointName is false."""
    deploy = job.request.get("ModelDeployConfig")
    if deploy is None:
        return
    if deploy.get("AutoGenerateEndpointName"):
        if deploy.get("EndpointName") is not None:
            raise RequestValidationError("ModelDeployConfig.EndpointName",
                                         "must not be set when AutoGenerateEndpointName is true")
    elif deploy.get("EndpointName") is None:
        raise RequestValidationError("ModelDeployConfig.EndpointName",
                                     "is required when AutoGenerateEndpointName is false or absent")


def _rule_max_candidates(job: _AutoMLRequest) -> None:
    path = f"{job.path('completion')}.MaxCandidates"
    candidates = _get(job.request, path)
    if candidates is None:
        return
    if job.tabular and not 1 <= candidates <= MAX_TABULAR_CANDIDATES:
        raise RequestValidationError(path, f"must be at least 1 and at most {MAX_TABULAR_CANDIDATES} {_got(candidates)}")
    if not job.tabular and candidates != 1:
        raise RequestValidationError(path, f"must be 1 for {job.problem_config} {_got(candidates)}")


def _rule_output_path_length(job: _AutoMLRequest) -> None:
    output_path = _get(job.request, "OutputDataConfig.S3OutputPath")
    if output_path is not None and len(output_path) > MAX_OUTPUT_PATH_LENGTH:
        raise RequestValidationError("OutputDataConfig.S3OutputPath",
                                     f"must be {MAX_OUTPUT_PATH_LENGTH} characters or less (got {len(output_path)})")


def _rule_channel_types(job: _AutoMLRequest) -> None:
    """At most one training and one validation channel, and a training one."""
    seen: dict[str, str] = {}
    for path, channel in job.channels():
        channel_type = channel.get("ChannelType") or DEFAULT_CHANNEL_TYPE
        if channel_type in seen:
            raise RequestValidationError(f"{path}.ChannelType",
                                         f"at most one {channel_type} channel is allowed "
                                         f"({seen[channel_type]} is {channel_type} too)")
        seen[channel_type] = path
    if seen and "training" not in seen:
        raise RequestValidationError(job.path("channels"), "must include a training channel "
                                                           "(ChannelType training, the default)")


def _rule_channel_data_source(job: _AutoMLRequest) -> None:
    for path, channel in job.channels():
        if channel.get("DataSource") is None:
            raise RequestValidationError(f"{path}.DataSource", "is required")


def _rule_channel_content_type(job: _AutoMLRequest) -> None:
    if not job.tabular:
        return
    for path, channel in job.channels():
        content_type = channel.get("ContentType")
        if content_type is not None and content_type not in CONTENT_TYPES:
            raise RequestValidationError(f"{path}.ContentType",
                                         f"must be one of {', '.join(CONTENT_TYPES)} {_got(content_type)}")


def _rule_channels_agree(job: _AutoMLRequest) -> None:
    """Training and validation channels share ContentType and TargetAttributeName."""
    channels = list(job.channels())
    if len(channels) < 2:
        return
    (first_path, first), others = channels[0], channels[1:]
    for path, channel in others:
        first_type = first.get("ContentType") or DEFAULT_CONTENT_TYPE
        if (channel.get("ContentType") or DEFAULT_CONTENT_TYPE) != first_type:
            raise RequestValidationError(f"{path}.ContentType",
                                         f"must equal {first_path}.ContentType ({first_type!r}): "
                                         f"training and validation channels share it")
        if job.api_version == 1 and channel.get("TargetAttributeName") != first.get("TargetAttributeName"):
            raise RequestValidationError(f"{path}.TargetAttributeName",
                                         f"must equal {first_path}.TargetAttributeName "
                                         f"({first.get('TargetAttributeName')!r}): "
                                         f"training and validation channels share it")


def _rule_augmented_manifest(job: _AutoMLRequest) -> None:
    """AugmentedManifestFile is for V2 jobs only, and not for tabular data."""
    for path, channel in job.channels():
        data_type = _get(channel, "DataSource.S3DataSource.S3DataType")
        if data_type != "AugmentedManifestFile":
            continue
        field_path = f"{path}.DataSource.S3DataSource.S3DataType"
        if job.api_version == 1:
            raise RequestValidationError(field_path, "AugmentedManifestFile is available for CreateAutoMLJobV2 "
                                                     "only; use S3Prefix or ManifestFile")
        if job.tabular:
            raise RequestValidationError(field_path, "AugmentedManifestFile is not available for tabular jobs; "
                                                     "use S3Prefix or ManifestFile")


def _rule_sample_weight(job: _AutoMLRequest) -> None:
    """Sample weights: ENSEMBLING mode only (AUTO may become it), never the target column."""
    targets = [target for _, target in job.targets()]
    for path, weight in job.sample_weights():
        if job.mode == "HYPERPARAMETER_TUNING":
            raise RequestValidationError(path, "is supported in ENSEMBLING mode only "
                                               "(Mode is HYPERPARAMETER_TUNING)")
        if weight in targets:
            raise RequestValidationError(path, f"must differ from the target column {weight!r}")


def _rule_unique_tag_keys(job: _AutoMLRequest) -> None:
    seen: dict[str, int] = {}
    for index, tag in enumerate(job.request.get("Tags") or ()):
        key = tag.get("Key")
        if key in seen:
            raise RequestValidationError(f"Tags[{index}].Key", f"must be unique: {key!r} is also Tags[{seen[key]}].Key")
        seen[key] = index


SEMANTIC_RULES: tuple[Callable[[_AutoMLRequest], None], ...] = (
    _rule_channel_data_source,
    _rule_channel_types,
    _rule_channel_content_type,
    _rule_channels_agree,
    _rule_augmented_manifest,
    _rule_output_path_length,
    _rule_metric_allowed_for_problem,
    _rule_algorithms_config,
    _rule_max_candidates,
    _rule_validation_fraction,
    _rule_sample_weight,
    _rule_endpoint_name,
    _rule_unique_tag_keys,
)


def _as_automl_request(operation: str, request: Mapping) -> _AutoMLRequest:
    if operation == V1_OPERATION:
        return _AutoMLRequest(request, 1, TABULAR_CONFIG)
    problem_configs = request.get("AutoMLProblemTypeConfig") or {}
    chosen = next((name for name, value in problem_configs.items() if value is not None), None)
    return _AutoMLRequest(request, 2, chosen)


def validate_request(operation: str, request: Mapping) -> None:
    """Raise RequestValidationError for the first rule ``request`` breaks.

    Shape rules apply to any sagemaker operation; the reference's semantic rules
    to CreateAutoMLJob and CreateAutoMLJobV2 (any problem type; see local.jobspec.require_tabular).
    """
    validate_shape(operation, request)
    if operation in CREATE_OPERATIONS:
        job = _as_automl_request(operation, request)
        for rule in SEMANTIC_RULES:
            rule(job)
