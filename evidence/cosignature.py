"""C2SP tlog-cosignature/v1: a witness's timestamped Ed25519 signature over a checkpoint.

A witness signs ``cosignature/v1\\ntime <unix seconds>\\n`` followed by the checkpoint's
note text; the signature line is an ordinary note signature whose bytes are the
8-byte big-endian time followed by the 64-byte Ed25519 signature, under a key id made
with type byte 0x04. It states: as of that time, the largest consistent checkpoint the
witness has seen for that origin has that root. So a cosignature bounds when the
checkpoint's records existed, by a party the log's operators do not control.

Witness public keys are vkeys ``<name>+<key id hex>+base64(0x04 || public key)``;
private key files hold ``PRIVATE+KEY+<name>+<key id hex>+base64(0x04 || seed)``.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from assay.evidence.keys import NoteSigningKey, NoteVerifierKey, key_id
from assay.evidence.note import NoteError, Signature, parse_note

COSIGNATURE_V1 = 0x04
_DASH = "\u2014"
MAX_TIME = 2**63 - 1


def cosigner_key_id(name: str, public: bytes) -> bytes:
    """The 4-byte key id of an Ed25519 cosigner: type byte 0x04."""
    return key_id(name, public, COSIGNATURE_V1)


def signed_message(text: str, timestamp: int) -> bytes:
    """What a cosignature signs: the header, the time line, then the checkpoint's text."""
    return f"cosignature/v1\ntime {timestamp}\n{text}".encode()


@dataclass(frozen=True)
class Cosignature:
    """A checked cosignature: which witness, and the time it states."""

    witness: WitnessKey
    time: int
    line: str
    """The signature line as it goes after a note's text (ending in a newline)."""


class WitnessKey(NoteVerifierKey):
    """A witness's public key: verifies its cosignatures."""

    KEY_TYPE = COSIGNATURE_V1
    LABEL = "witness key"
    DESCRIPTION = "an Ed25519 cosigner key"

    def check(self, text: str, signature: Signature) -> Cosignature | None:
        """The cosignature `signature` makes over the note text `text`, if it is this
        witness's (None when another key made it); NoteError when it is this witness's
        and does not verify."""
        if (signature.name, signature.key_id) != (self.name, self.id):
            return None
        if len(signature.signature) != 8 + 64:
            raise NoteError(
                f"cosignature by {self.name} is {len(signature.signature)} bytes, expected 72 "
                "(a time and an Ed25519 signature)"
            )
        timestamp = int.from_bytes(signature.signature[:8], "big")
        if timestamp > MAX_TIME:
            raise NoteError(f"cosignature by {self.name} states time {timestamp}, past 2^63-1")
        if not self.verify(signed_message(text, timestamp), signature.signature[8:]):
            raise NoteError(f"cosignature by {self} does not verify")
        return Cosignature(self, timestamp, _line(self.name, self.id, signature.signature))


def _line(name: str, key_id: bytes, signature: bytes) -> str:
    return f"{_DASH} {name} {base64.b64encode(key_id + signature).decode()}\n"


class WitnessSigningKey(NoteSigningKey):
    """A witness's private key: cosigns checkpoints."""

    __slots__ = ()
    VERIFIER = WitnessKey
    LABEL = "witness key"
    verifier: WitnessKey

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line over the checkpoint note text `text` at `timestamp`."""
        signature = self._private.sign(signed_message(text, timestamp))
        return _line(self.name, self.verifier.id, timestamp.to_bytes(8, "big") + signature)


def create_witness_key(path: Path, name: str) -> WitnessSigningKey:
    """Generate a witness key named `name`, write it to `path` (0600) and its vkey beside
    it (``.pub``); refuses to overwrite either."""
    return WitnessSigningKey.create(path, name)


def load_witness_key(path: Path) -> WitnessSigningKey:
    """The witness key in `path`; SigningKeyError if missing, malformed or readable by others."""
    return WitnessSigningKey.load(path)


def cosignatures(note: str | bytes, witnesses: Sequence[WitnessKey]) -> list[Cosignature]:
    """The cosignatures by `witnesses` on the signed note `note` (a checkpoint with
    cosignature lines after its own signatures), one per witness at most.

    Lines by other keys are ignored; a line by a known witness that does not verify
    raises NoteError.
    """
    text, signatures = parse_note(note)
    found: dict[str, Cosignature] = {}
    for signature in signatures:
        for witness in witnesses:
            checked = witness.check(text, signature)
            if checked is not None:
                found.setdefault(str(witness), checked)
    return list(found.values())
