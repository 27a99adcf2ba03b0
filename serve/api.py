"""The JSON API under /api/v1: the pages' data, for scripts (`Authorization: Bearer`).

Its OpenAPI document is served at /api/v1/openapi.json, generated from these models.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel

from assay.serve import data
from assay.serve.auth import Viewer, allowed, console_of
from assay.serve.pages import proof_of
from assay.serve.tokens import Permission

router = APIRouter(tags=["evidence"])
Reader = Annotated[Viewer, Depends(allowed(Permission.RUNS))]


class Run(BaseModel):
    run: str
    profile: str | None
    targets: list[str]
    started_at: str | None
    finished_at: str | None
    complete: bool
    results: int
    by_status: dict[str, int]
    waived: int
    score: float | None
    """passed / (passed + unwaived failures); null for an incomplete run."""
    first_seq: int
    last_seq: int
    checkpoint: str | None
    """The first signed checkpoint covering the run (origin@size), if any."""


class Finding(BaseModel):
    seq: int
    hash: str
    control: str
    severity: str
    frameworks: dict[str, list[str]]
    resource_id: str
    resource_name: str
    where: str
    status: str
    waiver: str | None
    reason: str
    fingerprint: str
    change: str | None


class Score(BaseModel):
    framework: str
    criterion: str
    title: str
    passed: int
    failed: int
    waived: int
    errors: int
    score: float | None


class RunDetail(BaseModel):
    run: Run
    baseline: str | None
    changes: dict[str, int]
    gone: int
    scores: list[Score]
    trend: list[tuple[str, float | None]]


class Findings(BaseModel):
    total: int
    """How many findings match the filters (all pages)."""
    offset: int
    findings: list[Finding]


class FindingDetail(BaseModel):
    finding: Finding
    record: dict[str, Any]
    proof: dict[str, Any] | None
    """The C2SP tlog-proof parts (`assay evidence prove --format json`)."""
    verdict: str
    signer: str | None


def _run(row: data.RunRow) -> Run:
    return Run(**{**vars(row), "targets": list(row.targets)})


def _finding(row: data.FindingRow) -> Finding:
    return Finding.model_validate(row, from_attributes=True)


@router.get("/runs", response_model=list[Run])
def runs(
    request: Request, viewer: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[Run]:
    """The last runs, newest first."""
    return [_run(r) for r in data.list_runs(console_of(request).ledger, limit=limit)]


@router.get("/runs/{run}", response_model=RunDetail)
def run(request: Request, viewer: Reader, run: str) -> RunDetail:
    """A run: scores per criterion, trend of its profile, changes since its baseline."""
    console = console_of(request)
    view = data.run_view(console.ledger, run, console.catalog.titles, console.findings)
    return RunDetail(
        run=_run(view.row),
        baseline=view.baseline,
        changes=dict(view.changes),
        gone=view.gone,
        scores=[
            Score(
                framework=s.framework,
                criterion=s.criterion,
                title=s.title,
                passed=s.passed,
                failed=s.failed,
                waived=s.waived,
                errors=s.errors,
                score=s.score,
            )
            for s in view.scores
        ],
        trend=view.trend,
    )


@router.get("/runs/{run}/findings", response_model=Findings)
def findings(
    request: Request,
    viewer: Reader,
    run: str,
    status: str = "",
    severity: str = "",
    change: str = "",
    q: Annotated[str, Query(description="Text in the control, resource or reason")] = "",
    sort: Annotated[str, Query(description=f"One of {', '.join(data.SORTS)}")] = "severity",
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> Response:
    """A run's findings, filtered, searched and sorted as on its page."""
    console = console_of(request)
    view = data.run_view(console.ledger, run, console.catalog.titles, console.findings)
    picked = data.FindingQuery(status, severity, change, q, sort).apply(view.findings)
    # Encoded straight from the rows: validating thousands of models again would cost
    # more than reading them; the rows have exactly the documented fields.
    page = {"total": len(picked), "offset": offset, "findings": picked[offset : offset + limit]}
    return Response(orjson.dumps(page), media_type="application/json")


@router.get("/records/{seq}", response_model=FindingDetail)
def finding(request: Request, viewer: Reader, seq: int) -> FindingDetail:
    """A result record with its inclusion proof against the latest signed checkpoint."""
    found = data.finding(console_of(request).ledger, seq)
    proof, verdict, signer = proof_of(request, seq)
    return FindingDetail(
        finding=_finding(found.row),
        record=found.record,
        proof=None if proof is None else proof.as_dict(),
        verdict=verdict,
        signer=signer,
    )
