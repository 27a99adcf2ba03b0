"""Ledger backends for log-level tests: a ledger to open, and a tamperer's view of it.

A backend gives a URL to open (and reopen) a ledger, and a raw connection a tamperer
would use, with the guards removed: the append-only triggers and, on PostgreSQL, the
UNIQUE (prev) constraint (an attacker owning the database drops them as easily).
Tamper SQL uses ``?`` placeholders and the shared schema (records, tree_nodes,
checkpoints, pii_vault); a backend whose driver wants another placeholder converts
them. To add a backend, subclass `Backend` and list it in `BACKENDS`: every test using
the `backend` fixture then runs on it.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from assay.demo.local_postgres import LocalPostgres
from assay.evidence import Ledger, open_ledger


class Backend:
    """One ledger of one backend, with a tamperer's view of it."""

    name = "abstract"
    url: str

    def open(self) -> Ledger:
        return open_ledger(self.url)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run `sql` behind the ledger's back (guards off); returns any rows."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.path = tmp_path / "ledger.db"
        self.url = f"sqlite:///{self.path}"
        self._raw: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._raw is None:
            self.open().close()  # create and migrate before dropping guards
            self._raw = sqlite3.connect(self.path, isolation_level=None)
            triggers = self._raw.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger'"
            ).fetchall()
            for (name,) in triggers:
                self._raw.execute(f"DROP TRIGGER {name}")
        return self._raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._connection().execute(sql, params).fetchall()

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()


class PostgresBackend(Backend):
    """A fresh database on the session's server, dropped afterwards."""

    name = "postgresql"

    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        server: LocalPostgres = request.getfixturevalue("postgres_server")
        self._admin = server.dsn
        self._db = "ledger_" + uuid.uuid4().hex[:12]
        with psycopg.connect(self._admin, autocommit=True) as con:
            con.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self._db)))
        self.url = server.dsn_for("postgres", dbname=self._db)
        self._raw: psycopg.Connection[tuple[Any, ...]] | None = None

    def _connection(self) -> psycopg.Connection[tuple[Any, ...]]:
        if self._raw is None:
            self.open().close()
            self._raw = psycopg.connect(self.url, autocommit=True)
            # Triggers do not fire for a session in replica mode (superusers only).
            self._raw.execute("SET session_replication_role = replica")
            self._raw.execute("ALTER TABLE records DROP CONSTRAINT records_prev_key")
        return self._raw

    def execute(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        cursor = self._connection().execute(query.replace("?", "%s").encode(), params)
        return cursor.fetchall() if cursor.description else []

    def close(self) -> None:
        if self._raw is not None:
            self._raw.close()
        with psycopg.connect(self._admin, autocommit=True) as con:
            con.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self._db))
            )


BACKENDS: dict[str, type[Backend]] = {"sqlite": SQLiteBackend, "postgresql": PostgresBackend}
BACKEND_PARAMS = [
    pytest.param("sqlite"),
    # Starts a real server (once per session), as the integration tests do.
    pytest.param("postgresql", marks=pytest.mark.integration),
]
