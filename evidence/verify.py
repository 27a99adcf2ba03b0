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
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from assay.evidence._scan import scan
from assay.evidence.canonical import CanonicalError, parse_canonical
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.merkle import HASH_SIZE, Frontier, fold, leaf_hash
from assay.evidence.record import (
    GENESIS_PREV,
    KEY_ROTATED,
    RECORD_VERSION,
    TAIL_ADOPTED,
    Batch,
    Row,
    StoredRecord,
    Take,
    claimed_time,
)

if TYPE_CHECKING:
    from assay.evidence.proven_time import TimeBounds

BATCH_LEVEL = 9
BATCH = 1 << BATCH_LEVEL
"""Records checked together: every per-record check in one call (`_scan.scan`, in C), and,
when they fill an aligned subtree, its stored nodes a level at a time."""

RUN_AHEAD = 1 << 14
"""Leaves' worth of a tree level the walk reads in one query, to compare batches with."""

_NOTED_KINDS = (KEY_ROTATED.encode(), TAIL_ADOPTED.encode())


TreeLevel = Callable[[int, int], Iterator[tuple[int, bytes]]]
"""Stored ``(index, hash)`` nodes of tree level ``level`` from index ``start`` on, in order
(`Ledger.tree_level`)."""


class TreeStore(Protocol):
    """Where a walk reads the stored tree from: a ledger."""

    def tree_level(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]: ...

    def tree_run(self, level: int, start: int, stop: int) -> bytes: ...


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


def check_position(row: Row, expected_seq: int) -> None:
    """Rows are numbered 0, 1, 2, ... with no gap (deleted) or repeat (inserted)."""
    if row[0] != expected_seq:
        raise VerificationError(expected_seq, f"row seq got {row[0]}, expected {expected_seq}")


def check_stored_hash(row: Row, digest: str) -> None:
    """The stored hash column equals the SHA-256 of the stored body."""
    if row[1].hex() != digest:
        raise VerificationError(
            row[0],
            f"stored hash got {row[1].hex()}, expected {digest} (SHA-256 of the stored body)",
        )


def parse_body(row: Row) -> dict[str, Any]:
    """The body is exactly the canonical encoding of a JSON object with unique keys."""
    try:
        return parse_canonical(row[2])
    except CanonicalError as exc:
        raise VerificationError(row[0], f"body is not a canonical record: {exc}") from None


def _field(body: dict[str, Any], name: str) -> str:
    return repr(body[name]) if name in body else "nothing"


def check_version(seq: int, body: dict[str, Any]) -> None:
    """The body says which record layout it follows, and it is one we know."""
    # `type(...) is int` because True == 1 in Python, and JSON true is not 1.
    if type(body.get("v")) is not int or body["v"] != RECORD_VERSION:
        raise VerificationError(seq, f"body v got {_field(body, 'v')}, expected {RECORD_VERSION}")


def check_body_seq(seq: int, body: dict[str, Any]) -> None:
    """The seq inside the hashed body matches the row's position."""
    if type(body.get("seq")) is not int or body["seq"] != seq:
        raise VerificationError(seq, f"body seq got {_field(body, 'seq')}, expected {seq}")


def check_prev(seq: int, body: dict[str, Any], expected_prev: str) -> None:
    """The body links to the hash of the previous stored body."""
    if body.get("prev") != expected_prev:
        of = "genesis value" if seq == 0 else f"hash of record {seq - 1}"
        raise VerificationError(
            seq, f"body prev got {_field(body, 'prev')}, expected {expected_prev} ({of})"
        )


@dataclass
class StoredTree:
    """Compares the nodes a walk completes with the stored ones, one stream per level.

    Each level is read in index order as the walk reaches it, so memory stays flat:
    one page per level. `shift` is the seq of the walk's first leaf when its frontier
    counts from there (a chunk), to make indexes absolute.
    """

    def __init__(self, store: TreeStore, shift: int = 0) -> None:
        self._store = store
        self._level_of = store.tree_level
        self._shift = shift
        self._streams: dict[int, Iterator[tuple[int, bytes]]] = {}
        self._runs: dict[int, tuple[int, int, bytes]] = {}
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

    def run(self, level: int, index: int, nodes: bytes) -> None:
        """Check consecutive nodes of one level, concatenated, from `index` on (a full
        batch's subtree): compared with a run read ahead, RUN_AHEAD leaves' worth a query;
        only a mismatch reads them again one by one to say which."""
        index += self._shift >> level
        # The level's next node after these is read afresh, wherever it is.
        self._streams.pop(level, None)
        count = len(nodes) // HASH_SIZE
        start, stop, run = self._runs.get(level, (0, 0, b""))
        if not start <= index <= index + count <= stop:
            start, stop = index, index + max(count, RUN_AHEAD >> level)
            run = self._store.tree_run(level, start, stop)
            self._runs[level] = (start, stop, run)
        at = (index - start) * HASH_SIZE
        if run[at : at + len(nodes)] == nodes:
            return
        stored = self._level_of(level, index)
        for at, value in enumerate(_hashes_of(nodes), index):
            node = next(stored, None)
            if node != (at, value):
                self._fail(level, at, value, node)
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


def _hashes_of(nodes: bytes) -> list[bytes]:
    """Concatenated hashes (a level of `_scan.scan`'s subtree), one by one."""
    return [nodes[at : at + HASH_SIZE] for at in range(0, len(nodes), HASH_SIZE)]


def row_batches(rows: Iterable[Row]) -> Take:
    """`rows` with their stored hashes read as batches (a `Take`), for a walk over rows
    from anywhere: taken in order, whatever seq is asked for, so a row out of place is
    found by the walk."""
    pending = iter(rows)

    def take(first: int, count: int) -> Batch | None:
        taken = list(islice(pending, count))
        if not taken:
            return None
        sound = all(
            row[0] == seq
            and type(row[1]) is bytes
            and len(row[1]) == HASH_SIZE
            and type(row[2]) is bytes
            for seq, row in enumerate(taken, first)
        )
        if not sound:
            return Batch(len(taken), None, lambda: taken)
        return Batch(len(taken), b"\n".join(row[1] + row[2] for row in taken), lambda: taken)

    return take


def walk(
    take: Take,
    root_sizes: Collection[int] = (),
    *,
    start: int = 0,
    prev: str = GENESIS_PREV,
    stop: int | None = None,
    frontier: Frontier | None = None,
    hashed: bool = True,
    tree: TreeStore | None = None,
    bounds: TimeBounds | None = None,
) -> Walk:
    """Verify a chain from seq `start` (whose ``prev`` must be `prev`), read a batch at a
    time from `take`, stopping at the first bad record, or before seq `stop`.

    Checks, per record and in this order: the row's seq continues the sequence, the
    stored hash matches the body's SHA-256, the body is canonical with unique keys,
    ``v`` is 1, the body's ``seq`` matches, and ``prev`` is the previous body's hash.
    Memory stays flat however many records are streamed. Tree sizes in `root_sizes`
    count from seq 0 and must be above `start` (0 is taken as the empty tree).

    With `hashed`, each line of a batch starts with the record's stored hash (32 bytes);
    without, the records carry none, as in a bundle, where lines are hashed as read.

    Given `frontier`, the tree of the leaves before `start` (it is extended in place),
    the frontiers in the result are over leaves ``[0, ...)``, and `start` itself may be
    in `root_sizes`; without it, they are over the records walked.

    Given `tree` (the ledger), every Merkle node the walk completes is
    compared with the stored one; the first that differs or is missing is
    `Walk.tree_error` (the walk goes on checking the chain).

    Given `bounds`, each record's claimed time is checked against it (`Walk.times`).
    """
    walker = _Walker(start, prev, frontier or Frontier(), root_sizes, hashed, tree, bounds)
    # Parsed records hold no cycles, so reference counting frees them all; the cyclic
    # collector would only rescan them, a large share of the time spent here.
    collecting = gc.isenabled()
    gc.disable()
    try:
        while walker.result.error is None:
            # Batches end at multiples of BATCH leaves, so a full one is a whole subtree.
            count = BATCH - walker.frontier.size % BATCH
            if stop is not None:
                count = min(count, stop - walker.expected)
            batch = take(walker.expected, count) if count > 0 else None
            if batch is None:
                break
            if not walker.batch(batch):
                walker.one_by_one(batch.rows())
    finally:
        if collecting:
            gc.enable()
    return walker.finish()


class _Walker:
    """`walk`'s state between batches. A batch whose every check passes at once is taken
    a list at a time; any doubt, and it is gone through one record at a time, which
    names the first bad one."""

    def __init__(
        self,
        start: int,
        prev: str,
        frontier: Frontier,
        root_sizes: Collection[int],
        hashed: bool,
        tree: TreeStore | None,
        bounds: TimeBounds | None,
    ) -> None:
        self.result = Walk(start=start, times=bounds)
        self.expected = start
        self.prev = prev
        self.head: str | None = None
        self.frontier = frontier
        self.sizes = sorted(root_sizes)
        self.size_set = frozenset(root_sizes)
        self.hashed = hashed
        self.stored = None if tree is None else StoredTree(tree, start - frontier.size)
        self.bounds = bounds
        if start in self.sizes and frontier.size == start:
            self.result.stacks[start] = frontier.hashes()

    def finish(self) -> Walk:
        result = self.result
        result.records = self.expected - result.start
        result.head = self.head
        result.final = self.frontier.hashes()
        return result

    def batch(self, batch: Batch) -> bool:
        """Take `batch` whole if every check passes for all of it; False if unsure."""
        if batch.data is None:
            return False
        first = self.expected
        whole = batch.count == BATCH and self.frontier.size % BATCH == 0
        found = scan(
            batch.data,
            batch.count,
            first,
            # surrogatepass: a prev no valid body can hold stays one that none matches
            self.prev.encode("utf-8", "surrogatepass"),
            self.hashed,
            self.bounds is not None,
            whole,
            RECORD_VERSION,
            _NOTED_KINDS,
        )
        if found is None:
            return False
        levels, head, noted, claimed = found
        if noted:
            rows = batch.rows()
            for index in noted:
                self.note_kind(first + index, parse_canonical(rows[index][2]))
        if claimed is not None and self.bounds is not None:
            check = self.bounds.check
            for seq, claim in enumerate(claimed, first):
                check(seq, claim)
        if whole:
            self.grow_subtree(levels)
        else:
            for leaf in _hashes_of(levels[0]):
                self.grow(leaf)
        self.head = self.prev = head
        return True

    def one_by_one(self, rows: list[Row]) -> None:
        """Check and take `rows` in order, stopping at the first that fails."""
        result, sha256 = self.result, hashlib.sha256
        for row in rows:
            expected, prev = self.expected, self.prev
            digest = sha256(row[2]).hexdigest()
            try:
                check_position(row, expected)
                if self.hashed:
                    check_stored_hash(row, digest)
                value = parse_body(row)
                check_version(expected, value)
                check_body_seq(expected, value)
                check_prev(expected, value, prev)
            except VerificationError as failure:
                result.error = failure
                return
            if self.bounds is not None:
                self.bounds.check(expected, claimed_time(value))
            self.note_kind(expected, value)
            self.grow(leaf_hash(row[2]))
            self.head = self.prev = digest

    def note_kind(self, seq: int, value: dict[str, Any]) -> None:
        kind = value.get("kind")
        if kind == KEY_ROTATED:
            self.result.rotations.append((seq, value))
        elif kind == TAIL_ADOPTED:
            self.result.adoptions.append((seq, value))

    def grow(self, leaf: bytes) -> None:
        """Take one more record's leaf into the tree (checking the nodes it completes)."""
        frontier, stored = self.frontier, self.stored
        if stored is None:
            frontier.push(leaf)
        else:
            if frontier.size & 1:  # an odd leaf completes nodes above it too
                stored.check(frontier.append(leaf))
            else:
                stored.leaf(self.expected, leaf)
                frontier.push(leaf)
            self.checked_tree()
        self.expected += 1
        if self.expected in self.size_set:
            self.result.stacks[self.expected] = frontier.hashes()

    def grow_subtree(self, levels: list[bytes]) -> None:
        """Add a full, aligned batch, given its subtree's levels from the leaves up, each
        concatenated: check its nodes a level at a time, then the nodes above it its root
        completes."""
        frontier, stored = self.frontier, self.stored
        first = self.expected
        low = bisect_right(self.sizes, first)
        inside = self.sizes[low : bisect_left(self.sizes, first + BATCH)]
        before = frontier.hashes() if inside else []
        for size in inside:
            # The frontier there: the one before the batch, then the batch's complete
            # subtrees of the leaves up to `size`, largest first.
            stack, offset = list(before), 0
            for height in range(BATCH_LEVEL - 1, -1, -1):
                if (size - first) >> height & 1:
                    at = (offset >> height) * HASH_SIZE
                    stack.append(levels[height][at : at + HASH_SIZE])
                    offset += 1 << height
            self.result.stacks[size] = stack
        if stored is not None:
            at = frontier.size
            for height, nodes in enumerate(levels):
                stored.run(height, at >> height, nodes)
                if stored.error is not None:
                    break
            self.checked_tree()
        completed = frontier.append_subtree(BATCH_LEVEL, levels[-1])
        if self.stored is not None:
            self.stored.check(completed[1:])
            self.checked_tree()
        self.expected += BATCH
        if self.expected in self.size_set:
            self.result.stacks[self.expected] = frontier.hashes()

    def checked_tree(self) -> None:
        """Move a stored tree node mismatch to the result: the first is reported, and the
        walk goes on without the stored tree."""
        if self.stored is not None and self.stored.error is not None:
            self.result.tree_error, self.stored = self.stored.error, None


def verify(records: Iterable[StoredRecord]) -> VerifyReport:
    """Verify a chain read from the start (seq 0), stopping at the first bad record.

    The checks are `walk`'s. Memory stays flat however many records are streamed.
    """
    result = walk(row_batches((r.seq, _stored_hash(r.hash), r.body) for r in records))
    return VerifyReport(
        ok=result.error is None, records=result.records, head=result.head, error=result.error
    )


def _stored_hash(text: str) -> bytes:
    try:
        return bytes.fromhex(text)
    except ValueError:  # shown as the hex of what was stored, which it then cannot match
        return text.encode()
