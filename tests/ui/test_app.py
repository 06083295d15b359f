"""The Airflow UI plugin in a real browser: headless Chromium against a real `airflow api-server`
(with the plugin loaded from the package's entry point) on the tests' metadata database, whose
runs come from dag.test() against the local service's scripted engine.

Users log in the way the UI does: a JWT from the api-server's /auth/token in the ``_token`` cookie.
The auth manager is Airflow's SimpleAuthManager with one user restricted to some DAGs
(tests/fixtures/dag_scoped_auth.py), so DAG-level access is Airflow's decision, not the plugin's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

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
# Screenshots of the three views go to a temporary directory, or where this variable says
# (the docs' images: AUTOML_UI_SCREENSHOTS=docs).
SCREENSHOTS = os.environ.get("AUTOML_UI_SCREENSHOTS")
PASSWORDS = {"admin": "admin-password", "outsider": "outsider-password"}
RUNNING_DAG = "automl_ui_mapped"
# Chosen first, so the service's job pages can link to the Airflow UI started after it.
AIRFLOW_PORT = free_port()

require_chromium()

from selenium.common.exceptions import (  # noqa: E402
    NoSuchElementException,
    StaleElementReferenceException,
)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def scripted_service(tmp_path_factory):
    os.environ["AIRFLOW_AUTOML_AIRFLOW_URL"] = f"http://127.0.0.1:{AIRFLOW_PORT}"
    try:
        service = start_service(tmp_path_factory.mktemp("ui-plugin"), engine=SCRIPTED_ENGINE)
    finally:
        del os.environ["AIRFLOW_AUTOML_AIRFLOW_URL"]
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="module")
def service_connection(scripted_service):
    """aws_default points at the scripted service while the module's DAG runs execute."""
    saved = dict(os.environ)
    os.environ.update(aws_connection_env("aws_default", scripted_service.endpoint_url))
    os.environ["AUTOML_POLL_INTERVAL_SECONDS"] = "0.5"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _dags_folder() -> Path:
    from airflow.configuration import conf

    folder = Path(conf.get("core", "dags_folder"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def retraining_runs(scripted_service, service_connection, airflow_db):
    """Two daily runs of dags/automl_retrain.py: the first promotes its model, the second does not beat it."""
    from tests.fixtures.dagbag import DagBag

    dag_path = _dags_folder() / "automl_retrain.py"
    shutil.copyfile(REPO_ROOT / "dags" / "automl_retrain.py", dag_path)
    storage = scripted_service.file_root / "ui-plugin-storage"
    bag = DagBag(dag_folder=str(dag_path))
    assert bag.import_errors == {}
    dag = bag.dags["automl_retrain"]
    runs = []
    for day in (27, 28):
        run = dag.test(
            logical_date=datetime(2026, 11, day, tzinfo=UTC),
            run_conf={"storage_uri": storage.as_uri(), "rows": 600, "max_runtime_seconds": 60, "metric_threshold": 0.6},
        )
        states = task_states(run)
        # No close call needs a person; the second run's challenger does not beat the champion:
        # nothing to deploy.
        deployed = {"approve_challenger", "reviewed"} | ({"deploy_endpoint", "smoke_check"} if day == 28 else set())
        assert {task: state for task, state in states.items() if task not in deployed} == dict.fromkeys(
            set(states) - deployed, "success"
        ), states
        assert {states[task] for task in deployed} <= {"skipped"}, states
        runs.append(run)
    return runs


@pytest.fixture(scope="module")
def mapped_run(scripted_service, service_connection, airflow_db):
    """A mapped AutoMLJobOperator that submits without waiting: index 0 a job that trains until stopped."""
    data_dir = scripted_service.file_root / "mapped-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "train.csv").write_text("x,label\n1,1\n-1,0\n")
    dag_path = _dags_folder() / f"{RUNNING_DAG}.py"
    dag_path.write_text(
        f"""
from datetime import datetime, timezone
from airflow.sdk import DAG
from airflow_automl.operators.automl import AutoMLJobOperator

with DAG({RUNNING_DAG!r}, schedule=None, start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):
    AutoMLJobOperator.partial(
        task_id="train_each",
        config={{
            "InputDataConfig": [{{"DataSource": {{"S3DataSource": {{"S3DataType": "S3Prefix",
                                  "S3Uri": {data_dir.as_uri() + "/"!r}}}}}, "TargetAttributeName": "label"}}],
            "OutputDataConfig": {{"S3OutputPath": {scripted_service.file_uri("mapped-output")!r}}},
            "ProblemType": "BinaryClassification",
            "AutoMLJobObjective": {{"MetricName": "F1"}},
            "AutoMLJobConfig": {{"CompletionCriteria": {{"MaxAutoMLJobRuntimeInSeconds": 600}}}},
            "RoleArn": "arn:aws:iam::123456789012:role/AutoMLExecutionRole",
        }},
        wait_for_completion=False,
    ).expand(job_name=["slow-ui-running", "ui-other-segment"])
"""
    )
    from tests.fixtures.dagbag import DagBag

    bag = DagBag(dag_folder=str(dag_path))
    assert bag.import_errors == {}
    run = bag.dags[RUNNING_DAG].test()
    assert set(task_states(run).values()) == {"success"}, task_states(run)
    yield run
    client = scripted_service.client()
    if client.describe_auto_ml_job_v2(AutoMLJobName="slow-ui-running")["AutoMLJobStatus"] == "InProgress":
        client.stop_auto_ml_job(AutoMLJobName="slow-ui-running")  # never leave a job running


@pytest.fixture(scope="module")
def airflow_ui(airflow_db, retraining_runs, mapped_run, tmp_path_factory):
    """`airflow api-server` with users admin and outsider (who may read only the mapped DAG)."""
    home = tmp_path_factory.mktemp("api-server")
    passwords = home / "passwords.json"
    passwords.write_text(json.dumps(PASSWORDS))
    port = AIRFLOW_PORT
    env = dict(os.environ)
    env.update(
        {
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{port}",
            "AIRFLOW__CORE__AUTH_MANAGER": "tests.fixtures.dag_scoped_auth.DagScopedAuthManager",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin,outsider:viewer",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AUTOML_TEST_DAG_SCOPES": f"outsider={RUNNING_DAG}",
            # Short cache and refresh: a running job's page updates within the test's patience.
            "AIRFLOW__AUTOML__UI_CACHE_SECONDS": "0.5",
            "AIRFLOW__AUTOML__UI_REFRESH_SECONDS": "1",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        }
    )
    log_path = home / "api-server.log"
    with api_server(port, env, log_path, cwd=home) as url:
        yield url


def _token(airflow_ui: str, user: str) -> str:
    answer = requests.post(f"{airflow_ui}/auth/token", json={"username": user, "password": PASSWORDS[user]}, timeout=30)
    assert answer.status_code in (200, 201), answer.text
    return answer.json()["access_token"]


@pytest.fixture(scope="module")
def browser(airflow_ui, tmp_path_factory):
    """Chromium logged in as admin (the UI's own cookie)."""
    with headless_chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        driver.get(f"{airflow_ui}/api/v2/version")
        driver.add_cookie({"name": "_token", "value": _token(airflow_ui, "admin"), "path": "/"})
        yield driver


def _open_plugin_view(browser, url: str, view_name: str):
    """Open an Airflow UI page of the plugin and enter its frame; the wait outlasts the frame's reloads."""
    wait = WebDriverWait(browser, 60, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException))
    browser.switch_to.default_content()
    browser.get(url)
    frame = wait.until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, f"iframe[title='{view_name}']"))
    )
    browser.switch_to.frame(frame)
    wait.until(expected_conditions.presence_of_element_located((By.TAG_NAME, "h1")))
    return wait


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory):
    folder = (REPO_ROOT / SCREENSHOTS) if SCREENSHOTS else tmp_path_factory.mktemp("screenshots")

    def save(browser, name: str) -> None:
        browser.switch_to.default_content()
        folder.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(folder / name))

    return save


def test_the_plugin_refuses_unauthenticated_and_unknown_callers(airflow_ui, retraining_runs):
    run_id = retraining_runs[0].run_id
    paths = [
        "/automl/jobs",
        "/automl/dags/automl_retrain/history",
        f"/automl/tasks/automl_retrain/train_model/{quote(run_id, safe='')}",
    ]
    for path in paths:
        assert requests.get(f"{airflow_ui}{path}", timeout=30).status_code == 401, path
        forged = requests.get(f"{airflow_ui}{path}", cookies={"_token": "not-a-jwt"}, timeout=30)
        assert forged.status_code in (401, 403), path


def test_the_task_tab_shows_the_leaderboard_of_a_finished_job(
    browser, screenshot, airflow_ui, scripted_service, retraining_runs
):
    run = retraining_runs[-1]
    summary = xcom_value(run, "train_model")
    job_name = summary["job_name"]
    candidates = scripted_service.client().list_candidates_for_auto_ml_job(AutoMLJobName=job_name)["Candidates"]

    task_url = f"{airflow_ui}/dags/automl_retrain/runs/{quote(run.run_id, safe='')}/tasks/train_model"
    browser.get(task_url)
    tab = WebDriverWait(browser, 60).until(
        expected_conditions.element_to_be_clickable(
            (By.XPATH, "//a[normalize-space()='AutoML job'] | //button[normalize-space()='AutoML job']")
        )
    )
    tab.click()
    frame = WebDriverWait(browser, 60).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "iframe[title='AutoML job']"))
    )
    browser.switch_to.frame(frame)
    WebDriverWait(browser, 60).until(expected_conditions.presence_of_element_located((By.ID, "job-name")))

    assert browser.find_element(By.ID, "job-name").text == job_name
    assert browser.find_element(By.ID, "job-status").text == "Completed"
    assert browser.find_elements(By.ID, "job-secondary-status") == []  # "Completed" said once
    assert browser.find_element(By.ID, "best-candidate-name").text == summary["best_candidate_name"]
    assert "AUC (higher is better)" in browser.find_element(By.ID, "objective").text
    assert "of 1m 00s" in browser.find_element(By.ID, "time-used").text  # the job's MaxAutoMLJobRuntimeInSeconds
    assert browser.find_elements(By.ID, "refreshing") == []  # a finished job needs no refresh

    rows = browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody tr[data-candidate]")
    assert len(rows) == len(candidates) > 1
    shown = [float(row.find_element(By.CSS_SELECTOR, "td.metric").text) for row in rows]
    assert shown == sorted(shown, reverse=True)
    assert "(best)" in rows[0].text

    # Bars start at zero: every bar's left edge is the zero line, lengths proportional to the values.
    zero = browser.find_element(By.CSS_SELECTOR, "#candidate-chart line.zero")
    bars = browser.find_elements(By.CSS_SELECTOR, "#candidate-chart g.bar rect")
    assert len(bars) == len(candidates)
    assert {bar.get_attribute("x") for bar in bars} == {zero.get_attribute("x1")}
    widths = [float(bar.get_attribute("width")) for bar in bars]
    values = [
        float(group.get_attribute("data-value"))
        for group in browser.find_elements(By.CSS_SELECTOR, "#candidate-chart g.bar")
    ]
    assert all(abs(w / widths[0] - v / values[0]) < 0.01 for w, v in zip(widths, values, strict=True))
    assert all(bar.size["width"] > 0 for bar in bars)

    # Locally, reports and models open on the service's artifact pages, which serve what the job reports.
    items = browser.find_elements(By.CSS_SELECTOR, "#artifacts li")
    labels = [item.find_element(By.TAG_NAME, "a").text for item in items]
    assert "Job output" in labels and f"{summary['best_candidate_name']}: model" in labels
    for item in items:
        uri = item.find_element(By.TAG_NAME, "code").text
        href = item.find_element(By.TAG_NAME, "a").get_attribute("href")
        assert href == f"{scripted_service.endpoint_url}/jobs/{job_name}/artifacts?uri={quote(uri, safe='')}"
        assert (
            requests.get(href, timeout=30).status_code != 403
        )  # a location of this job (the scripted engine writes few files)

    screenshot(browser, "ui-task-tab.png")

    # The gate's tab shows the job it judged; a task that is not an AutoML task says so.
    run_path = f"{airflow_ui}/dags/automl_retrain/runs/{quote(run.run_id, safe='')}/tasks"
    _open_plugin_view(browser, f"{run_path}/check_best_candidate/plugin/automl-job", "AutoML job")
    assert browser.find_element(By.ID, "job-name").text == job_name
    browser.switch_to.default_content()
    browser.get(f"{run_path}/prepare_training_data/plugin/automl-job")
    frame = WebDriverWait(browser, 60).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "iframe[title='AutoML job']"))
    )
    browser.switch_to.frame(frame)
    assert (
        "not an AutoML task"
        in WebDriverWait(browser, 60).until(expected_conditions.presence_of_element_located((By.ID, "not-automl"))).text
    )

    # Sorting: by the metric, ascending.
    browser.switch_to.default_content()
    browser.get(f"{task_url}/plugin/automl-job")
    browser.switch_to.frame(
        WebDriverWait(browser, 60).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "iframe[title='AutoML job']"))
        )
    )
    WebDriverWait(browser, 60).until(
        expected_conditions.element_to_be_clickable((By.CSS_SELECTOR, "#leaderboard th a[data-sort='metric']"))
    ).click()
    WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda b: "▲" in b.find_element(By.CSS_SELECTOR, "#leaderboard th a[data-sort='metric']").text
    )
    ascending = [float(td.text) for td in browser.find_elements(By.CSS_SELECTOR, "#leaderboard tbody td.metric")]
    assert ascending == sorted(shown)


def test_the_task_tab_follows_a_running_mapped_job_until_it_completes(
    browser, airflow_ui, scripted_service, mapped_run
):
    run_url = f"{airflow_ui}/dags/{RUNNING_DAG}/runs/{quote(mapped_run.run_id, safe='')}/tasks/train_each/mapped"
    wait = _open_plugin_view(browser, f"{run_url}/0/plugin/automl-job", "AutoML job")
    assert browser.find_element(By.ID, "job-name").text == "slow-ui-running"
    assert browser.find_element(By.ID, "job-status").text == "InProgress"
    assert browser.find_element(By.ID, "refreshing").is_displayed()
    # The page reloads itself while the job trains: the candidate count grows without a click.
    first = int(browser.find_element(By.ID, "candidate-count").text.split()[0])
    wait.until(lambda b: int(b.find_element(By.ID, "candidate-count").text.split()[0]) > first)
    assert browser.find_element(By.ID, "best-candidate-name").text  # the best so far, while running

    scripted_service.client().stop_auto_ml_job(AutoMLJobName="slow-ui-running")
    wait.until(lambda b: b.find_element(By.ID, "job-status").text == "Stopped")
    assert browser.find_elements(By.ID, "refreshing") == []  # an ended job stops refreshing

    # The other mapped task instance shows its own job.
    _open_plugin_view(browser, f"{run_url}/1/plugin/automl-job", "AutoML job")
    assert browser.find_element(By.ID, "job-name").text == "ui-other-segment"


def test_the_history_tab_draws_one_point_per_run(browser, screenshot, airflow_ui, retraining_runs):
    _open_plugin_view(browser, f"{airflow_ui}/dags/automl_retrain/plugin/automl-history", "AutoML history")
    # (Other test modules may have run this DAG in the same metadata database, on other services.)
    rows = {
        row.get_attribute("data-run-id"): row
        for row in browser.find_elements(By.CSS_SELECTOR, "#history tbody tr[data-run-id]")
    }
    valued = [run_id for run_id, row in rows.items() if row.find_element(By.CSS_SELECTOR, "td.metric").text]
    points = [
        p.get_attribute("data-run-id") for p in browser.find_elements(By.CSS_SELECTOR, "#trend-chart circle.point")
    ]
    assert sorted(points) == sorted(valued)  # one point per run with an objective value
    ours = [run.run_id for run in retraining_runs]
    assert set(ours) <= set(points)
    order = list(rows)
    assert order.index(ours[1]) < order.index(ours[0])  # newest first
    assert browser.find_elements(By.CSS_SELECTOR, "#trend-chart path.threshold")  # the sensor's 0.6

    verdicts = {
        run_id: rows[run_id].find_element(By.CSS_SELECTOR, "td.verdict").text.splitlines()[0] for run_id in ours
    }
    assert verdicts == {ours[0]: "promoted", ours[1]: "kept previous"}
    for run in retraining_runs:
        row = rows[run.run_id]
        assert xcom_value(run, "train_model")["job_name"] in row.text
        assert "0.6000" in row.text  # the threshold the sensor rendered
        link = row.find_element(By.CSS_SELECTOR, "a[target='_top']").get_attribute("href")
        assert link.endswith(
            f"/dags/automl_retrain/runs/{quote(run.run_id, safe='')}/tasks/train_model/plugin/automl-job"
        )
    screenshot(browser, "ui-history-tab.png")


def test_the_jobs_page_joins_jobs_to_their_runs_and_filters_them(
    browser, screenshot, airflow_ui, retraining_runs, mapped_run
):
    _open_plugin_view(browser, f"{airflow_ui}/plugin/automl-jobs", "AutoML jobs")
    listed = {
        row.get_attribute("data-job"): row.get_attribute("data-dag-id")
        for row in browser.find_elements(By.CSS_SELECTOR, "#jobs tr[data-job]")
    }
    for run in retraining_runs:
        assert listed[xcom_value(run, "train_model")["job_name"]] == "automl_retrain"
    assert listed["slow-ui-running"] == RUNNING_DAG
    # Each job links to the task instance that created it, mapped ones to their own index.
    run_path = f"/dags/{RUNNING_DAG}/runs/{quote(mapped_run.run_id, safe='')}/tasks/train_each/mapped"
    for job_name, index in (("slow-ui-running", 0), ("ui-other-segment", 1)):
        link = browser.find_element(By.CSS_SELECTOR, f"#jobs tr[data-job='{job_name}'] a[target='_top']")
        assert link.get_attribute("href") == f"{airflow_ui}{run_path}/{index}/plugin/automl-job"
    screenshot(browser, "ui-jobs-page.png")

    browser.switch_to.frame(browser.find_element(By.CSS_SELECTOR, "iframe[title='AutoML jobs']"))
    browser.find_element(By.NAME, "name").send_keys("segment")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    WebDriverWait(browser, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
        lambda b: (
            [row.get_attribute("data-job") for row in b.find_elements(By.CSS_SELECTOR, "#jobs tr[data-job]")]
            == ["ui-other-segment"]
        )
    )
    assert browser.find_element(By.NAME, "name").get_attribute("value") == "segment"


def test_a_user_without_access_to_a_dag_does_not_see_its_jobs(airflow_ui, retraining_runs, mapped_run):
    cookies = {"_token": _token(airflow_ui, "outsider")}
    run_id = quote(retraining_runs[0].run_id, safe="")
    assert (
        requests.get(
            f"{airflow_ui}/automl/tasks/automl_retrain/train_model/{run_id}", cookies=cookies, timeout=30
        ).status_code
        == 403
    )
    assert (
        requests.get(f"{airflow_ui}/automl/dags/automl_retrain/history", cookies=cookies, timeout=30).status_code == 403
    )

    page = requests.get(f"{airflow_ui}/automl/jobs", cookies=cookies, timeout=30)
    assert page.status_code == 200
    assert "slow-ui-running" in page.text  # the DAG they may read
    for run in retraining_runs:
        assert xcom_value(run, "train_model")["job_name"] not in page.text
    assert "automl_retrain" not in page.text


def test_the_service_job_pages_lead_back_to_the_airflow_task(browser, airflow_ui, scripted_service, retraining_runs):
    run = retraining_runs[0]
    job_name = xcom_value(run, "train_model")["job_name"]
    task_path = f"/dags/automl_retrain/runs/{quote(run.run_id, safe='')}/tasks/train_model"

    browser.switch_to.default_content()
    browser.get(f"{scripted_service.endpoint_url}/")  # the service's job index
    browser.find_element(By.CSS_SELECTOR, f"#jobs tr[data-job='{job_name}'] a[href='/jobs/{job_name}']").click()
    assert browser.find_element(By.ID, "job-name").text == job_name
    link = browser.find_element(By.CSS_SELECTOR, "#airflow-task a")
    assert link.text == f"automl_retrain / {run.run_id} / train_model"
    assert link.get_attribute("href") == f"{airflow_ui}{task_path}"
    link.click()
    WebDriverWait(browser, 60).until(
        expected_conditions.presence_of_element_located((By.XPATH, "//*[normalize-space()='AutoMLJobOperator']"))
    )
    assert browser.current_url.startswith(f"{airflow_ui}{task_path}")


def test_airflow_task_view_shows_the_run_and_links_to_the_job_page(
    browser, scripted_service, retraining_runs, airflow_ui
):
    run = retraining_runs[0]
    summary = xcom_value(run, "train_model")
    job_name = summary["job_name"]
    wait = WebDriverWait(browser, 60)

    task_url = f"{airflow_ui}/dags/automl_retrain/runs/{quote(run.run_id, safe='')}/tasks/train_model"

    # Details tab: the task's state and its extra link to the job.
    browser.switch_to.default_content()
    browser.get(f"{task_url}/details")
    link = wait.until(
        expected_conditions.presence_of_element_located((By.XPATH, "//a[normalize-space()='AutoML Job']"))
    )
    href = link.get_attribute("href")
    assert href == f"{scripted_service.endpoint_url}/jobs/{job_name}"
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "AutoMLJobOperator" in body
    assert "State\nsuccess" in body

    # XCom tab: the summary the operator returned, shown folded: unfold it. Airflow 3.2+ shows it in a code
    # editor (a folding marker); 3.1 in react-json-view (an ellipsis), on a row that links to the task.
    browser.get(f"{task_url}/xcom")
    fold = wait.until(
        expected_conditions.presence_of_element_located(
            (
                By.XPATH,
                "//tr[contains(., 'return_value')]//*[@data-testid='table-cell-Value']"
                "//*[contains(@class, 'codicon-folding-collapsed')]"
                " | //tr[contains(., 'return_value') and .//a[contains(@href, '/tasks/train_model')]]"
                "//*[contains(@class, 'node-ellipsis')]",
            )
        )
    )
    ActionChains(browser).move_to_element(fold).click().perform()

    def unfolded_summary(_) -> str | None:
        # Unfolding re-renders the row: look it up afresh each time.
        texts = [row.text for row in browser.find_elements(By.XPATH, "//tr[contains(., 'return_value')]")]
        return next((text for text in texts if "best_candidate_name" in text), None)

    text = WebDriverWait(browser, 60, ignored_exceptions=(StaleElementReferenceException,)).until(unfolded_summary)
    value = re.sub(r'"\s*:\s*', '": ', text)  # the two viewers space the key's colon differently
    assert f'"best_candidate_name": "{summary["best_candidate_name"]}"' in value
    assert f'"job_name": "{job_name}"' in value
    assert '"status": "Completed"' in value

    browser.get(href)  # what the link opens
    assert browser.find_element(By.ID, "job-name").text == job_name
    assert browser.find_element(By.ID, "job-status").text == "Completed"
    assert browser.find_element(By.ID, "best-candidate").text == summary["best_candidate_name"]
