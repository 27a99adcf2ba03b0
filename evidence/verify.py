"""Offline verification of a hash chain of stored records.

`verify` streams records once, keeping only the previous hash, and runs each through a
chain of small checks. Every check raises one VerificationError saying what it got and
what it expected; the first one raised ends verification and names the first bad seq.

It hashes the stored bytes and never re-encodes for hashing. A bare chain cannot see a
truncated tail or a rewrite from some record to the end; signed checkpoints (a later
layer) catch those.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from assay.evidence.canonical import CanonicalError, parse_canonical
from assay.evidence.record import GENESIS_PREV, RECORD_VERSION, StoredRecord, record_hash


class VerificationError(Exception):
    """Record `seq` fails a check; `message` says what was got and what was expected."""

    def __init__(self, seq: int, message: str) -> None:
        super().__init__(f"seq {seq}: {message}")
        self.seq = seq
        self.message = message


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """The outcome of `verify`.

    `records` counts records that passed every check (on failure, those before the bad
    one); `head` is the hash of the last of them (None if none). `error` is set exactly
    when `ok` is False; its str reads ``seq <n>: <what> got <X>, expected <Y>``.
    """

    ok: bool
    records: int
    head: str | None
    error: VerificationError | None = None

    @property
    def first_bad_seq(self) -> int | None:
        return None if self.error is None else self.error.seq

    @property
    def message(self) -> str | None:
        return None if self.error is None else self.error.message

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready fields: ok, records, head, first_bad_seq, message."""
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "message": self.message,
        }


def check_position(record: StoredRecord, expected_seq: int) -> None:
    """Rows are numbered 0, 1, 2, ... with no gap (deleted) or repeat (inserted)."""
    if record.seq != expected_seq:
        raise VerificationError(expected_seq, f"row seq got {record.seq}, expected {expected_seq}")


def check_stored_hash(record: StoredRecord, digest: str) -> None:
    """The stored hash column equals the SHA-256 of the stored body."""
    if record.hash != digest:
        raise VerificationError(
            record.seq,
            f"stored hash got {record.hash}, expected {digest} (SHA-256 of the stored body)",
        )


def parse_body(record: StoredRecord) -> dict[str, Any]:
    """The body is exactly the canonical encoding of a JSON object with unique keys."""
    try:
        return parse_canonical(record.body)
    except CanonicalError as exc:
        raise VerificationError(record.seq, f"body is not a canonical record: {exc}") from None


def _field(body: dict[str, Any], name: str) -> str:
    return repr(body[name]) if name in body else "nothing"


def check_version(record: StoredRecord, body: dict[str, Any]) -> None:
    """The body says which record layout it follows, and it is one we know."""
    # `type(...) is int` because True == 1 in Python, and JSON true is not 1.
    if type(body.get("v")) is not int or body["v"] != RECORD_VERSION:
        raise VerificationError(
            record.seq, f"body v got {_field(body, 'v')}, expected {RECORD_VERSION}"
        )


def check_body_seq(record: StoredRecord, body: dict[str, Any]) -> None:
    """The seq inside the hashed body matches the row's position."""
    if type(body.get("seq")) is not int or body["seq"] != record.seq:
        raise VerificationError(
            record.seq, f"body seq got {_field(body, 'seq')}, expected {record.seq}"
        )


def check_prev(record: StoredRecord, body: dict[str, Any], expected_prev: str) -> None:
    """The body links to the hash of the previous stored body."""
    if body.get("prev") != expected_prev:
        of = "genesis value" if record.seq == 0 else f"hash of record {record.seq - 1}"
        raise VerificationError(
            record.seq, f"body prev got {_field(body, 'prev')}, expected {expected_prev} ({of})"
        )


def verify(records: Iterable[StoredRecord]) -> VerifyReport:
    """Verify a chain read from the start (seq 0), stopping at the first bad record.

    Checks, per record and in this order: the row's seq continues the sequence, the
    stored hash matches the body's SHA-256, the body is canonical with unique keys,
    ``v`` is 1, the body's ``seq`` matches, and ``prev`` is the previous body's hash.
    Memory stays flat however many records are streamed.
    """
    verified = 0
    head: str | None = None
    prev = GENESIS_PREV
    for record in records:
        digest = record_hash(record.body)
        try:
            check_position(record, verified)
            check_stored_hash(record, digest)
            body = parse_body(record)
            check_version(record, body)
            check_body_seq(record, body)
            check_prev(record, body, prev)
        except VerificationError as failure:
            return VerifyReport(ok=False, records=verified, head=head, error=failure)
        verified += 1
        head = prev = digest
    return VerifyReport(ok=True, records=verified, head=head)
