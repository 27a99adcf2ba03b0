"""Verifying a whole ledger: the chain, the tree, signed checkpoints and a pinned checkpoint.

`verify_ledger` streams the records once (see `verify.walk`), recomputing the RFC 6962
root at every checkpointed size, then checks in order:

1. every stored tree node is the one the records give, and none is extra (proofs come
   from them): each node the walk completes is compared with the stored one as it goes;
2. every stored checkpoint covers no more records than exist (a truncated tail) and
   signs the root recomputed at its size;
3. with keys: every checkpoint is signed by a trusted key named as its origin, keys
   changing only through ``key_rotated`` records endorsed by the previous key; and
   every record is covered by a signed checkpoint (no unsigned tail), unless
   `allow_unsigned_tail`;
4. with a trusted checkpoint (one the auditor saw before) and a pinned one (the newest
   in the checkpoint log kept outside the ledger): the ledger still holds its size and
   root (no rollback, no rewritten history), and the latest stored checkpoint is
   consistent with it (an RFC 9162 consistency proof from the stored tree);
5. with a time policy (`proven_time`): every checkpoint's timestamp token and trusted
   cosignatures verify, the latest carries what the policy asks, and no record claims
   a time after the proven time of the checkpoints covering it.

The first failure ends verification; its message says what was got and expected.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from assay.evidence import merkle
from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.keys import VerifierKey
from assay.evidence.ledger import Ledger
from assay.evidence.note import NoteError
from assay.evidence.proven_time import (
    CheckpointTime,
    TimeBounds,
    TimePolicy,
    check_times,
    late_error,
)
from assay.evidence.record import LedgerError
from assay.evidence.signed_append import describe_tail, unsigned_tail
from assay.evidence.trust import Trust
from assay.evidence.verify import (
    LogVerificationError,
    Outcome,
    VerificationError,
    Walk,
    brief,
    walk,
)
from assay.evidence.verify_parallel import (
    PARALLEL_MIN,
    check_upper_tree,
    chunk_size,
    walk_parallel,
)

UNCHECKED = "signatures and truncation were not checked (no public key given)"


@dataclass(frozen=True)
class LedgerReport(Outcome):
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
    pinned: Checkpoint | None = None
    error: VerificationError | LogVerificationError | None = None
    notes: list[str] = field(default_factory=list)
    times: list[CheckpointTime] = field(default_factory=list)
    """What outside parties prove of each checkpoint (with a time policy)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields; checkpoints appear as origin, size and hex root."""
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "latest_checkpoint": brief(self.latest),
            "trusted_checkpoint": brief(self.trusted),
            "pinned_checkpoint": brief(self.pinned),
            "signatures_checked": self.signatures_checked,
            "checkpoint_times": [time.as_dict() for time in self.times],
            **self.outcome_fields(),
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
    recomputed = found.root_at(checkpoint.size)
    if recomputed != checkpoint.root:
        raise LogVerificationError(
            label,
            f"root got {checkpoint.root.hex()} (signed), expected {recomputed.hex()} "
            f"(recomputed from records 0..{checkpoint.size - 1})",
        )


def _check_trusted(
    ledger: Ledger,
    trusted: Checkpoint,
    found: Walk,
    latest: Checkpoint | None,
    where: str | None = None,
) -> None:
    where = where or f"trusted checkpoint {trusted.label}"
    if trusted.size > found.records:
        raise LogVerificationError(
            where,
            f"covers {trusted.size} records, but the ledger has {found.records}: the ledger "
            "was rolled back or truncated",
        )
    recomputed = found.root_at(trusted.size)
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


def _signers(checkpoints: list[Checkpoint], keys: Sequence[VerifierKey]) -> None:
    """Check each checkpoint's signature by the given keys, ahead of the checks in order
    (`Trust.check_signer`, which then finds them done): what the main process does while
    workers walk the records. Keys the records rotate to are known only after."""
    for checkpoint in checkpoints:
        with suppress(NoteError):
            checkpoint.signer(keys)


def _check_tree(ledger: Ledger, found: Walk, upper: int | None) -> None:
    """Every stored tree node was compared during the walk (or above level `upper`, here);
    the stored ones must also number exactly what the records give."""
    if found.tree_error is not None:
        raise found.tree_error
    if upper is not None:
        error = check_upper_tree(ledger.tree_level, found.records, upper)
        if error is not None:
            raise error
    expected = sum(found.records >> level for level in range(found.records.bit_length()))
    stored = ledger.node_count()
    if stored != expected:
        raise LogVerificationError(
            "tree",
            f"{stored} tree nodes are stored, expected {expected} for {found.records} "
            "records: nodes were added or removed",
        )


def verify_ledger(
    ledger: Ledger,
    keys: Sequence[VerifierKey] = (),
    trusted: Checkpoint | None = None,
    *,
    workers: int = 1,
    pinned: tuple[Checkpoint, str] | None = None,
    allow_unsigned_tail: bool = False,
    policy: TimePolicy | None = None,
    attachments: Callable[[Checkpoint], Mapping[str, bytes]] | None = None,
) -> LedgerReport:
    """Verify everything `ledger` holds (see the module docstring); never raises for bad data.

    Without `keys`, checkpoint roots are still compared but signatures are not checked,
    and the report's notes say so. A `trusted` checkpoint needs `keys`: its signature
    is checked first (ValueError if no keys are given; a report with the error if it
    does not verify). `pinned` is a checkpoint found outside the ledger and where (the
    checkpoint log): checked like `trusted`, its signature only when `keys` are given.
    With `keys`, records no signed checkpoint covers fail verification unless
    `allow_unsigned_tail` (then a note names them). With `workers` > 1, a large
    ledger's records are verified in that many processes (each reopens `ledger.url`);
    the report is the same.

    With `policy`, the tokens and cosignatures `attachments` gives for each stored
    checkpoint (from the checkpoint log) are checked as `proven_time` says, and so are
    the records' claimed times.
    """
    if trusted is not None and not keys:
        raise ValueError("a trusted checkpoint can only be checked with the public key(s)")
    stored = ledger.checkpoints()
    sizes = {checkpoint.size for checkpoint in stored}
    for pin in (trusted, None if pinned is None else pinned[0]):
        if pin is not None:
            sizes.add(pin.size)
    head = ledger.head()
    size = 0 if head is None else head.seq + 1
    # Sorted by size; the order stored breaks ties, so a rotation's final old checkpoint
    # comes before the new key's first.
    ordered = sorted(stored, key=lambda checkpoint: checkpoint.size)
    times: list[CheckpointTime] = []
    time_error: LogVerificationError | None = None
    bounds = None
    if policy:
        kept = attachments or (lambda _: {})
        try:
            times = check_times([(c, kept(c)) for c in ordered], policy)
            bounds = TimeBounds.of(times, policy.skew)
        except LogVerificationError as exc:
            time_error = exc
    upper = None
    if workers > 1 and size >= PARALLEL_MIN:
        found = walk_parallel(
            ledger.url,
            size,
            sizes,
            workers,
            bounds=bounds,
            meanwhile=lambda: _signers(ordered, keys),
        )
        upper = chunk_size(size, workers).bit_length() - 1
    else:
        found = walk(ledger.batch, sizes, tree=ledger, bounds=bounds)
    verified: list[Checkpoint] = []
    error: VerificationError | LogVerificationError | None = found.error
    notes = [] if keys else [UNCHECKED]
    try:
        if error is None:
            if found.tree_error is not None:
                raise found.tree_error
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
            latest = verified[-1] if verified else None
            _check_tree(ledger, found, upper)
            if trusted is not None and trust is not None:
                try:
                    trusted.signer(trust.keys)
                except NoteError as exc:
                    raise LogVerificationError(
                        f"trusted checkpoint {trusted.label}", f"signature: {exc}"
                    ) from None
                _check_trusted(ledger, trusted, found, latest)
            if pinned is not None:
                pin, source = pinned
                where = f"pinned checkpoint {pin.label} (from {source})"
                if trust is not None:
                    try:
                        pin.signer(trust.keys)
                    except NoteError as exc:
                        raise LogVerificationError(where, f"signature: {exc}") from None
                _check_trusted(ledger, pin, found, latest, where)
            tail = unsigned_tail(latest, found.records)
            if keys and tail is not None:
                message = f"{describe_tail(tail, latest)}: their removal could not be detected"
                if not allow_unsigned_tail:
                    raise LogVerificationError(
                        "unsigned tail",
                        f"{message}; an append with the key always signs, so someone "
                        "appended without it (adopt them on purpose with assay evidence "
                        "checkpoint --sign --adopt-tail, or pass --allow-unsigned-tail)",
                    )
                notes.append(f"{message} (allowed: --allow-unsigned-tail)")
            if time_error is not None:
                raise time_error
            if policy and found.times is not None and found.times.late_count:
                raise late_error(found.times, policy.skew)
    except LedgerError as exc:
        error = LogVerificationError("tree", f"cannot read the stored tree: {exc}")
    except (VerificationError, LogVerificationError) as exc:
        error = exc
    if error is None:
        for seq, body in found.adoptions:
            notes.append(
                f"records {body.get('first')}..{body.get('last')} were appended without a "
                f"checkpoint and adopted unsigned by record {seq} ({body.get('at')})"
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
        pinned=None if pinned is None else pinned[0],
        error=error,
        notes=notes,
        times=times,
    )
