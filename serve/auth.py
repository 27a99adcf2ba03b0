"""Who is asking, and may they: sessions, bearer tokens, the proxy, roles and CSRF.

Every route depends on `allowed` (pages and API) or `posted` (forms): nothing is served
to an anonymous request but the sign-in page and the static files. A page asked for
without a session redirects to sign in; an API call answers 401. A role without the
permission gets 403. A form is accepted only with its session's CSRF token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.datastructures import FormData

from assay.serve.console import Console
from assay.serve.sessions import COOKIE, Identity, Session, same
from assay.serve.tokens import ALLOWED, Permission


class SignIn(Exception):
    """No one is signed in: a page redirects to the sign-in form, the API answers 401."""


class Forbidden(Exception):
    """Signed in, without the permission (or a form without its CSRF token): 403."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Viewer:
    identity: Identity
    session: Session | None
    """None for an API call with a bearer token: no cookie, so no CSRF to guard against."""
    new_cookie: str | None = None
    """A session started for this request (proxy sign-on): the cookie to set."""

    def can(self, permission: Permission) -> bool:
        return permission in ALLOWED[self.identity.role]

    @property
    def csrf(self) -> str:
        return "" if self.session is None else self.session.csrf


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def identify(request: Request) -> Viewer | None:
    """The viewer of `request`: its session cookie, a bearer token (API), or the trusted
    proxy's header; None when anonymous."""
    console = console_of(request)
    session = console.sessions.get(request.cookies.get(COOKIE))
    proxied = None
    if console.proxy is not None:
        client = request.client.host if request.client else None
        proxied = console.proxy.identify(client, request.headers)
    # A revoked token ends its sessions at their next request.
    token_id = None if session is None else session.identity.token_id
    if token_id is not None and token_id not in console.tokens.entries():
        session = None
    if proxied is not None:
        if session is not None and session.identity == proxied:
            return Viewer(proxied, session)
        sid, started = console.sessions.start(proxied)
        return Viewer(proxied, started, new_cookie=sid)
    if session is not None:
        return Viewer(session.identity, session)
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token:
        entry = console.tokens.check(token)
        if entry is not None:
            return Viewer(Identity(entry.name, entry.role, f"token {entry.id}", entry.id), None)
    return None


def allowed(permission: Permission | None) -> Callable[[Request], Viewer]:
    """A dependency: the viewer, who must hold `permission` (any signed-in viewer for None)."""

    def dependency(request: Request) -> Viewer:
        viewer = identify(request)
        if viewer is None:
            raise SignIn()
        request.state.viewer = viewer
        if permission is not None and not viewer.can(permission):
            raise Forbidden(f"the {viewer.identity.role.value} role may not see this")
        return viewer

    return dependency


@dataclass(frozen=True)
class Posted:
    viewer: Viewer
    form: FormData

    def text(self, name: str) -> str:
        value = self.form.get(name)
        return value.strip() if isinstance(value, str) else ""


def posted(permission: Permission | None) -> Callable[[Request], Awaitable[Posted]]:
    """A dependency for a form: `allowed`, and the form's ``csrf`` field must be its
    session's token (a form can only come from a page the console served to that session)."""
    check = allowed(permission)

    async def dependency(request: Request) -> Posted:
        viewer = check(request)
        form = await request.form()
        sent = form.get("csrf")
        if viewer.session is None or not isinstance(sent, str) or not same(sent, viewer.csrf):
            raise Forbidden("the form's CSRF token is missing or stale: reload the page")
        return Posted(viewer, form)

    return dependency


def set_session_cookie(response: Any, sid: str, *, secure: bool) -> None:
    # Lax, not Strict: a link to the console from elsewhere still arrives signed in; what
    # Lax lets through cross-site is GET only, and every form carries a CSRF token.
    response.set_cookie(COOKIE, sid, httponly=True, samesite="lax", secure=secure, path="/")
