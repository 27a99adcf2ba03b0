"""`assay serve` refuses what it cannot serve before it listens; sessions end on time."""

from __future__ import annotations

import socket
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.errors import ConfigError
from assay.gdpr.requests import Request as DsrRequest
from assay.gdpr.requests import State
from assay.serve.dsr import next_step
from assay.serve.server import bind
from assay.serve.sessions import Identity, Sessions
from assay.serve.tokens import Role


def serve(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["serve", *args])
    return res.exit_code, res.output


def test_a_missing_ledger_is_named_not_created(tmp_path: Path) -> None:
    ledger = tmp_path / "nowhere.db"
    code, out = serve("--ledger", f"sqlite:///{ledger}", "--port", "0")
    assert code == 2 and f"no SQLite ledger at {ledger}" in out
    assert not ledger.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dsr-actions"], "--dsr-actions needs --datamap"),
        (["--proxy-role", "auditor=audit"], "--proxy-role: --proxy-role needs --proxy-address"),
        (["--proxy-address", "10.0.0.5"], "--proxy-role: a proxy needs at least one"),
        (["--key", "not-a-key"], "--key: verifier key 'not-a-key'"),
    ],
)
def test_bad_options_are_refused_before_serving(
    args: list[str], message: str, tmp_path: Path
) -> None:
    code, out = serve("--ledger", f"sqlite:///{tmp_path / 'l.db'}", *args)
    assert code == 2 and message in out


def test_a_port_in_use_is_named() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{port}"):
            bind("127.0.0.1", port).close()
    finally:
        taken.close()


def test_the_socket_takes_visitors_as_soon_as_its_url_can_be_printed() -> None:
    """`assay serve` prints its URL before uvicorn starts: a visitor that quick must wait
    in the backlog, not be refused."""
    sock = bind("127.0.0.1", 0)
    try:
        socket.create_connection(sock.getsockname()[:2], timeout=5).close()
    finally:
        sock.close()


class Clock:
    """Seconds that pass only when the test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_end_when_idle_or_too_old() -> None:
    who = Identity("kim", Role.AUDITOR, "token 1")
    clock = Clock()
    sessions = Sessions(idle=30 * 60, lifetime=8 * 3600, clock=clock)
    idle, _ = sessions.start(who)
    busy, _ = sessions.start(who)
    clock.now += 29 * 60
    assert sessions.get(idle) is not None  # a request restarts its idle clock
    clock.now += 29 * 60
    assert sessions.get(idle) is not None
    clock.now += 31 * 60
    assert sessions.get(idle) is None
    assert sessions.get(busy) is None
    kept, _ = sessions.start(who)
    for _ in range(8 * 2):  # a request every 29 minutes, for 7 h 44 min
        clock.now += 29 * 60
        assert sessions.get(kept) is not None
    clock.now += 17 * 60
    assert sessions.get(kept) is None  # 8 hours after sign-in, however busy
    assert sessions.get("made-up") is None and sessions.get(None) is None


def test_a_one_time_link_expires_unused() -> None:
    clock = Clock()
    sessions = Sessions(clock=clock)
    secret = sessions.one_time_link(Identity("demo", Role.ADMIN, "one-time link"), valid_for=60)
    clock.now += 61
    assert sessions.redeem(secret) is None


def test_the_queue_says_what_comes_next() -> None:
    today = date(2026, 12, 6)
    request = DsrRequest(
        "DSR-20261201-abcdef", "erasure", "hmac-sha256:x", ("hmac-sha256:x",), today, today
    )
    assert next_step(request, today) == "verify the subject's identity"
    request.state = State.PLANNED
    assert next_step(request, today) == "execute the erasure (typed confirmation)"
    request.state = State.COMPLETED
    assert next_step(request, today) == "none: closed"
    request.deferred = [{"hold": "tax-records", "expires": "2026-12-01"}]
    request.held_pointer = "sealed"
    assert next_step(request, today).startswith("erase the held data whose hold ran out")
    assert next_step(request, date(2026, 11, 30)) == "none: closed"
    access = DsrRequest("DSR-2", "access", "s", ("s",), today, today, state=State.VERIFIED)
    assert next_step(access, today) == "run it with: assay dsr access --request DSR-2"
