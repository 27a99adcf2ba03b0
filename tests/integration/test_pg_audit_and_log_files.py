"""pgAudit and log retention on a server that loads pgAudit and writes its own log files.

shared_preload_libraries and logging_collector need a restart to change, so this module
starts its own server; pgaudit.log, log_filename and the rotation settings are reloadable,
so each test turns the server from failing to passing (or back) with ALTER SYSTEM.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from assay.checks import Status
from assay.checks.postgres import PostgresTarget, connect
from assay.checks.postgres.collect.server import collect_server
from assay.demo.local_postgres import LocalPostgres, find_bindir, local_postgres
from assay.testing import run_check

pytestmark = pytest.mark.integration


def pgaudit_library() -> Path | None:
    """pgaudit.so in the server's library folder (beside bin/ in PostgreSQL's layouts)."""
    bindir = find_bindir()
    library = bindir.parent / "lib" / "pgaudit.so" if bindir else None
    return library if library and library.is_file() else None


requires_pgaudit = pytest.mark.skipif(
    pgaudit_library() is None,
    reason="pgAudit is not installed for this PostgreSQL (Debian: postgresql-15-pgaudit)",
)


@pytest.fixture(scope="module")
def logging_server() -> Iterator[LocalPostgres]:
    settings = {
        "logging_collector": "on",
        "log_directory": "'log'",
        "log_filename": "'postgresql-%H.log'",
        "log_truncate_on_rotation": "on",
        "log_rotation_age": "'1h'",
    }
    if pgaudit_library():
        settings |= {"shared_preload_libraries": "'pgaudit'", "pgaudit.log": "'ddl'"}
    with local_postgres(settings) as server:
        yield server


def collect(server: LocalPostgres) -> dict[str, Any]:
    [resource] = collect_server(connect(PostgresTarget(dsn=server.dsn), 10))
    return resource


def test_log_retention_fails_for_a_day_of_hourly_names_and_passes_for_a_week(
    logging_server: LocalPostgres,
) -> None:
    # The collector writes the files its pattern names: the settings are the live ones.
    names = [p.name for p in (logging_server.datadir / "log").iterdir()]
    assert any(re.fullmatch(r"postgresql-\d\d\.log", n) for n in names), names
    daily = run_check("postgres.server.log_retention", collect(logging_server))
    assert daily.status is Status.FAIL
    assert daily.reason.startswith("log files are overwritten after 1 day")
    assert daily.observed["log_filename"] == "postgresql-%H.log"

    logging_server.alter_system("log_filename", "postgresql-%a.log")
    try:
        weekly = run_check("postgres.server.log_retention", collect(logging_server))
        assert weekly.status is Status.PASS, weekly.reason
        assert weekly.observed["kept_days"] == 7
        month = run_check("postgres.server.log_retention", collect(logging_server), min_days=30)
        assert month.status is Status.FAIL
    finally:
        logging_server.alter_system("log_filename", "postgresql-%H.log")


@requires_pgaudit
def test_pgaudit_fails_until_it_audits_writes_and_roles(logging_server: LocalPostgres) -> None:
    with psycopg.connect(logging_server.dsn, autocommit=True) as con:
        con.execute("CREATE EXTENSION IF NOT EXISTS pgaudit")
    server = collect(logging_server)
    assert server["attributes"]["extensions"]["pgaudit"]
    ddl_only = run_check("postgres.server.pgaudit", server)
    assert ddl_only.status is Status.FAIL
    assert ddl_only.observed == {"pgaudit_log": "ddl", "missing": ["write", "role"]}

    logging_server.alter_system("pgaudit.log", "ddl, write, role")
    try:
        result = run_check("postgres.server.pgaudit", collect(logging_server))
        assert result.status is Status.PASS, result.reason
    finally:
        logging_server.alter_system("pgaudit.log", "ddl")


def test_pgaudit_does_not_apply_where_it_is_not_installed(pg_dsn: str) -> None:
    [server] = collect_server(connect(PostgresTarget(dsn=pg_dsn), 10))
    result = run_check("postgres.server.pgaudit", server)
    assert result.status is Status.NOT_APPLICABLE
    required = run_check("postgres.server.pgaudit", server, targets=["*"])
    assert required.status is Status.FAIL
