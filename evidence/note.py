"""C2SP signed notes: text, a blank line, then one ``— <key name> <base64>`` line per signature.

Each signature is base64 of the 4-byte key id followed by the Ed25519 signature of
the text (which includes its final newline). Opening a note follows the spec's trust
rules: signatures by unknown keys are ignored, a known key whose signature fails
rejects the note, and a note no known key verifies is rejected.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass

from assay.errors import AssayError
from assay.evidence.keys import SigningKey, SigningKeyError, VerifierKey, b64decode

MAX_SIGNATURES = 100
"""More than the spec's minimum of 16; a cap so a note cannot make a verifier work forever."""
_DASH = "\u2014"
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f]")


class NoteError(AssayError, ValueError):
    """A note is malformed or does not verify; the message says what was expected."""


@dataclass(frozen=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


@dataclass(frozen=True)
class OpenedNote:
    """A note whose signatures were checked: `text` may be trusted, as signed by `verified`."""

    text: str
    verified: list[VerifierKey]
    signatures: list[Signature]


def check_text(text: str) -> None:
    """A note text is non-empty, ends in a newline and holds no control characters but newlines."""
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    if _CONTROL.search(text):
        raise NoteError("note text contains a control character other than newline")


def sign_note(text: str, keys: Sequence[SigningKey]) -> str:
    """The signed note of `text` with one signature line per key, in the order given."""
    check_text(text)
    if not keys:
        raise NoteError("a note needs at least one signing key")
    lines = []
    for key in keys:
        signature = key.verifier.id + key.sign(text.encode())
        lines.append(f"{_DASH} {key.name} {base64.b64encode(signature).decode()}\n")
    return text + "\n" + "".join(lines)


def parse_note(note: str | bytes) -> tuple[str, list[Signature]]:
    """Split a note into its text and signatures without verifying anything."""
    if isinstance(note, bytes):
        try:
            note = note.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError(f"note is not UTF-8 (byte {exc.start})") from None
    if _CONTROL.search(note):
        raise NoteError("note contains a control character other than newline")
    if not note.endswith("\n"):
        raise NoteError("note must end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line between its text and its signatures")
    text, block = note[: split + 1], note[split + 2 :]
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has {len(lines)} signatures, more than {MAX_SIGNATURES}")
    signatures = [_parse_signature(line) for line in lines]
    return text, signatures


def _parse_signature(line: str) -> Signature:
    parts = line.split(" ")
    if len(parts) != 3 or parts[0] != _DASH:
        raise NoteError(f"signature line {line!r}: expected '{_DASH} <key name> <base64>'")
    _, name, encoded = parts
    try:
        data = b64decode(encoded, f"signature by {name}")
    except SigningKeyError as exc:
        raise NoteError(str(exc)) from None
    if len(data) < 5:
        raise NoteError(f"signature by {name} is {len(data)} bytes, expected a key id and more")
    return Signature(name, data[:4], data[4:])


def open_note(note: str | bytes, verifiers: Sequence[VerifierKey]) -> OpenedNote:
    """Verify `note` against `verifiers`; returns the text and which of them signed it.

    Raises NoteError when the note is malformed, when a known key's signature fails, or
    when no known key signed it (the message names the signers found).
    """
    text, signatures = parse_note(note)
    message = text.encode()
    known = {(key.name, key.id): key for key in verifiers}
    verified: list[VerifierKey] = []
    for signature in signatures:
        key = known.get((signature.name, signature.key_id))
        if key is None:
            continue
        if not key.verify(message, signature.signature):
            raise NoteError(f"signature by {key} does not verify")
        if key not in verified:
            verified.append(key)
    if not verified:
        found = ", ".join(f"{s.name} (key id {s.key_id.hex()})" for s in signatures)
        wanted = ", ".join(str(key) for key in verifiers) or "none given"
        raise NoteError(f"no signature by a trusted key: found {found}; trusted: {wanted}")
    return OpenedNote(text, verified, signatures)
