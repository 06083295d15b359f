"""DataProcessing of batch transform: SageMaker's JSONPath subset on CSV and JSON Lines records,
JoinSource Input, and the field a bad expression is refused under."""

from __future__ import annotations

import pytest

from airflow_automl.local.transform.data_processing import JsonPathFilter, RecordError, RecordProcessor
from airflow_automl.sagemaker.shapes import RequestValidationError


def select(expression: str, record):
    return JsonPathFilter.compile("DataProcessing.OutputFilter", expression).select(record)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("$", ["a", "1", "2", "y"]),
        ("$[1:]", ["1", "2", "y"]),
        ("$[1:-1]", ["1", "2"]),
        ("$[0,-2:]", ["a", "2", "y"]),
        ("$[0,3]", ["a", "y"]),
        ("$[-1]", ["y"]),
        ("$[*]", ["a", "1", "2", "y"]),
    ],
)
def test_csv_records_are_arrays(expression, expected):
    assert select(expression, ["a", "1", "2", "y"]) == expected


def test_json_records_pick_values_or_objects():
    record = {"id": 7, "features": [1, 2], "SageMakerOutput": {"predicted_label": 1}}
    assert select("$.features", record) == [1, 2]
    assert select("$['id','SageMakerOutput']", record) == {"id": 7, "SageMakerOutput": {"predicted_label": 1}}
    assert select("$.SageMakerOutput.predicted_label", record) == 1


def test_a_filter_that_selects_nothing_is_a_record_error():
    with pytest.raises(RecordError, match=r"DataProcessing.OutputFilter \$\[7\] selects nothing"):
        select("$[7]", ["a", "b"])


@pytest.mark.parametrize("expression", ["features", "$[0", "$..", "$.a b"])
def test_invalid_expressions_name_the_field(expression):
    with pytest.raises(RequestValidationError) as raised:
        JsonPathFilter.compile("DataProcessing.InputFilter", expression)
    assert raised.value.field == "DataProcessing.InputFilter"


@pytest.mark.parametrize("expression", ["$..*", "$..features", "$.a..b", "$[?(@.x > 1)]"])
def test_constructs_outside_sagemakers_subset_are_refused_naming_the_subset(expression):
    """Regression: recursive descent ($..*) was accepted although SageMaker's subset has none."""
    with pytest.raises(RequestValidationError) as raised:
        JsonPathFilter.compile("DataProcessing.InputFilter", expression)
    assert raised.value.field == "DataProcessing.InputFilter"
    assert "outside SageMaker's JSONPath subset" in str(raised.value) and "[0,5:]" in str(raised.value)


def test_join_csv_appends_the_prediction_and_json_adds_sagemaker_output():
    csv = RecordProcessor(
        JsonPathFilter.compile("f", "$[1]"),
        JsonPathFilter.compile("f", "$[0,2:]"),
        join_input=True,
        input_is_csv=True,
        prediction_is_csv=True,
    )
    record = csv.read_input(b'id-1,"3.5",1')
    assert csv.model_input(record) == b"3.5"
    assert csv.output(record, b"0") == b"id-1,1,0"
    json_lines = RecordProcessor(
        JsonPathFilter.compile("f", "$"),
        JsonPathFilter.compile("f", "$"),
        join_input=True,
        input_is_csv=False,
        prediction_is_csv=False,
    )
    assert json_lines.output({"x": 1}, b'{"predicted_label": 1}') == b'{"x":1,"SageMakerOutput":{"predicted_label":1}}'
    assert json_lines.output([1], b'{"score": 2.0}') == b'{"SageMakerInput":[1],"SageMakerOutput":{"score":2.0}}'
