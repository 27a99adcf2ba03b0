"""The request lifecycle in the ledger: states, deadlines, extensions, pseudonymous subjects."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from assay.evidence import Pseudonymizer, open_ledger, verify
from assay.gdpr import Identity, RequestBook, RequestError, State

ALICE = [Identity("email", "alice@example.com"), Identity("customer_id", 1)]


class Clock:
    def __init__(self, day: date) -> None:
        self.now = datetime(day.year, day.month, day.day, 9, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def set(self, day: date) -> None:
        self.now = self.now.replace(year=day.year, month=day.month, day=day.day)


@pytest.fixture
def clock() -> Clock:
    return Clock(date(2024, 1, 31))


@pytest.fixture
def book(tmp_path: Path, clock: Clock) -> RequestBook:
    return RequestBook(f"sqlite:///{tmp_path / 'ledger.db'}", Pseudonymizer(b"k" * 32), clock)


def test_a_request_is_due_one_calendar_month_after_receipt(book: RequestBook) -> None:
    request = book.open_request("erasure", ALICE)
    assert request.state == State.RECEIVED
    assert (request.received, request.due) == (date(2024, 1, 31), date(2024, 2, 29))
    assert book.open_request("access", ALICE, received=date(2023, 12, 15)).due == date(2024, 1, 15)


def test_states_move_forward_only_and_closed_requests_stay_closed(book: RequestBook) -> None:
    request = book.open_request("erasure", ALICE)
    with pytest.raises(RequestError, match="cannot become planned"):
        book.advance(request, State.PLANNED)
    request = book.advance(request, State.VERIFIED, method="reply from the account address")
    request = book.advance(request, State.PLANNED)
    request = book.advance(request, State.EXECUTED)
    request = book.advance(request, State.COMPLETED)
    with pytest.raises(RequestError, match=r"completed; it cannot become rejected \(next: none"):
        book.advance(request, State.REJECTED, reason="too late")
    assert [e for e, _ in book.get(request.id).history] == [
        "received", "verified", "planned", "executed", "completed",
    ]  # fmt: skip


def test_a_rejection_keeps_its_reason(book: RequestBook) -> None:
    request = book.open_request("access", ALICE)
    book.advance(request, State.REJECTED, reason="identity not verified after two reminders")
    got = book.get(request.id)
    assert got.state == State.REJECTED and not got.open
    assert got.reason == "identity not verified after two reminders"


def test_an_extension_is_once_by_at_most_two_months_within_the_first(
    book: RequestBook, clock: Clock
) -> None:
    request = book.open_request("erasure", ALICE)
    with pytest.raises(RequestError, match="one or two months"):
        book.extend(request, 3, "complex")
    with pytest.raises(RequestError, match="needs the reason"):
        book.extend(request, 2, "  ")
    extended = book.extend(request, 2, "many systems to search")
    assert extended.due == date(2024, 4, 30) and extended.extended
    with pytest.raises(RequestError, match="already extended"):
        book.extend(extended, 1, "again")
    late = book.open_request("access", ALICE)
    clock.set(date(2024, 3, 5))
    with pytest.raises(RequestError, match="past its deadline"):
        book.extend(late, 2, "forgot")


def test_status_lists_open_requests_overdue_first(book: RequestBook, clock: Clock) -> None:
    old = book.open_request("access", ALICE, received=date(2023, 12, 1))
    new = book.open_request("erasure", ALICE)
    done = book.open_request("access", ALICE)
    book.advance(done, State.REJECTED, reason="duplicate")
    listing = book.listing()
    assert [r.id for r in listing] == [old.id, new.id]
    assert listing[0].overdue(clock().date()) and not listing[1].overdue(clock().date())
    assert listing[0].as_dict(clock().date())["days_left"] == -30
    assert {r.id for r in book.listing(include_closed=True)} == {old.id, new.id, done.id}


def test_records_carry_pseudonyms_never_identities(book: RequestBook, tmp_path: Path) -> None:
    request = book.open_request("erasure", ALICE)
    book.check_subject(request, [Identity("customer_id", 1)])
    with pytest.raises(RequestError, match="do not match"):
        book.check_subject(request, [Identity("email", "bob@example.com")])
    with open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}") as ledger:
        [stored] = list(ledger.records())
        assert verify(ledger.records()).ok
    record = stored.record
    assert record["kind"] == "dsr" and record["event"] == "received"
    assert record["subject"].startswith("hmac-sha256:") and len(record["identities"]) == 2
    assert b"alice" not in stored.body


def test_unknown_requests_and_types_are_named(book: RequestBook) -> None:
    with pytest.raises(RequestError, match="no request 'DSR-nope'"):
        book.get("DSR-nope")
    with pytest.raises(RequestError, match="unknown request type 'deletion'"):
        book.open_request("deletion", ALICE)
    with pytest.raises(RequestError, match="in the future"):
        book.open_request("access", ALICE, received=date(2030, 1, 1))


def test_requests_are_read_through_the_ledgers_index_alone(
    book: RequestBook, tmp_path: Path
) -> None:
    """The queue folds the request steps the ledger's index points at, and nothing else:
    a run record made unreadable behind the ledger's back does not trouble it (a full
    scan would stop there), while a step the index no longer lists drops out of it."""
    bob = [Identity("email", "bob@example.com")]
    first = book.open_request("access", ALICE)
    with open_ledger(book.ledger_url) as ledger:
        ledger.append([{"kind": "result", "run": "r-1", "status": "pass"}])
    second = book.open_request("erasure", bob)
    book.advance(first, State.VERIFIED, method="reply")
    raw = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    for (trigger,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
        raw.execute(f"DROP TRIGGER {trigger}")
    raw.execute("UPDATE records SET body = ? WHERE seq = 1", (b"not a record",))
    assert {r.id: r.state for r in book.listing()} == {
        first.id: State.VERIFIED,
        second.id: State.RECEIVED,
    }
    assert book.get(first.id).history[-1][0] == "verified"
    raw.execute("DELETE FROM dsr_records WHERE seq = (SELECT max(seq) FROM dsr_records)")
    raw.close()
    assert book.get(first.id).state == State.RECEIVED
