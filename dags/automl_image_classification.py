"""Retraining an image classifier with SageMaker AutoML (CreateAutoMLJobV2
ImageClassificationJobConfig), and classifying the images that arrived since.

The images here are scikit-learn's bundled handwritten digit scans, written as PNG files: a
stand-in for product photos sorted into categories. Each run:
  1. writes the labelled images in label folders under ``<storage>/images/<date>/training/<label>/``
     and the new, unlabelled images under ``<storage>/images/<date>/new/``;
  2. trains a classifier (AutoMLJobOperator, deferred while it trains); on AWS Autopilot
     fine-tunes a pretrained image network, on the local service candidates are trained from
     features of each image alone;
  3. gates on the best candidate's Accuracy (AutoMLBestCandidateSensor, ``accuracy_threshold``);
  4. classifies the new images with a batch transform by the best candidate (each file is one
     request, SplitType None) and writes ``<storage>/images/<date>/classified.csv`` (file, label).

The same configuration as ``automl_retrain`` decides where it runs: the ``aws_default``
connection, the ``storage_uri`` param or the Variable ``automl_storage_uri``, the Variable
``automl_role_arn``. Preparing the sample images needs scikit-learn and Pillow.
"""

from __future__ import annotations

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
INSTANCE_TYPE = "ml.m5.large"


with DAG(
    dag_id="automl_image_classification",
    description="Retrain an image classifier with SageMaker AutoML and classify the new images",
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
        "digits": Param("0123456789", type="string", description="the digits (labels) to learn"),
        "per_label": Param(40, type="integer", minimum=2, description="labelled images per digit"),
        "new_per_label": Param(3, type="integer", minimum=1, description="new images per digit to classify"),
        "accuracy_threshold": Param(0.6, type="number", description="the best candidate's Accuracy must reach this"),
        "max_runtime_seconds": Param(
            int(os.environ.get("AUTOML_DEFAULT_MAX_RUNTIME_SECONDS", "3600")),
            type="integer",
            minimum=10,
            description="training budget of the job",
        ),
    },
    tags=["automl", "image-classification", "example"],
) as dag:

    @task
    def prepare_images(params: dict[str, Any], data_interval_end=None) -> dict[str, Any]:
        """Write the labelled images in label folders and, apart, the new images to classify."""
        from airflow_automl.examples.digit_images import digit_images

        context = get_current_context()
        end = (data_interval_end or context["dag_run"].run_after).date()
        digits = tuple(int(d) for d in str(params["digits"]))
        per_label = int(params["per_label"])
        storage = storage_uri(params.get("storage_uri", ""))
        folder = f"{storage}/images/{end:%Y-%m-%d}"
        for label, name, data in digit_images(per_label, digits=digits):
            write_bytes(f"{folder}/training/{label}/{name}", data, aws_conn_id=AWS_CONN_ID)
        new = []
        for _, name, data in digit_images(int(params["new_per_label"]), digits=digits, offset=per_label):
            write_bytes(f"{folder}/new/{name}", data, aws_conn_id=AWS_CONN_ID)
            new.append(name)
        return {
            "storage_uri": storage,
            "folder": folder,
            "training_uri": f"{folder}/training/",
            "new_uri": f"{folder}/new/",
            "new_images": new,
        }

    images = prepare_images()

    # [START image_classification_job]
    train = AutoMLJobOperator(
        task_id="train_classifier",
        job_name="{{ automl_job_name('images') }}",
        config={
            "AutoMLJobInputDataConfig": [
                {
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": "{{ ti.xcom_pull(task_ids='prepare_images')['training_uri'] }}",
                        }
                    },
                    "ContentType": "image/png",
                }
            ],
            "OutputDataConfig": {
                "S3OutputPath": "{{ ti.xcom_pull(task_ids='prepare_images')['storage_uri'] }}/image-models"
            },
            "AutoMLJobObjective": {"MetricName": "Accuracy"},
            "AutoMLProblemTypeConfig": {
                "ImageClassificationJobConfig": {
                    "CompletionCriteria": {"MaxAutoMLJobRuntimeInSeconds": "{{ params.max_runtime_seconds }}"},
                }
            },
            "RoleArn": "{{ var.value.get('automl_role_arn', '" + DEFAULT_ROLE_ARN + "') }}",
        },
        tags={"project": "images"},
        aws_conn_id=AWS_CONN_ID,
        deferrable=True,
        poll_interval=POLL_INTERVAL,
    )
    # [END image_classification_job]

    check_accuracy = AutoMLBestCandidateSensor(
        task_id="check_accuracy",
        job_name="{{ ti.xcom_pull(task_ids='train_classifier')['job_name'] }}",
        metric_threshold="{{ params.accuracy_threshold }}",
        aws_conn_id=AWS_CONN_ID,
        poke_interval=POLL_INTERVAL,
    )

    # [START image_classification_transform]
    @task
    def plan_batch_classification(candidate: dict[str, Any], prepared: dict[str, Any]) -> dict[str, Any]:
        """The best candidate's model and a batch transform of the new images: each file is one request."""
        from airflow.sdk import Variable

        job_name = candidate["job_name"]
        return {
            "Model": {
                "ModelName": f"{job_name}-classifier",
                "ExecutionRoleArn": Variable.get("automl_role_arn", default=DEFAULT_ROLE_ARN),
                "Containers": candidate["inference_containers"],
            },
            "Transform": {
                "TransformJobName": f"{job_name}-classify",
                "ModelName": f"{job_name}-classifier",
                "BatchStrategy": "SingleRecord",
                "TransformInput": {
                    "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": prepared["new_uri"]}},
                    "ContentType": "image/png",
                    "SplitType": "None",
                },
                "TransformOutput": {"S3OutputPath": f"{prepared['folder']}/classified-output/", "Accept": "text/csv"},
                "TransformResources": {"InstanceType": INSTANCE_TYPE, "InstanceCount": 1},
            },
        }

    # [END image_classification_transform]

    batch_classify = FileOrS3TransformOperator(
        task_id="batch_classify",
        config=plan_batch_classification(check_accuracy.output, images),
        aws_conn_id=AWS_CONN_ID,
        wait_for_completion=True,
        deferrable=True,
        check_interval=max(1, int(POLL_INTERVAL)),
    )

    @task
    def publish_classified(
        candidate: dict[str, Any], prepared: dict[str, Any], transform: dict[str, Any]
    ) -> dict[str, Any]:
        """Each new image's file name with its label, next to the data as classified.csv."""
        output = transform["Transform"]["TransformOutput"]["S3OutputPath"].rstrip("/")
        rows = ["file,label"]
        for name in prepared["new_images"]:
            raw = read_bytes(f"{output}/{name}.out", aws_conn_id=AWS_CONN_ID)
            if raw is None:
                raise FileNotFoundError(f"{output}/{name}.out: the batch classification wrote no output for {name}")
            rows.append(f"{name},{raw.decode().strip()}")
        published = f"{prepared['folder']}/classified.csv"
        write_bytes(published, ("\n".join(rows) + "\n").encode(), aws_conn_id=AWS_CONN_ID)
        print(f"{len(rows) - 1} images classified: {published}")
        return {
            "classified_uri": published,
            "job_name": candidate["job_name"],
            "candidate_name": candidate["best_candidate_name"],
            "transform_job_name": transform["Transform"]["TransformJobName"],
            "accuracy": candidate["objective_metric_value"],
            "images": len(rows) - 1,
        }

    images >> train >> check_accuracy
    publish_classified(check_accuracy.output, images, batch_classify.output)
