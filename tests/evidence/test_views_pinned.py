"""The views' bytes are pinned: `verify --check-views` rebuilds them with the verifier's
own code and compares, so a change to their bytes would fail every bundle exported
before it. Change the pins only with a change of the bundle's format."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from assay.evidence.bundle.views import ViewContext, Views
from assay.evidence.canonical import canonical
from assay.evidence.checkpoint import Checkpoint

OSCAL_SHA256 = "e28ade22dd4c4d4b333569d5d07657a574a42aacd77f96e4d34f7158dbc7d2c1"
SUMMARY_SHA256 = "31f97aefc5b7528b91de734ad7babaef69b8967ac853810d5b71921a1c1583f1"


def records() -> list[dict[str, Any]]:
    """Runs of results with every shape the views treat apart: failures, errors and
    waivers, blank and odd fields, controls and resources seen again, text outside
    ASCII, a record outside any run, a run that never finishes."""
    made: list[dict[str, Any]] = [{"kind": "key_rotated", "at": "2026-01-01T00:00:00Z"}]
    for night, run in enumerate(["r-one", "r-two", "r-three"]):
        at = f"2026-03-0{night + 1}T02:00:00Z"
        made.append({"kind": "run_started", "run": run, "at": at})
        for i in range(40):
            result: dict[str, Any] = {
                "kind": "result",
                "run": run,
                "at": at if i % 9 else None,
                "control": {"id": f"ctl-{i % 4}"} if i % 13 else "not an object",
                "resource": {"id": f"arn:aws:s3:::bucket-{i % 6}", "name": f"Bücket {i % 6}"}
                if i % 17
                else {"id": "  ", "name": None},
                "status": ["pass", "fail", "error", "not_applicable"][i % 4],
                "reason": "  " if i % 11 == 0 else f"because {i} | \n so",
                "waiver": {"reason": "accepted"} if i % 10 == 3 else None,
            }
            made.append(result)
        if run != "r-three":
            made.append({"kind": "run_finished", "run": run, "at": at, "exit_code": night})
    made.append({"kind": "note", "at": "2026-03-04T00:00:00Z"})
    return made


def test_the_views_of_fixed_records_are_the_pinned_bytes() -> None:
    checkpoint = Checkpoint("example.com/log", 130, bytes(range(32)), "")
    context = ViewContext(0, 130, [checkpoint], (("checkpoints/0000-size-130.tsr", "ab" * 32),))
    out = io.BytesIO()
    views = Views(out, context)
    for seq, record in enumerate(records()):
        views.add(seq, canonical(record), record)
    summary = views.close()
    assert hashlib.sha256(out.getvalue()).hexdigest() == OSCAL_SHA256
    assert hashlib.sha256(summary).hexdigest() == SUMMARY_SHA256
