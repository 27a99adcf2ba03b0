"""Evidence that cannot be quietly extended or rolled back, through the command line.

A keyed append signs in its own transaction, so an unsigned tail is someone else's
doing: writers refuse it, verify fails on it, and only an explicit adoption signs it.
Every checkpoint is also kept outside the ledger, so a rollback behind the ledger's
back is caught. Every stored tree node is checked. A damaged ledger is exit 4 with one
line. Each test runs on SQLite and on a real PostgreSQL server.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
from pathlib import Path
from typing import Any

import click
import pytest
from cli_runs import evaluate, invoke
from evidence_backends import Backend
from widgets import widget_workspace

from assay.demo.shop import create_shop_sqlite
from assay.engine.collect import now_rfc3339
from assay.evidence import (
    SIGNING_KEY_ENV,
    TAIL_ADOPTED,
    Checkpoint,
    LedgerError,
    SigningKey,
    open_ledger,
    write_signing_key,
)
from assay.evidence.checkpoint_log import origin_id
from assay.examples import examples_root

ORIGIN = "example.com/evidence/safe"


@pytest.fixture
def workspace(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend
) -> Path:
    return widget_workspace(tmp_path, controls_dir, monkeypatch, backend.url)


@pytest.fixture
def vkey(workspace: Path) -> str:
    """A signing key at the default place: every run and DSR step signs with it."""
    key = SigningKey.generate(ORIGIN)
    write_signing_key(workspace / ".assay" / "signing.key", key)
    return str(key.verifier)


def signed_run(ws: Path, *levels: int) -> dict[str, Any]:
    result = evaluate(ws, *levels)
    assert result.exit_code == 0, result.output
    ledger: dict[str, Any] = json.loads(result.stdout)["run"]["ledger"]
    return ledger


def sneak_in(backend: Backend, count: int = 1) -> None:
    """Someone without the key appends through the ledger API."""
    with backend.open() as ledger:
        ledger.append([{"kind": "result", "at": now_rfc3339(), "n": i} for i in range(count)])


def records(backend: Backend) -> int:
    with backend.open() as ledger:
        return ledger.count()


# --- 1. no unsigned tail -----------------------------------------------------------------


def test_every_keyed_append_ends_with_its_own_signed_checkpoint(
    workspace: Path, vkey: str, backend: Backend
) -> None:
    first = signed_run(workspace, 3, 4)
    second = signed_run(workspace, 5)
    assert (first["checkpoint"]["origin"], first["checkpoint"]["size"]) == (ORIGIN, 4)
    assert second["checkpoint"]["size"] == 7
    with backend.open() as ledger:
        assert [c.size for c in ledger.checkpoints()] == [4, 7]
        latest = ledger.latest_checkpoint()
        assert latest is not None and latest.size == ledger.count()


def test_a_dsr_step_is_signed_in_its_own_transaction(
    workspace: Path, vkey: str, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_shop_sqlite(workspace / "shop.db")
    monkeypatch.setenv("SHOP_DB", str(workspace / "shop.db"))
    monkeypatch.setenv("ASSAY_DATAMAP", str(examples_root() / "shop" / "datamap.yaml"))
    opened = invoke("dsr", "new", "--type", "access", "--identity", "email=alice@example.com")
    assert opened.exit_code == 0, opened.output
    request = opened.output.split()[0]
    assert invoke("dsr", "verify", request, "--method", "reply").exit_code == 0
    with backend.open() as ledger:
        assert [c.size for c in ledger.checkpoints()] == [1, 2]
    verified = invoke("evidence", "verify", "--key", vkey)
    assert verified.exit_code == 0, verified.output


def test_an_unsigned_tail_fails_verify_and_stops_writers_until_adopted(
    workspace: Path, vkey: str, backend: Backend
) -> None:
    signed_run(workspace, 3, 4)  # records 0..3, signed at 4
    sneak_in(backend, 2)  # records 4..5, no checkpoint

    result = invoke("evidence", "verify", "--key", vkey)
    assert result.exit_code == 4
    assert "records 4..5 were appended after the last signed checkpoint (size 4)" in result.output
    allowed = invoke("evidence", "verify", "--key", vkey, "--allow-unsigned-tail")
    assert allowed.exit_code == 0, allowed.output
    assert "! records 4..5 were appended after the last signed checkpoint" in allowed.output
    # A ledger verified without a key behaves as before: nothing signed is checked.
    assert invoke("evidence", "verify").exit_code == 0

    # The next signed run does not sign them along with its own records.
    refused = evaluate(workspace, 5)
    assert refused.exit_code == 2
    assert "records 4..5 were appended after the last signed checkpoint (size 4)" in (
        refused.output
    )
    assert records(backend) == 6
    sign = invoke("evidence", "checkpoint", "--sign")
    assert sign.exit_code == 2 and "--adopt-tail" in sign.output

    adopted = invoke("evidence", "checkpoint", "--sign", "--adopt-tail")
    assert adopted.exit_code == 0, adopted.output
    assert Checkpoint.from_note(adopted.output).size == 7
    with backend.open() as ledger:
        record = ledger.record(6)
        assert record is not None
        body = record.record
    assert (body["kind"], body["first"], body["last"], body["after"]) == (
        TAIL_ADOPTED,
        4,
        5,
        f"{ORIGIN}@4",
    )
    after = invoke("evidence", "verify", "--key", vkey)
    assert after.exit_code == 0, after.output
    assert "records 4..5 were appended without a checkpoint and adopted unsigned" in (after.output)
    assert signed_run(workspace, 5)["checkpoint"]["size"] == 10


def test_a_keyed_append_refuses_the_tail_inside_its_transaction(
    backend: Backend, tmp_path: Path
) -> None:
    key = SigningKey.generate(ORIGIN)
    with backend.open() as ledger:
        ledger.append([{"kind": "result", "n": 0}], key=key)
        ledger.append([{"kind": "result", "n": 1}])
        with pytest.raises(LedgerError, match=r"record 1 was appended after the last signed"):
            ledger.append([{"kind": "result", "n": 2}], key=key)
        with pytest.raises(LedgerError, match="the unsigned tail changed while adopting it"):
            ledger.append([{"kind": "x"}], key=key, adopt=(1, 3))
        latest = ledger.latest_checkpoint()
        assert ledger.count() == 2 and latest is not None and latest.size == 1


# --- 2. the checkpoint log outside the ledger ---------------------------------------------


def roll_back(backend: Backend, size: int) -> None:
    """Delete the later checkpoints, then the records and nodes behind them."""
    backend.execute("DELETE FROM checkpoints WHERE tree_size > ?", (size,))
    backend.execute("DELETE FROM records WHERE seq >= ?", (size,))
    backend.execute("DELETE FROM tree_nodes WHERE (idx + 1) * (1 << level) > ?", (size,))


def test_every_checkpoint_is_kept_outside_the_ledger(
    workspace: Path, vkey: str, backend: Backend
) -> None:
    signed_run(workspace, 3, 4)
    signed_run(workspace, 5)
    log = workspace / ".assay" / "checkpoints"
    names = sorted(os.listdir(log))
    assert names == [f"{origin_id(ORIGIN)}-{size:020d}.checkpoint" for size in (4, 7)]
    with backend.open() as ledger:
        assert [(log / n).read_text() for n in names] == [c.note for c in ledger.checkpoints()]
    assert stat.S_IMODE((log / names[0]).stat().st_mode) == 0o644


def test_a_rollback_behind_the_ledgers_back_is_caught_by_the_outside_copy(
    workspace: Path, vkey: str, backend: Backend
) -> None:
    signed_run(workspace, 3, 4)
    signed_run(workspace, 5)
    roll_back(backend, 4)
    # The ledger alone still verifies: that is what the outside copy is for.
    (workspace / "empty").mkdir()
    alone = invoke("evidence", "verify", "--key", vkey, "--checkpoint-log", "empty")
    assert alone.exit_code == 0, alone.output
    assert "holds no checkpoint of this ledger: a rollback" in alone.output

    result = invoke("evidence", "verify", "--key", vkey)
    assert result.exit_code == 4
    assert f"pinned checkpoint {ORIGIN}@7 (from .assay/checkpoints/" in result.output
    assert "covers 7 records, but the ledger has 4" in result.output


def test_a_rewritten_history_is_caught_and_never_signed_over(
    workspace: Path, vkey: str, backend: Backend
) -> None:
    signed_run(workspace, 3, 4)
    signed_run(workspace, 5)
    roll_back(backend, 4)
    # The writer with the key will not extend the rolled-back ledger.
    refused = evaluate(workspace, 1)
    assert refused.exit_code == 2
    assert f"the checkpoint log holds {ORIGIN}@7" in refused.output
    assert "but the ledger has 4 records: it was rolled back" in refused.output
    assert records(backend) == 4
    # Nor adopt a different history of the same size as its own.
    sneak_in(backend, 3)
    adopted = invoke("evidence", "checkpoint", "--sign", "--adopt-tail")
    assert adopted.exit_code == 2
    assert f"but checkpoint {ORIGIN}@7 signs" in adopted.output
    assert "it is in the checkpoint log" in adopted.output
    assert "the history was rewritten; refusing to sign it" in adopted.output
    result = invoke("evidence", "verify", "--key", vkey)
    assert result.exit_code == 4
    assert f"pinned checkpoint {ORIGIN}@7" in result.output
    assert "history before it was rewritten" in result.output


def test_a_different_checkpoint_of_the_same_size_is_never_published(tmp_path: Path) -> None:
    from assay.evidence import DirectoryLog
    from assay.evidence.signed_append import sign_tree

    key = SigningKey.generate(ORIGIN)
    log = DirectoryLog(tmp_path / "log")
    log.publish(sign_tree(key, 7, b"\1" * 32))
    log.publish(sign_tree(key, 7, b"\1" * 32))  # the same one again: nothing to do
    with pytest.raises(LedgerError, match=f"already holds a different checkpoint {ORIGIN}@7"):
        log.publish(sign_tree(key, 7, b"\2" * 32))
    found = log.newest([ORIGIN, "someone.else"])
    assert found is not None and found[0].root == b"\1" * 32


# --- 3. every stored tree node ------------------------------------------------------------


def test_an_edited_interior_tree_node_fails_verify(
    workspace: Path, vkey: str, backend: Backend
) -> None:
    signed_run(workspace, *range(2, 8))  # 8 records: a complete tree
    assert invoke("evidence", "verify", "--key", vkey).exit_code == 0
    backend.execute("UPDATE tree_nodes SET hash = ? WHERE level = 1 AND idx = 1", (b"\x07" * 32,))
    result = invoke("evidence", "verify", "--key", vkey)
    assert result.exit_code == 4
    assert "tree node (level 1, index 1) got 0707" in result.output
    assert "(recomputed from records 2..3)" in result.output


def test_an_extra_tree_node_fails_verify(workspace: Path, vkey: str, backend: Backend) -> None:
    signed_run(workspace, 3, 4)
    backend.execute("INSERT INTO tree_nodes (level, idx, hash) VALUES (5, 0, ?)", (b"\0" * 32,))
    result = invoke("evidence", "verify", "--key", vkey)
    assert result.exit_code == 4
    assert "8 tree nodes are stored, expected 7 for 4 records" in result.output


# --- 4. a damaged ledger ------------------------------------------------------------------


def one_line_error(result: click.testing.Result, *needles: str) -> None:
    assert result.exit_code == 4, result.output
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1, result.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


@pytest.mark.parametrize("table", ["records", "tree_nodes", "checkpoints"])
def test_a_dropped_table_is_exit_4_with_one_line(
    workspace: Path, vkey: str, backend: Backend, table: str
) -> None:
    signed_run(workspace, 3)
    backend.execute(f"DROP TABLE {table}")
    where = "SQLite ledger" if backend.name == "sqlite" else "PostgreSQL ledger"
    one_line_error(invoke("evidence", "verify", "--key", vkey), where, f"{table} missing")
    one_line_error(evaluate(workspace, 3), where, f"{table} missing")


def test_a_damaged_sqlite_file_is_exit_4_with_one_line(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    widget_workspace(tmp_path, controls_dir, monkeypatch)
    db = tmp_path / ".assay" / "ledger.db"
    assert evaluate(tmp_path, *range(40)).exit_code == 1
    # Fold the write-ahead log into the file, as after a clean close.
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pristine = db.read_bytes()
    for damage in ("header", "truncated", "empty"):
        data = {
            "header": b"not a sqlite file at all".ljust(100, b"\0") + pristine[100:],
            "truncated": pristine[: len(pristine) // 3],
            "empty": b"",
        }[damage]
        for suffix in ("-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        db.write_bytes(data)
        one_line_error(invoke("evidence", "verify"), "SQLite ledger .assay/ledger.db")
        if damage != "empty":
            # (An empty file is a new ledger to a writer: the checkpoint log is what
            # notices a ledger that was emptied.)
            one_line_error(evaluate(tmp_path, 3), "SQLite ledger .assay/ledger.db")


# --- 5. libpq key=value connection strings ---------------------------------------------


@pytest.mark.integration
def test_a_key_value_dsn_is_postgresql_and_its_password_is_never_shown(
    tmp_path: Path,
    controls_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    pg_dsn: str,
) -> None:
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    match = re.fullmatch(r"postgresql://(\w+)@([\d.]+):(\d+)/(\w+)", pg_dsn)
    assert match, pg_dsn
    user, host, port, dbname = match.groups()
    dsn = f"host={host} port={port} user={user} password='hunter 2' dbname={dbname}"
    monkeypatch.setenv("ASSAY_LEDGER", dsn)
    result = evaluate(tmp_path, 3)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run"]["ledger"]["url"] == dsn.replace("'hunter 2'", "***")
    assert not (tmp_path / dsn).exists()
    verified = invoke("evidence", "verify", "--format", "json")
    assert verified.exit_code == 0 and json.loads(verified.stdout)["records"] == 3
    assert "hunter" not in verified.output
    with open_ledger(dsn) as ledger:
        ledger.close()
    import psycopg

    with psycopg.connect(pg_dsn, autocommit=True) as con:
        con.execute("DROP TABLE records")
    broken = invoke("evidence", "verify")
    one_line_error(broken, "PostgreSQL ledger host=", "password=***", "records missing")
    assert "hunter" not in broken.output


# --- 6. the SQLite ledger's files are private ----------------------------------------------


def test_the_sqlite_ledger_and_its_directory_are_private(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    widget_workspace(tmp_path, controls_dir, monkeypatch)
    old = os.umask(0o022)
    try:
        assert evaluate(tmp_path, 3).exit_code == 0
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / ".assay").stat().st_mode) == 0o700
    # While a connection is open SQLite keeps its -wal and -shm files beside the ledger.
    with open_ledger("sqlite:///.assay/ledger.db") as ledger:
        ledger.append([{"kind": "note"}])
        files = [p for p in (tmp_path / ".assay").iterdir() if p.name.startswith("ledger.db")]
        assert {p.name for p in files} == {"ledger.db", "ledger.db-wal", "ledger.db-shm"}
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


@pytest.mark.parametrize(("level", "index"), [(0, 37), (2, 5), (4, 1), (5, 0)])
def test_parallel_verify_checks_every_tree_node_too(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, level: int, index: int
) -> None:
    import importlib

    verify_module = importlib.import_module("assay.evidence.verify_ledger")
    verify_parallel = importlib.import_module("assay.evidence.verify_parallel")

    key = SigningKey.generate(ORIGIN)
    with backend.open() as ledger:
        ledger.append([{"kind": "result", "n": i} for i in range(64)], key=key)
    # Chunks of 8 records: levels 0..3 are checked inside the chunks, 4 and 5 above them.
    monkeypatch.setattr(verify_module, "PARALLEL_MIN", 16)
    monkeypatch.setattr(verify_parallel, "MIN_CHUNK", 8)
    with backend.open() as ledger:
        assert verify_module.verify_ledger(ledger, [key.verifier], workers=2).ok
    backend.execute(
        "UPDATE tree_nodes SET hash = ? WHERE level = ? AND idx = ?", (b"\x07" * 32, level, index)
    )
    with backend.open() as ledger:
        for workers in (1, 2):
            report = verify_module.verify_ledger(ledger, [key.verifier], workers=workers)
            assert not report.ok
            assert f"tree node (level {level}, index {index}) got 0707" in str(report.error)
