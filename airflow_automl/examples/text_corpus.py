"""The text classification demo data: real English text that ships with Python itself.

Each row is the first paragraph of a documented function, class or method of the standard
library, labelled with the area of the library it comes from (files, network, formats or
numbers). Nothing is downloaded and nothing is generated; the same Python version always gives
the same rows, ordered by a stable hash so any slice mixes the areas.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect

import pandas as pd

CONTENT = "text"
LABEL = "area"
AREAS: dict[str, tuple[str, ...]] = {
    "files": ("os", "shutil", "pathlib", "tempfile", "glob", "fnmatch", "filecmp", "zipfile", "tarfile"),
    "network": ("socket", "ssl", "http.client", "http.server", "urllib.request", "urllib.parse", "smtplib", "ftplib"),
    "formats": ("json", "csv", "xml.dom.minidom", "xml.etree.ElementTree", "configparser", "plistlib", "html.parser"),
    "numbers": ("math", "cmath", "statistics", "decimal", "fractions", "random", "numbers"),
}
MIN_WORDS = 4


def _paragraphs(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    texts = []
    for _, member in inspect.getmembers(module):
        if getattr(member, "__module__", None) not in (module.__name__, None) and not inspect.ismodule(member):
            continue
        owners = [member] + ([m for _, m in inspect.getmembers(member)] if inspect.isclass(member) else [])
        for owner in owners:
            doc = inspect.getdoc(owner) if callable(owner) else None
            if not doc:
                continue
            paragraph = " ".join(doc.split("\n\n")[0].split())
            if len(paragraph.split()) >= MIN_WORDS:
                texts.append(paragraph)
    return texts


def library_docstrings(per_area: int | None = None) -> pd.DataFrame:
    """(text, area) rows; at most ``per_area`` per area (None: all), duplicates dropped."""
    frames = []
    for area, modules in AREAS.items():
        texts = sorted({text for name in modules for text in _paragraphs(name)})
        texts.sort(key=lambda t: hashlib.sha256(t.encode()).hexdigest())
        frames.append(pd.DataFrame({CONTENT: texts[:per_area], LABEL: area}))
    corpus = pd.concat(frames, ignore_index=True).drop_duplicates(subset=CONTENT, keep=False)
    order = corpus[CONTENT].map(lambda t: hashlib.sha256(t.encode()).hexdigest())
    return corpus.assign(_order=order).sort_values("_order").drop(columns="_order").reset_index(drop=True)
