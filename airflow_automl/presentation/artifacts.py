"""The reports and artifacts a job names: its notebooks, its output, and per candidate (the best
first) its reports and model artifacts. The local service serves exactly these (and nothing else) on
its artifact pages, whose path both the service and the Airflow plugin link to."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from airflow_automl.presentation.objective import Candidate

_NOTEBOOKS = (
    ("DataExplorationNotebookLocation", "Data exploration notebook"),
    ("CandidateDefinitionNotebookLocation", "Candidate definition notebook"),
)


@dataclass(frozen=True)
class Artifact:
    label: str
    uri: str


@dataclass(frozen=True)
class ArtifactLink:
    label: str
    uri: str
    href: str


def job_artifacts(describe: Mapping[str, Any], candidates: Sequence[Candidate]) -> list[Artifact]:
    """Every report and artifact location the job and its candidates name, each once."""
    job_name = describe.get("AutoMLJobName") or ""
    found: list[Artifact] = []
    notebooks = describe.get("AutoMLJobArtifacts") or {}
    found.extend(Artifact(label, notebooks[key]) for key, label in _NOTEBOOKS if notebooks.get(key))
    output = (describe.get("OutputDataConfig") or {}).get("S3OutputPath")
    if output:
        found.append(Artifact("Job output", f"{output.rstrip('/')}/{job_name}/"))
    # The best candidate first, as Describe names it (it may list reports the listing does not have yet)
    # and as the listing has it; each location once.
    best = describe.get("BestCandidate") or {}
    best_name = best.get("CandidateName")
    listed = sorted(candidates, key=lambda c: best_name is None or c.get("CandidateName") != best_name)
    for candidate in ([best] if best else []) + listed:
        found.extend(_candidate_artifacts(candidate))
    return list(dict.fromkeys(found))


def _candidate_artifacts(candidate: Candidate) -> list[Artifact]:
    name = candidate.get("CandidateName")
    if not name:
        return []
    found = []
    locations = (candidate.get("CandidateProperties") or {}).get("CandidateArtifactLocations") or {}
    for key, uri in sorted(locations.items()):
        if isinstance(uri, str) and uri:
            found.append(Artifact(f"{name}: {key}", uri))
    # SageMaker's candidates chain containers (processing, algorithm, ...), each with its own model;
    # the local service's have one.
    seen: set[str] = set()
    for position, container in enumerate(candidate.get("InferenceContainers") or [], start=1):
        uri = container.get("ModelDataUrl")
        if uri and uri not in seen:
            seen.add(uri)
            label = f"{name}: model" if len(seen) == 1 else f"{name}: model (container {position})"
            found.append(Artifact(label, uri))
    return found


def service_artifact_path(job_name: str, uri: str) -> str:
    """The local service's page that serves one of the job's artifacts (``GET /jobs/{name}/artifacts``)."""
    return f"/jobs/{quote(job_name, safe='')}/artifacts?uri={quote(uri, safe='')}"


def links(artifacts: Sequence[Artifact], href: Callable[[str], str]) -> list[ArtifactLink]:
    """The artifacts with where each opens (``href`` of its URI)."""
    return [ArtifactLink(artifact.label, artifact.uri, href(artifact.uri)) for artifact in artifacts]
