"""Which keys may sign a log's checkpoints: the auditor's keys, and rotations they endorse.

An auditor trusts a set of public keys. A ``key_rotated`` record from a trusted key
to a new one makes the new key trusted too, within bounds: the old key may sign up to
the size that ends with the rotation record, the new key only beyond the rotation, and
only once a checkpoint by the old key covers the rotation (the old key's endorsement).
Checkpoints must be checked in order of size for that to hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from assay.evidence.checkpoint import Checkpoint
from assay.evidence.keys import SigningKeyError, VerifierKey
from assay.evidence.note import NoteError
from assay.evidence.verify import LogVerificationError, VerificationError


@dataclass
class Trust:
    """The keys a checkpoint may be signed by, with how rotations bound them."""

    keys: list[VerifierKey]
    introduced: dict[str, tuple[int, str]]  # new key -> (rotation seq, previous key)
    retired: dict[str, tuple[int, str]]  # old key -> (rotation seq, next key)
    endorsed: set[str] = field(default_factory=set)

    @classmethod
    def following(
        cls, given: Sequence[VerifierKey], rotations: list[tuple[int, dict[str, Any]]]
    ) -> Trust:
        """The `given` keys, extended by the ``(seq, body)`` key_rotated records, in order.

        Raises VerificationError for a rotation record naming a malformed key.
        """
        trust = cls(list(given), {}, {})
        usable = {str(key) for key in given}
        for seq, body in rotations:
            try:
                old, new = (
                    VerifierKey.parse(body.get("from", "")),
                    VerifierKey.parse(body.get("to", "")),
                )
            except (SigningKeyError, AttributeError) as exc:
                raise VerificationError(
                    seq, f"key_rotated record names a malformed key: {exc}"
                ) from None
            if str(old) in usable and str(new) not in usable:
                usable.add(str(new))
                trust.keys.append(new)
                trust.introduced[str(new)] = (seq, str(old))
                trust.retired[str(old)] = (seq, str(new))
        return trust

    def check_signer(self, checkpoint: Checkpoint) -> VerifierKey:
        """The trusted key that signed `checkpoint` within its bounds; else LogVerificationError."""
        try:
            signer = checkpoint.signer(self.keys)
        except NoteError as exc:
            raise LogVerificationError(checkpoint.label, f"signature: {exc}") from None
        name = str(signer)
        if name in self.retired:
            seq, successor = self.retired[name]
            if checkpoint.size > seq + 1:
                raise LogVerificationError(
                    checkpoint.label,
                    f"signed by {name}, retired by the key_rotated record at seq {seq}: it "
                    f"may sign up to size {seq + 1} only",
                )
            if checkpoint.size == seq + 1:
                self.endorsed.add(successor)
        if name in self.introduced:
            seq, old = self.introduced[name]
            if checkpoint.size <= seq:
                raise LogVerificationError(
                    checkpoint.label,
                    f"signed by {name}, introduced by the key_rotated record at seq {seq}, "
                    f"but covers only {checkpoint.size} records (expected more than {seq})",
                )
            if name not in self.endorsed:
                raise LogVerificationError(
                    checkpoint.label,
                    f"signed by {name}, introduced at seq {seq}, but no checkpoint by the "
                    f"previous key {old} covers that rotation",
                )
        return signer
