"""The throwaway PostgreSQL server the demo and the test suites rely on."""

from __future__ import annotations

import psycopg
import pytest

from assay.demo.local_postgres import LocalPostgres, local_postgres

pytestmark = pytest.mark.integration


def test_session_server_accepts_connections(postgres_server: LocalPostgres, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn) as con:
        row = con.execute(
            "SELECT current_database(), current_setting('server_version_num')"
        ).fetchone()
    assert row is not None and row[0].startswith("t_") and int(row[1]) >= 150000


def test_settings_apply_and_the_server_is_removed() -> None:
    with local_postgres({"log_connections": "on"}) as server:
        with psycopg.connect(server.dsn) as con:
            row = con.execute("SHOW log_connections").fetchone()
        assert row == ("on",)
        datadir = server.datadir
    assert not datadir.exists()
