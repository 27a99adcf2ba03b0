"""What a ledger stores, and how an entry becomes a link in the hash chain.

Every backend seals entries here, so the body layout (the entry's fields plus ``v``,
``seq`` and ``prev``) and the hash are defined once.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assay.errors import AssayError, ExitCode
from assay.evidence.canonical import CanonicalError, canonical, parse_canonical
from assay.evidence.merkle import Frontier, leaf_hash

if TYPE_CHECKING:
    from assay.evidence.checkpoint import Checkpoint

RECORD_VERSION = 1
GENESIS_PREV = "0" * 64
"""The `prev` of record 0: there is no previous body to hash."""
RESERVED_KEYS = frozenset({"v", "seq", "prev"})
KEY_ROTATED = "key_rotated"
"""The kind of the record that moves a ledger to a new signing key (see `signing`)."""
TAIL_ADOPTED = "tail_adopted"
"""The kind of the record by which a key holder signs records appended without a checkpoint."""
_SECRET_PARAM = re.compile(r"([?&](?:password|passwd|pwd|sslpassword)=)[^&#]*", re.IGNORECASE)
# libpq key=value form: a value is a word, or single-quoted with backslash escapes.
_SECRET_KEYWORD = re.compile(
    r"(\b(?:password|sslpassword)\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)", re.IGNORECASE
)


def claimed_time(body: Mapping[str, Any]) -> str | None:
    """The time a record claims for itself: ``observed_at`` where the record has it (a
    result), else ``at``; None unless that is a string."""
    claimed = body.get("observed_at", body.get("at"))
    return claimed if type(claimed) is str else None


class LedgerError(AssayError):
    """A ledger could not be opened, read or written, or an entry cannot be appended.

    The message names the ledger (with any password redacted) or the entry, and why.
    """


class LedgerDamagedError(LedgerError):
    """The ledger's storage is not what a ledger holds: a table is missing, the file is
    not a database or is corrupt. The evidence itself is in question (exit 4)."""

    exit_code = ExitCode.EVIDENCE


def redact_url(url: str) -> str:
    """`url` with any password as ``***``: in the userinfo or a password query parameter
    of a URL, or the ``password=`` keyword of a libpq key=value connection string.

    Use it in every message that shows a ledger URL. When unsure where the userinfo
    ends, it redacts more rather than less.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _SECRET_KEYWORD.sub(r"\1***", url)
    userinfo, at, host = rest.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{host}"
    return _SECRET_PARAM.sub(r"\1***", f"{scheme}{sep}{rest}")


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One record as stored: its position, the hex SHA-256 of `body`, and the exact bytes.

    A record read back from a ledger carries the stored hash column, which `verify`
    checks against `body`; nothing here recomputes it.
    """

    seq: int
    hash: str
    body: bytes

    @property
    def record(self) -> dict[str, Any]:
        """The body parsed; raises CanonicalError if the bytes are not a canonical record."""
        return parse_canonical(self.body)


Row = tuple[int, bytes, bytes]
"""A stored record as the verifier reads it, with no object per record: seq, the stored
hash column (empty where there is none, as in a bundle) and the stored body."""


@dataclass(frozen=True, slots=True)
class Batch:
    """Consecutive records as the verifier reads them, with no object per record: `data`
    holds a line for each of `count` records, its stored hash (32 bytes, where one is
    stored) and body, ended by a newline (the last one's may be left off), for the check
    of a whole batch at once (`_scan.scan`); `rows` reads them again as `Row`s for the walk
    that names a bad one. `data` is None when the read already shows the rows are not
    `count` consecutive records with hashes of the right size."""

    count: int
    data: bytes | memoryview | None
    rows: Callable[[], list[Row]]


Take = Callable[[int, int], "Batch | None"]
"""Where a walk reads records from: up to ``count`` of them from seq ``first`` as one
`Batch`, None when there are none (`Ledger.batch`, `verify.row_batches`)."""


@dataclass(frozen=True)
class Appended:
    """What one `append` stored: `count` records from seq `first`, the hash of the last
    (`head`, None when the batch was empty), and the checkpoint signed in the same
    transaction (None when no signing key was given).

    It keeps none of the records, so a batch of any size costs the caller no more
    memory than this; `Ledger.records(first)` reads them back.
    """

    first: int
    count: int
    head: str | None
    checkpoint: Checkpoint | None = None


def seal(entry: Mapping[str, Any], seq: int, prev: str) -> StoredRecord:
    """The record for `entry` at position `seq`, linked to the body whose hash is `prev`.

    Raises LedgerError if `entry` is not a mapping or sets a reserved key (``v``,
    ``seq``, ``prev``), CanonicalError if it is outside the record profile.
    """
    if not isinstance(entry, Mapping):
        raise LedgerError(f"entry is {type(entry).__name__}, expected a mapping")
    reserved = RESERVED_KEYS.intersection(entry)
    if reserved:
        raise LedgerError(
            f"entry sets reserved key(s) {', '.join(sorted(reserved))}: "
            "the ledger assigns v, seq and prev"
        )
    body = canonical({**entry, "v": RECORD_VERSION, "seq": seq, "prev": prev})
    return StoredRecord(seq=seq, hash=record_hash(body), body=body)


def seal_batch(
    entries: Sequence[Mapping[str, Any]], first_seq: int, prev: str
) -> list[StoredRecord]:
    """Seal `entries` as consecutive records starting at `first_seq` after the hash `prev`.

    Errors name the failing entry's index in the batch; nothing is returned partially.
    """
    sealed: list[StoredRecord] = []
    for index, entry in enumerate(entries):
        try:
            record = seal(entry, first_seq + index, prev)
        except (LedgerError, CanonicalError) as exc:
            raise type(exc)(f"entry {index} of the batch: {exc}") from None
        sealed.append(record)
        prev = record.hash
    return sealed


def record_hash(body: bytes) -> str:
    """The hex SHA-256 of stored bytes: what the next record's `prev` must equal."""
    return hashlib.sha256(body).hexdigest()


def tree_nodes(
    records: Sequence[StoredRecord], frontier: Sequence[bytes]
) -> list[tuple[int, int, bytes]]:
    """The ``(level, index, hash)`` Merkle nodes that appending `records` completes.

    `frontier` holds the stored hashes of `merkle.frontier_keys(records[0].seq)`: the
    complete subtrees of the log before the batch. A backend writes the result in the
    same transaction as the records.
    """
    return grow_tree(records, frontier)[0]


def grow_tree(
    records: Sequence[StoredRecord], frontier: Sequence[bytes]
) -> tuple[list[tuple[int, int, bytes]], bytes]:
    """`tree_nodes`, and the root of the tree once `records` are appended."""
    if not records:
        raise ValueError("no records to grow the tree with")
    tree = Frontier(records[0].seq, frontier)
    nodes = [node for record in records for node in tree.append(leaf_hash(record.body))]
    return nodes, tree.root()
