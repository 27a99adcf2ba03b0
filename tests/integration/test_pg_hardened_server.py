"""A second server configured the way the server controls want it: TLS with a self-signed
certificate, plain TCP rejected, connections logged, WAL archived.

ssl and archive_mode need a restart to change, so this module starts its own server
(about a second) rather than reconfiguring the shared one.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from assay.checks import Status
from assay.checks.postgres import PostgresTarget, connect
from assay.checks.postgres.collect.server import collect_server
from assay.demo.certificates import self_signed
from assay.demo.local_postgres import LocalPostgres, local_postgres
from assay.testing import run_check

pytestmark = pytest.mark.integration

# Plain TCP is refused from anywhere; a remote network may log in over TLS with SCRAM.
# initdb's loopback trust rules follow, so the tests connect over TLS without a password.
HBA = ["hostnossl all all 0.0.0.0/0 reject", "hostssl all all 10.0.0.0/8 scram-sha-256"]


@pytest.fixture(scope="module")
def hardened() -> Iterator[LocalPostgres]:
    cert, key = self_signed("localhost", 1, addresses=("127.0.0.1",))
    settings = {
        "ssl": "on",
        "ssl_cert_file": "'server.crt'",
        "ssl_key_file": "'server.key'",
        "ssl_min_protocol_version": "'TLSv1.3'",
        "password_encryption": "'scram-sha-256'",
        "log_connections": "on",
        "log_disconnections": "on",
        "archive_mode": "on",
        # Runs in the data directory; the archive goes next to it, in the server's temp root.
        "archive_command": "'mkdir -p ../archive && cp %p ../archive/%f'",
    }
    files = {"server.crt": cert, "server.key": key}
    with local_postgres(settings, hba=HBA, files=files) as server:
        yield server


def tls_dsn(server: LocalPostgres) -> str:
    return f"{server.dsn}?sslmode=require"


def collect(server: LocalPostgres) -> dict[str, Any]:
    [resource] = collect_server(connect(PostgresTarget(dsn=tls_dsn(server)), 10))
    return resource


def test_plain_tcp_is_refused_and_tls_1_3_is_used(hardened: LocalPostgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(f"{hardened.dsn}?sslmode=disable").close()
    with psycopg.connect(tls_dsn(hardened)) as con:
        row = con.execute("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        assert row.fetchone() == (True, "TLSv1.3")


def test_the_hardened_server_passes_the_server_controls(hardened: LocalPostgres) -> None:
    server = collect(hardened)
    verdicts = {
        name: run_check(name, server).status
        for name in (
            "postgres.server.ssl",
            "postgres.server.remote_tls",
            "postgres.server.scram_authentication",
            "postgres.server.connection_logging",
        )
    }
    assert set(verdicts.values()) == {Status.PASS}, verdicts
    strict = run_check("postgres.server.ssl", server, min_protocol="TLSv1.3")
    assert strict.status is Status.PASS
    assert strict.observed == {"ssl": "on", "ssl_min_protocol_version": "TLSv1.3"}


def test_tls_1_3_where_configured_fails_a_server_that_still_accepts_1_2(
    hardened: LocalPostgres,
) -> None:
    dsn = tls_dsn(hardened)
    hardened.alter_system("ssl_min_protocol_version", "TLSv1.2", dsn=dsn)
    try:
        server = collect(hardened)
        assert run_check("postgres.server.ssl", server).status is Status.PASS  # 1.2 minimum
        strict = run_check("postgres.server.ssl", server, min_protocol="TLSv1.3")
        assert strict.status is Status.FAIL
        assert strict.reason == "ssl_min_protocol_version is TLSv1.2; expected TLSv1.3 or newer"
    finally:
        hardened.alter_system("ssl_min_protocol_version", "TLSv1.3", dsn=dsn)


@pytest.fixture
def hba_file(hardened: LocalPostgres) -> Iterator[Path]:
    """pg_hba.conf of the hardened server, restored afterwards. pg_hba_file_rules reads the
    file as it is on disk, so edits show without a reload (and change no live rule)."""
    path = hardened.datadir / "pg_hba.conf"
    original = path.read_text()
    yield path
    path.write_text(original)


def test_a_plain_md5_rule_on_disk_fails_both_hba_controls(
    hardened: LocalPostgres, hba_file: Path
) -> None:
    hba_file.write_text("host all all 192.168.0.0/16 md5\n" + hba_file.read_text())
    server = collect(hardened)
    tls = run_check("postgres.server.remote_tls", server)
    assert tls.status is Status.FAIL
    assert tls.observed == {"rules": ["line 1: host all all 192.168.0.0/16 md5"]}
    scram = run_check("postgres.server.scram_authentication", server)
    assert scram.status is Status.FAIL
    assert scram.observed["rules"] == ["line 1: host all all 192.168.0.0/16 md5"]


def test_a_line_the_server_cannot_parse_makes_the_hba_controls_error(
    hardened: LocalPostgres, hba_file: Path
) -> None:
    hba_file.write_text(hba_file.read_text() + "host all all 10.1.0.0/16 md6\n")
    result = run_check("postgres.server.remote_tls", collect(hardened))
    assert result.status is Status.ERROR
    assert 'invalid authentication method "md6"' in result.reason


def switch_wal(con: psycopg.Connection[Any]) -> None:
    """Write something, then close the WAL segment so the archiver gets it."""
    con.execute("CREATE TABLE IF NOT EXISTS churn (n int); INSERT INTO churn VALUES (1)")
    con.execute("SELECT pg_switch_wal()")


def archive_until(dsn: str, done: str, seconds: float = 20) -> None:
    """Hand the archiver segments until pg_stat_archiver shows `done`.

    A reloaded archive_command reaches the archiver a moment later, so one segment
    may still go the old way; the next ones go the new way.
    """
    deadline = time.monotonic() + seconds
    with psycopg.connect(dsn, autocommit=True) as con:
        while time.monotonic() < deadline:
            switch_wal(con)
            for _ in range(10):
                row = con.execute(f"SELECT {done} FROM pg_stat_archiver").fetchone()
                if row and row[0]:
                    return
                time.sleep(0.05)
    pytest.fail(f"pg_stat_archiver did not show {done} within {seconds}s")


def test_archiving_passes_while_it_works_and_fails_once_the_archiver_fails(
    hardened: LocalPostgres,
) -> None:
    dsn = tls_dsn(hardened)
    archive_until(dsn, "archived_count > 0")
    result = run_check("postgres.server.wal_archiving", collect(hardened))
    assert result.status is Status.PASS, result.reason
    assert result.observed["archiver"]["last_archived_wal"]

    # archive_command is reloadable: make it fail.
    with psycopg.connect(dsn, autocommit=True) as con:
        con.execute("ALTER SYSTEM SET archive_command = 'false'")
        con.execute("SELECT pg_reload_conf()")
    archive_until(dsn, "last_failed_time > coalesce(last_archived_time, '-infinity')")
    result = run_check("postgres.server.wal_archiving", collect(hardened))
    assert result.status is Status.FAIL
    assert result.reason.startswith("the archiver is failing: segment ")
