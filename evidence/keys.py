"""Ed25519 signing keys for checkpoints, in the formats of C2SP signed-note.

A verifier key ("vkey") is ``<name>+<key id hex>+base64(0x01 || public key)``, the
form the C2SP signed-note spec and Go's golang.org/x/mod/sumdb/note use; the key id is
``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. The private key file holds one
line in Go's signer format, ``PRIVATE+KEY+<name>+<key id hex>+base64(0x01 || seed)``,
so other note tooling can read it. The key name is the log's origin.

Where a key comes from, for signing: an explicit file, else ``$ASSAY_SIGNING_KEY``
(the key text itself, or the path of a key file), else ``.assay/signing.key`` if it
exists. A key file must not be readable by group or others.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
import secrets
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import ClassVar, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from assay.errors import AssayError
from assay.files import PRIVATE, private_dir, write_text

ED25519 = 0x01
SIGNING_KEY_ENV = "ASSAY_SIGNING_KEY"
DEFAULT_SIGNING_KEY = Path(".assay") / "signing.key"
_PRIVATE_PREFIX = "PRIVATE+KEY+"
_BAD_NAME = re.compile(r"[\s+\x00-\x1f\x7f]")


class SigningKeyError(AssayError, ValueError):
    """A key is malformed, unreadable or stored unsafely; the message says which and why."""


def check_name(name: str) -> str:
    """`name` if it can name a key (and a log origin): non-empty, no spaces, ``+`` or controls."""
    if not name or _BAD_NAME.search(name):
        raise SigningKeyError(
            f"key name {name!r} is not allowed: expected a non-empty name without spaces, "
            "'+' or control characters, e.g. example.com/evidence/prod"
        )
    return name


def key_id(name: str, public: bytes, key_type: int = ED25519) -> bytes:
    """The 4-byte C2SP key id of the key `public` named `name`, of signature type
    `key_type` (0x01: Ed25519 note signatures)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public).digest()[:4]


def b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4): padding required, nothing else accepted."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise SigningKeyError(f"{what}: {text!r} is not standard base64") from None
    if base64.b64encode(data).decode() != text:
        raise SigningKeyError(f"{what}: {text!r} is not canonical base64")
    return data


@dataclass(frozen=True)
class NoteVerifierKey:
    """A named Ed25519 public key that verifies one type of note signature, written as a
    vkey ``<name>+<key id hex>+base64(<type byte> || public key)``. A subclass sets the
    type byte (which also enters the key id) and how its errors name the key."""

    KEY_TYPE: ClassVar[int]
    LABEL: ClassVar[str]
    """What errors call the key, e.g. ``verifier key``."""
    DESCRIPTION: ClassVar[str]
    """What the key must be, e.g. ``an Ed25519 key``."""

    name: str
    public: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_name(self.name)
        if len(self.public) != 32:
            raise SigningKeyError(f"Ed25519 public key is {len(self.public)} bytes, expected 32")

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public, self.KEY_TYPE)

    def __str__(self) -> str:
        encoded = base64.b64encode(bytes([self.KEY_TYPE]) + self.public).decode()
        return f"{self.name}+{self.id.hex()}+{encoded}"

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse a vkey; raises SigningKeyError naming the part that is wrong."""
        # The base64 part may itself hold '+'; the name and id never do.
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise SigningKeyError(
                f"{cls.LABEL} {text!r}: expected <name>+<key id hex>+<base64 key>"
            )
        name, hex_id, encoded = parts
        data = b64decode(encoded, cls.LABEL)
        if len(data) != 33 or data[0] != cls.KEY_TYPE:
            raise SigningKeyError(
                f"{cls.LABEL} {text!r}: expected {cls.DESCRIPTION}"
                f" (type 0x{cls.KEY_TYPE:02x} and 32 bytes)"
            )
        key = cls(check_name(name), data[1:])
        if hex_id != key.id.hex():
            raise SigningKeyError(f"{cls.LABEL} {text!r}: key id {hex_id} should be {key.id.hex()}")
        return key

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when `signature` is this key's Ed25519 signature of `message`."""
        return _verifies(self.public, message, signature)


@lru_cache(maxsize=1 << 12)
def _verifies(public: bytes, message: bytes, signature: bytes) -> bool:
    # Remembered: a parallel verification checks checkpoint signatures while its workers
    # walk the records, and the checks made in order afterwards find them done (beyond
    # the cache's size, about 1 MiB, they are checked again).
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except InvalidSignature:
        return False
    return True


class VerifierKey(NoteVerifierKey):
    """A public key that verifies note signatures by one named signer."""

    KEY_TYPE = ED25519
    LABEL = "verifier key"
    DESCRIPTION = "an Ed25519 key"


class NoteSigningKey:
    """A named Ed25519 private key for one type of note signature, kept as one line in
    Go's signer format, ``PRIVATE+KEY+<name>+<key id hex>+base64(<type byte> || seed)``.
    A subclass names its verifier key class (which gives the type byte and the key's
    description) and how its errors name the key. Its repr and str never show the secret."""

    __slots__ = ("_private", "name", "verifier")

    VERIFIER: ClassVar[type[NoteVerifierKey]]
    LABEL: ClassVar[str]
    """What errors call the key, e.g. ``signing key``."""

    verifier: NoteVerifierKey

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise SigningKeyError(f"Ed25519 private key is {len(seed)} bytes, expected 32")
        self.name = check_name(name)
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        public = self._private.public_key().public_bytes_raw()
        self.verifier = self.VERIFIER(name, public)

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, secrets.token_bytes(32))

    @classmethod
    def parse(cls, text: str) -> Self:
        """Parse the key file's line; the error never echoes the key material."""
        label, kind = cls.LABEL, cls.VERIFIER
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or f"{parts[0]}+{parts[1]}+" != _PRIVATE_PREFIX:
            raise SigningKeyError(
                f"{label}: expected one line PRIVATE+KEY+<name>+<key id hex>+<base64 key>"
            )
        name, hex_id, encoded = parts[2:]
        try:
            data = b64decode(encoded, label)
        except SigningKeyError:
            raise SigningKeyError(f"{label}: the key part is not canonical base64") from None
        if len(data) != 33 or data[0] != kind.KEY_TYPE:
            raise SigningKeyError(
                f"{label}: expected {kind.DESCRIPTION} (type 0x{kind.KEY_TYPE:02x} and 32 bytes)"
            )
        key = cls(name, data[1:])
        if hex_id != key.verifier.id.hex():
            raise SigningKeyError(
                f"{label} {name}: key id {hex_id} should be {key.verifier.id.hex()}"
            )
        return key

    @classmethod
    def load(cls, path: Path) -> Self:
        """The key in `path`; SigningKeyError if missing, malformed or readable by others."""
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise SigningKeyError(f"cannot read {cls.LABEL} {path}: {exc}") from None
        if mode & 0o077:
            raise SigningKeyError(
                f"{cls.LABEL} {path} has mode {mode & 0o777:04o}, readable by others; "
                f"run: chmod 600 {path}"
            )
        try:
            return cls.parse(text)
        except SigningKeyError as exc:
            raise SigningKeyError(f"{path}: {exc}") from None

    @classmethod
    def create(cls, path: Path, name: str) -> Self:
        """Generate a key named `name`, write it to `path` (0600) and its vkey beside it
        (`public_key_path`). Refuses to overwrite either file."""
        key = cls.generate(name)
        public = public_key_path(path)
        if os.path.lexists(public):
            raise SigningKeyError(f"{public} already exists; refusing to overwrite a key")
        write_signing_key(path, key)
        write_text(public, f"{key.verifier}\n", replace=False)
        return key

    def private_text(self) -> str:
        """The key in Go's signer format: secret, for the key file only."""
        seed = self._private.private_bytes_raw()
        encoded = base64.b64encode(bytes([self.VERIFIER.KEY_TYPE]) + seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{self.verifier.id.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.verifier})"

    __str__ = __repr__


class SigningKey(NoteSigningKey):
    """A named Ed25519 private key that signs notes (checkpoints)."""

    __slots__ = ()
    VERIFIER = VerifierKey
    LABEL = "signing key"
    verifier: VerifierKey

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)


def write_signing_key(path: Path, key: NoteSigningKey) -> None:
    """Write `key` to a new file with mode 0600; refuses to overwrite an existing file."""
    if os.path.lexists(path):
        raise SigningKeyError(f"{path} already exists; refusing to overwrite a signing key")
    private_dir(path.parent)
    write_text(path, key.private_text() + "\n", mode=PRIVATE, replace=False)


def public_key_path(path: Path) -> Path:
    """Where the public key of the key file `path` goes: beside it, ending in ``.pub``."""
    return path.with_suffix(".pub") if path.suffix == ".key" else Path(f"{path}.pub")


def create_signing_key(path: Path, origin: str) -> SigningKey:
    """Generate a key for `origin`, write it to `path` (0600) and its vkey beside it.

    Refuses to overwrite either file.
    """
    return SigningKey.create(path, origin)


def load_signing_key(path: Path) -> SigningKey:
    """The key in `path`; raises SigningKeyError if missing, malformed or readable by others."""
    return SigningKey.load(path)


def resolve_signing_key(explicit: Path | None = None) -> SigningKey | None:
    """The key to sign with: `explicit`, else $ASSAY_SIGNING_KEY, else the default file.

    None only when neither is given and ``.assay/signing.key`` does not exist; a key
    that is named but missing or bad raises SigningKeyError.
    """
    if explicit is not None:
        return load_signing_key(explicit)
    env = os.environ.get(SIGNING_KEY_ENV, "").strip()
    if env.startswith(_PRIVATE_PREFIX):
        try:
            return SigningKey.parse(env)
        except SigningKeyError as exc:
            raise SigningKeyError(f"${SIGNING_KEY_ENV}: {exc}") from None
    if env:
        return load_signing_key(Path(env))
    if DEFAULT_SIGNING_KEY.exists():
        return load_signing_key(DEFAULT_SIGNING_KEY)
    return None


def default_origin() -> str:
    """A fresh, unique log origin for a new key: ``assay.local/evidence/<random hex>``."""
    return f"assay.local/evidence/{secrets.token_hex(4)}"
