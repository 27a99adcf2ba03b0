"""API tokens of the console: who may sign in, with which role, kept hashed on disk.

A token is ``assay_<id>_<secret>``: the id (8 hex characters) finds its entry, the whole
token's SHA-256 is what the file keeps. Tokens are 256-bit random strings, so a plain
hash suffices (no password stretching); the clear text is shown once, when created.
The file (default ``.assay/console-tokens.json``) is written 0600 through `atomic_write`
and re-read when it changes, so a token created or revoked while the console runs takes
effect at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from assay.errors import ConfigError
from assay.files import PRIVATE, atomic_write, private_dir

DEFAULT_TOKENS = Path(".assay/console-tokens.json")
_TOKEN = re.compile(r"assay_([0-9a-f]{8})_[A-Za-z0-9_-]{43}")
_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


class Role(StrEnum):
    """What a person may do in the console (`ALLOWED`)."""

    AUDITOR = "auditor"
    PRIVACY = "privacy"
    ADMIN = "admin"


class Permission(StrEnum):
    RUNS = "runs"  # runs, findings, proofs, diffs, waivers, checkpoints
    EXPORT = "export"  # evidence bundles
    DSR = "dsr"  # the request queue, and acting on it (when the console enables it)


ALLOWED: dict[Role, frozenset[Permission]] = {
    # An auditor reads the evidence, never the requests (they name people).
    Role.AUDITOR: frozenset({Permission.RUNS, Permission.EXPORT}),
    Role.PRIVACY: frozenset({Permission.DSR}),
    Role.ADMIN: frozenset(Permission),
}


@dataclass(frozen=True)
class TokenEntry:
    """One token as the file keeps it: never the token itself."""

    id: str
    name: str
    role: Role
    sha256: str
    created_at: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> tuple[str, str]:
    """A fresh ``(token, id)``."""
    token_id = secrets.token_hex(4)
    return f"assay_{token_id}_{secrets.token_urlsafe(32)}", token_id


def check_name(name: str) -> str:
    """A token's name (who holds it, as the ledger records their actions): 1-100
    printable characters, no control characters."""
    if not _NAME.fullmatch(name) or not name.strip():
        raise ConfigError(
            f"token name {name!r}: expected 1 to 100 printable characters", field="--name"
        )
    return name.strip()


class TokenStore:
    """The token file: create, list, revoke, and check a presented token."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._seen: tuple[int, int] | None = None
        self._entries: dict[str, TokenEntry] = {}

    def entries(self) -> dict[str, TokenEntry]:
        """The tokens by id, re-read when the file changed (none if it does not exist)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._seen, self._entries = None, {}
            return {}
        stamp = (st.st_mtime_ns, st.st_size)
        if stamp != self._seen:
            self._entries = self._read()
            self._seen = stamp
        return self._entries

    def _read(self) -> dict[str, TokenEntry]:
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read the token file: {exc}", file=self.path) from None
        out: dict[str, TokenEntry] = {}
        for index, raw in enumerate(doc.get("tokens", []) if isinstance(doc, dict) else []):
            try:
                entry = TokenEntry(**{**raw, "role": Role(raw["role"])})
            except (TypeError, KeyError, ValueError):
                raise ConfigError(
                    "expected id, name, role (auditor, privacy or admin), sha256 and created_at",
                    file=self.path,
                    field=f"tokens[{index}]",
                ) from None
            out[entry.id] = entry
        return out

    def _write(self, entries: dict[str, TokenEntry]) -> None:
        private_dir(self.path.parent)
        doc: dict[str, Any] = {
            "tokens": [{**asdict(e), "role": e.role.value} for e in entries.values()]
        }
        with atomic_write(self.path, mode=PRIVATE) as out:
            json.dump(doc, out, indent=2)
            out.write("\n")
        os.chmod(self.path, PRIVATE)

    def create(self, name: str, role: Role, created_at: str) -> tuple[str, TokenEntry]:
        """Add a token for `name` with `role`: the clear token (shown once) and its entry."""
        entries = dict(self.entries())
        token, token_id = new_token()
        while token_id in entries:
            token, token_id = new_token()
        entry = TokenEntry(token_id, check_name(name), role, _digest(token), created_at)
        entries[token_id] = entry
        self._write(entries)
        return token, entry

    def revoke(self, token_id: str) -> TokenEntry:
        """Remove the token `token_id`; ConfigError if there is none."""
        entries = dict(self.entries())
        entry = entries.pop(token_id, None)
        if entry is None:
            known = ", ".join(sorted(entries)) or "none"
            raise ConfigError(f"no token {token_id!r} (tokens: {known})", field="TOKEN_ID")
        self._write(entries)
        return entry

    def check(self, token: str) -> TokenEntry | None:
        """The entry of `token`, or None if it is malformed, unknown or revoked."""
        match = _TOKEN.fullmatch(token.strip())
        if match is None:
            return None
        entry = self.entries().get(match.group(1))
        if entry is None or not hmac.compare_digest(entry.sha256, _digest(token.strip())):
            return None
        return entry
