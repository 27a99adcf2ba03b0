"""A PostgreSQL ledger written by a role that owns nothing.

The owner creates the ledger (`assay evidence init --grant-writer`); the writer may only
SELECT and INSERT on the log's tables, so the append-only triggers cannot be disabled,
nor rows updated, deleted or truncated, nor tables dropped, with the writer's
credentials: a stolen run credential cannot rewrite the evidence.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result
from psycopg import sql

from assay.demo.local_postgres import LocalPostgres
from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.evidence import SIGNING_KEY_ENV, SigningKey, write_signing_key
from assay.testing import make_resource

pytestmark = pytest.mark.integration


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def roles(postgres_server: LocalPostgres) -> Iterator[tuple[str, str]]:
    """(owner DSN, writer DSN) on a fresh database the owner owns."""
    tag = uuid.uuid4().hex[:8]
    owner, writer, db = f"owner_{tag}", f"writer_{tag}", f"ledger_{tag}"
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        for role in (owner, writer):
            con.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        con.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(db), sql.Identifier(owner))
        )
    yield postgres_server.dsn_for(owner, dbname=db), postgres_server.dsn_for(writer, dbname=db)
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        con.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(db)))
        for role in (owner, writer):
            con.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_the_writer_appends_and_verifies_but_cannot_rewrite(
    roles: tuple[str, str],
    tmp_path: Path,
    controls_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    owner_dsn, writer_dsn = roles
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    key = SigningKey.generate("example.com/evidence/roles")
    write_signing_key(tmp_path / ".assay" / "signing.key", key)

    # Before the owner sets it up, the writer cannot even create the tables.
    early = invoke("evidence", "init", "--ledger", writer_dsn)
    assert early.exit_code == 2 and "permission denied" in early.output

    writer_role = writer_dsn.split("//")[1].split("@")[0]
    made = invoke("evidence", "init", "--ledger", owner_dsn, "--grant-writer", writer_role)
    assert made.exit_code == 0, made.output

    resource = make_resource(
        "test.widget", {"lock_level": 3}, id="widget:w0", scope={"target": "t"}
    )
    resource["collected_at"] = now_rfc3339()
    write_snapshot(Snapshot(now_rfc3339(), resources=[resource]), tmp_path / "snap.jsonl")
    for _ in range(2):
        run = invoke(
            "evaluate", str(tmp_path / "snap.jsonl"), "--ledger", writer_dsn, "--format", "json"
        )
        assert run.exit_code == 0, run.output
    assert json.loads(run.stdout)["run"]["ledger"]["checkpoint"]["size"] == 6
    verified = invoke("evidence", "verify", "--ledger", writer_dsn, "--key", str(key.verifier))
    assert verified.exit_code == 0, verified.output

    with psycopg.connect(writer_dsn, autocommit=True) as con:
        for statement in (
            "ALTER TABLE records DISABLE TRIGGER ALL",
            "ALTER TABLE checkpoints DISABLE TRIGGER ALL",
            "UPDATE records SET body = body",
            "DELETE FROM records",
            "TRUNCATE records",
            "DELETE FROM checkpoints",
            "UPDATE tree_nodes SET hash = hash",
            "DROP TABLE checkpoints",
            "SET session_replication_role = replica",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                con.execute(statement.encode())
    with psycopg.connect(owner_dsn) as con:
        (count,) = con.execute("SELECT count(*) FROM records").fetchone() or (0,)
    assert count == 6
