"""Signed-in people: server-side sessions that expire, each with its own CSRF token.

The browser holds only a random session id (an HttpOnly, SameSite=Strict cookie); the
server keeps its SHA-256, so a leaked memory dump or log line names no usable cookie.
A session ends after `idle` without a request, or `lifetime` after sign-in, whichever
comes first; sessions live in memory, so restarting the console signs everyone out.

One-time links (`assay demo --serve`) are kept here too: a secret that opens one session
once, then is gone.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from assay.serve.tokens import Role

COOKIE = "assay_session"


@dataclass(frozen=True)
class Identity:
    """Who acts: `name` goes into the ledger with every action they take."""

    name: str
    role: Role
    via: str  # "token <id>", "one-time link", "proxy"
    token_id: str | None = None


@dataclass
class Session:
    identity: Identity
    csrf: str
    started: float
    seen: float = field(default=0.0)


def _key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class Sessions:
    """The open sessions and one-time links of one console process (thread-safe)."""

    def __init__(
        self,
        *,
        idle: float = 30 * 60,
        lifetime: float = 8 * 3600,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle = idle
        self.lifetime = lifetime
        self.clock = clock
        self._open: dict[str, Session] = {}
        self._once: dict[str, tuple[Identity, float]] = {}
        self._lock = threading.Lock()

    def start(self, identity: Identity) -> tuple[str, Session]:
        """A new session for `identity`: the cookie value, and the session."""
        sid = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(identity, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._expire(now)
            self._open[_key(sid)] = session
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of cookie value `sid` (its idle clock restarted), or None."""
        if not sid:
            return None
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._open.get(_key(sid))
            if session is not None:
                session.seen = now
            return session

    def end(self, sid: str | None) -> None:
        if sid:
            with self._lock:
                self._open.pop(_key(sid), None)

    def _expire(self, now: float) -> None:
        for key, s in list(self._open.items()):
            if now - s.seen > self.idle or now - s.started > self.lifetime:
                del self._open[key]
        for key, (_, until) in list(self._once.items()):
            if now > until:
                del self._once[key]

    def one_time_link(self, identity: Identity, valid_for: float = 3600) -> str:
        """A secret that opens one session for `identity` once, within `valid_for` seconds."""
        secret = secrets.token_urlsafe(32)
        with self._lock:
            self._once[_key(secret)] = (identity, self.clock() + valid_for)
        return secret

    def redeem(self, secret: str) -> Identity | None:
        """The identity of one-time link `secret`, which is then spent; None if unknown,
        spent or expired."""
        with self._lock:
            self._expire(self.clock())
            found = self._once.pop(_key(secret), None)
        return None if found is None else found[0]


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two secrets."""
    return hmac.compare_digest(a.encode(), b.encode())
