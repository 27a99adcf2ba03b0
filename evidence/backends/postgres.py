"""The PostgreSQL ledger backend: the SQLite ledger's schema and semantics on a server.

Appends are serialised by one row (``append_lock``), locked ``FOR UPDATE`` first thing
in the appending transaction; the head is read only after that lock is held, in a
statement of its own, so it sees what the previous appender committed. Should that
ever fail, the seq primary key and ``UNIQUE (prev)`` refuse a fork in storage. A batch
goes in with COPY, records and the Merkle nodes it completes in the same transaction.
UPDATE, DELETE and TRUNCATE on records, tree nodes and checkpoints are refused by
triggers. Every message shows the URL with its password redacted.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from assay.evidence.backends import request_index, run_index
from assay.evidence.backends.dbapi import Dialect, SqlLedger
from assay.evidence.backends.postgres_schema import (
    MIGRATION_LOCK,
    MIGRATIONS,
    REQUEST_INDEX,
    RUN_INDEX,
    TABLES,
    WRITER_PRIVILEGES,
    fill_request_index,
    fill_run_index,
)
from assay.evidence.checkpoint_log import CheckpointLog
from assay.evidence.merkle import NodeKey
from assay.evidence.record import LedgerDamagedError, redact_url

# What a missing or corrupt table or relation looks like: the ledger is damaged.
_DAMAGE = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.DataCorrupted,
    psycopg.errors.IndexCorrupted,
)
# Batches go in with binary COPY, the columns typed as the schema has them.
_COPY = {
    "records": (
        "COPY records (seq, prev, hash, body) FROM STDIN (FORMAT BINARY)",
        ["int8", "bytea", "bytea", "bytea"],
    ),
    "tree_nodes": (
        "COPY tree_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)",
        ["int4", "int8", "bytea"],
    ),
}


def _password(url: str) -> str | None:
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        return None
    return str(value) if value else None


class PostgresLedger(SqlLedger[psycopg.Connection[Any]]):
    """An evidence ledger in a PostgreSQL database (see `assay.evidence.ledger.Ledger`).

    `url` is a libpq URI (``postgresql://user:password@host:port/dbname?...``). Calls on
    one instance are serialised by a lock, so threads may share it. With `create` the
    tables are created if missing; without it, a database holding no ledger is a
    LedgerError. Pending migrations are applied on open either way; a ledger already
    at the current version is opened without writing, so a read-only role can verify.
    """

    dialect = Dialect.of(
        "%s",
        page=5000,
        has_meta="SELECT to_regclass('meta') IS NOT NULL",
        level_run="SELECT string_agg(hash, ''::bytea ORDER BY idx) FROM tree_nodes"
        " WHERE level = %s AND idx >= %s AND idx < %s AND length(hash) = 32",
        records_batch="SELECT count(*) FILTER (WHERE length(hash) = 32),"
        " string_agg(hash || body, '\\x0a'::bytea ORDER BY seq)"
        " FROM records WHERE seq >= %s AND seq < %s",
        # psycopg fetches rows only from a statement that returns some.
        returning=" RETURNING 1",
    )
    driver_error = psycopg.Error
    opening = "cannot prepare"

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        connect_timeout: int = 30,
        checkpoint_log: CheckpointLog | None = None,
    ) -> None:
        super().__init__(url, checkpoint_log)
        try:
            db = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=connect_timeout,
                application_name="assay-evidence",
            )
        except psycopg.Error as exc:
            raise self._error("cannot open", exc) from None
        self._open(db, create)

    @property
    def _where(self) -> str:
        return f"PostgreSQL ledger {redact_url(self.url)}"

    def _damaged(self, exc: Exception) -> bool:
        return isinstance(exc, _DAMAGE)

    def _redact(self, message: str) -> str:
        # libpq may quote the connection string back; never let the password through.
        secret = _password(self.url)
        return message.replace(secret, "***") if secret else message

    def _prepare(self, create: bool) -> None:
        version = self._schema_version()
        if version != len(MIGRATIONS):
            if version == 0 and not create:
                raise LedgerDamagedError(
                    f"{self._where}: the database holds no assay ledger (no meta table)"
                )
            self._upgrade()
        self._check_tables(self._missing(TABLES))
        # Derived from the records: a dropped index is rebuilt, not damage. A role that
        # may only read cannot, and needs not: verification never reads them.
        for tables, fill in (
            (run_index.TABLES, self._create_run_index),
            (request_index.TABLES, self._create_request_index),
        ):
            if self._missing(tables):
                try:
                    with self._appending():
                        fill()
                except psycopg.errors.InsufficientPrivilege:
                    pass

    def _missing(self, tables: Sequence[str]) -> list[str]:
        found = self._db.execute(
            "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", (list(tables),)
        ).fetchall()
        return [str(row[0]) for row in found]

    def _upgrade(self) -> None:
        # A session lock taken before the transaction starts: the transaction then sees
        # the catalog as the previous migrator left it (a lock taken inside it might not).
        self._db.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            with self._db.transaction():
                self._migrate()
        finally:
            self._db.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    def _migrate(self) -> None:
        version = self._schema_version()
        if version > len(MIGRATIONS):
            raise self._too_new(version, len(MIGRATIONS))
        if version == 0:
            self._db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for migration in MIGRATIONS[version:]:
            for step in migration:
                if isinstance(step, str):
                    self._db.execute(step.encode())
                else:
                    step(self._fetch_all)
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(len(MIGRATIONS)),),
        )

    @contextmanager
    def _appending(self) -> Iterator[None]:
        with self._db.transaction():
            if (
                self._db.execute("SELECT id FROM append_lock WHERE id = 1 FOR UPDATE").fetchone()
                is None
            ):
                raise LedgerDamagedError(
                    f"{self._where}: the append_lock row is missing; restore it"
                )
            # The head is read next, in a statement of its own: in READ COMMITTED it
            # takes a fresh snapshot, which holds whatever the appender before us committed.
            yield

    def _insert_many(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        statement, types = _COPY[table]
        with self._db.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for row in rows:
                copy.write_row(row)

    def _fetch_all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        # Binary results: bytea arrives as bytes, without hex decoding.
        with self._db.cursor(binary=True) as cursor:
            cursor.execute(query.encode(), params)
            return cursor.fetchall() if cursor.description else []

    def _create_run_index(self) -> None:
        for statement in RUN_INDEX:
            self._db.execute(statement.encode())
        fill_run_index(self._fetch_all)

    def _create_request_index(self) -> None:
        for statement in REQUEST_INDEX:
            self._db.execute(statement.encode())
        fill_request_index(self._fetch_all)

    def _select_nodes(self, keys: Sequence[NodeKey]) -> list[tuple[Any, ...]]:
        with self._db.cursor(binary=True) as cursor:
            return cursor.execute(
                b"SELECT t.level, t.idx, t.hash"
                b" FROM unnest(%s::int4[], %s::int8[]) AS k(level, idx)"
                b" JOIN tree_nodes t ON t.level = k.level AND t.idx = k.idx",
                ([level for level, _ in keys], [idx for _, idx in keys]),
            ).fetchall()

    def _scrub_vault(self, deleted: int) -> None:
        """The table is rewritten (VACUUM FULL), so the value no longer lies in its data
        files; the server's write-ahead log and any backups keep it until recycled."""
        if deleted:
            self._db.execute("VACUUM FULL pii_vault")

    def grant_writer(self, role: str) -> None:
        """Grant `role` what appending needs (`postgres_schema.WRITER_PRIVILEGES`), and
        revoke whatever else it held on the ledger's tables: run as their owner."""
        with self._lock:
            try:
                with self._db.transaction():
                    for privileges, table in WRITER_PRIVILEGES:
                        target = (sql.Identifier(table), sql.Identifier(role))
                        self._db.execute(sql.SQL("REVOKE ALL ON {} FROM {}").format(*target))
                        self._db.execute(
                            sql.SQL("GRANT " + privileges + " ON {} TO {}").format(*target)
                        )
            except psycopg.Error as exc:
                raise self._error(f"cannot grant {role} the writer's privileges", exc) from None
