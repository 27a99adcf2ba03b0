"""An erasure killed in the middle of its transaction leaves the database as it was, and runs
again to completion. The process is really killed (SIGKILL) while its transaction is open:
on SQLite while a slow trigger runs inside the last DELETE, on PostgreSQL while it waits for
a row lock another session holds."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from assay.demo.shop import create_shop_postgres, create_shop_sqlite, shop_file
from assay.evidence import Pseudonymizer, load_key, open_ledger
from assay.gdpr import Identity, RequestBook, State

pytestmark = pytest.mark.integration
ALICE = "email=alice.example@example.com"


def open_verified_request(tmp: Path, kind: str = "erasure") -> tuple[str, str, Path]:
    ledger, key = f"sqlite:///{tmp / 'ledger.db'}", tmp / "pseudonym.key"
    book = RequestBook(ledger, Pseudonymizer(load_key(key)))
    request = book.open_request(kind, [Identity("email", "alice.example@example.com")])
    book.advance(request, State.VERIFIED, method="test")
    return request.id, ledger, key


def erase(
    tmp: Path,
    kind: str,
    dsn: str,
    rid: str,
    ledger: str,
    key: Path,
    command: tuple[str, ...] = ("erase", "--format", "json"),
) -> subprocess.Popen[str]:
    """`assay dsr COMMAND [OPTIONS]` (an erasure by default) for the request, in its own
    process."""
    datamap = tmp / "datamap.yaml"
    datamap.write_text(shop_file("datamap.yaml").replace("kind: sqlite", f"kind: {kind}", 1))
    args = [
        sys.executable,
        "-m",
        "assay",
        "dsr",
        command[0],
        "--datamap",
        str(datamap),
        "--request",
        rid,
        "--identity",
        ALICE,
        "--ledger",
        ledger,
        "--pseudonym-key",
        str(key),
        "--lock-timeout",
        "60",
        "--statement-timeout",
        "120",
        *command[1:],
    ]
    env = {**os.environ, "SHOP_DB": dsn}
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def kill(proc: subprocess.Popen[str]) -> None:
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def planned_in(ledger: Path, rid: str) -> bool:
    """Whether the ledger holds a real (not dry-run) `planned` record of request `rid`."""
    con = sqlite3.connect(ledger)
    try:
        bodies = [json.loads(b) for (b,) in con.execute("SELECT body FROM records")]
    finally:
        con.close()
    return any(
        b.get("request") == rid and b.get("event") == "planned" and b.get("dry_run") is False
        for b in bodies
    )


def phone_of(db: Path) -> str | None:
    con = sqlite3.connect(db, timeout=0.1)
    try:
        row = con.execute("SELECT phone FROM customers WHERE id = 1").fetchone()
        return None if row is None else str(row[0])
    except sqlite3.OperationalError:  # locked while the writer commits
        return None
    finally:
        con.close()


def slow_shop(db: Path, trigger: str, side: int) -> None:
    """The example shop in SQLite, with a `trigger` (``BEFORE DELETE ON addresses``) that
    counts a join of a `side`-row table with itself, three ways: time to act while it runs."""
    create_shop_sqlite(db)
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE slow (n INTEGER)")
    con.execute(
        "INSERT INTO slow WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c "
        "WHERE x < ?) SELECT x FROM c",
        (side,),
    )
    con.execute(
        f"CREATE TRIGGER slow {trigger} BEGIN SELECT count(*) FROM slow a, slow b, slow c; END"
    )
    con.commit()
    con.close()


def sqlite_content(path: Path) -> list[str]:
    con = sqlite3.connect(path)  # the first read rolls back a hot journal
    try:
        return list(con.iterdump())
    finally:
        con.close()


def test_sqlite_erasure_killed_mid_transaction_changes_nothing_and_reruns(tmp_path: Path) -> None:
    db = tmp_path / "shop.db"
    # runs inside the erasure's last DELETE: minutes of work, so the kill lands mid-statement
    slow_shop(db, "BEFORE DELETE ON addresses", 2000)
    before = sqlite_content(db)
    rid, ledger, key = open_verified_request(tmp_path)
    proc = erase(tmp_path, "sqlite", str(db), rid, ledger, key)
    journal = db.with_name("shop.db-journal")
    wait_for(lambda: journal.exists() and journal.stat().st_size > 0, "the erasure's journal")
    time.sleep(0.3)  # well inside the slow statement
    kill(proc)
    assert journal.exists()  # a hot journal: the transaction never committed
    assert sqlite_content(db) == before
    con = sqlite3.connect(db)
    con.execute("DROP TRIGGER slow")
    con.commit()
    con.close()
    rerun = erase(tmp_path, "sqlite", str(db), rid, ledger, key)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert '"state": "completed"' in out
    con = sqlite3.connect(db)
    assert con.execute("SELECT email FROM customers WHERE id = 1").fetchone() == (
        "erased-1@invalid",
    )
    con.close()


def test_postgres_erasure_killed_while_waiting_for_a_lock_changes_nothing_and_reruns(
    tmp_path: Path, pg_dsn: str
) -> None:
    create_shop_postgres(pg_dsn)

    def content() -> list[tuple[object, ...]]:
        with psycopg.connect(pg_dsn) as c:
            return [
                row
                for t in (
                    "customers",
                    "orders",
                    "payments",
                    "logins",
                    "addresses",
                    "support_tickets",
                    "order_items",
                )
                for row in c.execute(f"SELECT '{t}', t::text FROM {t} t ORDER BY 2").fetchall()
            ]

    before = content()
    rid, ledger, key = open_verified_request(tmp_path)
    blocker = psycopg.connect(pg_dsn)
    blocker.execute("SELECT * FROM addresses WHERE id = 2 FOR UPDATE")
    watcher = psycopg.connect(pg_dsn, autocommit=True)

    def backend() -> list[tuple[int, str | None]]:
        return watcher.execute(
            "SELECT pid, wait_event_type FROM pg_stat_activity WHERE application_name = 'assay-dsr'"
        ).fetchall()

    try:
        proc = erase(tmp_path, "postgresql", pg_dsn, rid, ledger, key)
        wait_for(lambda: any(w == "Lock" for _, w in backend()), "the erasure to wait for the lock")
        kill(proc)
    finally:
        blocker.rollback()
        blocker.close()
    wait_for(lambda: not backend(), "the killed session's backend to end")
    watcher.close()
    assert content() == before
    rerun = erase(tmp_path, "postgresql", pg_dsn, rid, ledger, key)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert '"state": "completed"' in out
    with psycopg.connect(pg_dsn) as c:
        assert c.execute("SELECT count(*) FROM addresses WHERE id = 2").fetchone() == (0,)


def test_an_erasure_that_dies_after_its_commit_is_recorded_on_the_next_run(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shop.db"
    # Slow enough to take the ledger's lock while the erasure's transaction is open.
    slow_shop(db, "BEFORE DELETE ON addresses", 200)
    rid, ledger, key = open_verified_request(tmp_path)
    proc = erase(tmp_path, "sqlite", str(db), rid, ledger, key)
    journal = db.with_name("shop.db-journal")
    wait_for(lambda: journal.exists(), "the erasure's transaction")
    # The ledger is locked before the store commits, so its `executed` record cannot land.
    lock = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    wait_for(lambda: not journal.exists(), "the erasure's commit", seconds=60)
    time.sleep(0.5)
    if proc.poll() is None:
        kill(proc)
    lock.execute("ROLLBACK")
    lock.close()
    con = sqlite3.connect(db)
    assert con.execute("SELECT email FROM customers WHERE id = 1").fetchone() == (
        "erased-1@invalid",
    )
    con.close()
    book = RequestBook(ledger, Pseudonymizer(load_key(key)))
    request = book.get(rid)
    assert request.state == State.PLANNED  # the ledger never heard of the commit
    planned = request.unconfirmed_plan
    assert planned is not None
    erased = sum(t["delete"] + t["update"]["rows"] for t in planned["plan"]["tables"])

    rerun = erase(tmp_path, "sqlite", str(db), rid, ledger, key)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert '"state": "completed"' in out
    assert f"an earlier run erased {erased} rows but died before recording it" in out
    with open_ledger(ledger) as led:
        records = [
            r.record
            for r in led.records()
            if r.record.get("request") == rid and r.record.get("event") == "executed"
        ]
    assert records[0]["rows"] == erased and records[0]["recovered"]["tables"]
    assert sum(records[0]["recovered"]["tables"].values()) == erased


def test_a_rectification_that_dies_after_its_commit_is_recorded_on_the_next_run(
    tmp_path: Path,
) -> None:
    db = tmp_path / "shop.db"
    slow_shop(db, "BEFORE UPDATE ON customers", 300)
    rid, ledger, key = open_verified_request(tmp_path, "rectification")
    phone = ("rectify", "--set", "customers.phone=+44 7700 900999")
    proc = erase(tmp_path, "sqlite", str(db), rid, ledger, key, phone)
    # Planned, and inside the slow UPDATE: lock the ledger before the store commits.
    wait_for(lambda: planned_in(tmp_path / "ledger.db", rid), "the rectification's plan")
    lock = sqlite3.connect(tmp_path / "ledger.db", isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    wait_for(lambda: phone_of(db) == "+44 7700 900999", "the rectification's commit", 60)
    time.sleep(0.5)
    if proc.poll() is None:
        kill(proc)
    lock.execute("ROLLBACK")
    lock.close()
    assert RequestBook(ledger, Pseudonymizer(load_key(key))).get(rid).state == State.PLANNED

    rerun = erase(tmp_path, "sqlite", str(db), rid, ledger, key, phone)
    _, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    with open_ledger(ledger) as led:
        events = [r.record for r in led.records() if r.record.get("request") == rid]
    executed = [e for e in events if e["event"] == "executed"]
    assert len(executed) == 1 and executed[0]["recovered"]["tables"] == {"customers": 1}
    assert events[-1]["event"] == "completed"
