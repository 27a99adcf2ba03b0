"""The checkpoint a keyed append signs inside its own transaction, and what it refuses.

A backend's ``append(entries, key=...)`` calls `check_writer` inside its transaction,
once it holds the write lock and before writing (reading through the transaction, a
`TreeReader`), then stores the records, their tree nodes and the checkpoint `sign_tree`
makes of the grown tree before committing. So a record is never stored without the
checkpoint that signs it: no legitimate unsigned tail can arise, and one that exists
was written by someone without the key. A keyed writer refuses to build on such a
tail, or on a log it cannot continue (another origin, another key with the same name,
records removed, a rewritten tree, a rotation away from its key), until the tail is
adopted on purpose (`signing.sign_checkpoint`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from assay.evidence import merkle
from assay.evidence.checkpoint import Checkpoint, checkpoint_text
from assay.evidence.keys import SigningKey
from assay.evidence.merkle import NodeFetch, NodeKey
from assay.evidence.note import NoteError, open_note, sign_note
from assay.evidence.record import KEY_ROTATED, LedgerError, StoredRecord

ADOPT_HINT = "adopt them on purpose with: assay evidence checkpoint --sign --adopt-tail"


class TreeReader(Protocol):
    """What the checks read: a ledger, or a backend's view inside its transaction."""

    def latest_checkpoint(self) -> Checkpoint | None: ...

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]: ...

    def records(self, start: int = 0) -> Iterable[StoredRecord]: ...


def unsigned_tail(latest: Checkpoint | None, size: int) -> tuple[int, int] | None:
    """The records ``[start, end)`` no signed checkpoint covers, or None."""
    signed = 0 if latest is None else latest.size
    return (signed, size) if size > signed else None


def describe_tail(tail: tuple[int, int], latest: Checkpoint | None) -> str:
    """``records 41..43 were appended after the last signed checkpoint (size 41)``."""
    start, end = tail
    what = f"record {start} was" if end - start == 1 else f"records {start}..{end - 1} were"
    if latest is None:
        return f"{what} appended before any signed checkpoint"
    return f"{what} appended after the last signed checkpoint (size {latest.size})"


def rotations(reader: TreeReader, since: int) -> list[tuple[int, dict[str, Any]]]:
    """(seq, body) of the key_rotated records from seq `since` on."""
    # Canonical bodies spell the kind exactly so; parse only the records that might be one.
    marker = f'"kind":"{KEY_ROTATED}"'.encode()
    found = []
    for record in reader.records(since):
        if marker in record.body and record.record.get("kind") == KEY_ROTATED:
            found.append((record.seq, record.record))
    return found


def check_stored_tree(checkpoint: Checkpoint, nodes: NodeFetch, consequence: str) -> None:
    """LedgerError unless the stored tree (`nodes`) gives `checkpoint`'s root at its size;
    the message says what the tree gives and `consequence`."""
    if not checkpoint.size:
        return
    stored = merkle.root(nodes, checkpoint.size)
    if stored != checkpoint.root:
        raise LedgerError(
            f"the stored tree gives root {stored.hex()} at size {checkpoint.size}, but "
            f"checkpoint {checkpoint.label} signs {checkpoint.root.hex()}: {consequence}"
        )


def check_continuity(
    reader: TreeReader, key: SigningKey, latest: Checkpoint, size: int, *, rotated: bool = True
) -> None:
    """Refuse to sign what would not verify: another key's log, a shrunken or altered tree,
    or (with `rotated`) a log whose key was rotated away from `key`."""
    if latest.origin != key.name:
        raise LedgerError(
            f"this ledger is signed under origin {latest.origin!r}, not {key.name!r}: sign "
            "with that key, or rotate to this one (assay evidence rotate-key)"
        )
    try:
        open_note(latest.note, [key.verifier])
    except NoteError:
        raise LedgerError(
            f"the latest checkpoint {latest.label} is not signed by {key.verifier}: "
            "a different key with the same name"
        ) from None
    if size < latest.size:
        raise LedgerError(
            f"the ledger has {size} records but checkpoint {latest.label} covers "
            f"{latest.size}: records were removed; refusing to sign"
        )
    check_stored_tree(latest, reader.nodes, "refusing to sign")
    if not rotated:
        return
    # From the record before it: a rotation may have died after its final checkpoint.
    found = rotations(reader, max(latest.size - 1, 0))
    if any(body.get("from") == str(key.verifier) for _, body in found):
        raise LedgerError(
            f"a key rotation away from {key.name!r} is recorded after checkpoint "
            f"{latest.label}: finish it with assay evidence rotate-key"
        )


def check_writer(
    reader: TreeReader, key: SigningKey, size: int, adopt: tuple[int, int] | None = None
) -> Checkpoint | None:
    """Raise LedgerError unless `key` may append to a log of `size` records and sign it.

    The log's latest checkpoint must be this key's and still hold (`check_continuity`),
    and every record must be covered by it: an unsigned tail is refused unless `adopt`
    names exactly that tail. Returns the latest checkpoint (None for a log never signed).
    """
    latest = reader.latest_checkpoint()
    if latest is not None:
        check_continuity(reader, key, latest, size)
    tail = unsigned_tail(latest, size)
    if tail != adopt:
        if tail is None:
            raise LedgerError("there is no unsigned tail to adopt: every record is signed")
        if adopt is None:
            raise LedgerError(f"{describe_tail(tail, latest)}; {ADOPT_HINT}")
        raise LedgerError(
            f"the unsigned tail changed while adopting it: {describe_tail(tail, latest)}; "
            "run the adoption again"
        )
    return latest


def sign_tree(key: SigningKey, size: int, root: bytes) -> Checkpoint:
    """A checkpoint of the tree of `size` records with `root`, signed by `key`."""
    note = sign_note(checkpoint_text(key.name, size, root), [key])
    return Checkpoint(key.name, size, root, note)
