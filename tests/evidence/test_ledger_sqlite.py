"""The SQLite ledger through its public API: chain layout, atomicity, URLs, concurrency."""

from __future__ import annotations

import hashlib
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from assay.evidence import (
    GENESIS_PREV,
    Appended,
    CanonicalError,
    LedgerError,
    SQLiteLedger,
    open_ledger,
    redact_url,
    verify,
)


def entry(i: int, **extra: Any) -> dict[str, Any]:
    return {"kind": "result", "at": "2024-05-01T02:00:00Z", "status": "pass", "i": i, **extra}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "ledger.db"


@pytest.fixture
def ledger(db_path: Path) -> Iterator[SQLiteLedger]:
    with SQLiteLedger(db_path) as opened:
        yield opened


# --- the chain written by append ---------------------------------------------------------


def test_append_seals_entries_into_a_chain(ledger: SQLiteLedger) -> None:
    appended = ledger.append([entry(0), entry(1, observed={"tags": ["é", "x"]})])
    stored = list(ledger.records(appended.first))

    assert (appended.first, appended.count, appended.head) == (0, 2, stored[-1].hash)
    assert [r.seq for r in stored] == [0, 1]
    first, second = (r.record for r in stored)
    assert first == {**entry(0), "v": 1, "seq": 0, "prev": GENESIS_PREV}
    assert second["prev"] == stored[0].hash == hashlib.sha256(stored[0].body).hexdigest()
    assert second["observed"] == {"tags": ["é", "x"]}
    assert stored[0].body == (
        b'{"at":"2024-05-01T02:00:00Z","i":0,"kind":"result","prev":"'
        + b"0" * 64
        + b'","seq":0,"status":"pass","v":1}'
    )


def test_records_head_and_count_read_back_what_was_stored(ledger: SQLiteLedger) -> None:
    assert ledger.head() is None
    assert ledger.count() == 0
    assert list(ledger.records()) == []

    first = ledger.append([entry(i) for i in range(3)])
    second = ledger.append([entry(3)])
    stored = list(ledger.records())

    assert (first.first, first.count, second.first, second.count) == (0, 3, 3, 1)
    assert [r.seq for r in stored] == [0, 1, 2, 3]
    assert list(ledger.records(2)) == stored[2:]
    assert ledger.head() == stored[-1]
    assert ledger.count() == 4
    assert verify(ledger.records()).ok


def test_records_stream_across_pages_in_seq_order(ledger: SQLiteLedger) -> None:
    ledger.append([entry(i) for i in range(2500)])

    seqs = [r.seq for r in ledger.records()]
    assert seqs == list(range(2500))
    assert next(iter(ledger.records(1999))).seq == 1999
    report = verify(ledger.records())
    assert (report.ok, report.records) == (True, 2500)


def test_records_rejects_a_negative_start(ledger: SQLiteLedger) -> None:
    with pytest.raises(ValueError, match="start must be >= 0, got -1"):
        ledger.records(-1)


def test_an_empty_batch_writes_nothing(ledger: SQLiteLedger) -> None:
    assert ledger.append([]) == Appended(first=0, count=0, head=None)
    assert ledger.count() == 0


def test_a_batch_with_one_bad_entry_writes_nothing(ledger: SQLiteLedger) -> None:
    before = ledger.append([entry(0), entry(1)])

    bad_batch = [entry(2), entry(3), entry(4, observed={"size": 1.5}), entry(5)]
    with pytest.raises(CanonicalError, match=r"^entry 2 of the batch: observed\.size: float 1\.5"):
        ledger.append(bad_batch)

    assert ledger.count() == 2
    after = ledger.append([entry(2)])
    assert after.first == 2
    assert ledger.head() == ledger.record(2)
    assert next(ledger.records(2)).record["prev"] == before.head
    assert verify(ledger.records()).ok


@pytest.mark.parametrize("key", ["v", "seq", "prev"])
def test_reserved_keys_are_refused(ledger: SQLiteLedger, key: str) -> None:
    with pytest.raises(LedgerError, match=f"^entry 1 of the batch: entry sets reserved key.*{key}"):
        ledger.append([entry(0), entry(1, **{key: 7})])
    assert ledger.count() == 0


def test_an_entry_that_is_not_a_mapping_is_refused(ledger: SQLiteLedger) -> None:
    with pytest.raises(
        LedgerError, match=r"^entry 0 of the batch: entry is list, expected a mapping"
    ):
        ledger.append([["kind", "result"]])  # type: ignore[list-item]


def test_reopening_continues_the_chain(db_path: Path) -> None:
    with open_ledger(str(db_path)) as first:
        earlier = first.append([entry(0), entry(1)])
    with open_ledger(str(db_path)) as second:
        later = second.append([entry(2)])
        assert later.first == 2
        assert next(second.records(2)).record["prev"] == earlier.head
        report = verify(second.records())
    assert (report.ok, report.records, report.head) == (True, 3, later.head)


def test_threads_sharing_one_ledger_never_fork_it(ledger: SQLiteLedger) -> None:
    def writer(n: int) -> None:
        for i in range(50):
            ledger.append([entry(i, writer=n)])

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    report = verify(ledger.records())
    assert (report.ok, report.records) == (True, 200)


# --- storage settings --------------------------------------------------------------------


def test_the_file_is_in_wal_mode_with_full_sync(ledger: SQLiteLedger, db_path: Path) -> None:
    raw = sqlite3.connect(db_path)
    assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert raw.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() == ("8",)
    raw.close()
    # synchronous is a per-connection setting, so ask the ledger's own connection.
    assert ledger._db.execute("PRAGMA synchronous").fetchone() == (2,)  # 2 = FULL


def test_stored_rows_refuse_update_and_delete(ledger: SQLiteLedger, db_path: Path) -> None:
    ledger.append([entry(0)])
    raw = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("UPDATE records SET body = x'00'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        raw.execute("DELETE FROM records")
    raw.close()


def test_a_ledger_from_a_newer_assay_is_refused(db_path: Path) -> None:
    SQLiteLedger(db_path).close()
    raw = sqlite3.connect(db_path)
    with raw:
        raw.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    raw.close()
    with pytest.raises(LedgerError, match=r"schema version 99.*up to 8: upgrade assay"):
        SQLiteLedger(db_path)


def test_a_file_that_is_not_a_database_is_a_ledger_error(db_path: Path) -> None:
    db_path.write_text("not sqlite at all, just text that is long enough to be a header\n" * 20)
    with pytest.raises(
        LedgerError,
        match=re.escape(f"SQLite ledger {db_path}: cannot open: file is not a database"),
    ):
        SQLiteLedger(db_path)


def hold_write_lock_on_fresh_file(path: Path) -> sqlite3.Connection:
    """A connection holding the write lock on a new file still in rollback-journal mode.

    Switching such a file to WAL fails at once with SQLITE_BUSY, busy timeout or not:
    what a process sees when it loses the race to create a ledger.
    """
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("CREATE TABLE other (x)")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO other VALUES (1)")
    return holder


def test_opening_a_file_being_created_waits_for_it(db_path: Path) -> None:
    holder = hold_write_lock_on_fresh_file(db_path)
    release = threading.Timer(0.3, holder.execute, ("COMMIT",))
    release.start()
    started = time.monotonic()
    with SQLiteLedger(db_path) as opened:
        waited = time.monotonic() - started
        opened.append([entry(0)])
        assert opened.count() == 1
    release.join()
    holder.close()
    assert waited >= 0.25


def test_opening_gives_up_after_the_busy_timeout(db_path: Path) -> None:
    holder = hold_write_lock_on_fresh_file(db_path)
    with pytest.raises(
        LedgerError, match=re.escape(f"SQLite ledger {db_path}: cannot open: database is locked")
    ):
        SQLiteLedger(db_path, busy_timeout=0.2)
    holder.close()


# --- opening by URL ----------------------------------------------------------------------


def test_sqlite_url_with_three_slashes_is_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with open_ledger("sqlite:///state/nested/ledger.db") as opened:
        opened.append([entry(0)])
    assert (tmp_path / "state" / "nested" / "ledger.db").is_file()


def test_sqlite_url_with_four_slashes_is_absolute(tmp_path: Path) -> None:
    target = tmp_path / "abs" / "ledger.db"
    assert str(target).startswith("/")
    with open_ledger(f"sqlite:///{target}") as opened:
        opened.append([entry(0)])
    with open_ledger(str(target), create=False) as reopened:
        assert reopened.count() == 1


def test_create_false_refuses_a_missing_ledger(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(LedgerError, match=re.escape(f"no SQLite ledger at {missing}")):
        open_ledger(f"sqlite:///{missing}", create=False)
    assert not missing.exists()


def test_create_false_leaves_a_foreign_database_untouched(tmp_path: Path) -> None:
    foreign = tmp_path / "app.db"
    raw = sqlite3.connect(foreign)
    with raw:
        raw.execute("CREATE TABLE users (id INTEGER)")
    raw.close()
    before = foreign.read_bytes()

    with pytest.raises(LedgerError, match="is not an assay ledger"):
        open_ledger(str(foreign), create=False)
    assert foreign.read_bytes() == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "mysql://auditor:s3cret@db.internal:3306/evidence",
            "unsupported ledger URL scheme 'mysql' in "
            "mysql://auditor:***@db.internal:3306/evidence; supported: sqlite:///",
        ),
        ("s3://bucket/ledger", "unsupported ledger URL scheme 's3'"),
        ("sqlite://", "SQLite ledger URL sqlite:// has no file path"),
        ("sqlite:///", "SQLite ledger URL sqlite:/// has no file path"),
        ("sqlite://host/ledger.db", "has no file path; expected sqlite:///relative"),
        ("  ", "empty ledger URL; expected one of: sqlite:///"),
    ],
)
def test_bad_urls_are_refused_without_leaking_passwords(url: str, message: str) -> None:
    with pytest.raises(LedgerError) as raised:
        open_ledger(url)
    assert message in str(raised.value)
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("postgresql://u:pw@host/db", "postgresql://u:***@host/db"),
        ("postgresql://u:p@ss:w/rd@host:5432/db", "postgresql://u:***@host:5432/db"),
        ("postgresql://u@host/db", "postgresql://u@host/db"),
        (
            "postgresql://host/db?user=u&password=pw&sslmode=require",
            "postgresql://host/db?user=u&password=***&sslmode=require",
        ),
        ("postgresql://host/db?PASSWORD=pw", "postgresql://host/db?PASSWORD=***"),
        ("sqlite:///data/me@example.db", "sqlite:///data/me@example.db"),
        ("ledger.db", "ledger.db"),
    ],
)
def test_redact_url(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_a_fork_at_an_existing_seq_is_refused_by_storage(
    ledger: SQLiteLedger, db_path: Path
) -> None:
    # Two records after the same one would share a seq: the primary key refuses it.
    ledger.append([entry(0), entry(1)])
    first, second = ledger.records()
    raw = sqlite3.connect(db_path)
    with pytest.raises(sqlite3.IntegrityError, match=r"UNIQUE constraint failed: records\.seq"):
        raw.execute(
            "INSERT INTO records (seq, prev, hash, body) VALUES (1, ?, ?, ?)",
            (bytes.fromhex(first.hash), bytes.fromhex(second.hash), second.body + b" "),
        )
    raw.close()
