"""What a user sees in a real browser: headless Chromium (Debian's chromium + chromium-driver, driven
by Selenium) opens the local service's job page, and the Airflow UI's task view of a retraining run,
from whose extra link the user reaches that page.

The jobs here come from the service's scripted engine (tests/fixtures/service.py), so the browser
checks run in seconds; tests/local/test_pages.py reads pages of really trained jobs.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.fixtures.airflow import (
    api_server,
    aws_connection_env,
    task_states,
    xcom_value,
)
from tests.fixtures.browser import headless_chromium, require_chromium
from tests.fixtures.service import SCRIPTED_ENGINE, free_port, start_service

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
HOSTILE_TARGET = '<img src=x onerror="document.title=document.domain">'

require_chromium()

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


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


# -- the Airflow UI ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def retraining_run(scripted_service, airflow_db, tmp_path_factory):
    """One run of dags/automl_retrain.py through dag.test(), against the scripted service."""
    from airflow.configuration import conf

    from tests.fixtures.dagbag import DagBag

    # dag.test() runs the DAG as the dags folder's bundle holds it: put the example there.
    dags_folder = Path(conf.get("core", "dags_folder"))
    dags_folder.mkdir(parents=True, exist_ok=True)
    dag_path = dags_folder / "automl_retrain.py"
    shutil.copyfile(REPO_ROOT / "dags" / "automl_retrain.py", dag_path)
    storage = scripted_service.file_root / "ui-storage"  # file:// data must be under a service file root
    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_default", scripted_service.endpoint_url))
    os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = "0.5"
    try:
        bag = DagBag(dag_folder=str(dag_path))
        assert bag.import_errors == {}
        dag = bag.dags["automl_retrain"]
        run = dag.test(
            run_conf={"storage_uri": storage.as_uri(), "rows": 600, "max_runtime_seconds": 60, "metric_threshold": 0.5}
        )
    finally:
        os.environ.clear()
        os.environ.update(saved)
    states = task_states(run)
    # A first model needs no person: the approval step and its follower are skipped.
    skipped = {states.pop("approve_challenger"), states.pop("reviewed")}
    assert skipped == {"skipped"} and set(states.values()) == {"success"}, task_states(run)
    return run


@pytest.fixture(scope="module")
def airflow_ui(airflow_db, tmp_path_factory):
    """`airflow api-server` on the tests' metadata database, every user an admin (no login form)."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("api-server") / "api-server.log"
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    with api_server(port, env, log_path) as url:
        yield url


def test_airflow_task_view_shows_the_run_and_links_to_the_job_page(
    browser, scripted_service, retraining_run, airflow_ui
):
    summary = xcom_value(retraining_run, "train_model")
    job_name = summary["job_name"]
    wait = WebDriverWait(browser, 60)

    task_url = f"{airflow_ui}/dags/automl_retrain/runs/{retraining_run.run_id}/tasks/train_model"

    # Details tab: the task's state and its extra link to the job.
    browser.get(f"{task_url}/details")
    link = wait.until(
        expected_conditions.presence_of_element_located((By.XPATH, "//a[normalize-space()='AutoML Job']"))
    )
    href = link.get_attribute("href")
    assert href == f"{scripted_service.endpoint_url}/jobs/{job_name}"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "AutoMLJobOperator" in body
    assert "State\nsuccess" in body

    # XCom tab: the summary the operator returned. Its value is a folded JSON editor: unfold it.
    browser.get(f"{task_url}/xcom")
    fold = wait.until(
        expected_conditions.presence_of_element_located(
            (
                By.XPATH,
                "//tr[contains(., 'return_value')]//*[@data-testid='table-cell-Value']"
                "//*[contains(@class, 'codicon-folding-collapsed')]",
            )
        )
    )
    ActionChains(browser).move_to_element(fold).click().perform()
    value = browser.find_element(By.XPATH, "//tr[contains(., 'return_value')]//*[@data-testid='table-cell-Value']")
    wait.until(lambda _: "best_candidate_name" in value.text)
    assert f'"best_candidate_name": "{summary["best_candidate_name"]}"' in value.text
    assert f'"job_name": "{job_name}"' in value.text
    assert '"status": "Completed"' in value.text

    browser.get(href)  # what the link opens
    assert browser.find_element(By.ID, "job-name").text == job_name
    assert browser.find_element(By.ID, "job-status").text == "Completed"
    assert browser.find_element(By.ID, "best-candidate").text == summary["best_candidate_name"]
