"""A CreateAutoMLJob or CreateAutoMLJobV2 request read the same way whichever version it is: where
each setting lives, its channels, targets and sample weights. The rules (rules.py and
forecasting_rules.py) read requests through it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from airflow_automl.sagemaker.api_versions import (
    API_VERSIONS,
    TABULAR_CONFIG,
    V1,
    get_path,
)

DEFAULT_MODE = "AUTO"


@dataclass(frozen=True)
class AutoMLRequest:
    """A CreateAutoMLJob or V2 request, with the paths where each setting lives."""

    request: Mapping[str, Any]
    api_version: int
    problem_config: str | None  # V2: the AutoMLProblemTypeConfig member; V1: TabularJobConfig

    @property
    def tabular(self) -> bool:
        return self.problem_config == TABULAR_CONFIG

    def path(self, setting: str) -> str:
        return API_VERSIONS[self.api_version].path(setting, str(self.problem_config))

    def value(self, setting: str) -> Any:
        return get_path(self.request, self.path(setting))

    @property
    def mode(self) -> str:
        return self.value("mode") or DEFAULT_MODE

    def channels(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for index, channel in enumerate(self.request.get(self.path("channels")) or ()):
            yield f"{self.path('channels')}[{index}]", channel

    def targets(self) -> Iterator[tuple[str, str | None]]:
        """(path, target column) for every place the request names one (None where it is missing)."""
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


def automl_request(operation: str, request: Mapping[str, Any]) -> AutoMLRequest:
    if operation == V1.create_operation:
        return AutoMLRequest(request, 1, TABULAR_CONFIG)
    problem_configs = request.get("AutoMLProblemTypeConfig") or {}
    chosen = next((name for name, value in problem_configs.items() if value is not None), None)
    return AutoMLRequest(request, 2, chosen)
