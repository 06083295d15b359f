"""How a forecasting job shares MaxAutoMLJobRuntimeInSeconds among its algorithms, and how an
algorithm still running at its deadline is stopped inside the worker.

Each algorithm, cheapest first, may use an equal share of the time left for the algorithms not yet
run; what one leaves unused goes to those after it. The forecasters check their deadline between
series and stop early when their measured pace cannot finish (forecasters.Settings.check_progress);
a single fit that runs past the deadline is interrupted by a timer signal raising OutOfTime in the
middle of it, so the job keeps what finished and ends by itself, well before the supervisor would
kill the worker (and the job's best candidate with it).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from airflow_automl.local.engine.forecasting.forecasters import OutOfTime

# Once past the deadline the timer fires again at this interval, in case a library caught the first.
_REPEAT_SECONDS = 0.5


def share_deadline(job_deadline: float | None, algorithms_left: int) -> float | None:
    """The deadline of the next algorithm: an equal share of the job's time left."""
    if job_deadline is None:
        return None
    now = time.monotonic()
    return now + max(0.0, job_deadline - now) / max(1, algorithms_left)


@contextmanager
def interrupted_at(deadline: float | None) -> Iterator[None]:
    """Raises OutOfTime in the code it wraps once ``deadline`` (a time.monotonic() value) passes.
    Signals reach the main thread only: elsewhere (a test calling the engine from a thread) the
    forecasters' own checks between series are what stops them."""
    if deadline is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise OutOfTime("no time left")

    def interrupt(signum, frame) -> None:
        if time.monotonic() >= deadline:
            raise OutOfTime("interrupted at its deadline")

    previous = signal.signal(signal.SIGALRM, interrupt)
    # A timer already set (a test runner's timeout) is set again afterwards, with the time it had left.
    previous_delay, previous_interval = signal.setitimer(signal.ITIMER_REAL, left, _REPEAT_SECONDS)
    armed_at = time.monotonic()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if previous_delay > 0:
            remaining = max(previous_delay - (time.monotonic() - armed_at), 0.001)
            signal.setitimer(signal.ITIMER_REAL, remaining, previous_interval)
