"""OCSF 1.x Compliance Finding (class 2003), one JSON document per line: for SIEMs and lakes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import IO, Any

from assay import __version__
from assay.checks import Status
from assay.engine.evaluate import Finding
from assay.engine.models import Waiver
from assay.engine.report import RunReport
from assay.engine.severity import Severity

OCSF_VERSION = "1.3.0"
CLASS_UID = 2003
ACTIVITY_CREATE = 1
SEVERITY_ID = {
    Severity.INFO: 1,
    Severity.LOW: 2,
    Severity.MEDIUM: 3,
    Severity.HIGH: 4,
    Severity.CRITICAL: 5,
}
# compliance.status_id: 0 Unknown, 1 Pass, 2 Warning, 3 Fail, 99 Other
COMPLIANCE_STATUS = {
    Status.PASS: (1, "Pass"),
    Status.FAIL: (3, "Fail"),
    Status.ERROR: (0, "Unknown"),
    Status.NOT_APPLICABLE: (99, "Other"),
}
# The built-in frameworks by the names their publishers give them; others by their id.
STANDARDS = {
    "soc2": "SOC 2",
    "cis_aws_v3": "CIS AWS Foundations Benchmark v3.0.0",
    "cis_k8s_v1.12": "CIS Kubernetes Benchmark v1.12.0",
    "cis_postgresql_17": "CIS PostgreSQL 17 Benchmark",
    "iso27001_2022": "ISO/IEC 27001:2022",
    "nist_800_53_r5": "NIST SP 800-53 Rev. 5",
}


def _ms(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp() * 1000)


def _event(report: RunReport, f: Finding) -> dict[str, Any]:
    c = f.control.control
    fp = report.fingerprint(f)
    change = report.change_of(f)
    status_id, status = COMPLIANCE_STATUS[f.status]
    # The finding's own workflow status: a waived failure is suppressed, a pass resolved.
    if f.waiver:
        wf = (3, "Suppressed")
    elif f.status is Status.PASS:
        wf = (4, "Resolved")
    else:
        wf = (1, "New")
    scope = f.resource["scope"]
    info: dict[str, Any] = {
        "uid": fp,
        "title": c.title,
        "desc": f.result.reason,
        "types": ["Compliance"],
        "created_time": _ms(report.finished_at),
    }
    if change is not None:
        info["first_seen_time"] = _ms(change.first_seen)
        info["last_seen_time"] = _ms(change.last_seen)
    return {
        "activity_id": ACTIVITY_CREATE,
        "activity_name": "Create",
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": CLASS_UID,
        "class_name": "Compliance Finding",
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "type_name": "Compliance Finding: Create",
        "severity_id": SEVERITY_ID[c.severity],
        "severity": c.severity.value.capitalize(),
        "status_id": wf[0],
        "status": wf[1],
        "time": _ms(report.finished_at),
        "message": f"{c.id} {f.status.value} on {f.resource['id']}: {f.result.reason}",
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"{report.run_id}/{fp}",
            "correlation_uid": report.run_id,
            "product": {"name": "assay", "vendor_name": "assay", "version": __version__},
        },
        "finding_info": info,
        "compliance": {
            "control": c.id,
            "desc": c.description or c.title,
            "requirements": [
                f"{fw} {crit}" for fw, crits in c.frameworks.items() for crit in crits
            ],
            "standards": [STANDARDS.get(fw, fw) for fw in c.frameworks],
            "status_id": status_id,
            "status": status,
        },
        "resources": [
            {
                "uid": f.resource["id"],
                "name": str(f.resource["name"]),
                "type": f.resource["type"],
                "region": scope.get("region"),
                "data": f.result.observed,
            }
        ],
        "remediation": {"desc": c.remediation},
        "unmapped": {"waiver": f.waiver.id if f.waiver else None, "target": scope.get("target")},
    }


def _expired_waiver(report: RunReport, w: Waiver) -> dict[str, Any]:
    now = _ms(report.finished_at)
    return {
        "activity_id": ACTIVITY_CREATE,
        "category_uid": 2,
        "class_uid": CLASS_UID,
        "type_uid": CLASS_UID * 100 + ACTIVITY_CREATE,
        "severity_id": SEVERITY_ID[Severity.LOW],
        "status_id": 1,
        "time": now,
        "message": f"waiver {w.id} for {w.control} expired on {w.expires}",
        "metadata": {
            "version": OCSF_VERSION,
            "uid": f"{report.run_id}/waiver:{w.id}",
            "correlation_uid": report.run_id,
            "product": {"name": "assay", "vendor_name": "assay", "version": __version__},
        },
        "finding_info": {
            "uid": f"waiver:{w.id}",
            "title": "Expired waiver",
            "created_time": now,
            "desc": f"{w.reason} (approved by {w.approver})",
        },
        "compliance": {"control": w.control, "status_id": 2, "status": "Warning"},
        "remediation": {"desc": "Renew the waiver with a new expiry date, or fix what it covered."},
    }


def write(report: RunReport, out: IO[str]) -> None:
    for f in report.findings:
        out.write(json.dumps(_event(report, f), sort_keys=True) + "\n")
    for w in report.summary.expired_waivers:
        out.write(json.dumps(_expired_waiver(report, w), sort_keys=True) + "\n")
