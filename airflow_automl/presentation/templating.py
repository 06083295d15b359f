"""The Jinja2 environments of every HTML page and report: the local service's job pages, the Airflow
plugin's pages, the training reports.

Each environment finds the shared templates here (``base.html``, the layout with the one stylesheet
inline; ``macros.html``, the chart, leaderboard and artifact list; ``report.html``) and its owner's
own folder of templates. Autoescaping is on for every template, so anything that comes from a request,
a data set or a job (column names, candidate names, failure reasons) is escaped without anyone
remembering to.

The stylesheet is inline in every page: a report is a file users download and open on its own, and
the pages answer with a Content-Security-Policy that loads nothing from elsewhere.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import ChoiceLoader, Environment, FileSystemLoader
from markupsafe import Markup

from airflow_automl.presentation.formatting import format_duration, format_number, format_time

HERE = Path(__file__).parent
SHARED_TEMPLATES = HERE / "templates"
STYLESHEET = HERE / "static" / "style.css"


@cache
def stylesheet() -> Markup:
    """The stylesheet of every page and report (ours, not data: Markup keeps its quotes and ">")."""
    return Markup(STYLESHEET.read_text(encoding="utf-8"))


def environment(*own_templates: Path) -> Environment:
    """An autoescaping environment for the templates in ``own_templates`` and the shared ones.

    A shared template's name is never shadowed: an owner cannot replace the layout or the macros."""
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(SHARED_TEMPLATES), *(FileSystemLoader(d) for d in own_templates)]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals.update(
        stylesheet=stylesheet(),
        format_number=format_number,
        format_time=format_time,
        format_duration=format_duration,
    )
    return env
