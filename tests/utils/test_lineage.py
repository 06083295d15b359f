"""Dataset names and asset extras of an AutoML job, against the providers whose conventions they follow."""

from __future__ import annotations

import pytest

from airflow_automl.utils.job_view import AutoMLJobView
from airflow_automl.utils.lineage import dataset_identifier, input_uris, job_mode, model_asset_extra, output_uris

V2_DESCRIBE = {
    "AutoMLJobName": "churn-20261130-abc123",
    "AutoMLJobArn": "arn:aws:sagemaker:us-east-1:123456789012:automl-job/churn-20261130-abc123",
    "AutoMLJobStatus": "Completed",
    "AutoMLJobSecondaryStatus": "Completed",
    "AutoMLJobInputDataConfig": [
        {
            "ChannelType": "training",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/churn/train/"}},
        },
        {
            "ChannelType": "validation",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/churn/valid/"}},
        },
    ],
    "OutputDataConfig": {"S3OutputPath": "s3://bucket/churn/models"},
    "AutoMLProblemTypeConfig": {
        "TabularJobConfig": {"TargetAttributeName": "churned", "Mode": "HYPERPARAMETER_TUNING"}
    },
    "BestCandidate": {
        "CandidateName": "best-001",
        "FinalAutoMLJobObjectiveMetric": {"MetricName": "AUC", "Value": 0.91, "Type": "Maximize"},
        "InferenceContainers": [
            {"Image": "processing", "ModelDataUrl": "s3://bucket/churn/models/best-001/processing/model.tar.gz"},
            {"Image": "algorithm", "ModelDataUrl": "s3://bucket/churn/models/best-001/algorithm/model.tar.gz"},
        ],
    },
}


@pytest.mark.parametrize(
    "uri", ["s3://bucket/churn/train/", "s3://bucket/churn/models/best/model.tar.gz", "s3://bucket/a"]
)
def test_s3_datasets_are_named_as_the_amazon_providers_sagemaker_operators_name_them(uri):
    from airflow.providers.amazon.aws.operators.sagemaker import SageMakerBaseOperator

    amazon = SageMakerBaseOperator.path_to_s3_dataset(uri)
    assert dataset_identifier(uri) == (amazon.namespace, amazon.name)


@pytest.mark.parametrize("uri", ["file:///srv/automl/data/", "file:///srv/automl/models/best/model.tar.gz"])
def test_file_datasets_are_named_as_common_io_names_file_assets(uri):
    from airflow.providers.common.io.assets.file import convert_asset_to_openlineage
    from airflow.sdk import Asset

    common_io = convert_asset_to_openlineage(Asset(uri=uri), None)
    assert (
        dataset_identifier(uri)
        == (common_io.namespace, common_io.name)
        == ("file", uri.removeprefix("file://").rstrip("/"))
    )


def test_a_v2_jobs_inputs_outputs_mode_and_asset_extra():
    view = AutoMLJobView.from_describe(V2_DESCRIBE, 2)
    assert input_uris(view) == ["s3://bucket/churn/train/", "s3://bucket/churn/valid/"]
    assert output_uris(view) == [
        "s3://bucket/churn/models/best-001/processing/model.tar.gz",
        "s3://bucket/churn/models/best-001/algorithm/model.tar.gz",
        "s3://bucket/churn/models",
    ]
    assert job_mode(view) == "HYPERPARAMETER_TUNING"
    assert model_asset_extra(view) == {
        "job_name": "churn-20261130-abc123",
        "job_arn": V2_DESCRIBE["AutoMLJobArn"],
        "best_candidate_name": "best-001",
        "objective_metric_name": "AUC",
        "objective_metric_value": 0.91,
        "model_location": "s3://bucket/churn/models/best-001/processing/model.tar.gz",
        "model_artifacts": [
            "s3://bucket/churn/models/best-001/processing/model.tar.gz",
            "s3://bucket/churn/models/best-001/algorithm/model.tar.gz",
        ],
        "output_path": "s3://bucket/churn/models",
    }


def test_a_v1_jobs_channels_and_mode():
    describe = {
        "AutoMLJobName": "v1-job",
        "AutoMLJobStatus": "Failed",
        "InputDataConfig": [{"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://bucket/v1/"}}}],
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/out"},
        "AutoMLJobConfig": {"Mode": "ENSEMBLING"},
    }
    view = AutoMLJobView.from_describe(describe, 1)
    assert input_uris(view) == ["s3://bucket/v1/"]
    assert output_uris(view) == ["s3://bucket/out"]  # no best candidate, no model
    assert job_mode(view) == "ENSEMBLING"


def test_outlets_need_the_operator_to_wait_for_the_model():
    from airflow.sdk import Asset

    from airflow_automl.operators.automl import AutoMLJobOperator

    with pytest.raises(ValueError, match="outlets: .* need wait_for_completion=True"):
        AutoMLJobOperator(task_id="train", job_name="j", outlets=[Asset("model")], wait_for_completion=False)
