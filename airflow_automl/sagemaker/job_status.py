"""The AutoML job statuses SageMaker documents (`AutoMLJobStatus`) that end a job: the provider waits
for them, and the pages word a job that reached one as ended rather than still running."""

from __future__ import annotations

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
FAILED_STATUSES = frozenset({"Failed", "Stopped"})
