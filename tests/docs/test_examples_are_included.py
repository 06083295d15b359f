"""The docs' code samples are the tested files: the README's DAG is dags/automl_quickstart.py, and every
include in docs/ finds its START/END markers (make docs fails on them too; this says so in the unit tier)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INCLUDE = re.compile(r"```\{literalinclude\} (?P<path>\S+)\n(?P<options>(?::[^\n]*\n)*)")
MARKER = re.compile(r':(start-after|end-before): "(?P<marker>[^"]+)"')


def _region(text: str, name: str) -> str:
    return text.split(f"# [START {name}]\n", 1)[1].split(f"# [END {name}]", 1)[0]


def test_readme_dag_is_the_quickstart_dag_file():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    assert blocks, "README.md: no ```python block with the example DAG"
    assert _region((ROOT / "dags" / "automl_quickstart.py").read_text(), "quickstart") == blocks[0]


def test_every_docs_include_finds_its_file_and_markers():
    includes = 0
    for page in sorted((ROOT / "docs").rglob("*.md")):
        for match in INCLUDE.finditer(page.read_text()):
            included = (page.parent / match["path"]).resolve()
            assert included.is_file(), f"{page.relative_to(ROOT)}: includes {match['path']}, which does not exist"
            text = included.read_text()
            for marker in MARKER.finditer(match["options"]):
                assert marker["marker"] in text, (
                    f"{page.relative_to(ROOT)}: {included.relative_to(ROOT)} has no marker {marker['marker']!r}"
                )
            includes += 1
    assert includes >= 10, includes
