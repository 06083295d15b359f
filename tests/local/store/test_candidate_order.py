"""ListCandidatesForAutoMLJob sorted by FinalObjectiveMetricValue: the job's best candidate leads
the candidates that tie with it, in either order and across pages, so the first of the list and
BestCandidate agree."""

from __future__ import annotations

import pytest

from airflow_automl.local.jobspec import JobSpec
from airflow_automl.local.store import ListQuery, Store

SCORES = [("c-001", 0.7), ("c-002", 0.9), ("c-003", 0.9), ("c-004", 0.9), ("c-005", 0.5)]


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "automl.sqlite3")
    spec = JobSpec(name="ties", api_version=1, channels=(), output_path="file:///out", target="y")
    store.jobs.create(spec=spec, arn="arn:job/ties", request={}, max_active_jobs=50)
    assert store.jobs.claim("ties", "run-1")
    for name, value in SCORES:
        store.jobs.add_candidate(
            "ties",
            "run-1",
            {"CandidateName": name, "FinalAutoMLJobObjectiveMetric": {"MetricName": "F1", "Value": value}},
        )
    yield store
    store.close()


def names(store: Store, descending: bool, page_size: int = 10) -> list[str]:
    """Every candidate by value, read page by page."""
    listed, token = [], None
    while True:
        query = ListQuery(sort_by="FinalObjectiveMetricValue", descending=descending, limit=page_size, page_token=token)
        page = store.jobs.candidates_page("ties", query)
        listed += [c["CandidateName"] for c in page.rows]
        token = page.next_token
        if token is None:
            return listed


@pytest.mark.parametrize("page_size", [1, 2, 10])
def test_the_best_candidate_leads_its_ties_in_either_order(store, page_size):
    # The engine chose the first of three equal scores; a descending order that only reversed the
    # ascending one would put c-004 first.
    store.jobs.set_best_candidate("ties", "run-1", "c-002")
    assert names(store, descending=True, page_size=page_size) == ["c-002", "c-004", "c-003", "c-001", "c-005"]
    assert names(store, descending=False, page_size=page_size) == ["c-005", "c-001", "c-002", "c-003", "c-004"]


def test_without_a_best_candidate_ties_keep_their_creation_order(store):
    assert names(store, descending=True) == ["c-004", "c-003", "c-002", "c-001", "c-005"]
    assert names(store, descending=False) == ["c-005", "c-001", "c-002", "c-003", "c-004"]
