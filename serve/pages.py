"""The evidence pages: runs, a run, a finding and its proof, a diff, waivers, evidence."""

from __future__ import annotations

import json
import math
import tempfile
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response
from starlette.background import BackgroundTask

from assay.engine.collect import now_rfc3339
from assay.engine.formats.html import score_bars, trend_chart
from assay.errors import ConfigError
from assay.evidence import (
    InclusionProof,
    LedgerError,
    NoteError,
    ProofError,
    Selection,
    export_bundle,
    parse_when,
    prove,
)
from assay.serve import data
from assay.serve.auth import Posted, Viewer, allowed, console_of, posted
from assay.serve.render import page
from assay.serve.tokens import Permission
from assay.words import counted

router = APIRouter(include_in_schema=False)
Reader = Annotated[Viewer, Depends(allowed(Permission.RUNS))]
EXPIRING_DAYS = 30


@router.get("/runs")
def runs(request: Request, viewer: Reader) -> Response:
    rows = data.list_runs(console_of(request).ledger)
    return page(request, "runs.html.j2", rows=rows)


def finding_query(
    status: str = "",
    severity: str = "",
    change: str = "",
    q: Annotated[str, Query(description="Text in the control, resource or reason")] = "",
    sort: Annotated[str, Query(description=f"One of {', '.join(data.SORTS)}")] = "severity",
) -> data.FindingQuery:
    """The findings' filter, search and sort from the query string, on a run's page and in
    the API alike."""
    return data.FindingQuery(status, severity, change, q, sort)


@router.get("/runs/{run}")
def run(
    request: Request,
    viewer: Reader,
    run: str,
    asked: Annotated[data.FindingQuery, Depends(finding_query)],
    page_no: Annotated[int, Query(alias="page", ge=1)] = 1,
) -> Response:
    console = console_of(request)
    view = console.run_view(run)
    query = replace(asked, page=page_no)
    picked = query.apply(view.findings)
    pages = max(1, math.ceil(len(picked) / query.per_page))
    start = (min(page_no, pages) - 1) * query.per_page
    return page(
        request,
        "run.html.j2",
        view=view,
        query=query,
        rows=picked[start : start + query.per_page],
        matched=len(picked),
        pages=pages,
        page_no=min(page_no, pages),
        bars=score_bars(view.frameworks, view.scores),
        trend=trend_chart(view.trend),
        titles=console.catalog.controls,
        statuses=data.STATUSES,
        severities=data.SEVERITIES,
        changes=data.CHANGES,
        sorts=data.SORTS,
    )


def proof_of(request: Request, seq: int) -> tuple[InclusionProof | None, str, str | None]:
    """The inclusion proof of record `seq` against the latest signed checkpoint, and what
    the console found checking it: ``(proof, verdict, signer)``."""
    console = console_of(request)
    try:
        proof = prove(console.ledger, seq)
    except LedgerError as exc:
        return None, exc.message, None
    if not console.keys:
        return proof, "no public key was given to the console: the signature is unchecked", None
    try:
        signer = proof.verify(console.keys)
    except (NoteError, ProofError) as exc:
        return proof, f"does not verify: {exc}", None
    return proof, "verified", str(signer)


@router.get("/records/{seq}")
def finding(request: Request, viewer: Reader, seq: int) -> Response:
    console = console_of(request)
    found = data.finding(console.ledger, seq)
    proof, verdict, signer = proof_of(request, seq)
    waiver = next((w for w in console.catalog.waivers if w.id == found.row.waiver), None)
    return page(
        request,
        "finding.html.j2",
        f=found.row,
        record=found.record,
        text=console.catalog.controls.get(found.row.control),
        waiver=waiver,
        proof=proof,
        proof_json=json.dumps(proof.as_dict() if proof else None),
        keys_json=json.dumps([str(k) for k in console.keys]),
        verdict=verdict,
        signer=signer,
    )


@router.get("/diff")
def diff(request: Request, viewer: Reader, a: str = "", b: str = "") -> Response:
    console = console_of(request)
    choices = data.list_runs(console.ledger, limit=50)
    rows = data.diff(console.ledger, a, b) if a and b else None
    counts = Counter(row.change for row in rows or [])
    summary = ", ".join(change_words(change, n) for change, n in counts.items())
    return page(request, "diff.html.j2", choices=choices, a=a, b=b, rows=rows, summary=summary)


# How many of each change, in words that agree with the count.
_CHANGE_NOUNS = {
    "new_failure": ("new failure", None),
    "fixed": ("fixed", "fixed"),
    "still_failing": ("still failing", "still failing"),
    "new_resource": ("new resource", None),
    "resource_gone": ("resource gone", "resources gone"),
    "unchanged": ("unchanged", "unchanged"),
}


def change_words(change: str, n: int) -> str:
    noun, plural = _CHANGE_NOUNS.get(change, (change.replace("_", " "), None))
    return counted(n, noun, plural)


def waiver_state(expires: date, today: date) -> str:
    if expires < today:
        return "expired"
    if expires <= today + timedelta(days=EXPIRING_DAYS):
        return "expiring"
    return "active"


@router.get("/waivers")
def waivers(request: Request, viewer: Reader) -> Response:
    console = console_of(request)
    today = datetime.now(UTC).date()
    order = {"expiring": 0, "expired": 1, "active": 2}
    rows = sorted(
        (
            (waiver_state(w.expires, today), (w.expires - today).days, w)
            for w in console.catalog.waivers
        ),
        key=lambda row: (order[row[0]], row[2].expires, row[2].id),
    )
    return page(request, "waivers.html.j2", rows=rows, profile=console.catalog.profile)


@router.get("/evidence")
def evidence(request: Request, viewer: Reader) -> Response:
    console = console_of(request)
    checkpoints = console.ledger.checkpoints()
    return page(
        request,
        "evidence.html.j2",
        records=console.ledger.count(),
        checkpoints=checkpoints[::-1][:50],
        checkpoint_count=len(checkpoints),
        verification=console.verification,
        keys=[str(k) for k in console.keys],
        can_export=console.signing_key is not None and viewer.can(Permission.EXPORT),
        signing_key=console.signing_key,
    )


@router.post("/evidence/verify")
def verify(request: Request, form: Annotated[Posted, Depends(posted(Permission.RUNS))]) -> Response:
    console_of(request).verify_in_background(now_rfc3339())
    return RedirectResponse("/evidence", status_code=303)


@router.post("/evidence/export")
def export(
    request: Request, form: Annotated[Posted, Depends(posted(Permission.EXPORT))]
) -> Response:
    console = console_of(request)
    if console.signing_key is None:
        raise ConfigError("the console has no signing key to sign a bundle with", field="--key")
    since, until = form.text("from"), form.text("to")
    try:
        selection = Selection(
            since=parse_when(since) if since else None,
            until=parse_when(until, end=True) if until else None,
        )
    except ValueError as exc:
        raise ConfigError(str(exc), field="from/to") from None
    folder = Path(tempfile.mkdtemp(prefix="assay-export-"))
    out = folder / f"evidence-{since or 'start'}-{until or 'now'}.zip"
    try:
        export_bundle(console.ledger, out, console.signing_key, selection)
    except BaseException:
        _remove(folder)
        raise
    return FileResponse(
        out,
        media_type="application/zip",
        filename=out.name,
        background=BackgroundTask(_remove, folder),
    )


def _remove(folder: Path) -> None:
    for child in folder.iterdir():
        child.unlink()
    folder.rmdir()
