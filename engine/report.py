"""The report of a run, as every output format sees it, and its versioned JSON form."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from assay.checks import Status
from assay.engine.changes import RESULTS_SCHEMA, ChangeInfo, Gone, RunPoint, Since, fingerprint
from assay.engine.collect import CollectionFailure
from assay.engine.evaluate import Finding, Summary
from assay.engine.models import Waiver
from assay.evidence import Pseudonymizer

# The gate's codes that a run can end with (usage errors never get this far).
EXIT_REASONS = {
    1: "an unwaived failure at or above --fail-on",
    3: "some results are error (could not decide)",
}


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
    fingerprint_key: Pseudonymizer
    ledger: dict[str, Any] | None = None
    baseline: str | None = None  # the run (or file) changes are relative to
    changes: dict[str, ChangeInfo] = field(default_factory=dict)  # by fingerprint
    gone: list[Gone] = field(default_factory=list)
    trend: list[RunPoint] = field(default_factory=list)  # earlier runs, oldest first
    # By fingerprint: the dates each result record carries forward (`changes.since`).
    since: dict[str, Since] = field(default_factory=dict)
    soft_fail: bool = False  # report, but the process exits 0 whatever the gate says

    @property
    def exit_line(self) -> str:
        """What the process exits with, and why, in words."""
        why = EXIT_REASONS.get(self.exit_code)
        if self.soft_fail and self.exit_code:
            return f"exit code 0 (--soft-fail; the gate's code is {self.exit_code}: {why})"
        return f"exit code {self.exit_code}" + (f": {why}" if why else "")

    @property
    def process_exit_code(self) -> int:
        return 0 if self.soft_fail else self.exit_code

    def fingerprint(self, f: Finding) -> str:
        """The finding's fingerprint (`changes.fingerprint`), the same in every run and format."""
        return fingerprint(self.fingerprint_key, f.control.control.id, f.resource["id"])

    def change_of(self, f: Finding) -> ChangeInfo | None:
        return self.changes.get(self.fingerprint(f))


def where(resource: dict[str, Any]) -> str:
    """Where a resource lives, to tell two of one name apart: the AWS account, the
    Kubernetes context (and namespace), the PostgreSQL server; else the target."""
    scope = resource.get("scope") or {}
    for key in ("account", "context", "server"):
        if scope.get(key):
            place = str(scope[key])
            if key == "context" and scope.get("namespace"):
                place += f"/{scope['namespace']}"
            return place
    return str(scope.get("target", ""))


def finding_json(report: RunReport, f: Finding) -> dict[str, Any]:
    change = report.change_of(f)
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
    out["fingerprint"] = report.fingerprint(f)
    if change is not None:
        out["change"] = change.change.value
        out["first_seen"] = change.first_seen
        out["last_seen"] = change.last_seen
    return out


def waiver_json(w: Waiver) -> dict[str, Any]:
    return {
        "id": w.id,
        "control": w.control,
        "resources": w.resources,
        "reason": w.reason,
        "approver": w.approver,
        "expires": w.expires.isoformat(),
    }


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
            "soft_fail": report.soft_fail,
            "ledger": report.ledger,
        },
        "summary": {
            "results": sum(s.counts.values()),
            "by_status": {st.value: s.counts.get(st.value, 0) for st in Status},
            "waived": s.waived,
            "failed_by_severity": dict(s.failed_by_severity),
            "expired_waivers": [waiver_json(w) for w in s.expired_waivers],
            "baseline": report.baseline,
            "changes": dict(Counter(c.change.value for c in report.changes.values())),
            "gone": [
                {
                    "fingerprint": g.fingerprint,
                    "control": g.seen.control,
                    "resource": g.seen.resource,
                    "status": g.seen.status,
                    "last_seen": g.last_seen,
                }
                for g in report.gone
            ],
            "collection_failures": [vars(f) for f in report.failures],
        },
        "scores": [
            {
                "framework": score.framework,
                "criterion": score.criterion,
                "title": score.title,
                "score": None if score.score is None else round(score.score, 4),
                "passed": score.passed,
                "failed": score.failed,
                "waived": score.waived,
                "errors": score.errors,
                "not_applicable": score.not_applicable,
                "controls": score.controls,
            }
            for score in s.scores
        ],
        "results": [finding_json(report, f) for f in report.findings],
    }
