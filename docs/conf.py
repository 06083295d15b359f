"""Sphinx configuration of the docs site: Markdown pages (MyST), autodoc of the provider, the CLI from its parser.

The build is offline (no intersphinx) and `make docs` runs it with warnings as errors, so a broken internal
link, an include whose START/END markers are missing or an unresolved reference fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# autodoc imports Airflow, which reads (and may write) its home: keep it inside the build folder.
os.environ.setdefault("AIRFLOW_HOME", str(ROOT / "docs" / "_build" / "airflow-home"))

project = "airflow-automl"
author = "airflow-automl contributors"
copyright = "2026, airflow-automl contributors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinxarg.ext",
]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "*.png"]
# "#" headings become link targets (`[text](page.md#a-heading)`); checked like page links.
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# Every reference must resolve; what lives in other projects' docs (Airflow, botocore, the standard library)
# cannot, offline.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(airflow|botocore|aiobotocore|datetime|collections|typing|types|cachetools|tenacity)\b.*"),
    (r"py:.*", r"(Context|Any|timedelta|BaseOperator|TaskInstanceKey|PokeReturnValue|TriggerEvent)"),
    (r"py:exc", r"(AirflowException|AirflowFailException|AirflowSensorTimeout|ValueError)"),
    (r"py:.*", r"airflow_automl\.triggers\.poller\.PollerClock"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"show-inheritance": True}

html_theme = "furo"
html_title = "airflow-automl"
html_static_path: list[str] = []
