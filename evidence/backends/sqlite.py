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
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from assay.evidence.backends.sqlite_schema import MIGRATIONS, TABLES
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.checkpoint_log import CheckpointLog
from assay.evidence.keys import SigningKey
from assay.evidence.merkle import NodeKey, frontier_keys
from assay.evidence.pseudonym import check_pseudonym
from assay.evidence.record import (
    GENESIS_PREV,
    Appended,
    LedgerDamagedError,
    LedgerError,
    StoredRecord,
    grow_tree,
    record_hash,
    seal_batch,
)
from assay.evidence.signed_append import check_writer, sign_tree
from assay.files import PRIVATE, private_dir

_PAGE = 1000
# Rows are read with keyset paging from this bound when the caller asks for everything,
# so a row with a forged negative seq is still handed to `verify` rather than skipped.
_MIN_SEQ = -(2**63)


def _blob(value: object) -> bytes:
    # Columns are typed loosely in SQLite; a tampered row may hold TEXT or INTEGER.
    # Hand verify bytes so it reports the mismatch instead of crashing.
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _row_record(row: tuple[Any, ...]) -> StoredRecord:
    seq, digest, body = row
    if type(digest) is bytes and type(body) is bytes:  # the normal case, kept cheap
        return StoredRecord(seq, digest.hex(), body)
    return StoredRecord(seq, _blob(digest).hex(), _blob(body))


def _row_checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    origin, size, root, note = row
    return Checkpoint(str(origin), int(size), _blob(root), str(note))


def _busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _create_private(path: Path) -> None:
    """Create the ledger file 0600 (it holds the pseudonym vault) before SQLite opens it.

    SQLite gives the -wal and -shm files it creates the database file's mode.
    """
    if not path.parent.is_dir():
        private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, PRIVATE))


class SQLiteLedger:
    """An evidence ledger in one SQLite file (see `assay.evidence.ledger.Ledger`).

    The connection may be shared between threads; calls on one instance are
    serialised by a lock. With `create` the file and its parent directories are created
    if missing; without it, a missing file or one that is not a ledger is a LedgerError.
    Pending schema migrations are applied on open either way.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        busy_timeout: float = 60.0,
        checkpoint_log: CheckpointLog | None = None,
    ) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path.resolve()}"
        self.checkpoint_log = checkpoint_log
        self._busy_timeout = busy_timeout
        self._lock = threading.Lock()
        if not create and not self.path.is_file():
            raise LedgerError(f"no SQLite ledger at {self.path} (and create=False)")
        try:
            if create:
                _create_private(self.path)
            self._db = sqlite3.connect(
                self.path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
            )
        except (OSError, sqlite3.Error) as exc:
            raise LedgerError(f"cannot open SQLite ledger {self.path}: {exc}") from exc
        try:
            self._prepare(create)
        except sqlite3.Error as exc:
            self._db.close()
            raise self._error("cannot open", exc) from None
        except BaseException:
            self._db.close()
            raise

    @property
    def _where(self) -> str:
        return f"SQLite ledger {self.path}"

    def _error(self, doing: str, exc: sqlite3.Error) -> LedgerError:
        """A one-line LedgerError; LedgerDamagedError unless the database was only busy."""
        message = f"{self._where}: {doing}: {_first_line(exc)}"
        if _busy(exc):
            return LedgerError(message)
        return LedgerDamagedError(f"{message} (the ledger is damaged)")

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
        missing = [table for table in TABLES if table not in present]
        if missing:
            raise LedgerDamagedError(
                f"{self._where}: table(s) {', '.join(missing)} missing: the ledger is damaged"
            )

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

    def _rollback(self) -> None:
        # Some errors (disk full, I/O) make SQLite roll back on its own.
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    def _schema_version(self) -> int:
        exists = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if exists is None:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    def _migrate(self) -> None:
        if self._schema_version() == len(MIGRATIONS):
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            version = self._schema_version()
            if version > len(MIGRATIONS):
                raise LedgerError(
                    f"SQLite ledger {self.path} has schema version {version}, but this "
                    f"assay knows versions up to {len(MIGRATIONS)}: upgrade assay"
                )
            for migration in MIGRATIONS[version:]:
                migration(self._db)
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
                (str(len(MIGRATIONS)),),
            )
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def append(
        self,
        entries: Sequence[Mapping[str, Any]],
        *,
        key: SigningKey | None = None,
        adopt: tuple[int, int] | None = None,
    ) -> Appended:
        """Append `entries` as consecutive records in one transaction: all or none.

        With `key`, the transaction also stores a checkpoint of the grown log signed by
        it, and refuses (LedgerError, nothing written) what `signed_append.check_writer`
        refuses: an unsigned tail unless `adopt` names it exactly, or a log the key
        cannot continue. Raises CanonicalError or LedgerError (naming the entry's index)
        and writes nothing if any entry cannot be sealed.
        """
        appended = Appended()
        if not entries:
            return appended
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise self._error("no write lock", exc) from None
            try:
                head = self._db.execute(
                    "SELECT seq, body FROM records ORDER BY seq DESC LIMIT 1"
                ).fetchone()
                if head is None:
                    first_seq, prev = 0, GENESIS_PREV
                else:
                    # Link to the stored bytes themselves, not to the hash column.
                    first_seq, prev = head[0] + 1, record_hash(_blob(head[1]))
                if key is not None:
                    self._check_writer(key, first_seq, adopt)
                sealed = seal_batch(entries, first_seq, prev)
                frontier = self._fetch_nodes(frontier_keys(first_seq))
                nodes, root = grow_tree(sealed, frontier)
                prevs = [prev, *(record.hash for record in sealed[:-1])]
                self._db.executemany(
                    "INSERT INTO records (seq, prev, hash, body) VALUES (?, ?, ?, ?)",
                    [
                        (record.seq, bytes.fromhex(link), bytes.fromhex(record.hash), record.body)
                        for record, link in zip(sealed, prevs, strict=True)
                    ],
                )
                self._db.executemany(
                    "INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes
                )
                if key is not None:
                    appended.checkpoint = sign_tree(key, first_seq + len(sealed), root)
                    self._insert_checkpoint(appended.checkpoint)
                self._db.execute("COMMIT")
            except BaseException as exc:
                self._rollback()
                if isinstance(exc, sqlite3.Error):
                    raise self._error("append failed", exc) from None
                raise
        appended.extend(sealed)
        if appended.checkpoint is not None:
            self._publish(appended.checkpoint)
        return appended

    def _check_writer(self, key: SigningKey, size: int, adopt: tuple[int, int] | None) -> None:
        try:
            check_writer(_Reader(self), key, size, adopt)
        except LedgerError as exc:
            if str(exc).startswith(self._where):
                raise
            raise type(exc)(f"{self._where}: {exc}") from None

    def _publish(self, checkpoint: Checkpoint) -> None:
        if self.checkpoint_log is None:
            return
        try:
            self.checkpoint_log.publish(checkpoint)
        except LedgerError as exc:
            raise LedgerError(
                f"{self._where}: checkpoint {checkpoint.label} is stored, but not copied "
                f"outside the ledger: {exc}"
            ) from None

    def _insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._db.execute(
            "INSERT INTO checkpoints (origin, tree_size, root, note) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (origin, tree_size) DO NOTHING",
            (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.note),
        )
        row = self._db.execute(
            "SELECT note FROM checkpoints WHERE origin = ? AND tree_size = ?",
            (checkpoint.origin, checkpoint.size),
        ).fetchone()
        if row is None or row[0] != checkpoint.note:
            raise LedgerError(f"{self._where}: another checkpoint {checkpoint.label} is stored")

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        """Records with seq >= `start` in seq order, read a page at a time.

        With `start` 0 every stored row is yielded, whatever its seq, so `verify` sees
        rows a tamperer numbered out of range. Records appended while iterating are
        yielded too. Raises ValueError at once for a negative `start`.
        """
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        return self._pages(_MIN_SEQ if start == 0 else start)

    def _pages(self, bound: int, *, locked: bool = True) -> Iterator[StoredRecord]:
        while True:
            rows = self._read(
                "SELECT seq, hash, body FROM records WHERE seq >= ? ORDER BY seq LIMIT ?",
                (bound, _PAGE),
                locked=locked,
            )
            yield from map(_row_record, rows)
            if len(rows) < _PAGE:
                return
            bound = rows[-1][0] + 1

    def _read(
        self, query: str, params: Sequence[Any] = (), *, locked: bool = True
    ) -> list[tuple[Any, ...]]:
        """All rows of `query`; a read that fails is a LedgerError naming the ledger."""
        try:
            if not locked:
                return self._db.execute(query, params).fetchall()
            with self._lock:
                return self._db.execute(query, params).fetchall()
        except sqlite3.Error as exc:
            raise self._error("read failed", exc) from None

    def tree_level(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Stored ``(index, hash)`` nodes of one tree level from index `start`, in order."""
        bound = start
        while True:
            # CAST: a tampered row may hold TEXT or INTEGER; compare bytes regardless.
            rows = self._read(
                "SELECT idx, CAST(hash AS BLOB) FROM tree_nodes WHERE level = ? AND idx >= ?"
                " ORDER BY idx LIMIT ?",
                (level, bound, _PAGE),
            )
            yield from rows
            if len(rows) < _PAGE:
                return
            bound = rows[-1][0] + 1

    def node_count(self) -> int:
        """How many tree nodes are stored."""
        return int(self._read("SELECT count(*) FROM tree_nodes")[0][0])

    def record(self, seq: int) -> StoredRecord | None:
        """The record at `seq`, or None."""
        rows = self._read("SELECT seq, hash, body FROM records WHERE seq = ?", (seq,))
        return _row_record(rows[0]) if rows else None

    def head(self) -> StoredRecord | None:
        """The record with the highest seq, or None for an empty ledger."""
        rows = self._read("SELECT seq, hash, body FROM records ORDER BY seq DESC LIMIT 1")
        return _row_record(rows[0]) if rows else None

    def count(self) -> int:
        """How many records are stored."""
        return int(self._read("SELECT count(*) FROM records")[0][0])

    def _fetch_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        if not keys:
            return []
        # Point lookups on the primary key; one statement however many keys.
        query = " UNION ALL ".join(
            ["SELECT level, idx, hash FROM tree_nodes WHERE level = ? AND idx = ?"] * len(keys)
        )
        rows = self._read(query, [n for key in keys for n in key], locked=False)
        found = {(level, idx): _blob(value) for level, idx, value in rows}
        missing = [key for key in keys if key not in found]
        if missing:
            raise LedgerError(
                f"{self._where}: tree node(s) {missing[:3]} (level, index) are "
                "missing: the tree does not match the records"
            )
        return [found[key] for key in keys]

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        """Hashes of the complete subtrees `keys`, in order; LedgerError if one is missing."""
        with self._lock:
            return self._fetch_nodes(keys)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint; storing the very same one again does nothing.

        Raises LedgerError if another checkpoint with its origin and size is stored.
        """
        with self._lock:
            try:
                self._insert_checkpoint(checkpoint)
            except sqlite3.Error as exc:
                raise self._error("cannot store checkpoint", exc) from None
        self._publish(checkpoint)

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, in the order they were stored."""
        rows = self._read("SELECT origin, tree_size, root, note FROM checkpoints ORDER BY id")
        return [_row_checkpoint(row) for row in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the largest tree size (of those, the last stored), or None."""
        return self._latest_checkpoint(locked=True)

    def _latest_checkpoint(self, *, locked: bool) -> Checkpoint | None:
        rows = self._read(
            "SELECT origin, tree_size, root, note FROM checkpoints"
            " ORDER BY tree_size DESC, id DESC LIMIT 1",
            locked=locked,
        )
        return _row_checkpoint(rows[0]) if rows else None

    def vault_put(self, pseudonym: str, value: str) -> None:
        """Keep `value` (a raw personal value) under its pseudonym, replacing any earlier one."""
        check_pseudonym(pseudonym)
        self._read(
            "INSERT INTO pii_vault (pseudonym, value) VALUES (?, ?)"
            " ON CONFLICT (pseudonym) DO UPDATE SET value = excluded.value",
            (pseudonym, value),
        )

    def vault_get(self, pseudonym: str) -> str | None:
        """The value kept under `pseudonym`, or None (never kept, or erased)."""
        rows = self._read("SELECT value FROM pii_vault WHERE pseudonym = ?", (pseudonym,))
        return str(rows[0][0]) if rows else None

    def vault_erase(self, pseudonym: str) -> bool:
        """Delete the value kept under `pseudonym`; True if there was one.

        The bytes are overwritten in the file (secure_delete) and the write-ahead log is
        checkpointed and truncated, so no copy stays on disk in SQLite's files; the
        hashed log never held the value, so it still verifies.
        """
        with self._lock:
            try:
                deleted = self._db.execute(
                    "DELETE FROM pii_vault WHERE pseudonym = ?", (pseudonym,)
                ).rowcount
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error as exc:
                raise self._error("cannot erase from the vault", exc) from None
        return deleted > 0

    def close(self) -> None:
        """Close the connection; the instance cannot be used afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Reader:
    """The ledger as its open write transaction sees it (the caller holds the lock)."""

    def __init__(self, ledger: SQLiteLedger) -> None:
        self._ledger = ledger

    def latest_checkpoint(self) -> Checkpoint | None:
        return self._ledger._latest_checkpoint(locked=False)

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        return self._ledger._fetch_nodes(keys)

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        return self._ledger._pages(start, locked=False)
