"""Output formats for a run's report; every command that prints results offers the same ones.

Each format is a module of its name with `write(report, out)`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from assay.engine.formats import csv, html, json, junit, markdown, ocsf, oscal, sarif, table
from assay.engine.report import RunReport

Writer = Callable[[RunReport, IO[str]], None]

FORMATS: dict[str, Writer] = {
    "table": table.write,
    "json": json.write,
    "csv": csv.write,
    "sarif": sarif.write,
    "junit": junit.write,
    "ocsf": ocsf.write,
    "oscal": oscal.write,
    "markdown": markdown.write,
    "html": html.write,
}

__all__ = ["FORMATS", "Writer"]
