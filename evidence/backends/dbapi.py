"""What every SQL ledger backend does the same way, written once over DB-API connections.

`SqlLedger` holds the `assay.evidence.ledger.Ledger` methods: sealing a batch under the
write lock, paged reads, tree nodes, checkpoints and the pseudonym vault; and two
derived indexes kept in each append's transaction: the run index (`run_index`), read by
`runs`, `runs_with_prefix` and `run_records`, and the request index (`request_index`),
read by `request_records`. A backend
(`sqlite`, `postgres`) gives it its statements as data (`Dialect`: parameter marker,
page size, the few expressions that differ) and fills in the hooks that really differ:
opening and migrating, the append transaction and how it serialises writers, bulk
inserts, reading rows, fetching tree nodes, scrubbing an erased value, and which
driver errors mean a damaged ledger.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from itertools import islice
from operator import itemgetter
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar

from assay.evidence.backends.request_index import RequestSql, index_requests, request_sql
from assay.evidence.backends.run_index import (
    RunEntry,
    RunSql,
    entry_of,
    index_records,
    run_sql,
    runs_query,
)
from assay.evidence.canonical import CanonicalError
from assay.evidence.checkpoint import Checkpoint
from assay.evidence.checkpoint_log import CheckpointLog, attachment_name
from assay.evidence.keys import SigningKey
from assay.evidence.merkle import NodeKey, frontier_keys
from assay.evidence.pseudonym import check_pseudonym
from assay.evidence.record import (
    GENESIS_PREV,
    Appended,
    Batch,
    LedgerDamagedError,
    LedgerError,
    Row,
    StoredRecord,
    grow_tree,
    record_hash,
    seal,
)
from assay.evidence.signed_append import check_writer, sign_tree

# Rows are read with keyset paging from this bound when the caller asks for everything,
# so a row with a forged negative seq is still handed to `verify` rather than skipped.
_MIN_SEQ = -(2**63)
_HEAD = "SELECT seq, hash, body FROM records ORDER BY seq DESC LIMIT 1"
_LAST_BODY = "SELECT seq, body FROM records ORDER BY seq DESC LIMIT 1"
_APPEND_CHUNK = 256
"""Entries an append seals and inserts at a time (all in its one transaction)."""
_CHECKPOINTS = "SELECT origin, tree_size, root, note FROM checkpoints"


class _Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class _Connection(Protocol):
    def execute(self, query: str, params: Sequence[Any] = ..., /) -> _Cursor: ...

    def close(self) -> None: ...


_Db = TypeVar("_Db", bound=_Connection)


@dataclass(frozen=True)
class Dialect:
    """The statements the shared methods run, in one database's SQL (build with `of`)."""

    page: int
    """Rows read per round trip when streaming records or tree nodes."""
    has_meta: str
    """One row whose first column is true if the ``meta`` table exists (else no row)."""
    records_from: str
    record_at: str
    level_from: str
    level_run: str
    """One row: the hashes of one level's nodes with index in a range, concatenated in
    index order, leaving out any not 32 bytes long (NULL when there are none)."""
    records_batch: str
    """One row for the records with seq in a range: how many of their stored hashes are
    32 bytes, and each one's hash and body in seq order, joined by newlines
    (`SqlLedger.batch`)."""
    before_first: str
    """A row if any record has a seq below 0."""
    insert_checkpoint: str
    checkpoint_note: str
    insert_attachment: str
    attachments: str
    vault_put: str
    vault_get: str
    vault_erase: str
    runs: RunSql
    requests: RequestSql

    @classmethod
    def of(
        cls,
        mark: str,
        *,
        page: int,
        has_meta: str,
        level_run: str,
        records_batch: str,
        node_hash: str = "hash",
        returning: str = "",
    ) -> Dialect:
        """The shared statements with `mark` as the DB-API parameter marker (``?``,
        ``%s``); `node_hash` is the hash column as tree levels are read, `level_run` and
        `records_batch` the database's own statements for those fields (aggregates
        differ), `returning` what makes the vault's upsert return a row when the driver
        needs one to fetch."""
        m = mark
        return cls(
            page=page,
            has_meta=has_meta,
            records_from=f"SELECT seq, hash, body FROM records WHERE seq >= {m}"
            f" ORDER BY seq LIMIT {m}",
            record_at=f"SELECT seq, hash, body FROM records WHERE seq = {m}",
            level_from=f"SELECT idx, {node_hash} FROM tree_nodes WHERE level = {m} AND idx >= {m}"
            f" ORDER BY idx LIMIT {m}",
            level_run=level_run,
            records_batch=records_batch,
            before_first="SELECT 1 FROM records WHERE seq < 0 LIMIT 1",
            insert_checkpoint=f"INSERT INTO checkpoints (origin, tree_size, root, note)"
            f" VALUES ({m}, {m}, {m}, {m}) ON CONFLICT (origin, tree_size) DO NOTHING",
            checkpoint_note=f"SELECT note FROM checkpoints WHERE origin = {m} AND tree_size = {m}",
            insert_attachment="INSERT INTO checkpoint_attachments (origin, tree_size, kind, data)"
            f" VALUES ({m}, {m}, {m}, {m}) ON CONFLICT (origin, tree_size, kind) DO NOTHING",
            attachments="SELECT kind, data FROM checkpoint_attachments"
            f" WHERE origin = {m} AND tree_size = {m} ORDER BY kind",
            vault_put=f"INSERT INTO pii_vault (pseudonym, value) VALUES ({m}, {m})"
            f" ON CONFLICT (pseudonym) DO UPDATE SET value = excluded.value{returning}",
            vault_get=f"SELECT value FROM pii_vault WHERE pseudonym = {m}",
            vault_erase=f"DELETE FROM pii_vault WHERE pseudonym = {m}",
            runs=run_sql(m),
            requests=request_sql(m),
        )


def _blob(value: object) -> bytes:
    # Columns are typed loosely in SQLite; a tampered row may hold TEXT or INTEGER.
    # Hand verify bytes so it reports the mismatch instead of crashing.
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


def _row_record(row: Row) -> StoredRecord:
    seq, digest, body = row
    return StoredRecord(seq, digest.hex(), body)


_HASH, _BODY = itemgetter(1), itemgetter(2)


def _raw_rows(rows: list[tuple[Any, ...]]) -> list[Row]:
    """`rows` as `Row`s: the hash and body columns as bytes, whatever a tamperer stored."""
    # The normal case, kept cheap: the column types looked at once, no new tuple per row.
    if {*map(type, map(_HASH, rows)), *map(type, map(_BODY, rows))} <= {bytes}:
        return rows
    return [(seq, _blob(digest), _blob(body)) for seq, digest, body in rows]


def _row_checkpoint(row: tuple[Any, ...]) -> Checkpoint:
    origin, size, root, note = row
    return Checkpoint(str(origin), int(size), _blob(root), str(note))


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


class SqlLedger(ABC, Generic[_Db]):
    """A ledger in a SQL database reached through one DB-API connection (`_db`).

    Calls on one instance are serialised by a lock, so threads may share it. A backend
    sets `dialect`, `driver_error` and `opening`, opens its connection and hands it to
    `_open`, and implements the abstract hooks.
    """

    dialect: ClassVar[Dialect]
    driver_error: ClassVar[type[Exception]]
    """The driver's base exception: what `_error` turns into a LedgerError."""
    opening: ClassVar[str]
    """What failed, in the message of a driver error raised while preparing the ledger."""

    _db: _Db

    def __init__(self, url: str, checkpoint_log: CheckpointLog | None) -> None:
        self.url = url
        self.checkpoint_log = checkpoint_log
        self._lock = threading.Lock()

    def _open(self, db: _Db, create: bool) -> None:
        """Use `db` from now on and `_prepare` the ledger in it; close it if that fails."""
        self._db = db
        try:
            self._prepare(create)
        except self.driver_error as exc:
            db.close()
            raise self._error(self.opening, exc) from None
        except BaseException:
            db.close()
            raise

    # -- what each database does its own way -------------------------------------------

    @property
    @abstractmethod
    def _where(self) -> str:
        """The ledger as every message names it, secrets redacted."""

    @abstractmethod
    def _damaged(self, exc: Exception) -> bool:
        """Whether the driver error `exc` says the storage is not a ledger's."""

    def _redact(self, message: str) -> str:
        """`message` (from the driver) with any secret of the connection removed."""
        return message

    @abstractmethod
    def _prepare(self, create: bool) -> None:
        """Check the database holds a ledger (or, with `create`, make one), migrate it."""

    @abstractmethod
    def _appending(self) -> AbstractContextManager[None]:
        """The append transaction, holding the lock that serialises appenders, opened
        before the head is read; committed on leaving, rolled back on any exception."""

    @abstractmethod
    def _insert_many(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert `rows` into `table` (``records`` or ``tree_nodes``, all columns in
        schema order) in the open append transaction."""

    @abstractmethod
    def _fetch_all(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        """All rows of `query` (none for a statement that returns none); bytes columns
        arrive as bytes."""

    @abstractmethod
    def _create_run_index(self) -> None:
        """Create the run index's tables if missing and fill them from the records, in
        the open append transaction (`run_index.rebuild`)."""

    @abstractmethod
    def _create_request_index(self) -> None:
        """Create the request index's table if missing and fill it from the records, in
        the open append transaction (`request_index.rebuild`)."""

    @abstractmethod
    def _select_nodes(self, keys: Sequence[NodeKey]) -> list[tuple[Any, ...]]:
        """``(level, idx, hash)`` rows of the stored nodes among `keys` (caller locks)."""

    @abstractmethod
    def _scrub_vault(self, deleted: int) -> None:
        """After `deleted` vault rows were deleted: leave no copy in the database's files."""

    # -- shared ------------------------------------------------------------------------

    def _error(self, doing: str, exc: Exception) -> LedgerError:
        """A one-line LedgerError naming the ledger; LedgerDamagedError for damage."""
        message = f"{self._where}: {doing}: {self._redact(_first_line(exc))}"
        if self._damaged(exc):
            return LedgerDamagedError(f"{message} (the ledger is damaged)")
        return LedgerError(message)

    def _schema_version(self) -> int:
        exists = self._db.execute(self.dialect.has_meta).fetchone()
        if exists is None or not exists[0]:
            return 0
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    def _too_new(self, version: int, known: int) -> LedgerError:
        return LedgerError(
            f"{self._where} has schema version {version}, but this assay knows "
            f"versions up to {known}: upgrade assay"
        )

    def _check_tables(self, missing: Sequence[str]) -> None:
        if missing:
            raise LedgerDamagedError(
                f"{self._where}: table(s) {', '.join(missing)} missing: the ledger is damaged"
            )

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

        Entries are read once each, in order, a chunk (`_APPEND_CHUNK`) at a time, so a
        sequence that builds each entry when it is read is never held whole.
        """
        if not entries:
            last = self.head()  # one index seek, where count() scans every record
            return Appended(first=0 if last is None else last.seq + 1, count=0, head=None)
        with self._lock:
            try:
                with self._appending():
                    appended = self._append(entries, key, adopt)
            except self.driver_error as exc:
                raise self._error("append failed", exc) from None
        if appended.checkpoint is not None:
            self._publish(appended.checkpoint)
        return appended

    def _append(
        self,
        entries: Sequence[Mapping[str, Any]],
        key: SigningKey | None,
        adopt: tuple[int, int] | None,
    ) -> Appended:
        # Read only now, under the append lock, so it is what the appender before us left.
        head = self._db.execute(_LAST_BODY).fetchone()
        if head is None:
            first_seq, prev = 0, GENESIS_PREV
        else:
            # Link to the stored bytes themselves, not to the hash column.
            first_seq, prev = head[0] + 1, record_hash(_blob(head[1]))
        if key is not None:
            self._check_writer(key, first_seq, adopt)
        count, root = 0, b""
        # A chunk at a time, each entry read once: entries built as they are read (a
        # run's records) are held a chunk at a time, never the whole batch.
        for start in range(0, len(entries), _APPEND_CHUNK):
            chunk = entries[start : start + _APPEND_CHUNK]
            sealed: list[StoredRecord] = []
            rows = []
            for index, entry in enumerate(chunk, start):
                try:
                    record = seal(entry, first_seq + index, prev)
                except (LedgerError, CanonicalError) as exc:
                    raise type(exc)(f"entry {index} of the batch: {exc}") from None
                rows.append(
                    (record.seq, bytes.fromhex(prev), bytes.fromhex(record.hash), record.body)
                )
                sealed.append(record)
                prev = record.hash
            # The frontier holds the nodes stored for earlier chunks, in this transaction.
            frontier = self._fetch_nodes(frontier_keys(sealed[0].seq))
            nodes, root = grow_tree(sealed, frontier)
            self._insert_many("records", rows)
            self._insert_many("tree_nodes", nodes)
            # The indexes move with the records: in this transaction, all or nothing.
            seqs = (record.seq for record in sealed)
            index_records(self._fetch_all, self.dialect.runs.mark, zip(seqs, chunk, strict=True))
            seqs = (record.seq for record in sealed)
            index_requests(
                self._fetch_all, self.dialect.requests.mark, zip(seqs, chunk, strict=True)
            )
            count += len(sealed)
        checkpoint = None
        if key is not None:
            checkpoint = sign_tree(key, first_seq + count, root)
            self._insert_checkpoint(checkpoint)
        return Appended(first_seq, count, prev, checkpoint)

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
            self.dialect.insert_checkpoint,
            (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.note),
        )
        row = self._db.execute(
            self.dialect.checkpoint_note, (checkpoint.origin, checkpoint.size)
        ).fetchone()
        if row is None or row[0] != checkpoint.note:
            raise LedgerError(f"{self._where}: another checkpoint {checkpoint.label} is stored")

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        """Records with seq >= `start` in seq order, read a page at a time.

        With `start` 0 every stored row is yielded, whatever its seq, so `verify` sees
        rows a tamperer numbered out of range. Records appended while iterating are
        yielded too. Raises ValueError at once for a negative `start`.
        """
        return map(_row_record, self.rows(start))

    def rows(self, start: int = 0) -> Iterator[Row]:
        """What `records` reads, as bare `Row`s: no object per record, for the verifier."""
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        return self._pages(_MIN_SEQ if start == 0 else start)

    def _pages(self, bound: int, *, locked: bool = True) -> Iterator[Row]:
        page = self.dialect.page
        while True:
            rows = self._rows(self.dialect.records_from, (bound, page), locked=locked)
            yield from _raw_rows(rows)
            if len(rows) < page:
                return
            bound = rows[-1][0] + 1

    def batch(self, first: int, count: int) -> Batch | None:
        """Up to `count` records from seq `first` as one `Batch`, in one query: one row
        however many records, so the verifier reads no object per record."""
        bound = _MIN_SEQ if first == 0 else first

        def rows() -> list[Row]:
            return list(islice(self._pages(bound), count))

        sized, data = self._rows(self.dialect.records_batch, (first, first + count))[0]
        # Seqs are distinct integers, so `count` rows in the range, each with a hash of 32
        # bytes, are all of them. A short batch, the ledger's last or one with a gap, or
        # one where the read cannot tell a line's hash from its body, is read again as
        # rows: they say which.
        whole = sized == count and data is not None
        if whole and first == 0:
            whole = not self._rows(self.dialect.before_first)
        if not whole:
            taken = rows()
            return Batch(len(taken), None, lambda: taken) if taken else None
        return Batch(count, _blob(data), rows)

    def _rows(
        self, query: str, params: Sequence[Any] = (), *, locked: bool = True
    ) -> list[tuple[Any, ...]]:
        """All rows of `query`; a read that fails is a LedgerError naming the ledger."""
        try:
            if not locked:
                return self._fetch_all(query, params)
            with self._lock:
                return self._fetch_all(query, params)
        except self.driver_error as exc:
            raise self._error("read failed", exc) from None

    def tree_level(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Stored ``(index, hash)`` nodes of one tree level from index `start`, in order."""
        page = self.dialect.page
        bound = start
        while True:
            rows = self._rows(self.dialect.level_from, (level, bound, page))
            yield from rows
            if len(rows) < page:
                return
            bound = rows[-1][0] + 1

    def tree_run(self, level: int, start: int, stop: int) -> bytes:
        """The stored hashes of one tree level's nodes with index in ``[start, stop)``,
        concatenated in index order; a missing node, or one not 32 bytes long, is simply
        absent. One row, however many nodes: a verifier compares a whole run at once."""
        run = self._rows(self.dialect.level_run, (level, start, stop))[0][0]
        return b"" if run is None else _blob(run)

    def node_count(self) -> int:
        """How many tree nodes are stored."""
        return int(self._rows("SELECT count(*) FROM tree_nodes")[0][0])

    def record(self, seq: int) -> StoredRecord | None:
        """The record at `seq`, or None."""
        rows = self._rows(self.dialect.record_at, (seq,))
        return _row_record(_raw_rows(rows)[0]) if rows else None

    def head(self) -> StoredRecord | None:
        """The record with the highest seq, or None for an empty ledger."""
        rows = self._rows(_HEAD)
        return _row_record(_raw_rows(rows)[0]) if rows else None

    def count(self) -> int:
        """How many records are stored."""
        return int(self._rows("SELECT count(*) FROM records")[0][0])

    # -- the run index -------------------------------------------------------------------

    def runs(
        self,
        *,
        targets: Collection[str] | None = None,
        profile: str | None = None,
        finished: bool = False,
        limit: int | None = None,
    ) -> list[RunEntry]:
        """Indexed runs, newest first (by the seq of their latest record): only those
        over exactly the target names `targets`, of `profile`, `finished` (every
        run_started has its run_finished), and at most `limit` of them, when given.
        Reads the index only, never the records."""
        query, params = runs_query(
            self.dialect.runs, targets=targets, profile=profile, finished=finished, limit=limit
        )
        return [entry_of(row) for row in self._rows(query, params)]

    def runs_with_prefix(self, prefix: str, limit: int) -> list[RunEntry]:
        """Up to `limit` indexed runs whose id starts with `prefix`, in id order (a
        range of the index's key: as cheap for a prefix as for a whole id)."""
        rows = self._rows(self.dialect.runs.by_prefix, (prefix, limit))
        return [entry_of(row) for row in rows if str(row[0]).startswith(prefix)]

    def run_records(self, run: str) -> Iterator[StoredRecord]:
        """The records of run `run` in seq order, read by the seq ranges the index holds
        for it (a page at a time, by primary key): nothing else is read. Nothing for a
        run the index does not know."""
        segments = self._rows(self.dialect.runs.segments, (run,))
        page = self.dialect.page
        for first, last in segments:
            bound = int(first)
            while bound <= last:
                rows = self._rows(self.dialect.runs.records_between, (bound, last, page))
                yield from map(_row_record, rows)
                if len(rows) < page:
                    break
                bound = rows[-1][0] + 1

    def rebuild_run_index(self) -> None:
        """Make the run index anew from the stored records (creating its tables if they
        are missing), under the append lock, in one transaction."""
        with self._lock:
            try:
                with self._appending():
                    self._create_run_index()
            except self.driver_error as exc:
                raise self._error("cannot rebuild the run index", exc) from None

    # -- the request index ---------------------------------------------------------------

    def request_records(self, request: str | None = None) -> Iterator[StoredRecord]:
        """The data-subject request records (kind ``dsr``; of request `request` only, when
        given) in seq order, read through the request index a page at a time: no other
        record is read. Nothing for a request the index does not know."""
        page = self.dialect.page
        sql = self.dialect.requests
        bound = _MIN_SEQ
        while True:
            if request is None:
                rows = self._rows(sql.steps_from, (bound, page))
            else:
                rows = self._rows(sql.request_steps_from, (request, bound, page))
            yield from map(_row_record, rows)
            if len(rows) < page:
                return
            bound = rows[-1][0] + 1

    def rebuild_request_index(self) -> None:
        """Make the request index anew from the stored records (creating its table if
        missing), under the append lock, in one transaction."""
        with self._lock:
            try:
                with self._appending():
                    self._create_request_index()
            except self.driver_error as exc:
                raise self._error("cannot rebuild the request index", exc) from None

    def _fetch_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        if not keys:
            return []
        found = {(level, idx): _blob(value) for level, idx, value in self._select_nodes(keys)}
        missing = [key for key in keys if key not in found]
        if missing:
            raise LedgerError(
                f"{self._where}: tree node(s) {missing[:3]} (level, index) are missing: "
                "the tree does not match the records"
            )
        return [found[key] for key in keys]

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        """Hashes of the complete subtrees `keys`, in order; LedgerError if one is missing."""
        with self._lock:
            try:
                return self._fetch_nodes(keys)
            except self.driver_error as exc:
                raise self._error("read failed", exc) from None

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint; storing the very same one again does nothing.

        Raises LedgerError if another checkpoint with its origin and size is stored.
        """
        with self._lock:
            try:
                self._insert_checkpoint(checkpoint)
            except self.driver_error as exc:
                raise self._error("cannot store checkpoint", exc) from None
        self._publish(checkpoint)

    def attach(self, checkpoint: Checkpoint, kind: str, data: bytes) -> bool:
        """Keep `data` beside `checkpoint` as its `kind` attachment (a timestamp token or a
        witness's cosignature) unless one is there; returns whether it was written."""
        attachment_name(checkpoint.origin, checkpoint.size, kind)  # checks the kind
        with self._lock:
            try:
                with self._appending():
                    before = self._fetch_all(
                        self.dialect.attachments, (checkpoint.origin, checkpoint.size)
                    )
                    if any(row[0] == kind for row in before):
                        return False
                    self._fetch_all(
                        self.dialect.insert_attachment,
                        (checkpoint.origin, checkpoint.size, kind, data),
                    )
            except self.driver_error as exc:
                raise self._error("cannot store a checkpoint attachment", exc) from None
        return True

    def attachments(self, checkpoint: Checkpoint) -> dict[str, bytes]:
        """What is kept beside `checkpoint`, by kind (`attach`)."""
        rows = self._rows(self.dialect.attachments, (checkpoint.origin, checkpoint.size))
        return {str(kind): _blob(data) for kind, data in rows}

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, in the order they were stored."""
        return [_row_checkpoint(row) for row in self._rows(f"{_CHECKPOINTS} ORDER BY id")]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the largest tree size (of those, the last stored), or None."""
        return self._latest_checkpoint(locked=True)

    def _latest_checkpoint(self, *, locked: bool) -> Checkpoint | None:
        rows = self._rows(f"{_CHECKPOINTS} ORDER BY tree_size DESC, id DESC LIMIT 1", locked=locked)
        return _row_checkpoint(rows[0]) if rows else None

    def vault_put(self, pseudonym: str, value: str) -> None:
        """Keep `value` (a raw personal value) under its pseudonym, replacing any earlier one."""
        check_pseudonym(pseudonym)
        self._rows(self.dialect.vault_put, (pseudonym, value))

    def vault_get(self, pseudonym: str) -> str | None:
        """The value kept under `pseudonym`, or None (never kept, or erased)."""
        rows = self._rows(self.dialect.vault_get, (pseudonym,))
        return str(rows[0][0]) if rows else None

    def vault_erase(self, pseudonym: str) -> bool:
        """Delete the value kept under `pseudonym`; True if there was one.

        The backend then scrubs the database's files of it (`_scrub_vault`: SQLite
        overwrites it and truncates its write-ahead log; PostgreSQL rewrites the table,
        though the server's write-ahead log and backups keep it until recycled). The
        hashed log never held the value, so it still verifies.
        """
        with self._lock:
            try:
                deleted = self._db.execute(self.dialect.vault_erase, (pseudonym,)).rowcount
                self._scrub_vault(deleted)
            except self.driver_error as exc:
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
    """The ledger as its open append transaction sees it (the caller holds the lock)."""

    def __init__(self, ledger: SqlLedger[Any]) -> None:
        self._ledger = ledger

    def latest_checkpoint(self) -> Checkpoint | None:
        return self._ledger._latest_checkpoint(locked=False)

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        return self._ledger._fetch_nodes(keys)

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        return map(_row_record, self._ledger._pages(start, locked=False))
