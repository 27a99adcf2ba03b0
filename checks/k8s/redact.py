"""Keeping secret values out of snapshots.

Every object passes `scrub` as it enters a connection, live or offline, so nothing
downstream can leak what it never held: `data`, `stringData` and `binaryData` (the
payload of Secrets and ConfigMaps), the ``last-applied-configuration`` annotation
(a full copy of the object as applied, payload included) and `managedFields`.

Literal environment values are replaced by `redact_env`, and the words of a container's
`command` and `args` by `redact_args`: a check can still tell a password written into a
manifest from a `secretKeyRef`, from the variable's name (or the flag's) and from the
`traits` of its value (shapes such as a private key or an AWS key id), but the value
itself never reaches a snapshot, a report or the ledger.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

PAYLOAD_KEYS = ("data", "stringData", "binaryData")
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

# Shapes of well-known credentials; a literal env value with one of these is a secret
# whatever the variable is called.
_TRAITS = (
    ("private-key", re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("aws-access-key-id", re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("url-with-password", re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+:[^/\s@]+@")),
    ("jwt", re.compile(r"\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]+")),
    ("github-token", re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
)
TRAITS = (*(name for name, _ in _TRAITS), "high-entropy")

# Random 20+ character strings (API keys, generated passwords) sit above 4.2 bits a
# character; words, paths, URLs without credentials and version strings sit below.
_ENTROPY_MIN_LENGTH = 20
_ENTROPY_BITS = 4.2
_REFERENCE = re.compile(r"\$\([A-Za-z_][A-Za-z0-9_]*\)")
# An absolute path, as DB_PASSWORD_FILE=/run/secrets/db holds: where a secret is mounted.
_FILE_PATH = re.compile(r"^/[\w.@%+=:,~/-]*$")
_FLAG = re.compile(r"^--?[A-Za-z][A-Za-z0-9_.-]*$")
_PLAIN = re.compile(r"^([-+]?\d+(\.\d+)?[a-zA-Z]{0,2}|true|false|yes|no|on|off)$", re.IGNORECASE)


def scrub(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` without payloads, managed fields and the last-applied copy (a new dict)."""
    out = {k: v for k, v in obj.items() if k not in PAYLOAD_KEYS}
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta = {k: v for k, v in meta.items() if k != "managedFields"}
        annotations = meta.get("annotations")
        if isinstance(annotations, dict) and LAST_APPLIED in annotations:
            meta["annotations"] = {k: v for k, v in annotations.items() if k != LAST_APPLIED}
        out["metadata"] = meta
    return out


def redact_env(env: Any) -> list[Any]:
    """Env entries with each literal `value` replaced by ``valueRedacted`` (what
    `describe_value` says of it); `valueFrom` entries are kept as they are.

    A mapping (``{NAME: value}``, as some tools write it) becomes the list form the API
    uses; anything else that is not a list is kept only as described.
    """
    if isinstance(env, dict):
        env = [
            {"name": name, **value} if isinstance(value, dict) else {"name": name, "value": value}
            for name, value in env.items()
        ]
    if not isinstance(env, list):
        return [{"valueRedacted": describe_value(str(env))}]
    out: list[Any] = []
    for entry in env:
        if isinstance(entry, dict) and "value" in entry:
            literal = entry["value"]
            entry = {k: v for k, v in entry.items() if k != "value"}
            entry["valueRedacted"] = describe_value("" if literal is None else str(literal))
        elif not isinstance(entry, dict):
            entry = {"valueRedacted": describe_value(str(entry))}
        out.append(entry)
    return out


def redact_args(args: Any) -> list[dict[str, Any]]:
    """A container's `command` or `args` with every literal described, never kept: flags
    keep their names (``--password=x`` becomes ``{"flag": "--password", "valueRedacted":
    ...}``), any other word (a flag's value, a shell script) only its description."""
    words = args if isinstance(args, list) else [args]
    out: list[dict[str, Any]] = []
    for word in words:
        text = "" if word is None else str(word)
        flag, eq, value = text.partition("=")
        if _FLAG.match(flag) and eq:
            out.append({"flag": flag, "valueRedacted": describe_value(value)})
        elif _FLAG.match(text):
            out.append({"flag": text})
        else:
            out.append({"valueRedacted": describe_value(text)})
    return out


def describe_value(value: str) -> dict[str, Any]:
    """What a check may know of a literal value: its length, credential traits, whether it
    only expands other variables (``$(DB_PASSWORD)``), whether it is a plain number or
    boolean (``TOKEN_TTL=3600``), which no credential is, and whether it is an absolute
    file path (``DB_PASSWORD_FILE=/run/secrets/db``), which points at one instead."""
    traits = [name for name, pattern in _TRAITS if pattern.search(value)]
    if _high_entropy(value):
        traits.append("high-entropy")
    return {
        "length": len(value),
        "traits": traits,
        "referencesOnly": bool(value) and not _REFERENCE.sub("", value).strip(),
        "plain": bool(_PLAIN.match(value.strip())),
        "filePath": bool(_FILE_PATH.match(value)),
    }


def _high_entropy(value: str) -> bool:
    if len(value) < _ENTROPY_MIN_LENGTH or any(c.isspace() for c in value):
        return False
    counts = Counter(value)
    n = len(value)
    bits = -sum(c / n * math.log2(c / n) for c in counts.values())
    return bits >= _ENTROPY_BITS
