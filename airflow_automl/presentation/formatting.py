"""Numbers, times and durations as every page and report of a job shows them.

Timestamps come in two forms: boto3 answers datetimes (the Airflow plugin), the local service's own
operations answer epoch seconds (its job pages). Both are accepted wherever a time is shown.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"


def number(value: Any) -> float | None:
    """A JSON number as a float; None for anything else (booleans are no numbers here)."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def as_datetime(value: Any) -> datetime | None:
    """A SageMaker timestamp, a datetime or epoch seconds, as a datetime; None when it is neither."""
    if isinstance(value, datetime):
        return value
    seconds = number(value)
    return datetime.fromtimestamp(seconds, tz=UTC) if seconds is not None else None


def format_number(value: float | None) -> str:
    """An objective value: four decimals (metrics mostly lie in [0, 1]), large ones with separators."""
    if value is None:
        return ""
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.1f}"


def format_time(value: Any) -> str:
    """A timestamp in UTC to the second; empty for none."""
    when = as_datetime(value)
    if when is not None:
        return when.astimezone(UTC).strftime(TIME_FORMAT)
    return "" if value is None else str(value)


def format_duration(seconds: float | None) -> str:
    """ "4m 05s", "1h 02m 00s"; empty for none."""
    if seconds is None:
        return ""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {secs:02d}s" if hours else f"{minutes}m {secs:02d}s"
