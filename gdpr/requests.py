"""The lifecycle of a data-subject request, kept as records in the evidence ledger.

received -> verified -> planned -> executed -> completed, or rejected (with the reason)
from any open state. Every transition is one ledger record of kind ``dsr`` carrying the
request id, its type and the keyed pseudonym of the subject: never an identity. The
ledger is the only store of request state, so the trail cannot disagree with it.

The deadline is one calendar month from receipt (Art. 12(3)), extendable once by up to
two further months with a reason, while the first month runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from assay.evidence import (
    Ledger,
    LedgerError,
    Pseudonymizer,
    open_ledger,
    redact_url,
    to_record_value,
)
from assay.evidence.backends.dbapi import SqlLedger
from assay.evidence.pseudonym import contains_email
from assay.evidence.signing import DEFAULT_SIGNER, Signer
from assay.gdpr.dates import add_months
from assay.gdpr.errors import RequestError
from assay.gdpr.identity import Identity
from assay.words import counted

TYPES = ("access", "portability", "erasure", "rectification")


class State(StrEnum):
    RECEIVED = "received"
    VERIFIED = "verified"
    PLANNED = "planned"
    EXECUTED = "executed"
    COMPLETED = "completed"
    REJECTED = "rejected"


STATES = frozenset(s.value for s in State)
# Annotations (events that leave the state as it is).
STORE_ERASED = "store_erased"  # one store's part of an erasure committed
HELD_ERASED = "held_erased"  # held data erased after its hold ran out
# The `hold` of listed data that an erasure found again right after erasing it.
RESIDUAL = "found-again"
# A re-plan after a failed or residual execution goes back to planned; erasing what the
# verification found is a second execution.
NEXT: dict[State, set[State]] = {
    State.RECEIVED: {State.VERIFIED, State.REJECTED},
    State.VERIFIED: {State.PLANNED, State.REJECTED},
    State.PLANNED: {State.PLANNED, State.EXECUTED, State.REJECTED},
    State.EXECUTED: {State.PLANNED, State.EXECUTED, State.COMPLETED, State.REJECTED},
    State.COMPLETED: set(),
    State.REJECTED: set(),
}


@dataclass
class Request:
    id: str
    type: str
    subject: str
    identities: tuple[str, ...]
    received: date
    due: date
    state: State = State.RECEIVED
    updated_at: str = ""
    reason: str | None = None
    extended: bool = False
    history: list[tuple[str, str]] = field(default_factory=list)
    deferred: list[dict[str, Any]] = field(default_factory=list)
    # The last `planned` record of a real run (not a dry run) that no `executed` record
    # followed: the process may have died after a data store committed it.
    unconfirmed_plan: dict[str, Any] | None = None
    # Held rows left by the erasure, sealed (`assay.gdpr.pointers`); None once none are left.
    held_pointer: str | None = None
    # Stores whose part of the erasure committed, with when: a rerun shows them done.
    stores_done: dict[str, str] = field(default_factory=dict)

    @property
    def open(self) -> bool:
        return self.state not in (State.COMPLETED, State.REJECTED)

    def overdue(self, today: date) -> bool:
        return self.open and today > self.due

    def expired_holds(self, today: date) -> list[dict[str, Any]]:
        """Held data of this request whose hold has run out by `today`, for some rows at
        least (the rest stay held, and are listed again when their time comes)."""
        day = today.isoformat()
        return [
            d
            for d in self.deferred
            if (d.get("first_expires") or d.get("expires") or "9999-12-31") <= day
        ]

    def as_dict(self, today: date) -> dict[str, Any]:
        return {
            "request": self.id,
            "type": self.type,
            "state": self.state.value,
            "subject": self.subject,
            "received": self.received.isoformat(),
            "due": self.due.isoformat(),
            "extended": self.extended,
            "overdue": self.overdue(today),
            "days_left": (self.due - today).days if self.open else None,
            "reason": self.reason,
            "updated_at": self.updated_at,
            "deferred": self.deferred,
            "stores_done": self.stores_done,
        }


@dataclass(frozen=True)
class Due:
    """What the nightly run must see on `today`."""

    today: date
    soon: list[Request]
    """Open requests due within the window asked for, or overdue; overdue first."""
    expired: list[Request]
    """Requests whose held data's hold has run out (for some rows) and is not erased yet."""

    @property
    def overdue(self) -> list[Request]:
        return [r for r in self.soon if r.overdue(self.today)]

    def needs_a_person(self) -> list[str]:
        """Why the nightly gate fails, one line per reason; empty when nothing needs anyone:
        a request past its deadline, or held data past its hold that is still there. A
        request merely due soon is the queue's normal business, not a failure."""
        reasons = []
        if overdue := self.overdue:
            reasons.append(
                f"{counted(len(overdue), 'request')} past the deadline: "
                + ", ".join(f"{r.id} (due {r.due})" for r in overdue)
            )
        for what, found in (
            ("held data past its hold, not erased", self._expired(residual=False)),
            ("data found again after its erasure (written back?)", self._expired(residual=True)),
        ):
            if found:
                ids = ", ".join(r.id for r in found)
                reasons.append(f"{what}, of {counted(len(found), 'request')}: {ids}")
        return reasons

    def _expired(self, *, residual: bool) -> list[Request]:
        return [
            r
            for r in self.expired
            if any((d.get("hold") == RESIDUAL) == residual for d in r.expired_holds(self.today))
        ]


def now_utc() -> datetime:
    return datetime.now().astimezone()


class RequestBook:
    """Requests as the ledger at `ledger_url` records them; every change appends a record."""

    def __init__(
        self,
        ledger_url: str,
        pseudonymizer: Pseudonymizer,
        clock: Callable[[], datetime] = now_utc,
        signer: Signer = DEFAULT_SIGNER,
    ) -> None:
        self.ledger_url = ledger_url
        self.pseudonymizer = pseudonymizer
        self.clock = clock
        self.signer = signer

    def all(self) -> dict[str, Request]:
        """Every request, folded from the ledger's ``dsr`` records in order: read through
        the ledger's request index, so no other record is read."""
        with open_ledger(self.ledger_url) as ledger:
            return fold(s.record for s in _indexed(ledger).request_records())

    def get(self, request_id: str) -> Request:
        """The request `request_id`, folded from its own records alone."""
        with open_ledger(self.ledger_url) as ledger:
            steps = _indexed(ledger).request_records(request_id)
            request = fold(s.record for s in steps).get(request_id)
        if request is None:
            raise RequestError(
                f"no request {request_id!r} in the ledger {self.ledger_url}",
                remediation="`assay dsr status --all` lists the requests",
            )
        return request

    def listing(self, *, include_closed: bool = False) -> list[Request]:
        """Open requests (or all), overdue first, then by due date."""
        today = self.clock().date()
        found = [r for r in self.all().values() if include_closed or r.open]
        return sorted(found, key=lambda r: (not r.overdue(today), r.due, r.id))

    def due(self, within_days: int) -> Due:
        """For the nightly run: open requests due within `within_days` days or overdue
        (overdue first), and requests whose held data's hold has run out."""
        today = self.clock().date()
        every = self.all().values()
        soon = [r for r in every if r.open and (r.due - today).days <= within_days]
        expired = [r for r in every if r.expired_holds(today) and r.held_pointer is not None]
        return Due(
            today,
            sorted(soon, key=lambda r: (not r.overdue(today), r.due, r.id)),
            sorted(expired, key=lambda r: r.id),
        )

    def open_request(
        self, kind: str, identities: Sequence[Identity], received: date | None = None
    ) -> Request:
        if kind not in TYPES:
            raise RequestError(f"unknown request type {kind!r}; expected one of {', '.join(TYPES)}")
        if not identities:
            raise RequestError("a request needs at least one identity of its subject")
        now = self.clock()
        day = received or now.date()
        if day > now.date():
            raise RequestError(f"received date {day} is in the future")
        pseudonyms = tuple(sorted(i.pseudonym(self.pseudonymizer) for i in identities))
        request_id = f"DSR-{day:%Y%m%d}-{secrets.token_hex(3)}"
        self._append(
            request_id,
            State.RECEIVED.value,
            type=kind,
            subject=identities[0].pseudonym(self.pseudonymizer),
            identities=list(pseudonyms),
            received=day.isoformat(),
            due=add_months(day, 1).isoformat(),
        )
        return self.get(request_id)

    def check_subject(self, request: Request, identities: Iterable[Identity]) -> None:
        """RequestError unless one of `identities` is one the request was opened with."""
        given = {i.pseudonym(self.pseudonymizer) for i in identities}
        if not given & set(request.identities):
            raise RequestError(
                f"the identities given do not match request {request.id}'s subject",
                remediation="use an identity the request was opened with",
            )

    def advance(self, request: Request, state: State, **payload: Any) -> Request:
        """Record the move of `request` to `state`, with `payload`; RequestError if not allowed."""
        if state not in NEXT[request.state]:
            allowed = ", ".join(sorted(s.value for s in NEXT[request.state])) or "none (closed)"
            raise RequestError(
                f"request {request.id} is {request.state.value}; it cannot become {state.value} "
                f"(next: {allowed})"
            )
        self._append(request.id, state.value, type=request.type, subject=request.subject, **payload)
        return self.get(request.id)

    def annotate(self, request: Request, event: str, **payload: Any) -> None:
        """Record a fact about `request` that does not change its state (e.g. residual data)."""
        if event in STATES:
            raise RequestError(f"{event!r} is a state: use advance()")
        self._append(request.id, event, type=request.type, subject=request.subject, **payload)

    def extend(self, request: Request, months: int, reason: str) -> Request:
        if not request.open:
            raise RequestError(f"request {request.id} is {request.state.value}")
        if request.extended:
            raise RequestError(f"request {request.id} was already extended; Art. 12(3) allows once")
        if not 1 <= months <= 2:
            raise RequestError("an extension is one or two months (Art. 12(3))")
        if not reason.strip():
            raise RequestError("an extension needs the reason told to the subject")
        if self.clock().date() > request.due:
            raise RequestError(
                f"request {request.id} is already past its deadline {request.due}: the subject "
                "had to be told of an extension within the first month"
            )
        due = add_months(request.received, 1 + months)
        self._append(
            request.id, "extended", type=request.type, subject=request.subject,
            due=due.isoformat(), reason=reason,
        )  # fmt: skip
        return self.get(request.id)

    def _append(self, request_id: str, event: str, **fields: Any) -> None:
        _refuse_addresses(fields)
        record = {
            "kind": "dsr",
            "event": event,
            "at": self.clock(),
            "request": request_id,
            **fields,
        }
        # With a signing key, the step is signed in its own transaction and the checkpoint
        # copied to the checkpoint log.
        key, log = self.signer.resolve()
        with open_ledger(self.ledger_url, checkpoint_log=log) as ledger:
            ledger.append([to_record_value(record)], key=key)


def _refuse_addresses(fields: Mapping[str, Any]) -> None:
    """Free text an operator types (a verification method, a reason) must not name anyone:
    the ledger keeps it for good, beyond the reach of erasure."""
    for name, value in fields.items():
        if contains_email(value):
            raise RequestError(
                f"{name}: contains an e-mail address, which the ledger would keep for good",
                remediation="describe it without the address (the request id names the "
                "subject), e.g. 'reply from the account address'",
            )


def _indexed(ledger: Ledger) -> SqlLedger[Any]:
    """`ledger` as the keeper of a request index (every SQL ledger is one)."""
    if not isinstance(ledger, SqlLedger):
        raise LedgerError(f"ledger {redact_url(ledger.url)} keeps no request index")
    return ledger


def fold(records: Iterable[Mapping[str, Any]]) -> dict[str, Request]:
    """The requests that `records` (in seq order) make, by id; records of another kind
    are passed over."""
    requests: dict[str, Request] = {}
    for record in records:
        if record.get("kind") == "dsr":
            _fold(requests, record)
    return requests


def _fold(requests: dict[str, Request], record: Mapping[str, Any]) -> None:
    rid, event, at = record["request"], record["event"], record["at"]
    if event == State.RECEIVED.value:
        requests[rid] = Request(
            rid,
            record["type"],
            record["subject"],
            tuple(record["identities"]),
            date.fromisoformat(record["received"]),
            date.fromisoformat(record["due"]),
        )
    request = requests.get(rid)
    if request is None:
        return
    request.history.append((event, at))
    request.updated_at = at
    if event == "extended":
        request.due = date.fromisoformat(record["due"])
        request.extended = True
    if event == STORE_ERASED:
        request.stores_done[record["store"]] = at
    if "deferred" in record:  # completed, rejected under a hold, or held data erased
        request.deferred = list(record["deferred"])
        request.held_pointer = record.get("held_pointer")
    if event not in STATES:
        return  # an annotation: the state stays
    request.state = State(event)
    if event == State.PLANNED.value and record.get("dry_run") is False:
        request.unconfirmed_plan = dict(record)
    elif event != State.PLANNED.value:
        request.unconfirmed_plan = None
    if "reason" in record:
        request.reason = record["reason"]
