"""The PostgreSQL ledger on a real server: schema, guards, atomicity, secrets, erasure.

The log-level behaviour (tampering, signing, proofs, concurrency, crashes, bundles) runs
on PostgreSQL through the `backend` fixture of tests/evidence; this file holds what is
PostgreSQL's own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from assay.demo.local_postgres import LocalPostgres
from assay.evidence import (
    CanonicalError,
    LedgerError,
    PostgresLedger,
    Pseudonymizer,
    SigningKey,
    open_ledger,
    verify_ledger,
)

pytestmark = pytest.mark.integration


def entry(i: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "result", "at": "2024-05-01T02:00:00Z", "status": "pass", "i": i, **extra}


@pytest.fixture
def ledger(pg_dsn: str) -> Iterator[PostgresLedger]:
    opened = open_ledger(pg_dsn)
    assert isinstance(opened, PostgresLedger)
    yield opened
    opened.close()


def raw(dsn: str) -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(dsn, autocommit=True)


def test_the_schema_is_sqlites_with_a_lock_row_and_a_version(
    ledger: PostgresLedger, pg_dsn: str
) -> None:
    with raw(pg_dsn) as con:
        tables = {
            name
            for (name,) in con.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
            )
        }
        assert tables == {
            "meta",
            "append_lock",
            "records",
            "tree_nodes",
            "checkpoints",
            "pii_vault",
            "runs",
            "run_segments",
            "checkpoint_attachments",
            "dsr_records",
        }
        assert con.execute("SELECT value FROM meta").fetchall() == [("4",)]
        assert con.execute("SELECT id FROM append_lock").fetchall() == [(1,)]
    open_ledger(pg_dsn).close()  # reopening migrates nothing
    with raw(pg_dsn) as con:
        con.execute("UPDATE meta SET value = '9' WHERE key = 'schema_version'")
    with pytest.raises(
        LedgerError, match=r"schema version 9, but this assay knows versions up to 4"
    ):
        open_ledger(pg_dsn)


def test_opening_an_empty_database_to_read_is_refused(pg_dsn: str) -> None:
    with pytest.raises(LedgerError, match="the database holds no assay ledger"):
        open_ledger(pg_dsn, create=False)
    with raw(pg_dsn) as con:
        assert con.execute("SELECT to_regclass('meta')").fetchone() == (None,)


@pytest.mark.parametrize("table", ["records", "tree_nodes", "checkpoints"])
def test_stored_rows_refuse_update_delete_and_truncate(
    ledger: PostgresLedger, pg_dsn: str, table: str
) -> None:
    ledger.append([entry(0), entry(1)], key=SigningKey.generate("example.com/evidence/pg"))
    column = {"records": "seq", "tree_nodes": "idx", "checkpoints": "tree_size"}[table]
    with raw(pg_dsn) as con:
        for statement in (
            f"UPDATE {table} SET {column} = {column} + 100",
            f"DELETE FROM {table}",
            f"TRUNCATE {table}",
        ):
            with pytest.raises(psycopg.errors.RestrictViolation, match="are append-only"):
                con.execute(statement.encode())
    assert verify_ledger(ledger).ok


def test_a_fork_is_refused_by_storage(ledger: PostgresLedger, pg_dsn: str) -> None:
    ledger.append([entry(0), entry(1)])
    first, second = ledger.records()
    fork = (bytes.fromhex(first.hash), bytes.fromhex(second.hash), second.body + b" ")
    with raw(pg_dsn) as con:
        # Another record after record 0: same prev, and (as the next seq) same seq.
        with pytest.raises(psycopg.errors.UniqueViolation, match="records_prev_key"):
            con.execute("INSERT INTO records (seq, prev, hash, body) VALUES (2, %s, %s, %s)", fork)
        with pytest.raises(psycopg.errors.UniqueViolation, match="records_pkey"):
            con.execute(
                "INSERT INTO records (seq, prev, hash, body) VALUES (1, %s, %s, %s)",
                (b"\x07" * 32, *fork[1:]),
            )


def test_a_batch_is_one_transaction(ledger: PostgresLedger) -> None:
    before = ledger.append([entry(0)])
    with pytest.raises(CanonicalError, match=r"^entry 2 of the batch: observed\.size: float"):
        ledger.append([entry(1), entry(2), entry(3, observed={"size": 1.5})])
    assert ledger.count() == 1 and ledger.head() == ledger.record(0)
    assert before.head == ledger.record(0).hash
    after = ledger.append([entry(i) for i in range(1, 2501)])
    assert (after.first, after.count) == (1, 2500)
    assert [r.seq for r in ledger.records(2499)] == [2499, 2500]
    assert next(ledger.records(1)).record["prev"] == before.head
    assert after.head == ledger.record(2500).hash
    report = verify_ledger(ledger)
    assert (report.ok, report.records) == (True, 2501)


def test_a_missing_lock_row_stops_appends(ledger: PostgresLedger, pg_dsn: str) -> None:
    with raw(pg_dsn) as con:
        con.execute("DELETE FROM append_lock")
    with pytest.raises(LedgerError, match="the append_lock row is missing"):
        ledger.append([entry(0)])


def test_a_read_only_role_verifies(
    ledger: PostgresLedger, pg_dsn: str, postgres_server: LocalPostgres
) -> None:
    ledger.append([entry(i) for i in range(5)])
    role = "auditor_" + uuid.uuid4().hex[:8]
    dbname = pg_dsn.rsplit("/", 1)[1]
    with raw(pg_dsn) as con:
        con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        con.execute(
            sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(
                sql.Identifier(role)
            )
        )
    try:
        with open_ledger(postgres_server.dsn_for(role, dbname=dbname), create=False) as read_only:
            assert verify_ledger(read_only).records == 5
            with pytest.raises(LedgerError, match="permission denied"):
                read_only.append([entry(5)])
    finally:
        with raw(pg_dsn) as con:
            con.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            con.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


@pytest.mark.parametrize(
    "template",
    [
        "postgresql://postgres:{secret}@127.0.0.1:{port}/no_such_db",
        "postgresql://127.0.0.1:{port}/no_such_db?user=postgres&password={secret}",
        "postgresql://postgres:{secret}@127.0.0.1:{port}/db?sslmode=bogus",
        "postgres://postgres:{secret}@127.0.0.1:1/db?connect_timeout=2",
    ],
)
def test_no_message_shows_the_password(template: str, postgres_server: LocalPostgres) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    url = template.format(secret=secret, port=postgres_server.port)
    with pytest.raises(LedgerError) as raised:
        open_ledger(url)
    message = str(raised.value)
    assert secret not in message
    assert re.search(r"PostgreSQL ledger postgres(ql)?://", message)
    assert "***" in message


def test_an_erased_value_is_gone_from_the_tables_files(
    ledger: PostgresLedger, pg_dsn: str, postgres_server: LocalPostgres
) -> None:
    secret = "ada-" + uuid.uuid4().hex + "@example.com"
    subject = Pseudonymizer(b"k" * 32).pseudonym("email", secret)
    ledger.vault_put(subject, secret)
    ledger.append([entry(0, subject=subject)])
    with raw(pg_dsn) as con:
        con.execute("CHECKPOINT")
        (before,) = con.execute("SELECT pg_relation_filepath('pii_vault')").fetchone() or ("",)
    assert secret.encode() in (postgres_server.datadir / before).read_bytes()

    assert ledger.vault_erase(subject) and not ledger.vault_erase(subject)
    assert ledger.vault_get(subject) is None
    with raw(pg_dsn) as con:
        con.execute("CHECKPOINT")
        (after,) = con.execute("SELECT pg_relation_filepath('pii_vault')").fetchone() or ("",)
    assert secret.encode() not in (postgres_server.datadir / after).read_bytes()
    assert verify_ledger(ledger).ok
