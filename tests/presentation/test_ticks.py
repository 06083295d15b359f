"""Round tick values: steps of 1, 2, 2.5 or 5 times a power of ten, the axis extended to whole ticks."""

import itertools
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from airflow_automl.presentation.ticks import MOST_TICKS, round_axis
from tests.fixtures.hypothesis import examples


def test_the_history_tabs_values_get_round_ticks():
    axis = round_axis(0.0425, 0.2917)
    assert axis.ticks == (0.0, 0.1, 0.2, 0.3)
    assert [axis.label(tick) for tick in axis.ticks] == ["0.0", "0.1", "0.2", "0.3"]


@pytest.mark.parametrize(
    ("low", "high", "ticks", "labels"),
    [
        (0.81, 0.93, (0.8, 0.85, 0.9, 0.95), ["0.80", "0.85", "0.90", "0.95"]),
        (0.04, 0.14, (0.04, 0.06, 0.08, 0.1, 0.12, 0.14), ["0.04", "0.06", "0.08", "0.10", "0.12", "0.14"]),
        (0.1, 0.9, (0.0, 0.2, 0.4, 0.6, 0.8, 1.0), ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]),
        (0.1, 1.1, (0.0, 0.25, 0.5, 0.75, 1.0, 1.25), ["0.00", "0.25", "0.50", "0.75", "1.00", "1.25"]),
        (-0.3, 0.45, (-0.4, -0.2, 0.0, 0.2, 0.4, 0.6), ["-0.4", "-0.2", "0.0", "0.2", "0.4", "0.6"]),
        (1200.0, 4800.0, (1000.0, 2000.0, 3000.0, 4000.0, 5000.0), ["1,000", "2,000", "3,000", "4,000", "5,000"]),
    ],
)
def test_steps_are_round_and_labels_share_their_decimals(low, high, ticks, labels):
    axis = round_axis(low, high)
    assert axis.ticks == ticks
    assert [axis.label(tick) for tick in axis.ticks] == labels


def test_a_single_value_gets_an_axis_around_it():
    axis = round_axis(0.5, 0.5)
    assert axis.low < 0.5 < axis.high
    assert round_axis(0.0, 0.0).ticks == (-1.0, -0.5, 0.0, 0.5, 1.0)


def test_bounds_that_make_no_axis_are_refused():
    with pytest.raises(ValueError, match="must not be above"):
        round_axis(2.0, 1.0)
    with pytest.raises(ValueError, match="finite"):
        round_axis(0.0, math.inf)


@settings(max_examples=examples(300, 3000))  # microseconds each
@given(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=1e-6, max_value=1e6, allow_nan=False),
)
def test_any_span_gets_four_to_six_evenly_spaced_round_ticks_around_it(low, span):
    high = low + span
    assume(high > low)  # not a span below the float's resolution at this magnitude
    axis = round_axis(low, high)
    assert 4 <= len(axis.ticks) <= MOST_TICKS
    step = axis.ticks[1] - axis.ticks[0]
    resolution = 1e-9 * max(1.0, abs(axis.low), abs(axis.high))  # ticks are rounded floats
    # The axis holds both bounds (a value within a billionth of a step of a tick counts as on it).
    assert axis.low - low <= 1e-9 * step + resolution and high - axis.high <= 1e-9 * step + resolution
    assert all(abs((b - a) - step) <= resolution for a, b in itertools.pairwise(axis.ticks))
    exponent = math.floor(math.log10(step))
    assert any(abs(step - m * 10.0**k) <= resolution for m in (1.0, 2.0, 2.5, 5.0) for k in (exponent, exponent + 1)), (
        step
    )
