"""Times read the same whether they come as boto3's datetimes or the local service's epoch seconds."""

from datetime import UTC, datetime, timedelta, timezone

from airflow_automl.presentation.formatting import as_datetime, format_duration, format_number, format_time


def test_a_datetime_and_its_epoch_seconds_read_the_same():
    when = datetime(2026, 3, 1, 12, 30, 5, tzinfo=UTC)
    assert format_time(when) == format_time(when.timestamp()) == "2026-03-01 12:30:05 UTC"
    assert format_time(when.astimezone(timezone(timedelta(hours=2)))) == "2026-03-01 12:30:05 UTC"
    assert as_datetime(when.timestamp()) == when
    assert format_time(None) == "" and as_datetime(None) is None and as_datetime(True) is None


def test_numbers_and_durations():
    assert [format_number(v) for v in (None, 0.5, -0.123456, 1234.56)] == ["", "0.5000", "-0.1235", "1,234.6"]
    assert [format_duration(s) for s in (None, 0, 59.6, 60, 3725)] == ["", "0m 00s", "1m 00s", "1m 00s", "1h 02m 05s"]
