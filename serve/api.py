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
from assay.serve.pages import finding_query, proof_of
from assay.serve.tokens import Permission

router = APIRouter(tags=["evidence"])
Reader = Annotated[Viewer, Depends(allowed(Permission.RUNS))]


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
    run: data.Run
    baseline: str | None
    changes: dict[str, int]
    gone: int
    scores: list[Score]
    trend: list[tuple[str, float | None]]


class Findings(BaseModel):
    total: int
    """How many findings match the filters (all pages)."""
    offset: int
    findings: list[data.Finding]


class FindingDetail(BaseModel):
    finding: data.Finding
    record: dict[str, Any]
    proof: dict[str, Any] | None
    """The C2SP tlog-proof parts (`assay evidence prove --format json`)."""
    verdict: str
    signer: str | None


@router.get("/runs", response_model=list[data.Run])
def runs(
    request: Request, viewer: Reader, limit: Annotated[int, Query(ge=1, le=1000)] = 200
) -> list[data.Run]:
    """The last runs, newest first."""
    return data.list_runs(console_of(request).ledger, limit=limit)


@router.get("/runs/{run}", response_model=RunDetail)
def run(request: Request, viewer: Reader, run: str) -> RunDetail:
    """A run: scores per criterion, trend of its profile, changes since its baseline."""
    view = console_of(request).run_view(run)
    return RunDetail(
        run=view.row,
        baseline=view.baseline,
        changes=dict(view.changes),
        gone=view.gone,
        scores=[Score.model_validate(s, from_attributes=True) for s in view.scores],
        trend=view.trend,
    )


@router.get("/runs/{run}/findings", response_model=Findings)
def findings(
    request: Request,
    viewer: Reader,
    run: str,
    query: Annotated[data.FindingQuery, Depends(finding_query)],
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> Response:
    """A run's findings, filtered, searched and sorted as on its page."""
    picked = query.apply(console_of(request).run_view(run).findings)
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
        finding=found.row,
        record=found.record,
        proof=None if proof is None else proof.as_dict(),
        verdict=verdict,
        signer=signer,
    )
