"""Per-record receipts: C2SP tlog-proof files, verifiable offline against a public key.

The text form (``.tlog-proof``)::

    c2sp.org/tlog-proof@v1
    extra <base64 of the record's stored body>
    index <seq>
    <base64 hash>            one per line: the RFC 9162 inclusion proof
    <blank line>
    <the signed checkpoint, verbatim>

The ``extra`` line is the spec's opaque extra data; here it carries the record, so
the file alone shows what was logged. It is not trusted: verification hashes it and
checks the proof against the signed root, and checks the record names its own seq.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.evidence import merkle
from assay.evidence.canonical import CanonicalError, parse_canonical
from assay.evidence.checkpoint import Checkpoint, CheckpointError
from assay.evidence.keys import SigningKeyError, VerifierKey, b64decode
from assay.evidence.ledger import Ledger
from assay.evidence.merkle import ProofError
from assay.evidence.record import LedgerError

HEADER = "c2sp.org/tlog-proof@v1"
_INDEX = re.compile(r"index (0|[1-9][0-9]*)")


@dataclass(frozen=True)
class InclusionProof:
    """Record `index` (its stored `record` bytes) is in the tree `checkpoint` signs."""

    index: int
    hashes: list[bytes]
    checkpoint: Checkpoint
    record: bytes

    def text(self) -> str:
        lines = [HEADER, f"extra {base64.b64encode(self.record).decode()}", f"index {self.index}"]
        lines += [base64.b64encode(value).decode() for value in self.hashes]
        return "\n".join(lines) + "\n\n" + self.checkpoint.note

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the same parts, hashes as base64, the record as a string."""
        return {
            "format": HEADER,
            "index": self.index,
            "tree_size": self.checkpoint.size,
            "root": base64.b64encode(self.checkpoint.root).decode(),
            "leaf_hash": base64.b64encode(merkle.leaf_hash(self.record)).decode(),
            "hashes": [base64.b64encode(value).decode() for value in self.hashes],
            "record": self.record.decode("utf-8"),
            "checkpoint": self.checkpoint.note,
        }

    @classmethod
    def parse(cls, text: str) -> InclusionProof:
        """Parse the text form; raises ProofError naming the line that is wrong."""
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or lines[0] != HEADER:
            raise ProofError(f"line 1: expected {HEADER!r}, then a blank line before the note")
        if len(lines) < 3 or not lines[1].startswith("extra "):
            raise ProofError("line 2: expected 'extra <base64 record>' (the record is required)")
        index = _INDEX.fullmatch(lines[2])
        if index is None:
            raise ProofError(f"line 3: expected 'index <n>', got {lines[2]!r}")
        try:
            record = b64decode(lines[1][len("extra ") :], "line 2: record")
            hashes = [
                b64decode(line, f"line {number}: proof hash")
                for number, line in enumerate(lines[3:], start=4)
            ]
            checkpoint = Checkpoint.from_note(note)
        except (SigningKeyError, CheckpointError) as exc:
            raise ProofError(str(exc)) from None
        return cls(int(index.group(1)), hashes, checkpoint, record)

    def verify(self, keys: Sequence[VerifierKey]) -> VerifierKey:
        """Check the signature, the record's seq and the proof; returns the signing key.

        Raises NoteError (signature) or ProofError (anything else).
        """
        signer = self.checkpoint.signer(keys)
        try:
            seq = parse_canonical(self.record).get("seq")
        except CanonicalError as exc:
            raise ProofError(f"the record is not a canonical record: {exc}") from None
        if type(seq) is not int or seq != self.index:
            raise ProofError(f"the record's seq is {seq!r}, expected the index {self.index}")
        merkle.verify_inclusion(
            merkle.leaf_hash(self.record),
            self.index,
            self.checkpoint.size,
            self.hashes,
            self.checkpoint.root,
        )
        return signer


def prove(ledger: Ledger, seq: int, checkpoint: Checkpoint | None = None) -> InclusionProof:
    """The inclusion proof of record `seq` against `checkpoint` (default: the latest).

    Raises LedgerError when there is no checkpoint, the record is beyond it, or the
    stored tree does not give the checkpoint's root.
    """
    checkpoint = checkpoint or ledger.latest_checkpoint()
    if checkpoint is None:
        raise LedgerError("the ledger has no signed checkpoint yet: sign one first")
    if not 0 <= seq < checkpoint.size:
        raise LedgerError(
            f"record {seq} is not covered by checkpoint {checkpoint.label} (records "
            f"0..{checkpoint.size - 1}); sign a newer checkpoint"
        )
    record = ledger.record(seq)
    if record is None:
        raise LedgerError(f"record {seq} is missing from the ledger")
    hashes = merkle.inclusion_proof(ledger.nodes, seq, checkpoint.size)
    proof = InclusionProof(seq, hashes, checkpoint, record.body)
    try:
        merkle.verify_inclusion(
            merkle.leaf_hash(record.body), seq, checkpoint.size, hashes, checkpoint.root
        )
    except ProofError as exc:
        raise LedgerError(
            f"the stored tree does not match checkpoint {checkpoint.label}: {exc}"
        ) from None
    return proof
