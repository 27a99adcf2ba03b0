"""C2SP tlog-checkpoints: the signed note text ``<origin>\\n<tree size>\\n<base64 root>\\n``.

The origin names the log, the size says how many records the checkpoint covers and the
root is the RFC 6962 root over them. The signing key's name is the origin.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from assay.errors import AssayError
from assay.evidence import merkle
from assay.evidence.keys import SigningKeyError, VerifierKey, b64decode
from assay.evidence.note import NoteError, open_note, parse_note

_SIZE = re.compile(r"0|[1-9][0-9]*")


class CheckpointError(AssayError, ValueError):
    """A checkpoint is malformed; the message names the line and what was expected."""


@dataclass(frozen=True)
class Checkpoint:
    """One signed checkpoint: `note` is the signed note, verbatim."""

    origin: str
    size: int
    root: bytes
    note: str

    @property
    def text(self) -> str:
        return checkpoint_text(self.origin, self.size, self.root)

    @property
    def signed_text(self) -> str:
        """The note's text as signed (extension lines included): what a timestamp
        token and a cosignature are over."""
        return parse_note(self.note)[0]

    def brief(self) -> dict[str, Any]:
        """JSON-ready origin, size and hex root, for reports."""
        return {"origin": self.origin, "size": self.size, "root": self.root.hex()}

    @property
    def label(self) -> str:
        """How messages name it: ``<origin>@<size>``."""
        return f"{self.origin}@{self.size}"

    @classmethod
    def from_note(cls, note: str | bytes) -> Checkpoint:
        """Parse a signed checkpoint's structure; its signatures are not checked here."""
        try:
            text, _ = parse_note(note)
        except NoteError as exc:
            raise CheckpointError(f"not a signed note: {exc}") from None
        origin, size, root = parse_checkpoint_text(text)
        if isinstance(note, bytes):
            note = note.decode("utf-8")
        return cls(origin, size, root, note)

    def signer(self, keys: Sequence[VerifierKey]) -> VerifierKey:
        """The key among `keys`, named as the origin, that signed it; else NoteError."""
        candidates = [key for key in keys if key.name == self.origin]
        if not candidates:
            names = ", ".join(sorted({key.name for key in keys})) or "none"
            raise NoteError(f"no trusted key is named {self.origin!r} (trusted: {names})")
        return open_note(self.note, candidates).verified[0]


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The note text of a checkpoint, without extension lines."""
    if len(root) != merkle.HASH_SIZE:
        raise CheckpointError(f"root is {len(root)} bytes, expected {merkle.HASH_SIZE}")
    return f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"


def parse_checkpoint_text(text: str) -> tuple[str, int, bytes]:
    """(origin, size, root) of a checkpoint note text; extension lines are ignored."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise CheckpointError("expected at least three lines: origin, tree size, root hash")
    origin, size, root = lines[:3]
    if not origin:
        raise CheckpointError("line 1: the origin is empty")
    if not _SIZE.fullmatch(size):
        raise CheckpointError(f"line 2: tree size {size!r} is not a decimal without leading zeros")
    try:
        digest = b64decode(root, "line 3: root hash")
    except SigningKeyError as exc:
        raise CheckpointError(str(exc)) from None
    if len(digest) != merkle.HASH_SIZE:
        raise CheckpointError(f"line 3: root hash is {len(digest)} bytes, expected 32")
    if any(not line for line in lines[3:-1]):
        raise CheckpointError("an extension line is empty")
    return origin, int(size), digest
