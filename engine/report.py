"""Report writers: a rich table for people, a versioned JSON document for machines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import IO, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from assay.checks import Status
from assay.engine.collect import CollectionFailure
from assay.engine.evaluate import Finding, Summary

RESULTS_SCHEMA = "assay.results/v1"
FORMATS = ("table", "json")

_STATUS_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.ERROR: "bold yellow",
    Status.NOT_APPLICABLE: "dim",
}
_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.PASS: 2, Status.NOT_APPLICABLE: 3}


@dataclass
class RunReport:
    run_id: str
    started_at: str
    finished_at: str
    profile: str
    targets: list[dict[str, Any]]
    failures: list[CollectionFailure]
    findings: list[Finding]
    summary: Summary
    exit_code: int
    ledger: dict[str, Any] | None = None


def finding_json(f: Finding) -> dict[str, Any]:
    c = f.control.control
    out: dict[str, Any] = {
        "control": c.id,
        "title": c.title,
        "status": f.status.value,
        "severity": c.severity.value,
        "frameworks": c.frameworks,
        "resource": f.resource,
        "reason": f.result.reason,
        "observed": f.result.observed,
        "waiver": f.waiver.id if f.waiver else None,
    }
    if f.expired_waiver and not f.waiver:
        out["expired_waiver"] = f.expired_waiver.id
    return out


def results_document(report: RunReport) -> dict[str, Any]:
    s = report.summary
    return {
        "schema": RESULTS_SCHEMA,
        "run": {
            "id": report.run_id,
            "started_at": report.started_at,
            "finished_at": report.finished_at,
            "profile": report.profile,
            "targets": report.targets,
            "exit_code": report.exit_code,
            "ledger": report.ledger,
        },
        "summary": {
            "results": sum(s.counts.values()),
            "by_status": {st.value: s.counts.get(st.value, 0) for st in Status},
            "waived": s.waived,
            "failed_by_severity": dict(s.failed_by_severity),
            "expired_waivers": s.expired_waivers,
            "collection_failures": [vars(f) for f in report.failures],
        },
        "scores": [
            {
                "framework": sc.framework,
                "criterion": sc.criterion,
                "title": sc.title,
                "score": None if sc.score is None else round(sc.score, 4),
                "passed": sc.passed,
                "failed": sc.failed,
                "waived": sc.waived,
                "errors": sc.errors,
                "not_applicable": sc.not_applicable,
                "controls": sc.controls,
            }
            for sc in s.scores
        ],
        "results": [finding_json(f) for f in report.findings],
    }


def write_report(fmt: str, report: RunReport, out: IO[str]) -> None:
    if fmt == "json":
        json.dump(results_document(report), out, indent=2, sort_keys=False, default=str)
        out.write("\n")
    elif fmt == "table":
        write_table(report, out)
    else:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")


def write_table(report: RunReport, out: IO[str]) -> None:
    console = Console(file=out, width=None if out.isatty() else 140, soft_wrap=False)
    table = Table(title=f"assay run {report.run_id}", show_lines=False, expand=False)
    for name in ("status", "severity", "control", "resource", "reason"):
        table.add_column(name, overflow="fold")
    for f in sorted(
        report.findings,
        key=lambda f: (_ORDER[f.status], -f.control.control.severity.rank, f.control.control.id),
    ):
        label = f.status.value + (f" (waived {f.waiver.id})" if f.waiver else "")
        table.add_row(
            Text(label, style="dim" if f.waiver else _STATUS_STYLE[f.status]),
            f.control.control.severity.value,
            f.control.control.id,
            str(f.resource["name"]),
            f.result.reason,
        )
    console.print(table)
    console.print(summary_text(report))


def summary_text(report: RunReport) -> Text:
    s = report.summary
    text = Text()
    parts = [f"{s.counts.get(st.value, 0)} {st.value}" for st in Status]
    text.append(f"{sum(s.counts.values())} results: " + ", ".join(parts), style="bold")
    text.append(f"; {s.waived} failures waived\n")
    for sc in s.scores:
        pct = "n/a" if sc.score is None else f"{sc.score:.0%}"
        text.append(
            f"  {sc.framework} {sc.criterion:<6} {pct:>5}  passed {sc.passed}, failed {sc.failed}, "
            f"waived {sc.waived}, errors {sc.errors}  {sc.title}\n"
        )
    for w in s.expired_waivers:
        text.append(f"  waiver {w} no longer applies: renew or fix\n", style="yellow")
    for fl in report.failures:
        text.append(
            f"  could not collect {fl.resource_type} from {fl.target}: {fl.reason}\n",
            style="yellow",
        )
    if report.ledger:
        text.append(
            f"evidence: {report.ledger['records']} records appended to {report.ledger['url']}"
            f" (head {report.ledger['head'][:16]}…)\n"
        )
    text.append(f"exit code {report.exit_code}\n")
    return text
