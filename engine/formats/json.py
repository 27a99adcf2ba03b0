"""The versioned results document (`assay.results/v1`), for machines and as a baseline."""

from __future__ import annotations

import json
from typing import IO, Any

from assay.engine.evaluate import Summary
from assay.engine.report import RunReport, results_document


def framework_scores(s: Summary) -> list[dict[str, Any]]:
    """`frameworks`: a score per framework beside the per-criterion `scores`; each result
    counts once per framework, however many of its criteria the control maps to."""
    return [
        {
            "framework": fw.framework,
            "title": fw.title,
            "score": None if fw.score is None else round(fw.score, 4),
            "passed": fw.passed,
            "failed": fw.failed,
            "waived": fw.waived,
            "errors": fw.errors,
            "not_applicable": fw.not_applicable,
            "criteria": fw.criteria,
            "controls": fw.controls,
        }
        for fw in s.frameworks
    ]


def write(report: RunReport, out: IO[str]) -> None:
    doc = results_document(report)
    doc["frameworks"] = framework_scores(report.summary)
    json.dump(doc, out, indent=2, default=str)
    out.write("\n")
