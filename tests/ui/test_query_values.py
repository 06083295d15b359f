"""The plugin's query values: a bad map_index is the caller's error (422), never the database's."""

import pytest
from fastapi import HTTPException

from airflow_automl.ui.app import MAX_MAP_INDEX, _map_index


@pytest.mark.parametrize(
    ("value", "expected"), [(None, -1), ("", -1), ("{MAP_INDEX}", -1), ("-1", -1), ("0", 0), ("2147483647", 2**31 - 1)]
)
def test_values_that_name_a_task_instance(value, expected):
    assert _map_index(value) == expected


@pytest.mark.parametrize("value", ["9223372036854775808", "2147483648", "-2", "-9223372036854775809"])
def test_out_of_range_values_are_422_naming_the_range(value):
    """Regression: 9223372036854775808 reached SQLite, whose OverflowError answered 500."""
    with pytest.raises(HTTPException) as refused:
        _map_index(value)
    assert refused.value.status_code == 422
    assert (
        f"map_index: {value!r} is out of range" in refused.value.detail and str(MAX_MAP_INDEX) in refused.value.detail
    )


def test_text_is_422_as_before():
    with pytest.raises(HTTPException) as refused:
        _map_index("abc")
    assert refused.value.status_code == 422 and "is not an integer" in refused.value.detail
