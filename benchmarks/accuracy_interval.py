"""An accuracy with its 95 % normal-approximation interval over the rows it was measured on."""

from __future__ import annotations

import math


def interval(accuracy: float, rows: int) -> str:
    half = 1.96 * math.sqrt(max(accuracy * (1 - accuracy), 1e-12) / rows)
    return f"{accuracy:.3f} ± {half:.3f}"
