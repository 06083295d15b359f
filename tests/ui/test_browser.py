"""What a user sees in a real browser: headless Chromium (Debian's chromium + chromium-driver, driven
by Selenium) opens the local service's job page. The Airflow UI's task view of a retraining run, from
whose extra link the user reaches that page, is in tests/ui/test_app.py, beside the plugin's views of
the same runs.

The jobs here come from the service's scripted engine (tests/fixtures/service.py), so the browser
checks run in seconds; tests/local/test_pages.py reads pages of really trained jobs.
"""

from __future__ import annotations

import pytest

from tests.fixtures.browser import headless_chromium, require_chromium
from tests.fixtures.service import SCRIPTED_ENGINE, start_service

pytestmark = pytest.mark.integration

HOSTILE_TARGET = '<img src=x onerror="document.title=document.domain">'

require_chromium()

from selenium.webdriver.common.by import By  # noqa: E402


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


@pytest.fixture(scope="module")
def scripted_service(tmp_path_factory):
    service = start_service(tmp_path_factory.mktemp("ui-browser"), engine=SCRIPTED_ENGINE)
    try:
        yield service
    finally:
        service.stop()


def _create_job(service, name: str, target: str, max_candidates: int) -> dict:
    client = service.client()
    client.create_auto_ml_job(
        AutoMLJobName=name,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": service.file_uri("data/")}},
                "TargetAttributeName": target,
            }
        ],
        OutputDataConfig={"S3OutputPath": service.file_uri("output")},
        ProblemType="BinaryClassification",
        AutoMLJobObjective={"MetricName": "F1"},
        AutoMLJobConfig={"CompletionCriteria": {"MaxCandidates": max_candidates}},
        RoleArn="arn:aws:iam::123456789012:role/AutoMLExecutionRole",
    )
    return service.wait_for_status(name, timeout=180)


def test_job_page_shows_status_leaderboard_and_chart(browser, scripted_service):
    job = _create_job(scripted_service, "browser-completed", "churned", max_candidates=5)
    assert job["AutoMLJobStatus"] == "Completed"
    candidates = scripted_service.client().list_candidates_for_auto_ml_job(AutoMLJobName="browser-completed")[
        "Candidates"
    ]

    browser.get(f"{scripted_service.endpoint_url}/jobs/browser-completed")
    assert browser.title == "AutoML job browser-completed"
    assert browser.find_element(By.ID, "job-status").text == "Completed"
    assert browser.find_element(By.ID, "best-candidate").text == job["BestCandidate"]["CandidateName"]

    rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr[data-candidate]")
    assert len(rows) == len(candidates) == 5
    shown = [float(row.find_element(By.CSS_SELECTOR, "td.metric").text) for row in rows]
    assert shown == sorted(shown, reverse=True)  # F1: higher is better, best first
    assert "(best)" in rows[0].text

    bars = browser.find_elements(By.CSS_SELECTOR, "#candidate-chart g.bar rect")
    assert len(bars) == 5
    widths = [bar.size["width"] for bar in bars]
    assert all(width > 0 for width in widths)  # really drawn, not just in the markup
    assert widths == sorted(widths, reverse=True)
    best_bars = browser.find_elements(By.CSS_SELECTOR, "#candidate-chart g.bar.best")
    assert [bar.get_attribute("data-candidate") for bar in best_bars] == [job["BestCandidate"]["CandidateName"]]

    report_links = browser.find_elements(By.CSS_SELECTOR, "#reports a")
    assert report_links and all(
        "/jobs/browser-completed/artifacts?uri=" in a.get_attribute("href") for a in report_links
    )


def test_markup_in_a_failure_reason_is_text_not_html(browser, scripted_service):
    job = _create_job(scripted_service, "fail-browser", HOSTILE_TARGET, max_candidates=1)
    assert job["AutoMLJobStatus"] == "Failed"

    browser.get(f"{scripted_service.endpoint_url}/jobs/fail-browser")
    assert browser.find_element(By.ID, "job-status").text == "Failed"
    assert HOSTILE_TARGET in browser.find_element(By.ID, "failure-reason").text
    assert browser.find_elements(By.TAG_NAME, "img") == []
    assert browser.title == "AutoML job fail-browser"  # the onerror handler never ran
