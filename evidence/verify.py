"""Offline verification of a hash chain of stored records.

`verify` streams records once, keeping only the previous hash and the Merkle frontier,
and runs each through a chain of small checks. Every check raises one
VerificationError saying what it got and what it expected; the first one raised ends
verification and names the first bad seq.

It hashes the stored bytes and never re-encodes for hashing. A bare chain cannot see a
truncated tail or a rewrite from some record to the end; signed checkpoints catch
those (`verify_ledger`).
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from assay.evidence.canonical import CanonicalError, parse_canonical, parse_many
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.merkle import Frontier, fold
from assay.evidence.record import (
    GENESIS_PREV,
    KEY_ROTATED,
    RECORD_VERSION,
    TAIL_ADOPTED,
    StoredRecord,
)

if TYPE_CHECKING:
    from assay.evidence.proven_time import TimeBounds

BATCH = 512
"""Records checked for canonical form together (`canonical.parse_many`)."""


class Stored(Protocol):
    """A record as `walk` reads it: a `StoredRecord`, or a bundle's line."""

    @property
    def seq(self) -> int: ...

    @property
    def hash(self) -> str: ...

    @property
    def body(self) -> bytes: ...


TreeLevel = Callable[[int, int], Iterator[tuple[int, bytes]]]
"""Stored ``(index, hash)`` nodes of tree level ``level`` from index ``start`` on, in order
(`Ledger.tree_level`)."""


class VerificationError(Exception):
    """Record `seq` fails a check; `message` says what was got and what was expected."""

    def __init__(self, seq: int, message: str) -> None:
        super().__init__(f"seq {seq}: {message}")
        self.seq = seq
        self.message = message

    def __reduce__(self) -> tuple[type[VerificationError], tuple[int, str]]:
        # Rebuilt from its fields when it crosses a process boundary.
        return (type(self), (self.seq, self.message))


class LogVerificationError(Exception):
    """Something beyond a single record fails: `where` names the checkpoint, tree or file."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message

    def __reduce__(self) -> tuple[type[LogVerificationError], tuple[str, str]]:
        # Rebuilt from its fields when it crosses a process boundary.
        return (type(self), (self.where, self.message))


class Outcome:
    """What the ledger's and the bundle's verification reports share: `error` (None
    exactly when verification succeeded) and `notes` (what was not checked)."""

    error: VerificationError | LogVerificationError | None
    notes: list[str]

    @property
    def first_bad_seq(self) -> int | None:
        return self.error.seq if isinstance(self.error, VerificationError) else None

    def outcome_fields(self) -> dict[str, Any]:
        """The JSON fields every report ends with."""
        return {
            "first_bad_seq": self.first_bad_seq,
            "problem": None if self.error is None else str(self.error),
            "notes": self.notes,
        }


def brief(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
    """A checkpoint as JSON-ready origin, size and hex root, or None."""
    return None if checkpoint is None else checkpoint.brief()


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


def check_position(record: Stored, expected_seq: int) -> None:
    """Rows are numbered 0, 1, 2, ... with no gap (deleted) or repeat (inserted)."""
    if record.seq != expected_seq:
        raise VerificationError(expected_seq, f"row seq got {record.seq}, expected {expected_seq}")


def check_stored_hash(record: Stored, digest: str) -> None:
    """The stored hash column equals the SHA-256 of the stored body."""
    if record.hash != digest:
        raise VerificationError(
            record.seq,
            f"stored hash got {record.hash}, expected {digest} (SHA-256 of the stored body)",
        )


def parse_body(record: Stored) -> dict[str, Any]:
    """The body is exactly the canonical encoding of a JSON object with unique keys."""
    try:
        return parse_canonical(record.body)
    except CanonicalError as exc:
        raise VerificationError(record.seq, f"body is not a canonical record: {exc}") from None


def _field(body: dict[str, Any], name: str) -> str:
    return repr(body[name]) if name in body else "nothing"


def check_version(record: Stored, body: dict[str, Any]) -> None:
    """The body says which record layout it follows, and it is one we know."""
    # `type(...) is int` because True == 1 in Python, and JSON true is not 1.
    if type(body.get("v")) is not int or body["v"] != RECORD_VERSION:
        raise VerificationError(
            record.seq, f"body v got {_field(body, 'v')}, expected {RECORD_VERSION}"
        )


def check_body_seq(record: Stored, body: dict[str, Any]) -> None:
    """The seq inside the hashed body matches the row's position."""
    if type(body.get("seq")) is not int or body["seq"] != record.seq:
        raise VerificationError(
            record.seq, f"body seq got {_field(body, 'seq')}, expected {record.seq}"
        )


def check_prev(record: Stored, body: dict[str, Any], expected_prev: str) -> None:
    """The body links to the hash of the previous stored body."""
    if body.get("prev") != expected_prev:
        of = "genesis value" if record.seq == 0 else f"hash of record {record.seq - 1}"
        raise VerificationError(
            record.seq, f"body prev got {_field(body, 'prev')}, expected {expected_prev} ({of})"
        )


@dataclass
class StoredTree:
    """Compares the nodes a walk completes with the stored ones, one stream per level.

    Each level is read in index order as the walk reaches it, so memory stays flat:
    one page per level. `shift` is the seq of the walk's first leaf when its frontier
    counts from there (a chunk), to make indexes absolute.
    """

    def __init__(self, level_of: TreeLevel, shift: int = 0) -> None:
        self._level_of = level_of
        self._shift = shift
        self._streams: dict[int, Iterator[tuple[int, bytes]]] = {}
        self.error: LogVerificationError | None = None

    def leaf(self, seq: int, value: bytes) -> None:
        """Check the stored leaf hash of record `seq` (the only node an even leaf completes)."""
        stream = self._streams.get(0)
        if stream is None:
            stream = self._streams[0] = self._level_of(0, seq)
        stored = next(stream, None)
        if stored is None or stored[1] != value or stored[0] != seq:
            self._fail(0, seq, value, stored)

    def check(self, nodes: list[tuple[int, int, bytes]]) -> None:
        """Check the stored nodes `Frontier.append` says a leaf completed."""
        for level, index, value in nodes:
            index += self._shift >> level
            stream = self._streams.get(level)
            if stream is None:
                stream = self._streams[level] = self._level_of(level, index)
            stored = next(stream, None)
            if stored is not None and stored[1] == value and stored[0] == index:
                continue
            self._fail(level, index, value, stored)
            return

    def _fail(self, level: int, index: int, value: bytes, stored: tuple[int, bytes] | None) -> None:
        first, last = index << level, ((index + 1) << level) - 1
        where = f"tree node (level {level}, index {index})"
        if stored is None or stored[0] != index:
            message = "is missing"
        else:
            message = f"got {stored[1].hex()}, expected {value.hex()}"
        self.error = LogVerificationError(
            "tree", f"{where} {message} (recomputed from records {first}..{last})"
        )


@dataclass
class Walk:
    """What streaming a chain found: how far it verified, and what checkpoints need.

    `records` verified from seq `start`; `head` is the hash of the last of them.
    `stacks` maps each requested tree size reached to the Merkle frontier there
    (`Frontier.hashes`) and `final` is the frontier after the last verified record:
    over the records walked, so a chunk's frontier is relative to its `start`, unless
    `walk` was handed the tree before it.
    `rotations` lists the ``key_rotated`` records as (seq, body), `adoptions` the
    ``tail_adopted`` ones. `tree_error` is the first stored tree node that differs from
    the one recomputed (when `walk` was given the stored tree). `times` holds the
    records claiming a time past their bound (when `walk` was given bounds).
    """

    start: int = 0
    records: int = 0
    head: str | None = None
    error: VerificationError | None = None
    stacks: dict[int, list[bytes]] = field(default_factory=dict)
    final: list[bytes] = field(default_factory=list)
    rotations: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    adoptions: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    tree_error: LogVerificationError | None = None
    times: TimeBounds | None = None

    @property
    def root(self) -> bytes:
        return fold(self.final)

    @property
    def roots(self) -> dict[int, bytes]:
        return {size: fold(stack) for size, stack in self.stacks.items()}

    def root_at(self, size: int) -> bytes:
        """The root at one of the sizes asked for (`roots[size]`, without folding them all)."""
        return fold(self.stacks[size])


def walk(
    records: Iterable[Stored],
    root_sizes: Collection[int] = (),
    *,
    start: int = 0,
    prev: str = GENESIS_PREV,
    stop: int | None = None,
    frontier: Frontier | None = None,
    hashed: bool = True,
    tree: TreeLevel | None = None,
    bounds: TimeBounds | None = None,
) -> Walk:
    """Verify a chain from seq `start` (whose ``prev`` must be `prev`), stopping at the first
    bad record, or before seq `stop`.

    Checks, per record and in this order: the row's seq continues the sequence, the
    stored hash matches the body's SHA-256, the body is canonical with unique keys,
    ``v`` is 1, the body's ``seq`` matches, and ``prev`` is the previous body's hash.
    Memory stays flat however many records are streamed. Tree sizes in `root_sizes`
    count from seq 0 and must be above `start` (0 is taken as the empty tree).

    With `hashed` False the records carry no stored hash column (their `hash` is not
    read), as in a bundle, where lines are hashed as they are read.

    Given `frontier`, the tree of the leaves before `start` (it is extended in place),
    the frontiers in the result are over leaves ``[0, ...)``, and `start` itself may be
    in `root_sizes`; without it, they are over the records walked.

    Given `tree` (a ledger's `tree_level`), every Merkle node the walk completes is
    compared with the stored one; the first that differs or is missing is
    `Walk.tree_error` (the walk goes on checking the chain).

    Given `bounds`, each record's claimed time is checked against it (`Walk.times`).
    """
    result = Walk(start=start, times=bounds)
    root_sizes = frozenset(root_sizes)
    if frontier is None:
        frontier = Frontier()
    stored = None if tree is None else StoredTree(tree, start - frontier.size)
    if start in root_sizes and frontier.size == start:
        result.stacks[start] = frontier.hashes()
    sha256 = hashlib.sha256
    expected = start
    head = None
    pending = iter(records)
    # Parsed records hold no cycles, so reference counting frees them all; the cyclic
    # collector would only rescan them, a large share of the time spent here.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while batch := list(islice(pending, BATCH)):
            # One canonical-form check for the batch; when it cannot vouch for every
            # record, each is parsed alone, which names the bad one.
            values = parse_many([record.body for record in batch])
            for at, record in enumerate(batch):
                if expected == stop:
                    break
                body = record.body
                digest = sha256(body).hexdigest()
                try:
                    # The common case costs a few comparisons; a failing one re-runs its
                    # check to say what was wrong.
                    if record.seq != expected:
                        check_position(record, expected)
                    if hashed and record.hash != digest:
                        check_stored_hash(record, digest)
                    value = parse_body(record) if values is None else values[at]
                    version, seq = value.get("v"), value.get("seq")
                    if type(version) is not int or version != RECORD_VERSION:
                        check_version(record, value)
                    if type(seq) is not int or seq != expected:
                        check_body_seq(record, value)
                    if value.get("prev") != prev:
                        check_prev(record, value, prev)
                except VerificationError as failure:
                    result.error = failure
                    break
                if bounds is not None:
                    bounds.check(expected, value)
                kind = value.get("kind")
                if kind == KEY_ROTATED:
                    result.rotations.append((expected, value))
                elif kind == TAIL_ADOPTED:
                    result.adoptions.append((expected, value))
                if stored is None:
                    frontier.push(sha256(b"\x00" + body).digest())
                else:
                    leaf = sha256(b"\x00" + body).digest()
                    if frontier.size & 1:  # an odd leaf completes nodes above it too
                        stored.check(frontier.append(leaf))
                    else:
                        frontier.push(leaf)
                        stored.leaf(expected, leaf)
                    if stored.error is not None:
                        result.tree_error, stored = stored.error, None
                expected += 1
                head = prev = digest
                if expected in root_sizes:
                    result.stacks[expected] = frontier.hashes()
            else:
                continue
            break  # stopped, or failed
    finally:
        if collecting:
            gc.enable()
    result.records = expected - start
    result.head = head
    result.final = frontier.hashes()
    return result


def verify(records: Iterable[StoredRecord]) -> VerifyReport:
    """Verify a chain read from the start (seq 0), stopping at the first bad record.

    The checks are `walk`'s. Memory stays flat however many records are streamed.
    """
    result = walk(records)
    return VerifyReport(
        ok=result.error is None, records=result.records, head=result.head, error=result.error
    )
