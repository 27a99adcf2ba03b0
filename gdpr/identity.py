"""Identities a request names its subject by, and how each type is normalised and matched.

Three normalisations, named in the data map per identity type:

- ``email``: Unicode NFC, surrounding whitespace trimmed, lower-cased; matched as
  ``lower(column) = value``, so ``Alice@Example.com`` finds ``alice@example.com``
  (and the database's ``lower`` is what an index on ``lower(column)`` serves). Python's
  ``casefold`` is not used: it turns ``ß`` into ``ss``, which ``lower`` in SQL never does.
- ``text``: NFC, trimmed, matched exactly.
- ``integer``: a whole number in the 64-bit range, matched exactly.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

from assay.evidence import Pseudonymizer
from assay.gdpr.errors import IdentityError

Normalisation = Literal["email", "text", "integer"]
IdentityValue = str | int
INT64 = 2**63


@dataclass(frozen=True, order=True)
class Identity:
    """One identity of a subject: its type (as named in the data map) and normalised value."""

    type: str
    value: IdentityValue

    def pseudonym(self, pseudonymizer: Pseudonymizer) -> str:
        """The keyed pseudonym that stands for this identity in every ledger record."""
        return pseudonymizer.pseudonym(self.type, str(self.value))

    def __repr__(self) -> str:
        # The value is personal data: keep it out of logs and tracebacks.
        return f"Identity({self.type!r}, <hidden>)"


def normalise(kind: Normalisation, raw: str | int, *, label: str) -> IdentityValue:
    """`raw` normalised as `kind`; IdentityError (naming `label`, not the value) if it cannot be."""
    if kind == "integer":
        try:
            number = int(str(raw).strip())
        except ValueError:
            raise IdentityError(f"identity {label}: expected a whole number") from None
        if not -INT64 <= number < INT64:
            raise IdentityError(f"identity {label}: outside the 64-bit integer range")
        return number
    text = unicodedata.normalize("NFC", str(raw)).strip()
    if not text:
        raise IdentityError(f"identity {label}: empty value")
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise IdentityError(f"identity {label}: contains control characters")
    if kind == "email":
        if text.count("@") != 1 or any(ch.isspace() for ch in text):
            raise IdentityError(f"identity {label}: expected one e-mail address (one @, no spaces)")
        return text.lower()
    return text


def parse_identity(text: str) -> tuple[str, str]:
    """``type=value`` split at the first ``=``; IdentityError if there is none."""
    kind, sep, value = text.partition("=")
    if not sep or not kind.strip():
        raise IdentityError(
            "identity must be written TYPE=VALUE, e.g. email=alice@example.com "
            "(the value is not shown here)"
        )
    return kind.strip(), value


def make_identities(
    given: Iterable[tuple[str, str | int]], types: Mapping[str, Normalisation]
) -> list[Identity]:
    """Identities from (type, raw value) pairs, normalised per the data map's `types`."""
    out: list[Identity] = []
    for kind, raw in given:
        if kind not in types:
            known = ", ".join(sorted(types)) or "none"
            raise IdentityError(f"unknown identity type {kind!r}; the data map defines: {known}")
        out.append(Identity(kind, normalise(types[kind], raw, label=kind)))
    if not out:
        raise IdentityError("no identity given; name the subject with --identity TYPE=VALUE")
    return sorted(set(out))
