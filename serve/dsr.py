"""The DSR queue: requests by deadline, and (with `assay serve --dsr`) acting on them.

Everything goes through the GDPR module's own API (`open_session`, `RequestBook`), as
the `assay dsr` commands do: the ledger stays the only store of request state, and
every action taken here is followed by a ``console_action`` record naming who took it
(the token's holder; an address in a proxy's user name is pseudonymised, the address
kept in the ledger's erasable vault). Identities are typed by the privacy team for each
action and never stored; the pages show the subject's pseudonym only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel

from assay.evidence import Pseudonymizer, load_key, open_ledger
from assay.evidence.pseudonym import pseudonymise_emails
from assay.evidence.signing import DEFAULT_SIGNER, Signer
from assay.gdpr.dsr import ErasureOutcome, Session, open_session
from assay.gdpr.errors import RequestError
from assay.gdpr.identity import parse_identity
from assay.gdpr.mapfile import LoadedMap
from assay.gdpr.requests import Request as DsrRequest
from assay.gdpr.requests import RequestBook, State
from assay.serve.auth import Posted, Viewer, allowed, console_of, posted
from assay.serve.render import page
from assay.serve.tokens import Permission

router = APIRouter(include_in_schema=False)
api_router = APIRouter(tags=["dsr"])
Privacy = Annotated[Viewer, Depends(allowed(Permission.DSR))]
Acting = Annotated[Posted, Depends(posted(Permission.DSR))]

# What the privacy team does next, by type and state.
NEXT_STEP = {
    State.RECEIVED: "verify the subject's identity",
    State.VERIFIED: "plan: dry-run the erasure",
    State.PLANNED: "execute the erasure (typed confirmation)",
    State.EXECUTED: "check the residual and re-run",
}


def next_step(request: DsrRequest, today: date) -> str:
    """What the privacy team does next with `request`, in words."""
    if not request.open:
        if request.held_pointer is not None and request.expired_holds(today):
            return "erase the held data whose hold ran out: assay dsr due --erase-expired"
        return "none: closed"
    if request.type != "erasure" and request.state is not State.RECEIVED:
        return f"run it with: assay dsr {request.type} --request {request.id}"
    return NEXT_STEP[request.state]


@dataclass
class DsrDesk:
    """Where requests are run: the data map, its stores, the pseudonym key, the signer;
    `actions` False serves the queue read-only."""

    datamap: Path | LoadedMap
    ledger_url: str
    key_path: Path
    connections: Mapping[str, str] = field(default_factory=dict)
    signer: Signer = DEFAULT_SIGNER
    actions: bool = False

    def book(self) -> RequestBook:
        return RequestBook(
            self.ledger_url,
            Pseudonymizer(load_key(self.key_path, create=False)),
            signer=self.signer,
        )

    @contextmanager
    def session(self) -> Iterator[Session]:
        with open_session(
            self.datamap,
            ledger_url=self.ledger_url,
            key_path=self.key_path,
            connections=self.connections,
            signer=self.signer,
            create_key=False,
        ) as session:
            yield session

    def record_actor(
        self, book: RequestBook, request: DsrRequest, action: str, viewer: Viewer
    ) -> None:
        """The ``console_action`` record: who did `action` to `request`, through what."""
        vault: dict[str, str] = {}
        by = pseudonymise_emails(viewer.identity.name, book.pseudonymizer, vault)
        book.annotate(request, "console_action", action=action, by=by, via=viewer.identity.via)
        if vault:
            with open_ledger(self.ledger_url) as ledger:
                for pseudonym, raw in vault.items():
                    ledger.vault_put(pseudonym, raw)


def queue_of(book: RequestBook, today: date, *, closed: bool) -> list[DsrRequest]:
    """The open requests, and the closed ones whose held data is due for erasure (all of
    them with `closed`): overdue first, then by deadline."""
    return [
        r
        for r in book.listing(include_closed=True)
        if closed or r.open or (r.held_pointer is not None and r.expired_holds(today))
    ]


def desk_of(request: Request) -> DsrDesk:
    desk: DsrDesk | None = console_of(request).dsr
    if desk is None:
        raise RequestError("the console was started without the DSR queue (--datamap)")
    return desk


@router.get("/dsr")
def queue(request: Request, viewer: Privacy, closed: bool = False) -> Response:
    book = desk_of(request).book()
    today = book.clock().date()
    requests = queue_of(book, today, closed=closed)
    steps = {r.id: next_step(r, today) for r in requests}
    return page(request, "dsr.html.j2", requests=requests, today=today, closed=closed, steps=steps)


@router.get("/dsr/{request_id}")
def request_page(request: Request, viewer: Privacy, request_id: str) -> Response:
    return _request_page(request, desk_of(request), request_id, None)


@router.post("/dsr/{request_id}/{action}")
async def act(request: Request, form: Acting, request_id: str, action: str) -> Response:
    desk = desk_of(request)
    if not desk.actions:
        raise RequestError("the DSR queue is read-only here: start the console with --dsr-actions")
    outcome = await run_in_threadpool(_run_action, desk, form, request_id, action)
    if outcome is None:
        return RedirectResponse(f"/dsr/{request_id}", status_code=303)
    return _request_page(request, desk, request_id, outcome)


def _request_page(
    request: Request, desk: DsrDesk, request_id: str, outcome: ErasureOutcome | None
) -> Response:
    """A request's page, with the erasure's outcome when an action just ran one."""
    book = desk.book()
    found = book.get(request_id)
    today = book.clock().date()
    return page(
        request,
        "dsr_request.html.j2",
        r=found,
        today=today,
        next_step=next_step(found, today),
        actions=desk.actions,
        outcome=outcome,
    )


def _run_action(desk: DsrDesk, form: Posted, request_id: str, action: str) -> ErasureOutcome | None:
    """Run `action` on the request; the erasure's outcome when there is one to show."""
    book = desk.book()
    target = book.get(request_id)
    outcome = None
    if action == "verify":
        target = book.advance(target, State.VERIFIED, method=_required(form, "method"))
    elif action == "reject":
        target = book.advance(target, State.REJECTED, reason=_required(form, "reason"))
    elif action == "extend":
        target = book.extend(target, _months(form), _required(form, "reason"))
    elif action in ("dry-run", "erase"):
        if action == "erase" and form.text("confirm") != request_id:
            raise RequestError(
                f"type the request id {request_id} to confirm the erasure: it cannot be undone"
            )
        with desk.session() as session:
            ids = session.identities([parse_identity(_required(form, "identity"))])
            outcome = session.erase(ids, request_id=request_id, dry_run=action == "dry-run")
        target = book.get(request_id)
    else:
        raise RequestError(f"unknown action {action!r}: verify, reject, extend, dry-run or erase")
    desk.record_actor(book, target, action, form.viewer)
    return outcome


def _required(form: Posted, name: str) -> str:
    value = form.text(name)
    if not value:
        raise RequestError(f"{name}: required")
    return value


def _months(form: Posted) -> int:
    try:
        return int(form.text("months") or "1")
    except ValueError:
        raise RequestError("months: expected 1 or 2") from None


class DsrItem(BaseModel):
    request: str
    type: str
    state: str
    subject: str
    """The subject's keyed pseudonym: never an identity."""
    received: str
    due: str
    extended: bool
    overdue: bool
    days_left: int | None
    reason: str | None
    updated_at: str
    next_step: str


@api_router.get("/dsr/requests", response_model=list[DsrItem])
def api_queue(request: Request, viewer: Privacy, closed: bool = False) -> list[DsrItem]:
    """The requests, overdue first, then by deadline (closed ones with ?closed=true)."""
    book = desk_of(request).book()
    today = book.clock().date()
    return [
        DsrItem(
            **{k: v for k, v in r.as_dict(today).items() if k != "deferred"},
            next_step=next_step(r, today),
        )
        for r in queue_of(book, today, closed=closed)
    ]
