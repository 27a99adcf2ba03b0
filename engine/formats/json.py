"""The versioned results document (`assay.results/v1`), for machines and as a baseline."""

from __future__ import annotations

import json
from typing import IO

from assay.engine.report import RunReport, results_document


def write(report: RunReport, out: IO[str]) -> None:
    json.dump(results_document(report), out, indent=2, default=str)
    out.write("\n")
