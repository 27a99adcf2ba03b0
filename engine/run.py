"""A run: evaluate a snapshot, summarise, gate, and append the whole run to the evidence ledger."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from assay import __version__
from assay.engine.collect import Snapshot, now_rfc3339
from assay.engine.evaluate import Finding, Summary, evaluate, exit_code, summarise
from assay.engine.models import Severity
from assay.engine.planner import Plan
from assay.engine.report import RunReport
from assay.evidence import open_ledger, redact_url, to_record_value


def execute(
    plan: Plan, snap: Snapshot, *, ledger_url: str | None, fail_on: Severity, profile: str
) -> RunReport:
    """Evaluate, then append run_started, one record per result and run_finished in one batch.

    One batch means one transaction: a run is in the ledger whole or not at all.
    """
    started = now_rfc3339()
    run_id = str(uuid.uuid4())
    findings = evaluate(plan, snap)
    summary = summarise(plan, findings)
    code = exit_code(findings, fail_on)
    report = RunReport(
        run_id=run_id,
        started_at=started,
        finished_at=now_rfc3339(),
        profile=profile,
        targets=snap.targets,
        failures=snap.failures,
        findings=findings,
        summary=summary,
        exit_code=int(code),
    )
    if ledger_url is not None:
        with open_ledger(ledger_url) as ledger:
            stored = ledger.append(list(run_records(report, plan, snap, fail_on)))
        report.ledger = {
            "url": redact_url(ledger_url),
            "records": len(stored),
            "first_seq": stored[0].seq,
            "head": stored[-1].hash,
        }
    return report


def run_records(
    report: RunReport, plan: Plan, snap: Snapshot, fail_on: Severity
) -> Iterator[dict[str, Any]]:
    run = report.run_id
    yield {
        "kind": "run_started",
        "at": report.started_at,
        "run": run,
        "assay_version": __version__,
        "profile": report.profile,
        "snapshot_created_at": snap.created_at,
        "targets": to_record_value(snap.targets),
        "controls": [c.control.id for c in plan.controls],
    }
    for f in report.findings:
        yield result_record(run, report.finished_at, f)
    yield {
        "kind": "run_finished",
        "at": report.finished_at,
        "run": run,
        "fail_on": fail_on.value,
        "exit_code": report.exit_code,
        "counts": summary_counts(report.summary),
        "collection_failures": to_record_value([vars(f) for f in snap.failures]),
    }


def result_record(run: str, at: str, f: Finding) -> dict[str, Any]:
    c = f.control.control
    return {
        "kind": "result",
        "at": at,
        "run": run,
        "control": {
            "id": c.id,
            "severity": c.severity.value,
            "frameworks": c.frameworks,
            "check": c.check,
            "params": to_record_value(f.control.params),
        },
        "resource": to_record_value(f.resource),
        "status": f.status.value,
        "reason": f.result.reason,
        "observed": to_record_value(f.result.observed),
        "waiver": f.waiver.id if f.waiver else None,
    }


def summary_counts(s: Summary) -> dict[str, Any]:
    # Scores stay integer counts: records carry no floats, and passed/(passed+failed) is derivable.
    return {
        "by_status": dict(s.counts),
        "waived": s.waived,
        "expired_waivers": s.expired_waivers,
        "criteria": [
            {
                "framework": sc.framework,
                "criterion": sc.criterion,
                "passed": sc.passed,
                "failed": sc.failed,
                "waived": sc.waived,
                "errors": sc.errors,
            }
            for sc in s.scores
        ],
    }
