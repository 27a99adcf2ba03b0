"""Signing a ledger's checkpoints, and rotating its key, through the `Ledger` protocol.

One origin is signed by one key. Rotating the key starts a new origin and is itself a
ledger record (``kind: key_rotated``, naming both public keys), covered by a final
checkpoint under the old key and a first one under the new key, both at the size that
ends with the rotation record: a verifier that trusts the old key can follow it.
"""

from __future__ import annotations

from typing import Any

from assay.evidence import merkle
from assay.evidence.checkpoint import Checkpoint, checkpoint_text
from assay.evidence.keys import SigningKey, check_name
from assay.evidence.ledger import Ledger
from assay.evidence.note import NoteError, open_note, sign_note
from assay.evidence.record import KEY_ROTATED, LedgerError


def _size(ledger: Ledger) -> int:
    """The tree size: records 0..head. (Cheaper than counting rows on a large ledger.)"""
    head = ledger.head()
    return 0 if head is None else head.seq + 1


def _rotations(ledger: Ledger, since: int) -> list[tuple[int, dict[str, Any]]]:
    """(seq, body) of the key_rotated records from seq `since` on."""
    # Canonical bodies spell the kind exactly so; parse only the records that might be one.
    marker = f'"kind":"{KEY_ROTATED}"'.encode()
    found = []
    for record in ledger.records(since):
        if marker in record.body and record.record.get("kind") == KEY_ROTATED:
            found.append((record.seq, record.record))
    return found


def _check_continuity(ledger: Ledger, key: SigningKey, latest: Checkpoint, size: int) -> None:
    """Refuse to sign what would not verify: another key's log, a shrunken or altered tree."""
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
    stored = merkle.root(ledger.nodes, latest.size)
    if stored != latest.root:
        raise LedgerError(
            f"the stored tree gives root {stored.hex()} at size {latest.size}, but "
            f"checkpoint {latest.label} signed {latest.root.hex()}; refusing to sign"
        )


def _sign_at(ledger: Ledger, key: SigningKey, size: int) -> Checkpoint:
    root = merkle.root(ledger.nodes, size)
    note = sign_note(checkpoint_text(key.name, size, root), [key])
    checkpoint = Checkpoint(key.name, size, root, note)
    ledger.add_checkpoint(checkpoint)
    return checkpoint


def check_signing_key(ledger: Ledger, key: SigningKey) -> Checkpoint | None:
    """Raise LedgerError unless `key` may sign this ledger's next checkpoint.

    It may when the ledger has no checkpoint yet, or when its latest checkpoint is this
    key's, the ledger still holds that checkpoint's records and root, and no rotation
    away from the key is recorded since. Returns that latest checkpoint (or None). Call
    it before appending, so a wrong key stops a run before it writes anything.
    """
    latest = ledger.latest_checkpoint()
    if latest is None:
        return None
    _check_continuity(ledger, key, latest, _size(ledger))
    # From the record before it: a rotation may have died after its final checkpoint.
    rotations = _rotations(ledger, max(latest.size - 1, 0))
    if any(body.get("from") == str(key.verifier) for _, body in rotations):
        raise LedgerError(
            f"a key rotation away from {key.name!r} is recorded after checkpoint "
            f"{latest.label}: finish it with assay evidence rotate-key"
        )
    return latest


def sign_checkpoint(ledger: Ledger, key: SigningKey) -> Checkpoint:
    """Sign and store a checkpoint of the ledger as it is now; returns it.

    Returns the latest checkpoint instead when it already covers every record. Raises
    LedgerError as `check_signing_key` does.
    """
    latest = check_signing_key(ledger, key)
    size = _size(ledger)
    if latest is not None and size == latest.size:
        return latest
    return _sign_at(ledger, key, size)


def rotate_key(
    ledger: Ledger, old: SigningKey, new: SigningKey, at: str
) -> tuple[Checkpoint, Checkpoint]:
    """Move the ledger from `old` to `new` (a new origin); returns (final old, first new).

    Appends a ``key_rotated`` record naming both public keys, then signs a checkpoint
    covering exactly the log up to that record with each key. Re-running after a crash
    resumes the rotation already recorded instead of recording another.
    """
    check_name(new.name)
    if new.name == old.name:
        raise LedgerError(
            f"the new key is also named {old.name!r}: a rotation starts a new origin, "
            "so generate the new key with another --origin"
        )
    latest = ledger.latest_checkpoint()
    if latest is None:
        raise LedgerError("the ledger has no checkpoint yet: sign one before rotating keys")
    if latest.origin == new.name:
        return _finished_rotation(ledger, old, new, latest)
    _check_continuity(ledger, old, latest, _size(ledger))
    entry = {"kind": KEY_ROTATED, "at": at, "from": str(old.verifier), "to": str(new.verifier)}
    seq = None
    # From the last record the old key signed: a crash may have come after its final
    # checkpoint, or before.
    for found, body in _rotations(ledger, max(latest.size - 1, 0)):
        if (body.get("from"), body.get("to")) == (entry["from"], entry["to"]):
            seq = found
            break
        if found >= latest.size:
            raise LedgerError(f"record {found} already rotates to {body.get('to')}")
    if seq is None:
        seq = ledger.append([entry])[0].seq
    return _sign_at(ledger, old, seq + 1), _sign_at(ledger, new, seq + 1)


def _finished_rotation(
    ledger: Ledger, old: SigningKey, new: SigningKey, latest: Checkpoint
) -> tuple[Checkpoint, Checkpoint]:
    try:
        open_note(latest.note, [new.verifier])
    except NoteError:
        raise LedgerError(
            f"the latest checkpoint {latest.label} is not signed by {new.verifier}"
        ) from None
    stored = ledger.checkpoints()
    finals = [c for c in stored if c.origin == old.name]
    firsts = [c for c in stored if c.origin == new.name]
    if not finals:
        raise LedgerError(f"the ledger holds no checkpoint under {old.name!r}")
    return max(finals, key=lambda c: c.size), min(firsts, key=lambda c: c.size)
