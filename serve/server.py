"""Serving the console with uvicorn on a socket bound first, so its address is known
(port 0 lets the kernel pick one) before anything is printed."""

from __future__ import annotations

import socket
from collections.abc import Callable

import uvicorn

from assay.errors import ConfigError
from assay.serve.app import create_app
from assay.serve.console import Console


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host`:`port`; ConfigError naming the option if taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        # Listening now, before the URL is printed: a visitor who comes before uvicorn has
        # started waits in the backlog instead of being refused.
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port}: {exc.strerror}", field="--host/--port"
        ) from None
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(console: Console, sock: socket.socket, *, ready: Callable[[str], None]) -> None:
    """Serve `console` on `sock` until interrupted; `ready` gets the base URL first."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(console), log_level="warning", access_log=False)
    )
    ready(base_url(sock))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        console.close()
