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
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from assay.evidence.keys import NoteVerifierKey, SigningKeyError, b64decode, check_name, key_id
from assay.evidence.note import NoteError, Signature, parse_note
from assay.files import PRIVATE, private_dir, write_text

COSIGNATURE_V1 = 0x04
_DASH = "\u2014"
_PRIVATE_PREFIX = "PRIVATE+KEY+"
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


class WitnessSigningKey:
    """A witness's private key. Its repr and str never show the secret."""

    __slots__ = ("_private", "name", "verifier")

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise SigningKeyError(f"Ed25519 private key is {len(seed)} bytes, expected 32")
        self.name = check_name(name)
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        self.verifier = WitnessKey(name, public)

    @classmethod
    def generate(cls, name: str) -> WitnessSigningKey:
        return cls(name, secrets.token_bytes(32))

    @classmethod
    def parse(cls, text: str) -> WitnessSigningKey:
        """Parse the key file's line; the error never echoes the key material."""
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or f"{parts[0]}+{parts[1]}+" != _PRIVATE_PREFIX:
            raise SigningKeyError(
                "witness key: expected one line PRIVATE+KEY+<name>+<key id hex>+<base64 key>"
            )
        name, hex_id, encoded = parts[2:]
        try:
            data = b64decode(encoded, "witness key")
        except SigningKeyError:
            raise SigningKeyError("witness key: the key part is not canonical base64") from None
        if len(data) != 33 or data[0] != COSIGNATURE_V1:
            raise SigningKeyError(
                "witness key: expected an Ed25519 cosigner key (type 0x04 and 32 bytes)"
            )
        key = cls(name, data[1:])
        if hex_id != key.verifier.id.hex():
            raise SigningKeyError(
                f"witness key {name}: key id {hex_id} should be {key.verifier.id.hex()}"
            )
        return key

    def private_text(self) -> str:
        seed = self._private.private_bytes_raw()
        encoded = base64.b64encode(bytes([COSIGNATURE_V1]) + seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.id.hex()}+{encoded}"

    def cosign(self, text: str, timestamp: int) -> str:
        """The cosignature line over the checkpoint note text `text` at `timestamp`."""
        signature = self._private.sign(signed_message(text, timestamp))
        return _line(self.name, self.verifier.id, timestamp.to_bytes(8, "big") + signature)

    def __repr__(self) -> str:
        return f"WitnessSigningKey({self.verifier})"

    __str__ = __repr__


def create_witness_key(path: Path, name: str) -> WitnessSigningKey:
    """Generate a witness key named `name`, write it to `path` (0600) and its vkey beside
    it (``.pub``); refuses to overwrite either."""
    key = WitnessSigningKey.generate(name)
    public = path.with_suffix(".pub") if path.suffix == ".key" else Path(f"{path}.pub")
    for existing in (path, public):
        if os.path.lexists(existing):
            raise SigningKeyError(f"{existing} already exists; refusing to overwrite a key")
    private_dir(path.parent)
    write_text(path, key.private_text() + "\n", mode=PRIVATE, replace=False)
    write_text(public, f"{key.verifier}\n", replace=False)
    return key


def load_witness_key(path: Path) -> WitnessSigningKey:
    """The witness key in `path`; SigningKeyError if missing, malformed or readable by others."""
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise SigningKeyError(f"cannot read witness key {path}: {exc}") from None
    if mode & 0o077:
        raise SigningKeyError(
            f"witness key {path} has mode {mode & 0o777:04o}, readable by others; "
            f"run: chmod 600 {path}"
        )
    try:
        return WitnessSigningKey.parse(text)
    except SigningKeyError as exc:
        raise SigningKeyError(f"{path}: {exc}") from None


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
