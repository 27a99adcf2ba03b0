"""Verifying a whole ledger: the chain, the tree, signed checkpoints and a pinned checkpoint.

`verify_ledger` streams the records once (see `verify.walk`), recomputing the RFC 6962
root at every checkpointed size, then checks in order:

1. the stored tree nodes give the same root as the records (proofs come from them);
2. every stored checkpoint covers no more records than exist (a truncated tail) and
   signs the root recomputed at its size;
3. with keys: every checkpoint is signed by a trusted key named as its origin, keys
   changing only through ``key_rotated`` records endorsed by the previous key;
4. with a trusted checkpoint (one the auditor saw before): the ledger still holds its
   size and root (no rollback, no rewritten history), and the latest stored checkpoint
   is consistent with it (an RFC 9162 consistency proof from the stored tree).

The first failure ends verification; its message says what was got and expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.evidence import merkle
from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.keys import VerifierKey
from assay.evidence.ledger import Ledger
from assay.evidence.note import NoteError
from assay.evidence.record import LedgerError
from assay.evidence.trust import Trust
from assay.evidence.verify import LogVerificationError, VerificationError, Walk, walk
from assay.evidence.verify_parallel import PARALLEL_MIN, walk_parallel

UNCHECKED = "signatures and truncation were not checked (no public key given)"


@dataclass(frozen=True)
class LedgerReport:
    """The outcome of `verify_ledger`; `error` is set exactly when `ok` is False.

    `records`, `head` and `root` (hex) describe the records that passed the chain
    checks; `checkpoints` counts stored checkpoints verified before any failure;
    `latest` is the latest of them; `notes` says what was not checked.
    """

    ok: bool
    records: int
    head: str | None
    root: str
    checkpoints: int
    latest: Checkpoint | None
    signatures_checked: bool
    trusted: Checkpoint | None = None
    error: VerificationError | LogVerificationError | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def first_bad_seq(self) -> int | None:
        return self.error.seq if isinstance(self.error, VerificationError) else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields; checkpoints appear as origin, size and hex root."""

        def brief(checkpoint: Checkpoint | None) -> dict[str, Any] | None:
            return None if checkpoint is None else checkpoint.brief()

        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": brief(self.latest),
            "trusted_checkpoint": brief(self.trusted),
            "signatures_checked": self.signatures_checked,
            "first_bad_seq": self.first_bad_seq,
            "problem": None if self.error is None else str(self.error),
            "notes": self.notes,
        }


def _check_checkpoint(checkpoint: Checkpoint, found: Walk) -> None:
    label = checkpoint.label
    try:
        signed = Checkpoint.from_note(checkpoint.note)
    except CheckpointError as exc:
        raise LogVerificationError(label, f"malformed: {exc}") from None
    if (signed.origin, signed.size, signed.root) != (
        checkpoint.origin,
        checkpoint.size,
        checkpoint.root,
    ):
        raise LogVerificationError(
            label, f"stored columns disagree with the signed note, which says {signed.label}"
        )
    if checkpoint.size > found.records:
        raise LogVerificationError(
            label,
            f"covers {checkpoint.size} records, but the ledger has {found.records}: "
            "records were removed from the tail",
        )
    recomputed = found.roots[checkpoint.size]
    if recomputed != checkpoint.root:
        raise LogVerificationError(
            label,
            f"root got {checkpoint.root.hex()} (signed), expected {recomputed.hex()} "
            f"(recomputed from records 0..{checkpoint.size - 1})",
        )


def _check_trusted(
    ledger: Ledger, trusted: Checkpoint, found: Walk, latest: Checkpoint | None
) -> None:
    where = f"trusted checkpoint {trusted.label}"
    if trusted.size > found.records:
        raise LogVerificationError(
            where,
            f"covers {trusted.size} records, but the ledger has {found.records}: the ledger "
            "was rolled back or truncated",
        )
    recomputed = found.roots[trusted.size]
    if recomputed != trusted.root:
        raise LogVerificationError(
            where,
            f"root at size {trusted.size} got {recomputed.hex()} (recomputed), expected "
            f"{trusted.root.hex()} (trusted): history before it was rewritten (a fork)",
        )
    if latest is None or latest.size < trusted.size:
        raise LogVerificationError(
            where,
            f"no stored checkpoint covers it (latest: {latest.label if latest else 'none'}): "
            "checkpoints were removed",
        )
    if trusted.size == 0:
        return
    try:
        proof = merkle.consistency_proof(ledger.nodes, trusted.size, latest.size)
        merkle.verify_consistency(trusted.size, latest.size, proof, trusted.root, latest.root)
    except (merkle.ProofError, LedgerError) as exc:
        raise LogVerificationError(where, f"not consistent with {latest.label}: {exc}") from None


def verify_ledger(
    ledger: Ledger,
    keys: Sequence[VerifierKey] = (),
    trusted: Checkpoint | None = None,
    *,
    workers: int = 1,
) -> LedgerReport:
    """Verify everything `ledger` holds (see the module docstring); never raises for bad data.

    Without `keys`, checkpoint roots are still compared but signatures are not checked,
    and the report's notes say so. A `trusted` checkpoint needs `keys`: its signature
    is checked first (ValueError if no keys are given; a report with the error if it
    does not verify). With `workers` > 1, a large ledger's records are verified in that
    many processes (each reopens `ledger.url`); the report is the same.
    """
    if trusted is not None and not keys:
        raise ValueError("a trusted checkpoint can only be checked with the public key(s)")
    stored = ledger.checkpoints()
    sizes = {checkpoint.size for checkpoint in stored}
    if trusted is not None:
        sizes.add(trusted.size)
    head = ledger.head()
    size = 0 if head is None else head.seq + 1
    if workers > 1 and size >= PARALLEL_MIN:
        found = walk_parallel(ledger.url, size, sizes, workers)
    else:
        found = walk(ledger.records(), sizes)
    # Sorted by size; the order stored breaks ties, so a rotation's final old checkpoint
    # comes before the new key's first.
    ordered = sorted(stored, key=lambda checkpoint: checkpoint.size)
    verified: list[Checkpoint] = []
    error: VerificationError | LogVerificationError | None = found.error
    try:
        if error is None:
            stored_root = merkle.root(ledger.nodes, found.records)
            if stored_root != found.root:
                raise LogVerificationError(
                    "tree",
                    f"root from the stored tree nodes got {stored_root.hex()}, expected "
                    f"{found.root.hex()} (recomputed from the records)",
                )
            trust = Trust.following(keys, found.rotations) if keys else None
            for checkpoint in ordered:
                _check_checkpoint(checkpoint, found)
                if trust is not None:
                    trust.check_signer(checkpoint)
                verified.append(checkpoint)
            if trusted is not None and trust is not None:
                try:
                    trusted.signer(trust.keys)
                except NoteError as exc:
                    raise LogVerificationError(
                        f"trusted checkpoint {trusted.label}", f"signature: {exc}"
                    ) from None
                _check_trusted(ledger, trusted, found, verified[-1] if verified else None)
    except LedgerError as exc:
        error = LogVerificationError("tree", f"cannot read the stored tree: {exc}")
    except (VerificationError, LogVerificationError) as exc:
        error = exc
    notes = [] if keys else [UNCHECKED]
    if error is None and keys:
        covered = verified[-1].size if verified else 0
        if covered < found.records:
            notes.append(
                f"records {covered}..{found.records - 1} are not covered by a signed "
                "checkpoint yet: their removal could not be detected"
            )
    return LedgerReport(
        ok=error is None,
        records=found.records,
        head=found.head,
        root=found.root.hex(),
        checkpoints=len(verified),
        latest=verified[-1] if verified else None,
        signatures_checked=bool(keys),
        trusted=trusted,
        error=error,
        notes=notes,
    )
