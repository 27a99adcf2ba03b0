"""SARIF 2.1.0 for code scanning: one rule per control, one result per failure.

Failures carry `partialFingerprints` from (control, resource), so an alert tracks the
same resource across runs; waived failures are suppressed, not dropped; results that
could not be decided are tool notifications, never alerts that look like verdicts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from assay import __version__
from assay.checks import Status
from assay.engine.catalog import LoadedControl
from assay.engine.evaluate import Finding
from assay.engine.report import RunReport
from assay.engine.severity import Severity

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
EXPIRED_WAIVER_RULE = "assay-waiver-expired"


def _uri(path: Path) -> str:
    """A path relative to the working directory (the repository in CI), else absolute."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_uri()


def _rule(loaded: LoadedControl) -> dict[str, Any]:
    c = loaded.control
    criteria = [f"{fw}:{crit}" for fw, crits in c.frameworks.items() for crit in crits]
    return {
        "id": c.id,
        "name": "".join(part.capitalize() for part in c.id.split("-")),
        "shortDescription": {"text": c.title},
        "fullDescription": {"text": c.description or c.title},
        "help": {"text": c.remediation, "markdown": f"**Remediation:** {c.remediation}"},
        "defaultConfiguration": {"level": LEVEL[c.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[c.severity],
            "tags": ["security", "compliance", *criteria, *c.tags],
            "precision": "very-high",
        },
    }


def _location(f: Finding) -> dict[str, Any]:
    source = f.resource.get("source")
    if isinstance(source, dict) and source.get("file"):
        # A resource read from a file (a Kubernetes manifest): point at the object itself.
        physical = {
            "artifactLocation": {"uri": _uri(Path(source["file"]))},
            "region": {"startLine": int(source.get("line") or 1)},
        }
    else:
        physical = {
            "artifactLocation": {"uri": _uri(f.control.path)},
            "region": {"startLine": f.control.line},
        }
    return {
        "physicalLocation": physical,
        "logicalLocations": [
            {
                "name": str(f.resource["name"]),
                "fullyQualifiedName": f.resource["id"],
                "kind": "resource",
            }
        ],
    }


def _result(report: RunReport, f: Finding, rule_index: int) -> dict[str, Any]:
    c = f.control.control
    out: dict[str, Any] = {
        "ruleId": c.id,
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": LEVEL[c.severity],
        "message": {"text": f"{f.resource['id']}: {f.result.reason}"},
        "locations": [_location(f)],
        "partialFingerprints": {"assay/v1": report.fingerprint(f)},
        "properties": {"resource": f.resource, "observed": f.result.observed},
    }
    if f.waiver:
        out["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{f.waiver.id}: {f.waiver.reason} "
                f"(approved by {f.waiver.approver}, until {f.waiver.expires})",
            }
        ]
    return out


def document(report: RunReport) -> dict[str, Any]:
    controls = sorted({f.control.control.id: f.control for f in report.findings}.items())
    rules = [_rule(loaded) for _, loaded in controls]
    index = {cid: i for i, (cid, _) in enumerate(controls)}
    results = [
        _result(report, f, index[f.control.control.id])
        for f in report.findings
        if f.status is Status.FAIL
    ]
    if report.summary.expired_waivers:
        rules.append(
            {
                "id": EXPIRED_WAIVER_RULE,
                "name": "ExpiredWaiver",
                "shortDescription": {"text": "A waiver in the profile has expired"},
                "help": {
                    "text": "Renew the waiver with a new expiry date, or fix what it covered."
                },
                "defaultConfiguration": {"level": "warning"},
                "properties": {"security-severity": "3.0", "tags": ["compliance", "waiver"]},
            }
        )
        profile = Path(report.profile)
        for w in report.summary.expired_waivers:
            results.append(
                {
                    "ruleId": EXPIRED_WAIVER_RULE,
                    "ruleIndex": len(rules) - 1,
                    "level": "warning",
                    "message": {"text": f"waiver {w.id} for {w.control} expired on {w.expires}"},
                    "locations": [
                        {"physicalLocation": {"artifactLocation": {"uri": _uri(profile)}}}
                    ],
                    "partialFingerprints": {"assay/v1": f"waiver:{w.id}"},
                }
            )
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{f.control.control.id} on {f.resource['id']}: {f.result.reason}"},
            "descriptor": {"id": f.control.control.id},
        }
        for f in report.findings
        if f.status is Status.ERROR
    ]
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "assay",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"assay/{report.run_id}"},
                "invocations": [
                    {
                        "executionSuccessful": not notifications and not report.failures,
                        "startTimeUtc": report.started_at,
                        "endTimeUtc": report.finished_at,
                        "toolExecutionNotifications": notifications
                        + [
                            {
                                "level": "error",
                                "message": {
                                    "text": f"could not collect {fl.resource_type} from "
                                    f"{fl.target}: {fl.reason}"
                                },
                            }
                            for fl in report.failures
                        ],
                    }
                ],
                "results": results,
            }
        ],
    }


def write(report: RunReport, out: IO[str]) -> None:
    json.dump(document(report), out, indent=2)
    out.write("\n")
