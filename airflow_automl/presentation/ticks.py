"""Round tick values for a chart's value axis.

A step of 1, 2, 2.5 or 5 times a power of ten, the smallest that needs at most ``most`` ticks, and
the axis extended to whole ticks: values from 0.0425 to 0.2917 read 0.0, 0.1, 0.2, 0.3 rather than
0.0425, 0.1671, 0.2917. Every tick is shown with the same number of decimals, as many as the step needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MANTISSAS = (1.0, 2.0, 2.5, 5.0)
MOST_TICKS = 6
# Values a hair past a tick (float arithmetic: 0.3 / 0.1 is 2.9999999999999996) count as on it.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Axis:
    ticks: tuple[float, ...]  # lowest first; the axis runs from the first to the last
    decimals: int

    @property
    def low(self) -> float:
        return self.ticks[0]

    @property
    def high(self) -> float:
        return self.ticks[-1]

    def label(self, value: float) -> str:
        return f"{value:,.{self.decimals}f}"


def round_axis(low: float, high: float, most: int = MOST_TICKS) -> Axis:
    """The axis with round ticks that spans [low, high]; a single value gets an axis around it."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"an axis needs finite bounds, not {low!r} and {high!r}")
    if low > high:
        raise ValueError(f"an axis' low bound {low!r} must not be above its high bound {high!r}")
    if most < 2:
        raise ValueError(f"an axis needs at least 2 ticks, not {most!r}")
    if low == high:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    exponent = math.floor(math.log10((high - low) / most))
    while True:
        for mantissa in MANTISSAS:
            step = mantissa * 10.0**exponent
            first = math.floor(low / step + _TOLERANCE)
            last = math.ceil(high / step - _TOLERANCE)
            if last - first + 1 <= most:
                # 2.5 x 10^k needs one decimal more than 10^k does.
                decimals = max(0, -exponent + (1 if mantissa == 2.5 else 0))
                return Axis(tuple(round(index * step, decimals) for index in range(first, last + 1)), decimals)
        exponent += 1
