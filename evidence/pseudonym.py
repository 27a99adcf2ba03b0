"""Keyed pseudonyms for values that name a person, so records never carry them in the clear.

A pseudonym is HMAC-SHA256 over the value's kind and value under a secret key kept
outside the ledger: the same person gets the same pseudonym in every record (requests
can be correlated), while nobody without the key can test a guess against the ledger.
Destroying the key (or the raw value) never requires rewriting the chain.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Any

from assay.errors import AssayError
from assay.files import PRIVATE, private_dir, write_text

KEY_BYTES = 32
KEY_ENV = "ASSAY_PSEUDONYM_KEY"
DEFAULT_KEY_PATH = Path(".assay/pseudonym.key")  # shared by runs and `assay dsr`
PREFIX = "hmac-sha256:"
_PSEUDONYM = re.compile(re.escape(PREFIX) + "[0-9a-f]{64}")


class PseudonymKeyError(AssayError, ValueError):
    """The pseudonym key is missing, unreadable or malformed."""

    def __init__(self, message: str) -> None:
        super().__init__(
            message,
            remediation=f"check the key file (--pseudonym-key) or ${KEY_ENV} (64 hex digits)",
        )


class Pseudonymizer:
    def __init__(self, key: bytes) -> None:
        if len(key) < KEY_BYTES:
            raise PseudonymKeyError(f"pseudonym key has {len(key)} bytes, expected {KEY_BYTES}")
        self._key = key

    def pseudonym(self, kind: str, value: str) -> str:
        """The stable pseudonym of `value` (already normalised by the caller) of type `kind`."""
        return PREFIX + self.keyed_hex(kind, value)

    def keyed_hex(self, kind: str, value: str) -> str:
        """HMAC-SHA256 of `value` of type `kind`, in hex: what pseudonyms are made of."""
        return hmac.new(self._key, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "Pseudonymizer(<key hidden>)"


def check_pseudonym(value: str) -> str:
    """`value` if it is a pseudonym `Pseudonymizer` makes; ValueError otherwise.

    Guards stores keyed by pseudonym against being handed the raw value by mistake;
    the message never repeats the value, which may be personal data.
    """
    if not isinstance(value, str) or not _PSEUDONYM.fullmatch(value):
        raise ValueError(
            f"expected a pseudonym {PREFIX}<64 hex digits>, got a {type(value).__name__} "
            "that is not one (not shown: it may be personal data)"
        )
    return value


def load_key(path: Path, *, create: bool = True) -> bytes:
    """The key from $ASSAY_PSEUDONYM_KEY (hex), else from `path`, created (mode 0600) if absent."""
    env = os.environ.get(KEY_ENV)
    if env:
        try:
            return bytes.fromhex(env.strip())
        except ValueError:
            raise PseudonymKeyError(f"{KEY_ENV} is not hex") from None
    if path.exists():
        mode = path.stat().st_mode
        if mode & 0o077:
            raise PseudonymKeyError(
                f"pseudonym key {path} has mode {mode & 0o777:04o}, readable by others; "
                f"run: chmod 600 {path}"
            )
        data = path.read_text(encoding="ascii").strip()
        try:
            return bytes.fromhex(data)
        except ValueError:
            raise PseudonymKeyError(f"{path}: expected a hex key") from None
    if not create:
        raise PseudonymKeyError(f"no pseudonym key at {path} and {KEY_ENV} is not set")
    private_dir(path.parent)
    key = secrets.token_bytes(KEY_BYTES)
    write_text(path, key.hex() + "\n", mode=PRIVATE, replace=False)
    return key


# Addresses name people; they are the personal data that reaches results through free
# text (a Kubernetes RBAC subject, a CloudTrail user, a reason quoting either). Wide on
# purpose: Unicode (IDN) local parts and domains, hosts without a dot (user@localhost),
# and the percent-encoded @ of URLs; an image digest (nginx@sha256:...) is not one.
EMAIL = re.compile(
    r"[\w.%+-]+(?:@|%40)(?!(?:sha256|sha384|sha512):)[\w-]+(?:\.[\w-]+)*", re.IGNORECASE
)


def normalise_email(raw: str) -> str:
    """One spelling per address: ``%40`` as ``@``, lower case, the domain in IDNA form."""
    local, _, domain = re.sub("%40", "@", raw.strip(), flags=re.IGNORECASE).rpartition("@")
    with contextlib.suppress(UnicodeError):  # not a valid IDN: keep it as written
        domain = domain.encode("idna").decode("ascii")
    return f"{local.lower()}@{domain.lower()}"


def contains_email(value: Any) -> bool:
    """Whether an e-mail address appears in any string, dict key or list item of `value`."""
    if isinstance(value, str):
        return EMAIL.search(value) is not None
    if isinstance(value, dict):
        return any(contains_email(k) or contains_email(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(contains_email(v) for v in value)
    return False


def pseudonymise_emails(value: Any, p: Pseudonymizer, found: dict[str, str]) -> Any:
    """`value` with every e-mail address in its strings (dict keys too) replaced by its
    pseudonym.

    `found` collects pseudonym -> address, for the ledger's deletable vault.
    """
    if isinstance(value, str):

        def swap(m: re.Match[str]) -> str:
            raw = m.group(0)
            ps = p.pseudonym("email", normalise_email(raw))
            found[ps] = raw
            return ps

        return EMAIL.sub(swap, value)
    if isinstance(value, dict):
        return {
            pseudonymise_emails(k, p, found): pseudonymise_emails(v, p, found)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [pseudonymise_emails(v, p, found) for v in value]
    return value
