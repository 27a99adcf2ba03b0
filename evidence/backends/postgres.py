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

import threading
from collections.abc import Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from assay.evidence.backends.postgres_schema import (
    MIGRATION_LOCK,
    MIGRATIONS,
    TABLES,
    WRITER_PRIVILEGES,
)
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
    redact_url,
    seal_batch,
)
from assay.evidence.signed_append import check_writer, sign_tree

_PAGE = 5000
# With start 0 every row is read, so a row with a forged negative seq reaches `verify`.
_MIN_SEQ = -(2**63)
# What a missing or corrupt table or relation looks like: the ledger is damaged.
_DAMAGE = (
    psycopg.errors.UndefinedTable,
    psycopg.errors.UndefinedColumn,
    psycopg.errors.UndefinedFunction,
    psycopg.errors.DataCorrupted,
    psycopg.errors.IndexCorrupted,
)


def _password(url: str) -> str | None:
    try:
        value = conninfo_to_dict(url).get("password")
    except psycopg.Error:
        return None
    return str(value) if value else None


class PostgresLedger:
    """An evidence ledger in a PostgreSQL database (see `assay.evidence.ledger.Ledger`).

    `url` is a libpq URI (``postgresql://user:password@host:port/dbname?...``). Calls on
    one instance are serialised by a lock, so threads may share it. With `create` the
    tables are created if missing; without it, a database holding no ledger is a
    LedgerError. Pending migrations are applied on open either way; a ledger already
    at the current version is opened without writing, so a read-only role can verify.
    """

    def __init__(
        self,
        url: str,
        *,
        create: bool = True,
        connect_timeout: int = 30,
        checkpoint_log: CheckpointLog | None = None,
    ) -> None:
        self.url = url
        self.checkpoint_log = checkpoint_log
        self._lock = threading.Lock()
        try:
            self._db = psycopg.connect(
                url,
                autocommit=True,
                connect_timeout=connect_timeout,
                application_name="assay-evidence",
            )
        except psycopg.Error as exc:
            raise self._error("cannot open", exc) from None
        try:
            self._prepare(create)
        except psycopg.Error as exc:
            self._db.close()
            raise self._error("cannot prepare", exc) from None
        except BaseException:
            self._db.close()
            raise

    @property
    def _where(self) -> str:
        return f"PostgreSQL ledger {redact_url(self.url)}"

    def _error(self, doing: str, exc: psycopg.Error) -> LedgerError:
        # libpq may quote the connection string back; never let the password through.
        message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        secret = _password(self.url)
        if secret:
            message = message.replace(secret, "***")
        if isinstance(exc, _DAMAGE):
            return LedgerDamagedError(f"{self._where}: {doing}: {message} (the ledger is damaged)")
        return LedgerError(f"{self._where}: {doing}: {message}")

    def _schema_version(self) -> int:
        row = self._db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            return 0
        found = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if found is None else int(found[0])

    def _prepare(self, create: bool) -> None:
        version = self._schema_version()
        if version != len(MIGRATIONS):
            if version == 0 and not create:
                raise LedgerDamagedError(
                    f"{self._where}: the database holds no assay ledger (no meta table)"
                )
            self._upgrade()
        found = self._db.execute(
            "SELECT t FROM unnest(%s::text[]) AS t WHERE to_regclass(t) IS NULL", (list(TABLES),)
        ).fetchall()
        if found:
            missing = ", ".join(str(row[0]) for row in found)
            raise LedgerDamagedError(
                f"{self._where}: table(s) {missing} missing: the ledger is damaged"
            )

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
            raise LedgerError(
                f"{self._where} has schema version {version}, but this assay knows "
                f"versions up to {len(MIGRATIONS)}: upgrade assay"
            )
        if version == 0:
            self._db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for migration in MIGRATIONS[version:]:
            for statement in migration:
                self._db.execute(statement.encode())
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', %s)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(len(MIGRATIONS)),),
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
        """
        appended = Appended()
        if not entries:
            return appended
        with self._lock:
            try:
                with self._db.transaction():
                    sealed, appended.checkpoint = self._append(entries, key, adopt)
            except psycopg.Error as exc:
                raise self._error("append failed", exc) from None
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

    def _append(
        self,
        entries: Sequence[Mapping[str, Any]],
        key: SigningKey | None,
        adopt: tuple[int, int] | None,
    ) -> tuple[list[StoredRecord], Checkpoint | None]:
        if (
            self._db.execute("SELECT id FROM append_lock WHERE id = 1 FOR UPDATE").fetchone()
            is None
        ):
            raise LedgerDamagedError(f"{self._where}: the append_lock row is missing; restore it")
        # A statement of its own, after the lock: in READ COMMITTED it takes a fresh
        # snapshot, which holds whatever the appender before us committed.
        head = self._db.execute(
            "SELECT seq, body FROM records ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        if head is None:
            first_seq, prev = 0, GENESIS_PREV
        else:
            # Link to the stored bytes themselves, not to the hash column.
            first_seq, prev = head[0] + 1, record_hash(bytes(head[1]))
        if key is not None:
            self._check_writer(key, first_seq, adopt)
        sealed = seal_batch(entries, first_seq, prev)
        frontier = self._fetch_nodes(frontier_keys(first_seq))
        nodes, root = grow_tree(sealed, frontier)
        links = [prev, *(record.hash for record in sealed[:-1])]
        with self._db.cursor() as cursor:
            with cursor.copy(
                "COPY records (seq, prev, hash, body) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int8", "bytea", "bytea", "bytea"])
                for record, link in zip(sealed, links, strict=True):
                    copy.write_row(
                        (record.seq, bytes.fromhex(link), bytes.fromhex(record.hash), record.body)
                    )
            with cursor.copy(
                "COPY tree_nodes (level, idx, hash) FROM STDIN (FORMAT BINARY)"
            ) as copy:
                copy.set_types(["int4", "int8", "bytea"])
                for node in nodes:
                    copy.write_row(node)
        checkpoint = None
        if key is not None:
            checkpoint = sign_tree(key, first_seq + len(sealed), root)
            self._insert_checkpoint(checkpoint)
        return sealed, checkpoint

    def _insert_checkpoint(self, checkpoint: Checkpoint) -> None:
        self._db.execute(
            "INSERT INTO checkpoints (origin, tree_size, root, note)"
            " VALUES (%s, %s, %s, %s) ON CONFLICT (origin, tree_size) DO NOTHING",
            (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.note),
        )
        row = self._db.execute(
            "SELECT note FROM checkpoints WHERE origin = %s AND tree_size = %s",
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
            rows = self._rows(
                "SELECT seq, hash, body FROM records WHERE seq >= %s ORDER BY seq LIMIT %s",
                (bound, _PAGE),
                locked=locked,
            )
            yield from (StoredRecord(seq, digest.hex(), body) for seq, digest, body in rows)
            if len(rows) < _PAGE:
                return
            bound = rows[-1][0] + 1

    def _rows(
        self, query: str, params: Sequence[Any] = (), *, locked: bool = True
    ) -> list[tuple[Any, ...]]:
        if not locked:
            return self._query(query, params)
        with self._lock:
            return self._query(query, params)

    def _query(self, query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        try:
            # Binary results: bytea arrives as bytes, without hex decoding.
            with self._db.cursor(binary=True) as cursor:
                return cursor.execute(query.encode(), params).fetchall()
        except psycopg.Error as exc:
            raise self._error("read failed", exc) from None

    def tree_level(self, level: int, start: int = 0) -> Iterator[tuple[int, bytes]]:
        """Stored ``(index, hash)`` nodes of one tree level from index `start`, in order."""
        bound = start
        while True:
            rows = self._rows(
                "SELECT idx, hash FROM tree_nodes WHERE level = %s AND idx >= %s"
                " ORDER BY idx LIMIT %s",
                (level, bound, _PAGE),
            )
            yield from rows  # binary results: bytea arrives as bytes
            if len(rows) < _PAGE:
                return
            bound = rows[-1][0] + 1

    def node_count(self) -> int:
        """How many tree nodes are stored."""
        return int(self._rows("SELECT count(*) FROM tree_nodes")[0][0])

    def record(self, seq: int) -> StoredRecord | None:
        """The record at `seq`, or None."""
        rows = self._rows("SELECT seq, hash, body FROM records WHERE seq = %s", (seq,))
        return StoredRecord(rows[0][0], rows[0][1].hex(), rows[0][2]) if rows else None

    def head(self) -> StoredRecord | None:
        """The record with the highest seq, or None for an empty ledger."""
        rows = self._rows("SELECT seq, hash, body FROM records ORDER BY seq DESC LIMIT 1")
        return StoredRecord(rows[0][0], rows[0][1].hex(), rows[0][2]) if rows else None

    def count(self) -> int:
        """How many records are stored."""
        return int(self._rows("SELECT count(*) FROM records")[0][0])

    def _fetch_nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        if not keys:
            return []
        with self._db.cursor(binary=True) as cursor:
            rows = cursor.execute(
                b"SELECT t.level, t.idx, t.hash"
                b" FROM unnest(%s::int4[], %s::int8[]) AS k(level, idx)"
                b" JOIN tree_nodes t ON t.level = k.level AND t.idx = k.idx",
                ([level for level, _ in keys], [idx for _, idx in keys]),
            ).fetchall()
        found = {(level, idx): bytes(value) for level, idx, value in rows}
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
            except psycopg.Error as exc:
                raise self._error("read failed", exc) from None

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        """Store a signed checkpoint; storing the very same one again does nothing.

        Raises LedgerError if another checkpoint with its origin and size is stored.
        """
        with self._lock:
            try:
                self._insert_checkpoint(checkpoint)
            except psycopg.Error as exc:
                raise self._error("cannot store checkpoint", exc) from None
        self._publish(checkpoint)

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, in the order they were stored."""
        rows = self._rows("SELECT origin, tree_size, root, note FROM checkpoints ORDER BY id")
        return [Checkpoint(origin, size, bytes(root), note) for origin, size, root, note in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the largest tree size (of those, the last stored), or None."""
        return self._latest_checkpoint(locked=True)

    def _latest_checkpoint(self, *, locked: bool) -> Checkpoint | None:
        rows = self._rows(
            "SELECT origin, tree_size, root, note FROM checkpoints"
            " ORDER BY tree_size DESC, id DESC LIMIT 1",
            locked=locked,
        )
        return Checkpoint(rows[0][0], rows[0][1], bytes(rows[0][2]), rows[0][3]) if rows else None

    def vault_put(self, pseudonym: str, value: str) -> None:
        """Keep `value` (a raw personal value) under its pseudonym, replacing any earlier one."""
        check_pseudonym(pseudonym)
        self._rows(
            "INSERT INTO pii_vault (pseudonym, value) VALUES (%s, %s)"
            " ON CONFLICT (pseudonym) DO UPDATE SET value = excluded.value RETURNING 1",
            (pseudonym, value),
        )

    def vault_get(self, pseudonym: str) -> str | None:
        """The value kept under `pseudonym`, or None (never kept, or erased)."""
        rows = self._rows("SELECT value FROM pii_vault WHERE pseudonym = %s", (pseudonym,))
        return str(rows[0][0]) if rows else None

    def vault_erase(self, pseudonym: str) -> bool:
        """Delete the value kept under `pseudonym`; True if there was one.

        The table is then rewritten (VACUUM FULL), so the value no longer lies in its
        data files; the server's write-ahead log and any backups keep it until they are
        recycled. The hashed log never held it, so the ledger still verifies.
        """
        with self._lock:
            try:
                deleted = self._db.execute(
                    "DELETE FROM pii_vault WHERE pseudonym = %s", (pseudonym,)
                ).rowcount
                if deleted:
                    self._db.execute("VACUUM FULL pii_vault")
            except psycopg.Error as exc:
                raise self._error("cannot erase from the vault", exc) from None
        return deleted > 0

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

    def __init__(self, ledger: PostgresLedger) -> None:
        self._ledger = ledger

    def latest_checkpoint(self) -> Checkpoint | None:
        return self._ledger._latest_checkpoint(locked=False)

    def nodes(self, keys: Sequence[NodeKey]) -> list[bytes]:
        return self._ledger._fetch_nodes(keys)

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        return self._ledger._pages(start, locked=False)
