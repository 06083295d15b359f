"""The two charts of a job, as geometry the templates draw in SVG (macros.html).

- The candidate chart: one horizontal bar per scored candidate, from zero, so a bar's length is its
  value (negative values, such as an R2 below zero, extend left of zero); labels without the job-name
  prefix every candidate shares; the best candidate marked.
- The trend chart: a DAG's objective over its runs, oldest left, with the sensor's threshold. A trend
  is read by its changes, so its value axis spans the values, with round ticks (``ticks.round_axis``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from airflow_automl.presentation.leaderboard import Row
from airflow_automl.presentation.ticks import round_axis

BAR_CHART_WIDTH = 640
BAR_LABEL_WIDTH = 230  # candidate names, right-aligned against the bars
BAR_VALUE_WIDTH = 70  # the value written after the longest bar
BAR_HEIGHT = 18
BAR_GAP = 6


@dataclass(frozen=True)
class Bar:
    name: str
    label: str  # the candidate's name without the job-name prefix they all share
    value: float
    x: float
    y: float
    width: float
    best: bool


@dataclass(frozen=True)
class CandidateChart:
    bars: list[Bar]
    width: int
    height: int
    zero_x: float
    label_width: int = BAR_LABEL_WIDTH
    bar_height: int = BAR_HEIGHT


def candidate_chart(rows: Sequence[Row], job_name: str, width: int = BAR_CHART_WIDTH) -> CandidateChart | None:
    """Bars in the rows' order, one per scored candidate; None when none has a value yet."""
    scored = [(row, row.value) for row in rows if row.value is not None]
    if not scored:
        return None
    values = [value for _, value in scored]
    low, high = min(0.0, *values), max(0.0, *values)
    span = (high - low) or 1.0
    plot = width - BAR_LABEL_WIDTH - BAR_VALUE_WIDTH
    zero_x = BAR_LABEL_WIDTH + (0.0 - low) / span * plot
    bars = []
    for index, (row, value) in enumerate(scored):
        end_x = BAR_LABEL_WIDTH + (value - low) / span * plot
        bars.append(
            Bar(
                name=row.name,
                label=row.name.removeprefix(f"{job_name}-") or row.name,
                value=value,
                x=round(min(zero_x, end_x), 1),
                y=index * (BAR_HEIGHT + BAR_GAP),
                width=round(abs(end_x - zero_x), 1),
                best=row.best,
            )
        )
    return CandidateChart(
        bars=bars, width=width, height=len(bars) * (BAR_HEIGHT + BAR_GAP) + 16, zero_x=round(zero_x, 1)
    )


@dataclass(frozen=True)
class RunValue:
    """One run of a DAG as the trend shows it: its objective value (None while its job runs)."""

    run_id: str
    value: float | None
    threshold: float | None
    label: str  # the point's tooltip
    short: str = ""  # written under the point when there are few


@dataclass(frozen=True)
class Point:
    run_id: str
    x: float
    y: float
    value: float
    label: str
    short: str


@dataclass(frozen=True)
class TrendChart:
    width: int
    height: int
    left: int
    top: int
    plot_w: int
    plot_h: int
    points: list[Point]
    threshold_path: str
    ticks: list[tuple[float, str]]  # (y, label), lowest value first

    @property
    def line(self) -> str:
        return " ".join(f"{p.x},{p.y}" for p in self.points)


# Past the data's span before rounding, so no point or threshold sits on the frame of the plot.
_TREND_MARGIN = 0.02


def trend_chart(runs: Sequence[RunValue], width: int = 720, height: int = 240) -> TrendChart | None:
    """One point per run with a value, in the runs' order; the threshold dashed. None without values."""
    valued = [run for run in runs if run.value is not None]
    if not valued:
        return None
    left, right, top, bottom = 60, 30, 16, 44
    thresholds = [run.threshold for run in runs if run.threshold is not None]
    numbers = [run.value for run in valued if run.value is not None] + thresholds
    margin = (max(numbers) - min(numbers)) * _TREND_MARGIN
    axis = round_axis(min(numbers) - margin, max(numbers) + margin)
    plot_w, plot_h = width - left - right, height - top - bottom

    def y_of(value: float) -> float:
        return round(top + (axis.high - value) / (axis.high - axis.low) * plot_h, 1)

    def x_of(index: int) -> float:  # a margin inside the axes, so the first point is not on the axis
        inner = plot_w - 40
        return round(left + 20 + (index * inner / max(len(runs) - 1, 1) if len(runs) > 1 else inner / 2), 1)

    points = [
        Point(run.run_id, x_of(index), y_of(run.value), run.value, run.label, run.short)
        for index, run in enumerate(runs)
        if run.value is not None
    ]
    with_threshold = [(index, run.threshold) for index, run in enumerate(runs) if run.threshold is not None]
    threshold_path = " ".join(
        f"{'M' if i == 0 else 'L'}{x_of(index)},{y_of(threshold)}"
        for i, (index, threshold) in enumerate(with_threshold)
    )
    if threshold_path and len(thresholds) == 1:  # one run: a line across the plot still reads as a bar
        threshold_path = f"M{left},{y_of(thresholds[0])} L{left + plot_w},{y_of(thresholds[0])}"
    return TrendChart(
        width=width,
        height=height,
        left=left,
        top=top,
        plot_w=plot_w,
        plot_h=plot_h,
        points=points,
        threshold_path=threshold_path,
        ticks=[(y_of(tick), axis.label(tick)) for tick in axis.ticks],
    )
