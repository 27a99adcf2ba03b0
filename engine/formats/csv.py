"""CSV: one row per result, for spreadsheets; expired waivers as rows of their own."""

from __future__ import annotations

import csv
import json
from typing import IO

from assay.engine.report import RunReport

COLUMNS = [
    "control",
    "status",
    "severity",
    "resource_type",
    "resource_id",
    "resource_name",
    "target",
    "reason",
    "waiver",
    "change",
    "first_seen",
    "frameworks",
    "observed",
]


def write(report: RunReport, out: IO[str]) -> None:
    w = csv.writer(out, lineterminator="\n")
    w.writerow(COLUMNS)
    for f in report.findings:
        c = f.control.control
        change = report.change_of(f)
        w.writerow(
            [
                c.id,
                f.status.value,
                c.severity.value,
                f.resource["type"],
                f.resource["id"],
                f.resource["name"],
                f.resource["scope"].get("target", ""),
                f.result.reason,
                f.waiver.id if f.waiver else "",
                change.change.value if change else "",
                change.first_seen if change else "",
                "; ".join(f"{k}:{v}" for k, crits in c.frameworks.items() for v in crits),
                json.dumps(f.result.observed, sort_keys=True, default=str),
            ]
        )
    for wv in report.summary.expired_waivers:
        w.writerow(
            [
                wv.control,
                "expired_waiver",
                "",
                "waiver",
                wv.id,
                wv.id,
                "",
                f"waiver {wv.id} expired on {wv.expires}; it no longer applies",
                wv.id,
                "",
                "",
                "",
                "",
            ]
        )
