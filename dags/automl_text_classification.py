"""Retraining a text classifier with SageMaker AutoML (CreateAutoMLJobV2
TextClassificationJobConfig), and classifying the texts that arrived since.

The texts here are documentation paragraphs of Python's standard library, labelled with the area
of the library they document (files, network, formats, numbers): a stand-in for support tickets
routed to a team, with real English text that ships with Python. Each run:
  1. prepares the labelled texts (CSV with a ``text`` and an ``area`` column) under
     ``<storage>/texts/<date>/training/`` and the new, unlabelled texts, one per line, under
     ``<storage>/texts/<date>/new/``;
  2. trains a classifier (AutoMLJobOperator, deferred while it trains); on AWS Autopilot
     fine-tunes a pretrained language model, on the local service TF-IDF candidates and their
     soft vote are trained from the data alone;
  3. gates on the best candidate's Accuracy (AutoMLBestCandidateSensor, ``accuracy_threshold``);
  4. classifies the new texts with a batch transform by the best candidate (one text per line,
     answering the label and its probability through SAGEMAKER_INFERENCE_OUTPUT), and writes
     them with their labels as ``<storage>/texts/<date>/classified.csv``.

The same configuration as ``automl_retrain`` decides where it runs: the ``aws_default``
connection, the ``storage_uri`` param or the Variable ``automl_storage_uri``, the Variable
``automl_role_arn``.
"""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Param, get_current_context, task

from airflow_automl.examples.storage import read_bytes, storage_uri, write_bytes
from airflow_automl.operators.automl import AutoMLJobOperator
from airflow_automl.operators.transform import FileOrS3TransformOperator
from airflow_automl.sensors.automl import AutoMLBestCandidateSensor

AWS_CONN_ID = "aws_default"
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/AutoMLExecutionRole"
POLL_INTERVAL = float(os.environ.get("AUTOML_POLL_INTERVAL_SECONDS", "30"))
NEW_TEXTS_FILE = "new.csv"
INSTANCE_TYPE = "ml.m5.large"


with DAG(
    dag_id="automl_text_classification",
    description="Retrain a text classifier with SageMaker AutoML and classify the new texts",
    schedule="@daily",
    start_date=datetime(2026, 1, 5, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 1, "retry_delay": timedelta(minutes=2)},
    params={
        "storage_uri": Param(
            "",
            type="string",
            description="s3://bucket/prefix or file:///path; empty: the Variable automl_storage_uri",
        ),
        "labelled_rows": Param(600, type="integer", minimum=20, description="labelled texts to learn from"),
        "new_rows": Param(100, type="integer", minimum=1, description="new texts to classify"),
        "accuracy_threshold": Param(0.5, type="number", description="the best candidate's Accuracy must reach this"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")),
            type="integer",
            minimum=10,
            description="training budget of the job",
        ),
    },
    tags=["automl", "text-classification", "example"],
) as dag:

    @task
    def prepare_texts(params: dict[str, Any], data_interval_end=None) -> dict[str, Any]:
        """Write the labelled texts and, apart, the new texts to classify (one per line, no label)."""
        from airflow_automl.examples.text_corpus import CONTENT, library_docstrings

        context = get_current_context()
        end = (data_interval_end or context["dag_run"].run_after).date()
        corpus = library_docstrings()
        labelled = corpus.iloc[: int(params["labelled_rows"])]
        new = corpus.iloc[len(labelled) : len(labelled) + int(params["new_rows"])]
        storage = storage_uri(params.get("storage_uri", ""))
        folder = f"{storage}/texts/{end:%Y-%m-%d}"
        write_bytes(f"{folder}/training/texts.csv", labelled.to_csv(index=False).encode(), aws_conn_id=AWS_CONN_ID)
        lines = new[[CONTENT]].to_csv(index=False, header=False).encode()
        write_bytes(f"{folder}/new/{NEW_TEXTS_FILE}", lines, aws_conn_id=AWS_CONN_ID)
        return {
            "storage_uri": storage,
            "folder": folder,
            "training_uri": f"{folder}/training/",
            "new_uri": f"{folder}/new/",
            "labelled_rows": len(labelled),
            "new_rows": len(new),
        }

    texts = prepare_texts()

    # [START text_classification_job]
    train = AutoMLJobOperator(
        task_id="train_classifier",
        job_name="{{ automl_job_name('texts') }}",
        config={
            "AutoMLJobInputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "{{ ti.xcom_pull(task_ids='prepare_texts')['training_uri'] }}",
                        }
                    },
                    "ContentType": "text/csv;header=present",
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": "{{ ti.xcom_pull(task_ids='prepare_texts')['storage_uri'] }}/text-models"
            },
            "AutoMLJobObjective": {"MetricName": "Accuracy"},
            "AutoMLProblemTypeConfig": {
                "TextClassificationJobConfig": {
                    "ContentColumn": "text",
                    "TargetLabelColumn": "area",
                    "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}"},
                }
            },
            "RoleArn": "{{ var.value.get('automl_role_arn', '" + DEFAULT_ROLE_ARN + "') }}",
        },
        tags={"project": "texts"},
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )
    # [END text_classification_job]

    check_accuracy = AutoMLBestCandidateSensor(
        task_id="check_accuracy",
        job_name="{{ ti.xcom_pull(task_ids='train_classifier')['job_name'] }}",
        metric_threshold="{{ params.accuracy_threshold }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=POLL_INTERVAL,
    )

    # [START text_classification_transform]
    @task
    def plan_batch_classification(candidate: dict[str, Any], prepared: dict[str, Any]) -> dict[str, Any]:
        """The best candidate's model, answering each text's label and that label's probability,
        and a batch transform of the new texts, one per line."""
        from airflow.sdk import Variable

        job_name = candidate["job_name"]
        containers = [
            {
                **c,
                "Environment": {
                    **c.get("Environment", {}),
                    "SAGEMAKER_INFERENCE_OUTPUT": "predicted_label,probability",
                },
            }
            for c in candidate["inference_containers"]
        ]
        return {
            "Model": {
                "ModelName": f"{job_name}-classifier",
                "ExecutionRoleArn": Variable.get("automl_role_arn", default=DEFAULT_ROLE_ARN),
                "Containers": containers,
            },
            "Transform": {
                "TransformJobName": f"{job_name}-classify",
                "ModelName": f"{job_name}-classifier",
                "BatchStrategy": "MultiRecord",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": prepared["new_uri"]}},
                    "ContentType": "text/csv",
                    "SplitType": "Line",
                },
                "TransformOutput": {"S3OutputPath": f"{prepared['folder']}/classified-output/", "Accept": "text/csv"},
                "TransformResources": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1},
            },
        }

    # [END text_classification_transform]

    batch_classify = FileOrS3TransformOperator(
        task_id="batch_classify",
        config=plan_batch_classification(check_accuracy.output, texts),
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        deferrable=True,
        check_interval=max(1, int(POLL_INTERVAL)),
    )

    @task
    def publish_classified(
        candidate: dict[str, Any], prepared: dict[str, Any], transform: dict[str, Any]
    ) -> dict[str, Any]:
        """Each new text with its label and probability, next to the data as classified.csv."""
        import pandas as pd

        output = transform["Transform"]["TransformOutput"]["S3OutputPath"].rstrip("/")
        uri = f"{output}/{NEW_TEXTS_FILE}.out"  # batch transform's name for the input's output
        raw = read_bytes(uri, aws_conn_id=AWS_CONN_ID)
        sent = read_bytes(f"{prepared['new_uri']}{NEW_TEXTS_FILE}", aws_conn_id=AWS_CONN_ID)
        if raw is None or sent is None:
            raise FileNotFoundError(f"{uri}: the batch classification wrote no output")
        answers = pd.read_csv(io.BytesIO(raw), header=None, names=["area", "probability"])
        new_texts = pd.read_csv(io.BytesIO(sent), header=None, names=["text"])
        if len(answers) != len(new_texts):
            raise ValueError(f"{uri}: {len(answers)} answers for {len(new_texts)} texts")
        classified = pd.concat([new_texts, answers], axis=1)
        published = f"{prepared['folder']}/classified.csv"
        write_bytes(published, classified.to_csv(index=False).encode(), aws_conn_id=AWS_CONN_ID)
        print(f"{len(classified)} texts classified into {classified['area'].nunique()} areas: {published}")
        return {
            "classified_uri": published,
            "job_name": candidate["job_name"],
            "candidate_name": candidate["best_candidate_name"],
            "transform_job_name": transform["Transform"]["TransformJobName"],
            "accuracy": candidate["objective_metric_value"],
            "texts": len(classified),
            "areas": classified["area"].value_counts().to_dict(),
        }

    texts >> train >> check_accuracy
    publish_classified(check_accuracy.output, texts, batch_classify.output)
