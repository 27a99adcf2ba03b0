"""OSCAL 1.1 assessment-results: the run as an auditor's tooling reads it.

Deterministic: every UUID is derived (UUIDv5) from the run, control and resource, so the
same run always gives the same document. Each control is a finding; each evaluated
resource an observation the finding links to.
"""

from __future__ import annotations

import json
import uuid
from typing import IO, Any

from assay import __version__
from assay.checks import Status
from assay.engine.evaluate import Finding
from assay.engine.report import RunReport

OSCAL_VERSION = "1.1.2"
NAMESPACE = uuid.UUID("6c1b7a4e-0d2f-5b0e-9a53-6173736179a1")  # assay's own namespace


def _uuid(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "\x00".join(parts)))


def _observation(report: RunReport, f: Finding) -> dict[str, Any]:
    fp = report.fingerprint(f)
    return {
        "uuid": _uuid(report.run_id, "observation", fp),
        "title": f"{f.control.control.id} on {f.resource['name']}",
        "description": f.result.reason,
        "props": [
            {"name": "assay-status", "ns": "urn:assay", "value": f.status.value},
            {"name": "assay-fingerprint", "ns": "urn:assay", "value": fp},
        ],
        "methods": ["TEST"],
        "types": ["finding" if f.status is Status.FAIL else "control-objective"],
        "subjects": [
            {
                "subject-uuid": _uuid("resource", f.resource["id"]),
                "type": "resource",
                "title": f.resource["id"],
            }
        ],
        "collected": report.finished_at,
    }


def document(report: RunReport) -> dict[str, Any]:
    by_control: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_control.setdefault(f.control.control.id, []).append(f)
    observations = [_observation(report, f) for f in report.findings]
    obs_uuid = {
        report.fingerprint(f): o["uuid"] for f, o in zip(report.findings, observations, strict=True)
    }
    findings = []
    for cid, items in sorted(by_control.items()):
        c = items[0].control.control
        failed = [f for f in items if f.status is Status.FAIL and not f.waiver]
        undecided = [f for f in items if f.status is Status.ERROR]
        state = "not-satisfied" if failed or undecided else "satisfied"
        reason = (
            f"{len(failed)} of {len(items)} resources fail"
            if failed
            else f"{len(undecided)} of {len(items)} resources could not be assessed"
            if undecided
            else f"all {len(items)} resources pass or are waived"
        )
        findings.append(
            {
                "uuid": _uuid(report.run_id, "finding", cid),
                "title": c.title,
                "description": f"{reason}. Remediation: {c.remediation}",
                "props": [{"name": "assay-severity", "ns": "urn:assay", "value": c.severity.value}],
                "target": {
                    "type": "objective-id",
                    "target-id": cid,
                    "status": {"state": state},
                },
                "related-observations": [
                    {"observation-uuid": obs_uuid[report.fingerprint(f)]} for f in items
                ],
            }
        )
    observations += [
        {
            "uuid": _uuid(report.run_id, "waiver", w.id),
            "title": f"Expired waiver {w.id}",
            "description": f"Waiver {w.id} for {w.control} expired on {w.expires}; "
            f"it no longer applies. It was: {w.reason} (approved by {w.approver}).",
            "props": [{"name": "assay-waiver-expired", "ns": "urn:assay", "value": w.id}],
            "methods": ["EXAMINE"],
            "types": ["finding"],
            "collected": report.finished_at,
        }
        for w in report.summary.expired_waivers
    ]
    result: dict[str, Any] = {
        "uuid": _uuid(report.run_id, "result"),
        "title": "Automated compliance assessment",
        "description": f"Controls evaluated by assay {__version__} with profile {report.profile}.",
        "start": report.started_at,
        "end": report.finished_at,
        "reviewed-controls": {
            "control-selections": [
                {"include-controls": [{"control-id": cid} for cid in sorted(by_control)]}
                if by_control
                else {"include-all": {}}
            ]
        },
    }
    # OSCAL arrays may not be empty: leave a key out rather than write [].
    if observations:
        result["observations"] = observations
    if findings:
        result["findings"] = findings
    return {
        "assessment-results": {
            "uuid": _uuid(report.run_id, "assessment-results"),
            "metadata": {
                "title": f"assay run {report.run_id}",
                "last-modified": report.finished_at,
                "version": __version__,
                "oscal-version": OSCAL_VERSION,
            },
            "import-ap": {"href": f"urn:assay:profile:{report.profile}"},
            "results": [result],
        }
    }


def write(report: RunReport, out: IO[str]) -> None:
    json.dump(document(report), out, indent=2)
    out.write("\n")
