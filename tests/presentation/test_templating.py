"""Every page and report is rendered from the package's template files with one stylesheet, escaping
whatever comes from a job; the files ship in the wheel."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest

import airflow_automl
from airflow_automl.presentation import artifacts
from airflow_automl.presentation.job import JobPresentation
from airflow_automl.presentation.templating import STYLESHEET, environment

PACKAGE = Path(airflow_automl.__file__).parent
REPO = PACKAGE.parent
TEMPLATE_FOLDERS = sorted(PACKAGE.glob("**/templates"))
HOSTILE = '<script>alert("x")</script>'


def test_every_template_compiles_with_autoescape_on():
    assert {folder.relative_to(PACKAGE).as_posix() for folder in TEMPLATE_FOLDERS} == {
        "presentation/templates",
        "ui/templates",
        "local/templates",
    }
    for folder in TEMPLATE_FOLDERS:
        env = environment(folder)
        for template in folder.glob("*.html"):
            env.get_template(template.name)  # a syntax error fails here
        assert env.autoescape is True


def _hostile_job() -> JobPresentation:
    candidate = {
        "CandidateName": f"job-{HOSTILE}",
        "CandidateStatus": "Failed",
        "FailureReason": HOSTILE,
        "FinalAutoMLJobObjectiveMetric": {"MetricName": "F1", "Value": 0.5},
        "InferenceContainers": [{"ModelDataUrl": f"s3://b/{HOSTILE}"}],
    }
    describe = {
        "AutoMLJobName": "job",
        "AutoMLJobStatus": "Failed",
        "FailureReason": HOSTILE,
        "OutputDataConfig": {"S3OutputPath": f"s3://b/{HOSTILE}"},
    }
    return JobPresentation.of(describe, [candidate])


def _render(folder: str, name: str, **context) -> str:
    return environment(PACKAGE / folder / "templates").get_template(name).render(**context)


def _assert_escaped(page: str) -> None:
    assert "<script>" not in page
    assert "&lt;script&gt;" in page


def _service_job_page(job: JobPresentation) -> str:
    reports = artifacts.links(job.artifacts, lambda uri: artifacts.service_artifact_path("job", uri))
    return _render(
        "local", "job.html", job=job, airflow=None, endpoint=None, seconds={}, reports=reports, refresh_seconds=None
    )


def _task_tab(job: JobPresentation) -> str:
    task = SimpleNamespace(
        is_automl_task=True, task_id="train", connection=SimpleNamespace(aws_conn_id="aws_default", region_name=None)
    )
    return _render(
        "ui",
        "task.html",
        task=task,
        job=job,
        budget={"used": "1m 00s", "limit": None, "percent": 0},
        timeline=[],
        rows=job.rows,
        sort_links={key: {"href": f"?sort={key}", "mark": ""} for key in ("rank", "name", "metric", "status")},
        artifacts=artifacts.links(job.artifacts, str),
        refresh_seconds=None,
    )


def test_the_services_job_page_shows_markup_from_a_job_as_text():
    page = _service_job_page(_hostile_job())
    _assert_escaped(page)
    assert page.count("<style>") == 1 and STYLESHEET.read_text() in page


def test_the_plugins_task_tab_shows_markup_from_a_job_as_text():
    page = _task_tab(_hostile_job())
    _assert_escaped(page)
    assert '<body class="framed">' in page and STYLESHEET.read_text() in page


@pytest.mark.parametrize(
    ("status", "best", "board", "chart"),
    [
        ("Failed", "none", "No candidates.", "No candidate has an objective value."),
        ("InProgress", "none yet", "No candidates yet.", "No candidate has an objective value yet."),
    ],
)
def test_both_pages_say_whether_a_job_without_candidates_may_still_get_them(status, best, board, chart):
    job = JobPresentation.of({"AutoMLJobName": "job", "AutoMLJobStatus": status}, [])
    for page in (_service_job_page(job), _task_tab(job)):
        assert f'<dd id="best-candidate">{best}</dd>' in page
        assert f'class="muted">{board}</td>' in page
        assert f'<p id="no-chart" class="muted">{chart}</p>' in page


def test_a_report_is_self_contained():
    page = (
        environment()
        .get_template("report.html")
        .render(
            title=HOSTILE, sections=[SimpleNamespace(title="Target", note=None, content="data:image/png;base64,AAAA")]
        )
    )
    _assert_escaped(page)
    assert STYLESHEET.read_text() in page and '<img alt="" src="data:image/png;base64,AAAA">' in page
    assert "<link" not in page  # nothing to load from elsewhere


@pytest.mark.parametrize("path", sorted(p for f in TEMPLATE_FOLDERS for p in f.iterdir()) + [STYLESHEET])
def test_template_and_style_files_are_package_data(path):
    package_data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = [
        (PACKAGE.parent.joinpath(*package.split(".")), pattern)
        for package, patterns in package_data.items()
        for pattern in patterns
    ]
    assert any(
        path.is_relative_to(root) and fnmatch.fnmatch(path.relative_to(root).as_posix(), pattern)
        for root, pattern in shipped
    ), f"{path.relative_to(REPO)} is not in [tool.setuptools.package-data]: it would be missing from the wheel"
