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
from psycopg.conninfo import conninfo_to_dict

from assay.evidence.checkpoint import Checkpoint
from assay.evidence.merkle import NodeKey, frontier_keys
from assay.evidence.postgres_schema import MIGRATION_LOCK, MIGRATIONS
from assay.evidence.pseudonym import check_pseudonym
from assay.evidence.record import (
    GENESIS_PREV,
    LedgerError,
    StoredRecord,
    record_hash,
    redact_url,
    seal_batch,
    tree_nodes,
)

_PAGE = 5000
# With start 0 every row is read, so a row with a forged negative seq reaches `verify`.
_MIN_SEQ = -(2**63)


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

    def __init__(self, url: str, *, create: bool = True, connect_timeout: int = 30) -> None:
        self.url = url
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
        message = str(exc).strip()
        secret = _password(self.url)
        if secret:
            message = message.replace(secret, "***")
        return LedgerError(f"{self._where}: {doing}: {message}")

    def _schema_version(self) -> int:
        row = self._db.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
        if row is None or not row[0]:
            return 0
        found = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if found is None else int(found[0])

    def _prepare(self, create: bool) -> None:
        version = self._schema_version()
        if version == len(MIGRATIONS):
            return
        if version == 0 and not create:
            raise LedgerError(f"{self._where}: the database holds no assay ledger (no meta table)")
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

    def append(self, entries: Sequence[Mapping[str, Any]]) -> list[StoredRecord]:
        """Append `entries` as consecutive records in one transaction: all or none.

        Raises CanonicalError or LedgerError (naming the entry's index) and writes
        nothing if any entry cannot be sealed.
        """
        if not entries:
            return []
        with self._lock:
            try:
                with self._db.transaction():
                    sealed = self._append(entries)
            except psycopg.Error as exc:
                raise self._error("append failed", exc) from None
        return sealed

    def _append(self, entries: Sequence[Mapping[str, Any]]) -> list[StoredRecord]:
        if (
            self._db.execute("SELECT id FROM append_lock WHERE id = 1 FOR UPDATE").fetchone()
            is None
        ):
            raise LedgerError(f"{self._where}: the append_lock row is missing; restore it")
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
        sealed = seal_batch(entries, first_seq, prev)
        frontier = self._fetch_nodes(frontier_keys(first_seq))
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
                for node in tree_nodes(sealed, frontier):
                    copy.write_row(node)
        return sealed

    def records(self, start: int = 0) -> Iterator[StoredRecord]:
        """Records with seq >= `start` in seq order, read a page at a time.

        With `start` 0 every stored row is yielded, whatever its seq, so `verify` sees
        rows a tamperer numbered out of range. Records appended while iterating are
        yielded too. Raises ValueError at once for a negative `start`.
        """
        if start < 0:
            raise ValueError(f"start must be >= 0, got {start}")
        return self._pages(_MIN_SEQ if start == 0 else start)

    def _pages(self, bound: int) -> Iterator[StoredRecord]:
        while True:
            rows = self._rows(
                "SELECT seq, hash, body FROM records WHERE seq >= %s ORDER BY seq LIMIT %s",
                (bound, _PAGE),
            )
            yield from (StoredRecord(seq, digest.hex(), body) for seq, digest, body in rows)
            if len(rows) < _PAGE:
                return
            bound = rows[-1][0] + 1

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                # Binary results: bytea arrives as bytes, without hex decoding.
                with self._db.cursor(binary=True) as cursor:
                    return cursor.execute(query.encode(), params).fetchall()
            except psycopg.Error as exc:
                raise self._error("read failed", exc) from None

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
                self._db.execute(
                    "INSERT INTO checkpoints (origin, tree_size, root, note)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT (origin, tree_size) DO NOTHING",
                    (checkpoint.origin, checkpoint.size, checkpoint.root, checkpoint.note),
                )
                row = self._db.execute(
                    "SELECT note FROM checkpoints WHERE origin = %s AND tree_size = %s",
                    (checkpoint.origin, checkpoint.size),
                ).fetchone()
            except psycopg.Error as exc:
                raise self._error("cannot store checkpoint", exc) from None
        if row is None or row[0] != checkpoint.note:
            raise LedgerError(f"{self._where}: another checkpoint {checkpoint.label} is stored")

    def checkpoints(self) -> list[Checkpoint]:
        """Every stored checkpoint, in the order they were stored."""
        rows = self._rows("SELECT origin, tree_size, root, note FROM checkpoints ORDER BY id")
        return [Checkpoint(origin, size, bytes(root), note) for origin, size, root, note in rows]

    def latest_checkpoint(self) -> Checkpoint | None:
        """The checkpoint of the largest tree size (of those, the last stored), or None."""
        rows = self._rows(
            "SELECT origin, tree_size, root, note FROM checkpoints"
            " ORDER BY tree_size DESC, id DESC LIMIT 1"
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
