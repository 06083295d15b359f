"""The one Jinja2 environment for every HTML page the local service makes (job pages, reports).

Autoescaping is on for every template, so anything that comes from a request, a data set or a
job (column names, candidate names, failure reasons) is escaped without anyone remembering to.
"""

from __future__ import annotations

from jinja2 import Environment, select_autoescape

HTML = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
