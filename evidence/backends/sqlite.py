"""The SQLite ledger backend: one file, WAL journal, every commit synced.

Appends take SQLite's write lock (``BEGIN IMMEDIATE``) before reading the head, so
writers in any number of processes are serialised and can never fork the chain; the
seq primary key refuses a fork at the storage level should that ever fail. The
Merkle tree nodes an append completes are written in the same transaction. Writers
waiting for the lock block up to the busy timeout rather than fail at once.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from assay.evidence.backends import request_index, run_index
from assay.evidence.backends.dbapi import Dialect, SqlLedger
from assay.evidence.backends.sqlite_schema import (
    MIGRATIONS,
    TABLES,
    create_request_index,
    create_run_index,
)
from assay.evidence.checkpoint_log import CheckpointLog
from assay.evidence.merkle import NodeKey
from assay.evidence.record import LedgerDamagedError, LedgerError
from assay.files import PRIVATE, private_dir

_INSERT = {
    "records": "INSERT INTO records (seq, prev, hash, body) VALUES (?, ?, ?, ?)",
    "tree_nodes": "INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)",
}


def _busy(exc: Exception) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _create_private(path: Path) -> None:
    """Create the ledger file 0600 (it holds the pseudonym vault) before SQLite opens it.

    SQLite gives the -wal and -shm files it creates the database file's mode.
    """
    if not path.parent.is_dir():
        private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE))


class SQLiteLedger(SqlLedger[sqlite3.Connection]):
    """An evidence ledger in one SQLite file (see `assay.evidence.ledger.Ledger`).

    The connection may be shared between threads; calls on one instance are
    serialised by a lock. With `create` the file and its parent directories are created
    if missing; without it, a missing file or one that is not a ledger is a LedgerError.
    Pending schema migrations are applied on open either way.
    """

    dialect = Dialect.of(
        "?",
        page=1000,
        has_meta="SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'",
        # A tampered row may hold TEXT or INTEGER; compare bytes regardless.
        node_hash="CAST(hash AS BLOB)",
        # group_concat takes the rows in the order the primary key is walked (this SQLite
        # has no ORDER BY inside an aggregate); were it ever not so, the run or batch would
        # differ and the verifier would read the rows one by one, in order, to say which.
        level_run="SELECT CAST(group_concat(hash, '') AS BLOB) FROM tree_nodes WHERE level = ?"
        " AND idx >= ? AND idx < ? AND length(CAST(hash AS BLOB)) = 32",
        # || and group_concat keep a value's bytes, as CAST(... AS BLOB) gives them (a
        # tampered TEXT hash's length() would count characters).
        records_batch="SELECT sum(length(CAST(hash AS BLOB)) = 32),"
        " CAST(group_concat(hash || body, char(10)) AS BLOB)"
        " FROM records WHERE seq >= ? AND seq < ?",
    )
    driver_error = sqlite3.Error
    opening = "cannot open"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        busy_timeout: float = 60.0,
        checkpoint_log: CheckpointLog | None = None,
    ) -> None:
        self.path = Path(path)
        super().__init__(f"sqlite:///{self.path.resolve()}", checkpoint_log)
        self._busy_timeout = busy_timeout
        if not create and not self.path.is_file():
            raise LedgerError(f"no SQLite ledger at {self.path} (and create=False)")
        try:
            if create:
                _create_private(self.path)
            db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open SQLite ledger {self.path}: {exc}") from exc
        self._open(db, create)

    @property
    def _where(self) -> str:
        return f"SQLite ledger {self.path}"

    def _damaged(self, exc: Exception) -> bool:
        # Busy or locked is another writer, not damage.
        return not _busy(exc)

    def _prepare(self, create: bool) -> None:
        # Checked before anything writes, so a stranger's database is left untouched.
        if not create and self._schema_version() == 0:
            raise LedgerDamagedError(
                f"{self._where} is not an assay ledger (no schema version): the file is "
                "empty, damaged or another database"
            )
        mode = self._switch_to_wal()
        if mode != "wal":
            raise LedgerError(
                f"SQLite ledger {self.path}: journal mode is {mode!r}, expected 'wal' "
                "(is the file on a filesystem without shared memory?)"
            )
        # FULL syncs the WAL at every commit; NORMAL may lose committed evidence on
        # power loss. Batching, not NORMAL, is what buys throughput.
        self._db.execute("PRAGMA synchronous=FULL")
        # Erased personal values are overwritten, not just unlinked from the b-tree.
        self._db.execute("PRAGMA secure_delete=ON")
        self._migrate()
        present = {
            str(name)
            for (name,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        self._check_tables([table for table in TABLES if table not in present])
        # Derived from the records: a dropped index is rebuilt, not damage.
        if not present.issuperset(run_index.TABLES):
            with self._appending():
                self._create_run_index()
        if not present.issuperset(request_index.TABLES):
            with self._appending():
                self._create_request_index()

    def _switch_to_wal(self) -> str:
        # Processes racing to open a fresh file all try to switch it to WAL; SQLite
        # answers the losers SQLITE_BUSY at once, skipping the busy handler (it sees a
        # deadlock). The mode persists in the file, so retry until someone has switched.
        deadline = time.monotonic() + self._busy_timeout
        pause = 0.001
        while True:
            try:
                return str(self._db.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                busy = exc.sqlite_errorcode & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    @contextlib.contextmanager
    def _committing(self) -> Iterator[None]:
        """COMMIT the transaction the caller began, or roll it back on any exception."""
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # Some errors (disk full, I/O) make SQLite roll back on its own.
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def _migrate(self) -> None:
        if self._schema_version() == len(MIGRATIONS):
            return
        self._db.execute("BEGIN IMMEDIATE")
        with self._committing():
            # Re-read under the write lock: another process may have migrated meanwhile.
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            version = self._schema_version()
            if version > len(MIGRATIONS):
                raise self._too_new(version, len(MIGRATIONS))
            for migration in MIGRATIONS[version:]:
                migration(self._db)
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(len(MIGRATIONS)),),
            )

    @contextlib.contextmanager
    def _appending(self) -> Iterator[None]:
        # SQLite's write lock, taken before the head is read: appenders in every
        # process queue here (up to the busy timeout) instead of forking the chain.
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error("no write lock", exc) from None
        with self._committing():
            yield

    def _insert_many(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        self._db.executemany(_INSERT[table], rows)

    def _fetch_all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._db.execute(query, params).fetchall()

    def _create_run_index(self) -> None:
        create_run_index(self._db)

    def _create_request_index(self) -> None:
        create_request_index(self._db)

    def _select_nodes(self, keys: Sequence[NodeKey]) -> list[tuple[Any, ...]]:
        # Point lookups on the primary key; one statement however many keys.
        query = " UNION ALL ".join(
            ["SELECT level, idx, hash FROM tree_nodes WHERE level = ? AND idx = ?"] * len(keys)
        )
        return self._rows(query, [n for key in keys for n in key], locked=False)

    def _scrub_vault(self, deleted: int) -> None:
        """The bytes are overwritten in the file (secure_delete) and the write-ahead log
        is checkpointed and truncated, so no copy stays on disk in SQLite's files."""
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
