"""Signing a ledger's checkpoints, adopting an unsigned tail, and rotating its key.

A writer with a key signs as it appends: ``ledger.append(entries, key=key)`` stores the
checkpoint in the append's transaction (`signed_append`). What is left here: the first
checkpoint of an empty ledger, adopting records appended without a checkpoint (on
purpose, as a ``tail_adopted`` record of its own), and rotation.

One origin is signed by one key. Rotating the key starts a new origin and is itself a
ledger record (``kind: key_rotated``, naming both public keys), covered by a final
checkpoint under the old key and a first one under the new key, both at the size that
ends with the rotation record: a verifier that trusts the old key can follow it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from assay.evidence import merkle
from assay.evidence.attest import Attestation, AttestingLog
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.checkpoint_log import CheckpointLog, resolve_checkpoint_log
from assay.evidence.keys import SigningKey, SigningKeyError, check_name, resolve_signing_key
from assay.evidence.ledger import Ledger
from assay.evidence.note import NoteError, open_note
from assay.evidence.record import KEY_ROTATED, TAIL_ADOPTED, LedgerError
from assay.evidence.signed_append import (
    check_continuity,
    check_stored_tree,
    check_writer,
    rotations,
    sign_tree,
    unsigned_tail,
)


def _size(ledger: Ledger) -> int:
    """The tree size: records 0..head. (Cheaper than counting rows on a large ledger.)"""
    head = ledger.head()
    return 0 if head is None else head.seq + 1


def _sign_at(ledger: Ledger, key: SigningKey, size: int) -> Checkpoint:
    checkpoint = sign_tree(key, size, merkle.root(ledger.nodes, size))
    ledger.add_checkpoint(checkpoint)
    return checkpoint


def check_signing_key(ledger: Ledger, key: SigningKey) -> Checkpoint | None:
    """Raise LedgerError unless `key` may append to this ledger and sign it.

    It may when the ledger has no records, or its latest checkpoint is this key's, the
    ledger still holds that checkpoint's records and root, every record is covered by
    it (no unsigned tail) and no rotation away from the key is recorded since. Returns
    that latest checkpoint (or None). Call it before work whose result is appended, so
    a wrong key stops a run before it writes anything; the append checks again in its
    transaction.
    """
    size = _size(ledger)
    latest = check_writer(ledger, key, size)
    check_outside_copy(ledger, key, size)
    return latest


def check_outside_copy(ledger: Ledger, key: SigningKey, size: int) -> None:
    """Raise LedgerError if the ledger's checkpoint log holds a checkpoint of `key`'s origin
    that the ledger no longer extends: it was rolled back or rewritten behind the writer."""
    if ledger.checkpoint_log is None:
        return
    found = ledger.checkpoint_log.newest([key.name])
    if found is None:
        return
    pinned, path = found
    if pinned.size > size:
        raise LedgerError(
            f"the checkpoint log holds {pinned.label} ({path}), but the ledger has {size} "
            "records: it was rolled back; refusing to sign a shorter history"
        )
    check_stored_tree(
        pinned,
        ledger.nodes,
        f"it is in the checkpoint log ({path}): the history was rewritten; refusing to sign it",
    )


def sign_checkpoint(
    ledger: Ledger, key: SigningKey, *, adopt_tail: bool = False, at: str | None = None
) -> Checkpoint:
    """The checkpoint that covers every record, signed by `key`; returns it.

    When the latest checkpoint already covers every record, that one (an empty ledger
    gets its first, of size 0). Records no checkpoint covers (an unsigned tail: appended
    without the key, or by someone else) are refused with a LedgerError naming them,
    unless `adopt_tail`: then a ``tail_adopted`` record (at time `at`) naming them is
    appended and signed with them, in one transaction. Raises LedgerError as
    `check_signing_key` does for a key that cannot continue the log.
    """
    latest = ledger.latest_checkpoint()
    size = _size(ledger)
    if latest is not None:
        check_continuity(ledger, key, latest, size)
    check_outside_copy(ledger, key, size)
    tail = unsigned_tail(latest, size)
    if tail is None:
        if latest is None:
            return _sign_at(ledger, key, 0)
        return latest
    if not adopt_tail:
        check_writer(ledger, key, size)  # raises, naming the tail
    if at is None:
        raise ValueError("adopting a tail needs the time it is adopted at")
    entry = {
        "kind": TAIL_ADOPTED,
        "at": at,
        "first": tail[0],
        "last": tail[1] - 1,
        "after": None if latest is None else latest.label,
        "by": str(key.verifier),
    }
    checkpoint = ledger.append([entry], key=key, adopt=tail).checkpoint
    assert checkpoint is not None  # a keyed append always signs
    return checkpoint


def rotate_key(
    ledger: Ledger, old: SigningKey, new: SigningKey, at: str
) -> tuple[Checkpoint, Checkpoint]:
    """Move the ledger from `old` to `new` (a new origin); returns (final old, first new).

    Appends a ``key_rotated`` record naming both public keys, signed by the old key in
    the same transaction, then signs the same size with the new key. Re-running after a
    crash resumes the rotation already recorded instead of recording another.
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
    check_continuity(ledger, old, latest, _size(ledger), rotated=False)
    entry = {"kind": KEY_ROTATED, "at": at, "from": str(old.verifier), "to": str(new.verifier)}
    seq = None
    # From the last record the old key signed: a crash may have come after its final
    # checkpoint.
    for found, body in rotations(ledger, max(latest.size - 1, 0)):
        if (body.get("from"), body.get("to")) == (entry["from"], entry["to"]):
            seq = found
            break
        if found >= latest.size:
            raise LedgerError(f"record {found} already rotates to {body.get('to')}")
    if seq is None:
        seq = ledger.append([entry], key=old).first
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


@dataclass(frozen=True)
class Signer:
    """Where a writer's signing key and checkpoint log come from: the paths given, else
    $ASSAY_SIGNING_KEY and $ASSAY_CHECKPOINT_LOG, else ``.assay/signing.key`` (when it
    exists) and ``.assay/checkpoints/``. Runs and DSR steps take one, so a caller that
    keeps its state elsewhere (the demo's --workdir) signs both the same way.

    With `attestation`, every checkpoint signed is then timestamped and sent to
    witnesses, the results kept beside it in the checkpoint log (`attest`)."""

    key_path: Path | None = None
    checkpoint_log: str | Path | None = None
    attestation: Attestation | None = None

    def with_attestation(self, attestation: Attestation | None) -> Signer:
        """This signer, asking for `attestation` too (unchanged when None or empty)."""
        return replace(self, attestation=attestation) if attestation else self

    def resolve(self) -> tuple[SigningKey | None, CheckpointLog | None]:
        """The key (None: appends stay unsigned) and, with a key, the checkpoint log.

        Raises SigningKeyError for a key that is named but missing or bad.
        """
        try:
            key = resolve_signing_key(self.key_path)
        except SigningKeyError as exc:
            raise SigningKeyError(
                exc.message, remediation="fix the key, or unset it to append unsigned"
            ) from None
        if key is None:
            return None, None
        log = resolve_checkpoint_log(self.checkpoint_log)
        if self.attestation:
            return key, AttestingLog(log, self.attestation)
        return key, log


DEFAULT_SIGNER = Signer()
"""The environment, else the defaults under ``.assay/``."""
