"""The job page a user opens from the Airflow task's link, read over HTTP from a real service that
trained a real (small) job, and a failed job whose request carries markup that must stay text."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import pandas as pd
import pytest
import requests
from sklearn.datasets import load_breast_cancer

pytestmark = pytest.mark.integration

TRAINED_JOB = "pages-trained"
FAILED_JOB = "pages-failed"
HOSTILE_TARGET = '<img src=x onerror="alert(1)">'


def _write_breast_cancer(local_service) -> str:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.rename(columns={"target": "diagnosis"})
    frame["diagnosis"] = frame["diagnosis"].map({0: "malignant", 1: "benign"})
    path = local_service.file_root / "pages" / "data" / "train.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return local_service.file_uri("pages/data/")


def _create(client, name: str, data_uri: str, output_uri: str, target: str) -> None:
    client.create_auto_ml_job(
        AutoMLJobName=name,
        InputDataConfig=[
            {
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": data_uri}},
                "TargetAttributeName": target,
            }
        ],
        OutputDataConfig={"S3OutputPath": output_uri},
        ProblemType="BinaryClassification",
        AutoMLJobObjective={"MetricName": "F1"},
        AutoMLJobConfig={
            "Mode": "ENSEMBLING",
            # MaxCandidates ends the job; the time limit is only a bound. A short one failed the job on a
            # busy machine before its first candidate finished, and this page needs a trained job.
            "CompletionCriteria": {"MaxCandidates": 3, "MaxAutoMLJobRuntimeInSeconds": 240},
            "CandidateGenerationConfig": {"AlgorithmsConfig": [{"AutoMLAlgorithms": ["lightgbm", "linear-learner"]}]},
        },
        RoleArn="arn:aws:iam::123456789012:role/AutoMLExecutionRole",
    )


@pytest.fixture(scope="module")
def jobs(local_service):
    client = local_service.client()
    data_uri = _write_breast_cancer(local_service)
    output_uri = local_service.file_uri("pages/output")
    _create(client, TRAINED_JOB, data_uri, output_uri, "diagnosis")
    _create(client, FAILED_JOB, data_uri, output_uri, HOSTILE_TARGET)
    trained = local_service.wait_for_status(TRAINED_JOB, timeout=300)
    failed = local_service.wait_for_status(FAILED_JOB, timeout=120)
    assert trained["AutoMLJobStatus"] == "Completed", trained.get("FailureReason")
    assert failed["AutoMLJobStatus"] == "Failed"
    candidates = client.list_candidates_for_auto_ml_job(AutoMLJobName=TRAINED_JOB, MaxResults=100)["Candidates"]
    return {"trained": trained, "failed": failed, "candidates": candidates}


def _page(local_service, name: str) -> requests.Response:
    return requests.get(f"{local_service.endpoint_url}/jobs/{quote(name)}", timeout=30)


def _leaderboard_rows(page: str) -> list[tuple[str, str]]:
    body = page.split('<table id="leaderboard">', 1)[1].split("</table>", 1)[0]
    return re.findall(
        r'<tr class="[^"]*" data-candidate="([^"]+)">.*?<td class="num metric">([^<]*)</td>', body, flags=re.S
    )


def test_page_shows_status_best_candidate_and_metric(local_service, jobs):
    answer = _page(local_service, TRAINED_JOB)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert '<span id="job-status" class="status Completed">Completed</span>' in page
    best = jobs["trained"]["BestCandidate"]["CandidateName"]
    assert f'<dd id="best-candidate">{best}</dd>' in page
    assert "F1 (higher is better)" in page


def test_leaderboard_lists_every_candidate_best_first_with_its_score(local_service, jobs):
    rows = _leaderboard_rows(_page(local_service, TRAINED_JOB).text)
    scored = {
        c["CandidateName"]: c["FinalAutoMLJobObjectiveMetric"]["Value"]
        for c in jobs["candidates"]
        if c.get("FinalAutoMLJobObjectiveMetric", {}).get("Value") is not None
    }
    assert len(scored) >= 2
    assert [name for name, _ in rows][: len(scored)] == sorted(scored, key=scored.get, reverse=True)
    for name, shown in rows[: len(scored)]:
        assert float(shown) == pytest.approx(scored[name], abs=5e-5)
    assert rows[0][0] == jobs["trained"]["BestCandidate"]["CandidateName"]


def test_chart_draws_one_bar_per_scored_candidate_longest_for_the_best(local_service, jobs):
    page = _page(local_service, TRAINED_JOB).text
    svg = page.split('<svg id="candidate-chart"', 1)[1].split("</svg>", 1)[0]
    bars = re.findall(
        r'<g class="bar( best)?" data-candidate="([^"]+)" data-value="([^"]+)">.*?<rect [^>]*width="([0-9.]+)"',
        svg,
        flags=re.S,
    )
    scored = [c for c in jobs["candidates"] if c.get("FinalAutoMLJobObjectiveMetric", {}).get("Value") is not None]
    assert len(bars) == len(scored)
    widths = {name: float(width) for _, name, _, width in bars}
    best = jobs["trained"]["BestCandidate"]["CandidateName"]
    assert [name for flag, name, _, _ in bars if flag] == [best]
    assert widths[best] == max(widths.values())
    # Bars start at zero, so their lengths are proportional to the scores.
    zero = float(re.search(r'<line class="zero" x1="([0-9.]+)"', svg).group(1))
    assert {float(x) for x in re.findall(r'<rect x="([0-9.]+)"', svg)} == {zero}
    values = {name: float(value) for _, name, value, _ in bars}
    assert all(widths[name] / widths[best] == pytest.approx(values[name] / values[best], abs=0.01) for name in widths)


def test_leaderboard_seconds_are_the_candidates_fit_times(local_service, jobs):
    """ListCandidatesForAutoMLJob dates all candidates alike; the page reads leaderboard.csv's fit times."""
    import io

    csv_path = local_service.file_root / "pages" / "output" / TRAINED_JOB / "leaderboard.csv"
    fit = pd.read_csv(io.StringIO(csv_path.read_text())).set_index("CandidateName")["FitTimeSeconds"]
    body = _page(local_service, TRAINED_JOB).text.split('<table id="leaderboard">', 1)[1]
    shown = dict(
        re.findall(r'data-candidate="([^"]+)">(?:(?!</tr>).)*?<td class="num seconds">([^<]*)</td>', body, flags=re.S)
    )
    assert set(fit.index) <= set(shown)
    for name in fit.index:
        assert float(shown[name]) == pytest.approx(fit[name], abs=0.05)
    assert len({shown[name] for name in fit.index}) > 1  # not one shared duration


def test_status_is_said_once_and_the_root_lists_the_jobs(local_service, jobs):
    status_line = re.search(
        r'<p><span id="job-status".*?</p>', _page(local_service, TRAINED_JOB).text, flags=re.S
    ).group(0)
    assert re.sub(r"<[^>]+>", " ", status_line).split().count("Completed") == 1
    index = requests.get(f"{local_service.endpoint_url}/", timeout=30)
    assert index.status_code == 200
    listed = re.findall(r'<tr data-job="([^"]+)">', index.text)
    assert TRAINED_JOB in listed and FAILED_JOB in listed
    assert f'<a href="/jobs/{TRAINED_JOB}">' in index.text


def test_report_links_serve_the_jobs_own_artifacts(local_service, jobs):
    page = _page(local_service, TRAINED_JOB).text
    links = re.findall(r'<li><a href="([^"]+)">([^<]+)</a>', page.split('<ul id="reports">', 1)[1])
    assert links, "the page links no report"
    for href, label in links:
        answer = requests.get(local_service.endpoint_url + html.unescape(href), timeout=30)
        assert answer.status_code == 200, (label, answer.text[:300])
        assert answer.content


def test_artifact_route_refuses_locations_the_job_does_not_report(local_service, jobs):
    secret = local_service.file_root / "pages" / "secret.txt"
    secret.write_text("not part of any job")
    for uri in (secret.as_uri(), local_service.file_uri("pages/output/pages-trained/../../secret.txt")):
        answer = requests.get(
            f"{local_service.endpoint_url}/jobs/{TRAINED_JOB}/artifacts", params={"uri": uri}, timeout=30
        )
        assert answer.status_code == 403
        assert "not part of any job" not in answer.text


def test_a_stray_symlink_in_a_reported_folder_is_left_out_of_its_listing(local_service, jobs, tmp_path):
    """Regression: one symlink pointing outside the file roots made the whole listing answer 404."""
    # The job's output folder, which the page links as "Job output".
    folder = local_service.file_root / "pages" / "output" / TRAINED_JOB
    folder_uri = folder.as_uri() + "/"
    kept = sorted(p.name for p in folder.rglob("*") if p.is_file())
    assert kept, f"{folder} holds no report"
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of any job")
    (folder / "stray-link.txt").symlink_to(outside)
    answer = requests.get(
        f"{local_service.endpoint_url}/jobs/{TRAINED_JOB}/artifacts", params={"uri": folder_uri}, timeout=30
    )
    assert answer.status_code == 200, answer.text[:300]
    assert all(name in answer.text for name in kept)
    assert "stray-link.txt" not in answer.text and "not part of any job" not in answer.text


def test_markup_from_the_request_is_shown_as_text(local_service, jobs):
    assert HOSTILE_TARGET in jobs["failed"]["FailureReason"]  # the engine names the missing column
    page = _page(local_service, FAILED_JOB).text
    assert '<span id="job-status" class="status Failed">Failed</span>' in page
    assert HOSTILE_TARGET not in page
    assert "&lt;img src=x onerror=" in page  # shown, as text
    assert "<img" not in page


def test_unknown_job_is_404(local_service, jobs):
    answer = _page(local_service, "no-such-job")
    assert answer.status_code == 404
    assert "no-such-job" in answer.json()["detail"]
