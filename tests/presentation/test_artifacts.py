"""The reports and artifacts of a job: what the pages link and the service's artifact route serves."""

from airflow_automl.presentation.artifacts import job_artifacts, links, service_artifact_path


def test_notebooks_output_and_each_candidates_reports_and_models_the_best_first():
    best = {
        "CandidateName": "job-b",
        "CandidateProperties": {"CandidateArtifactLocations": {"Explainability": "s3://o/job/expl/"}},
        "InferenceContainers": [{"ModelDataUrl": "s3://o/job/b.tar.gz"}],
    }
    describe = {
        "AutoMLJobName": "job",
        "AutoMLJobArtifacts": {
            "DataExplorationNotebookLocation": "s3://o/job/explore.ipynb",
            "CandidateDefinitionNotebookLocation": "s3://o/job/candidates.ipynb",
        },
        "OutputDataConfig": {"S3OutputPath": "s3://o/"},
        "BestCandidate": best,
    }
    listed = [
        {
            "CandidateName": "job-a",
            # SageMaker chains containers, each with its own model; an empty location is none.
            "InferenceContainers": [
                {"ModelDataUrl": "s3://o/job/a-prep.tar.gz"},
                {"ModelDataUrl": "s3://o/job/a-prep.tar.gz"},
                {"ModelDataUrl": "s3://o/job/a.tar.gz"},
            ],
            "CandidateProperties": {"CandidateArtifactLocations": {"ModelInsights": "", "Explainability": "s3://o/a/"}},
        },
        # The listing's copy of the best candidate, with a report Describe did not name yet.
        {
            **best,
            "CandidateProperties": {
                "CandidateArtifactLocations": {"Explainability": "s3://o/job/expl/", "ModelInsights": "s3://o/job/mi/"}
            },
        },
    ]
    assert [(a.label, a.uri) for a in job_artifacts(describe, listed)] == [
        ("Data exploration notebook", "s3://o/job/explore.ipynb"),
        ("Candidate definition notebook", "s3://o/job/candidates.ipynb"),
        ("Job output", "s3://o/job/"),
        ("job-b: Explainability", "s3://o/job/expl/"),
        ("job-b: model", "s3://o/job/b.tar.gz"),
        ("job-b: ModelInsights", "s3://o/job/mi/"),
        ("job-a: Explainability", "s3://o/a/"),
        ("job-a: model", "s3://o/job/a-prep.tar.gz"),
        ("job-a: model (container 3)", "s3://o/job/a.tar.gz"),
    ]


def test_a_running_job_names_no_artifact_yet_and_links_go_to_the_services_page():
    assert job_artifacts({"AutoMLJobName": "job"}, [{"CandidateName": "job-a"}]) == []
    path = service_artifact_path("job/1", "s3://b/k?x=1&y")
    assert path == "/jobs/job%2F1/artifacts?uri=s3%3A%2F%2Fb%2Fk%3Fx%3D1%26y"
    (link,) = links(
        job_artifacts({"AutoMLJobName": "j", "OutputDataConfig": {"S3OutputPath": "s3://b"}}, []), str.upper
    )
    assert (link.label, link.uri, link.href) == ("Job output", "s3://b/j/", "S3://B/J/")
