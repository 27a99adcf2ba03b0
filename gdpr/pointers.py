"""Finding held rows again once their hold expires, without keeping who they belong to.

An erasure that leaves rows under a hold records, beside the holds and their expiry, a
*pointer*: the keys of the rows it left, encrypted (AES-256-GCM) under a key derived from
the pseudonym key. The ledger thus holds no identity and no readable key, and `assay dsr
due --erase-expired` can erase the rows in 2032 with no one left to name the subject.
Destroying the pseudonym key destroys every pointer with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from assay.gdpr.errors import RequestError
from assay.gdpr.plan import ErasurePlan

PREFIX = "aesgcm:"


def pointer_key(pseudonym_key: bytes) -> bytes:
    """The pointer key: derived, so it never equals the pseudonym key itself."""
    return hmac.new(pseudonym_key, b"assay-gdpr held-row pointer", hashlib.sha256).digest()


def seal_pointer(
    key: bytes, plan: ErasurePlan, request_id: str, *, erasable: bool = False
) -> str | None:
    """The keys of every row `plan` leaves in place (with `erasable`, of every row it
    found: rows to erase again later), encrypted; None if there are none."""
    deleted = {} if erasable else {tp.table.name: set(tp.delete) for tp in plan.tables}
    kept = {
        tname: [k for k in found.rows if k not in deleted.get(tname, set())]
        for tname, found in plan.snapshot.found.items()
        if found.table.role in ("subject", "owned")
    }
    kept = {t: keys for t, keys in kept.items() if keys}
    if not kept:
        return None
    body = json.dumps(kept, default=str, sort_keys=True).encode()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, body, request_id.encode())
    return PREFIX + base64.b64encode(nonce + sealed).decode()


def open_pointer(key: bytes, pointer: str, request_id: str) -> dict[str, list[Any]]:
    """The row keys per table of a pointer sealed for `request_id` (composite keys as
    lists); RequestError if it was sealed under another key or altered."""
    try:
        raw = base64.b64decode(pointer.removeprefix(PREFIX), validate=True)
        body = AESGCM(key).decrypt(raw[:12], raw[12:], request_id.encode())
    except (ValueError, InvalidTag):
        raise RequestError(
            f"request {request_id}: the pointer to its held rows cannot be opened with this "
            "pseudonym key",
            remediation="use the pseudonym key the erasure ran with (--pseudonym-key)",
        ) from None
    keys: Mapping[str, list[Any]] = json.loads(body)
    return {t: [tuple(k) if isinstance(k, list) else k for k in ks] for t, ks in keys.items()}
