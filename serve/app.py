"""The console's ASGI app: pages, the JSON API under /api/v1, sign-in, security headers.

Everything is served by the app itself (templates, CSS, scripts): no CDN, so it works
offline. The Content-Security-Policy allows scripts and styles from the console only,
never inline, and no framing.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from assay.errors import AssayError
from assay.serve.auth import (
    Forbidden,
    SignIn,
    Viewer,
    allowed,
    identify,
    set_session_cookie,
)
from assay.serve.console import Console
from assay.serve.data import NotFound
from assay.serve.render import page
from assay.serve.sessions import COOKIE, Identity, same
from assay.serve.tokens import Role

LOGIN_COOKIE = "assay_login"
API = "/api/v1"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    # Pages show evidence and requests: never kept in a shared cache or the back button's.
    "Cache-Control": "no-store",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith(API)


def _local_path(target: str) -> str:
    """`target` if it is a path on this console, else ``/`` (no open redirect)."""
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def home_of(identity: Identity) -> str:
    """Where a viewer lands: the DSR queue for the privacy role, the runs for the others."""
    return "/dsr" if identity.role is Role.PRIVACY else "/runs"


def create_app(console: Console) -> FastAPI:
    """The console app over `console` (which the caller closes after serving)."""
    from assay.serve import api, dsr, pages

    app = FastAPI(
        title="assay console API",
        version="1",
        description="Runs, findings with their inclusion proofs, and the DSR queue of an "
        "assay evidence ledger. Authenticate with `Authorization: Bearer <token>` "
        "(`assay serve token create`).",
        # Served by a route of its own below, to signed-in viewers only. The interactive
        # docs load their scripts from a CDN: the schema alone is served.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.console = console

    @app.middleware("http")
    async def frame(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        viewer = getattr(request.state, "viewer", None)
        if viewer is not None and viewer.new_cookie:
            set_session_cookie(response, viewer.new_cookie, secure=console.secure_cookies)
        return response

    @app.exception_handler(SignIn)
    async def sign_in(request: Request, exc: SignIn) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": "sign in: send Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='/')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.message}, status_code=403)
        return page(request, "error.html.j2", 403, title="Not allowed", message=exc.message)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=404)
        return page(request, "error.html.j2", 404, title="Not found", message=str(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        title = "Not found" if exc.status_code == 404 else "Could not do that"
        return page(request, "error.html.j2", exc.status_code, title=title, message=exc.detail)

    @app.exception_handler(AssayError)
    async def refused(request: Request, exc: AssayError) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.diagnostics()}, status_code=409)
        return page(request, "error.html.j2", 409, title="Could not do that", message=exc.message)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request, next: str = "/", failed: bool = False) -> Response:
        nonce = secrets.token_urlsafe(24)
        response = page(
            request,
            "login.html.j2",
            401 if failed else 200,
            nonce=nonce,
            next=_local_path(next),
            failed=failed,
        )
        response.set_cookie(
            LOGIN_COOKIE, nonce, httponly=True, samesite="strict", secure=console.secure_cookies
        )
        return response

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        nonce, token, target = (str(form.get(k) or "") for k in ("nonce", "token", "next"))
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not nonce or not cookie or not same(nonce, cookie):
            raise Forbidden("the sign-in form expired: load it again")
        entry = console.tokens.check(token)
        if entry is None:
            return RedirectResponse(f"/login?failed=1&next={_local_path(target)}", status_code=303)
        identity = Identity(entry.name, entry.role, f"token {entry.id}", entry.id)
        sid, _ = console.sessions.start(identity)
        target = _local_path(target)
        response = RedirectResponse(target if target != "/" else home_of(identity), status_code=303)
        set_session_cookie(response, sid, secure=console.secure_cookies)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @app.get("/login/once/{secret}", include_in_schema=False)
    def login_once(secret: str) -> Response:
        identity = console.sessions.redeem(secret)
        if identity is None:
            return RedirectResponse("/login?failed=1", status_code=303)
        sid, _ = console.sessions.start(identity)
        response = RedirectResponse(home_of(identity), status_code=303)
        set_session_cookie(response, sid, secure=console.secure_cookies)
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        viewer = identify(request)
        form = await request.form()
        sent = str(form.get("csrf") or "")
        if viewer is None or viewer.session is None or not same(sent, viewer.csrf):
            raise Forbidden("the form's CSRF token is missing or stale: reload the page")
        console.sessions.end(request.cookies.get(COOKIE))
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get(f"{API}/openapi.json", include_in_schema=False)
    def openapi(viewer: Annotated[Viewer, Depends(allowed(None))]) -> dict[str, Any]:
        return app.openapi()

    @app.get("/", include_in_schema=False)
    def home(request: Request) -> Response:
        viewer = allowed(None)(request)
        return RedirectResponse(home_of(viewer.identity), status_code=303)

    app.mount("/static", StaticFiles(packages=[("assay.serve", "static")]), name="static")
    app.include_router(pages.router)
    app.include_router(api.router, prefix=API)
    app.include_router(dsr.router)
    app.include_router(dsr.api_router, prefix=API)
    return app
