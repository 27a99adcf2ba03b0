"""Open datastores: one connection each, the SQL dialect it speaks, and its transactions.

Reads run in one consistent, read-only transaction (PostgreSQL: REPEATABLE READ READ
ONLY; SQLite: a deferred transaction with ``query_only``), so planning and access can
never write. Writes run in one transaction with a statement timeout and a lock timeout.
Errors never repeat values (PostgreSQL's DETAIL lines can hold them).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import IsolationLevel, sql

from assay.gdpr.datamap import StoreKind
from assay.gdpr.errors import StoreError
from assay.gdpr.mapfile import LoadedMap
from assay.gdpr.sqltext import Sql, fmt, for_sqlite, join, param, raw

BATCH = 1000
READ_STATEMENT_TIMEOUT = 300.0
READ_LOCK_TIMEOUT = 30.0
HASH_PREFIX = "hmac:"


class Store(ABC):
    """One open datastore. Subclasses supply the dialect and the transaction rules."""

    kind: StoreKind

    def __init__(self, name: str) -> None:
        self.name = name

    # -- running SQL -----------------------------------------------------------------
    @abstractmethod
    def query(self, q: Sql) -> list[tuple[Any, ...]]:
        """All rows of a (small) result: keys, counts, catalog rows."""

    @abstractmethod
    def stream(self, q: Sql) -> Iterator[tuple[Any, ...]]:
        """Rows fetched `BATCH` at a time, so memory holds one batch, not the result."""
        ...

    @abstractmethod
    def execute(self, q: Sql) -> int:
        """Run one statement; the number of rows it affected."""
        ...

    @abstractmethod
    def read(self) -> AbstractContextManager[None]:
        """One consistent, read-only transaction for the block."""

    @abstractmethod
    def write(self, statement_timeout: float, lock_timeout: float) -> AbstractContextManager[None]:
        """One write transaction for the block, committed at its end, rolled back on error."""

    @abstractmethod
    def close(self) -> None: ...

    # -- dialect ---------------------------------------------------------------------
    @abstractmethod
    def key_in(self, expr: Sql, values: Sequence[Any]) -> Sql:
        """``expr`` is one of `values` (a list bound as one parameter, not one per value)."""
        ...

    def any_of(self, exprs: Sequence[Sql], kinds: Sequence[str], values: Sequence[Any]) -> Sql:
        """The row of `exprs` is one of `values` (scalars for one expression, tuples for
        several); `kinds` are the columns' kinds, which some dialects must spell out."""
        if len(exprs) == 1:
            return self.key_in(exprs[0], values)
        return self._rows_in(exprs, kinds, values)

    @abstractmethod
    def _rows_in(self, exprs: Sequence[Sql], kinds: Sequence[str], values: Sequence[Any]) -> Sql:
        """`any_of` for two or more expressions."""

    @abstractmethod
    def contains(self, expr: Sql, text: str) -> Sql: ...

    @abstractmethod
    def left(self, expr: Sql, n: int) -> Sql: ...

    @abstractmethod
    def right(self, expr: Sql, n: int) -> Sql: ...

    @abstractmethod
    def keyed_hash(self, expr: Sql, key: bytes) -> Sql:
        """``'hmac:' || hex(HMAC-SHA256(key, expr))``, equal to `keyed_hash_value` in Python."""
        ...

    def _fail(self, exc: Exception, what: str) -> StoreError:
        return StoreError(f"store {self.name!r}: {what}: {_safe_message(exc)}")


def keyed_hash_value(key: bytes, value: str) -> str:
    return HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def _composed(q: Sql) -> sql.Composed:
    return sql.Composed([q.text])


def _safe_message(exc: Exception) -> str:
    diag = getattr(exc, "diag", None)
    primary = getattr(diag, "message_primary", None)
    sqlstate = getattr(exc, "sqlstate", None)
    if primary:
        return f"{primary} (SQLSTATE {sqlstate})" if sqlstate else str(primary)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class PostgresStore(Store):
    kind = "postgresql"

    def __init__(self, name: str, dsn: str, connect_timeout: float = 10) -> None:
        super().__init__(name)
        try:
            self.conn = psycopg.connect(
                dsn,
                autocommit=True,
                connect_timeout=int(connect_timeout),
                application_name="assay-dsr",
            )
        except psycopg.Error as exc:
            raise self._fail(exc, "cannot connect") from None

    def query(self, q: Sql) -> list[tuple[Any, ...]]:
        try:
            rows: list[tuple[Any, ...]] = self.conn.execute(_composed(q), q.params).fetchall()
        except psycopg.Error as exc:
            raise self._fail(exc, "query failed") from None
        return rows

    def stream(self, q: Sql) -> Iterator[tuple[Any, ...]]:
        try:
            yield from self.conn.cursor().stream(_composed(q), q.params, size=BATCH)
        except psycopg.Error as exc:
            raise self._fail(exc, "query failed") from None

    def execute(self, q: Sql) -> int:
        try:
            count: int = self.conn.execute(_composed(q), q.params).rowcount
        except psycopg.errors.LockNotAvailable as exc:
            raise self._fail(exc, "lock timeout") from None
        except psycopg.errors.QueryCanceled as exc:
            raise self._fail(exc, "statement timeout") from None
        except psycopg.Error as exc:
            raise self._fail(exc, "statement failed") from None
        return count

    @contextmanager
    def read(self) -> Iterator[None]:
        self.conn.isolation_level = IsolationLevel.REPEATABLE_READ
        self.conn.read_only = True
        try:
            with self.conn.transaction():
                # Never hang behind someone's exclusive lock; a read is retried, not stuck.
                self._limits(READ_STATEMENT_TIMEOUT, READ_LOCK_TIMEOUT)
                yield
        finally:
            self.conn.isolation_level = None
            self.conn.read_only = None

    @contextmanager
    def write(self, statement_timeout: float, lock_timeout: float) -> Iterator[None]:
        with self.conn.transaction():
            self._limits(statement_timeout, lock_timeout)
            yield

    def _limits(self, statement_timeout: float, lock_timeout: float) -> None:
        """SET LOCAL both timeouts for the current transaction."""
        for setting, seconds in (
            ("statement_timeout", statement_timeout),
            ("lock_timeout", lock_timeout),
        ):
            self.execute(
                fmt(
                    "SELECT set_config({}, {}, true)",
                    param(setting),
                    param(f"{int(seconds * 1000)}ms"),
                )
            )

    def close(self) -> None:
        self.conn.close()

    def key_in(self, expr: Sql, values: Sequence[Any]) -> Sql:
        return fmt("{} = ANY({})", expr, param(list(values)))

    def _rows_in(self, exprs: Sequence[Sql], kinds: Sequence[str], values: Sequence[Any]) -> Sql:
        # One array per column, zipped back into rows by unnest(); an index on the columns
        # serves it. Lists of str reach the server untyped: text[] says what they are.
        arrays = [
            fmt("{}::text[]" if kind == "text" else "{}", param([v[i] for v in values]))
            for i, kind in enumerate(kinds)
        ]
        return fmt("({}) IN (SELECT * FROM unnest({}))", join(exprs, ", "), join(arrays, ", "))

    def contains(self, expr: Sql, text: str) -> Sql:
        return fmt("strpos({}, {}) > 0", expr, param(text))

    def left(self, expr: Sql, n: int) -> Sql:
        return fmt("left({}, {})", expr, param(n))

    def right(self, expr: Sql, n: int) -> Sql:
        return fmt("right({}, {})", expr, param(n))

    def keyed_hash(self, expr: Sql, key: bytes) -> Sql:
        # HMAC written out over the built-in sha256(), so no extension (pgcrypto) is needed.
        # The padded keys reach the server by COPY into a temporary table, never as query
        # text or parameters, which a server logging statements would write to its log.
        block = key if len(key) <= 64 else hashlib.sha256(key).digest()
        block = block.ljust(64, b"\0")
        inner = bytes(b ^ 0x36 for b in block)
        outer = bytes(b ^ 0x5C for b in block)
        try:
            with self.conn.cursor() as cur:
                cur.execute(
                    "CREATE TEMPORARY TABLE IF NOT EXISTS assay_hash_key"
                    " (ipad bytea NOT NULL, opad bytea NOT NULL)"
                )
                # Loaded anew each time: a rolled-back transaction takes the table with it.
                cur.execute("TRUNCATE pg_temp.assay_hash_key")
                with cur.copy("COPY pg_temp.assay_hash_key (ipad, opad) FROM STDIN") as copy:
                    copy.write_row((inner, outer))
        except psycopg.Error as exc:
            raise self._fail(exc, "cannot load the hash key") from None
        return fmt(
            "{} || encode(sha256((SELECT opad FROM pg_temp.assay_hash_key)"
            " || sha256((SELECT ipad FROM pg_temp.assay_hash_key) || convert_to({}, 'UTF8'))),"
            " 'hex')",
            param(HASH_PREFIX),
            expr,
        )


class SQLiteStore(Store):
    kind = "sqlite"

    def __init__(self, name: str, path: str) -> None:
        super().__init__(name)
        if not Path(path).is_file():
            raise StoreError(
                f"store {name!r}: no SQLite database at {path}",
                remediation="check the path in the store's environment variable",
            )
        self._deadline: float | None = None
        self._statement_timeout: float | None = None
        self._hash_keys: dict[bytes, str] = {}
        try:
            self.conn = sqlite3.connect(
                f"file:{quote(path)}?mode=rw", uri=True, isolation_level=None, timeout=5
            )
            self.conn.execute("PRAGMA foreign_keys = ON")
            # Deleted content is overwritten on disk, not left in free pages.
            self.conn.execute("PRAGMA secure_delete = ON")
        except sqlite3.Error as exc:
            raise self._fail(exc, "cannot open") from None
        self.conn.set_progress_handler(self._interrupt, 10_000)

    def _interrupt(self) -> int:
        return int(self._deadline is not None and time.monotonic() > self._deadline)

    def _run(self, q: Sql) -> sqlite3.Cursor:
        args = [json.dumps(list(v)) if isinstance(v, list) else v for v in q.params]
        return self.conn.execute(for_sqlite(q.text), args)

    def query(self, q: Sql) -> list[tuple[Any, ...]]:
        try:
            return self._run(q).fetchall()
        except sqlite3.Error as exc:
            raise self._fail(exc, "query failed") from None

    def stream(self, q: Sql) -> Iterator[tuple[Any, ...]]:
        try:
            cur = self._run(q)
            while batch := cur.fetchmany(BATCH):
                yield from batch
        except sqlite3.Error as exc:
            raise self._fail(exc, "query failed") from None

    def execute(self, q: Sql) -> int:
        if self._statement_timeout is not None:
            self._deadline = time.monotonic() + self._statement_timeout
        try:
            return self._run(q).rowcount
        except sqlite3.OperationalError as exc:
            what = "statement timeout" if "interrupt" in str(exc) else "statement failed"
            raise self._fail(exc, what) from None
        except sqlite3.Error as exc:
            raise self._fail(exc, "statement failed") from None
        finally:
            self._deadline = None

    @contextmanager
    def read(self) -> Iterator[None]:
        self.conn.execute("PRAGMA query_only = ON")
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("COMMIT")
            self.conn.execute("PRAGMA query_only = OFF")

    @contextmanager
    def write(self, statement_timeout: float, lock_timeout: float) -> Iterator[None]:
        self.conn.execute(f"PRAGMA busy_timeout = {int(lock_timeout * 1000)}")
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._fail(exc, "lock timeout") from None
        # SQLite has no statement timeout: the progress handler stops a statement past it.
        self._statement_timeout = statement_timeout
        ok = False
        try:
            yield
            ok = True
        finally:
            self._statement_timeout = None
            if ok:
                self.conn.execute("COMMIT")
            elif self.conn.in_transaction:  # an interrupted statement rolled back already
                self.conn.execute("ROLLBACK")
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            # Erased rows must not linger in the write-ahead log.
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.conn.close()

    def _check_values(self, values: Sequence[Any]) -> None:
        for v in values:
            if not isinstance(v, int | str):
                raise StoreError(
                    f"store {self.name!r}: key values must be integers or text, "
                    f"got {type(v).__name__}"
                )

    def key_in(self, expr: Sql, values: Sequence[Any]) -> Sql:
        self._check_values(values)
        return fmt("{} IN (SELECT value FROM json_each({}))", expr, param(list(values)))

    def _rows_in(self, exprs: Sequence[Sql], kinds: Sequence[str], values: Sequence[Any]) -> Sql:
        for row in values:
            self._check_values(row)
        parts = join((raw(f"json_extract(value, '$[{i}]')") for i in range(len(exprs))), ", ")
        return fmt(
            "({}) IN (SELECT {} FROM json_each({}))",
            join(exprs, ", "),
            parts,
            param([list(v) for v in values]),
        )

    def contains(self, expr: Sql, text: str) -> Sql:
        return fmt("instr({}, {}) > 0", expr, param(text))

    def left(self, expr: Sql, n: int) -> Sql:
        return fmt("substr({}, 1, {})", expr, param(n))

    def right(self, expr: Sql, n: int) -> Sql:
        return fmt("substr({}, {})", expr, param(-n))

    def keyed_hash(self, expr: Sql, key: bytes) -> Sql:
        fname = self._hash_keys.get(key)
        if fname is None:
            fname = f"assay_hmac_{len(self._hash_keys)}"
            self._hash_keys[key] = fname

            def digest(value: Any) -> str | None:
                return None if value is None else keyed_hash_value(key, str(value))

            self.conn.create_function(fname, 1, digest, deterministic=True)
        return fmt(f"{fname}({{}})", expr)


def store_dsn(loaded: LoadedMap, name: str, overrides: Mapping[str, str]) -> str:
    if name in overrides:
        return overrides[name]
    env = loaded.datamap.stores[name].dsn_env
    value = os.environ.get(env)
    if not value:
        raise StoreError(
            f"store {name!r}: environment variable {env} is not set",
            remediation=f"export {env}=<connection string or SQLite path> "
            "(the data map names the variable, never the secret)",
        )
    return value


_KEYWORD_DSN = re.compile(r"^\s*[A-Za-z_]+\s*=")


def store_kind(dsn: str) -> StoreKind:
    """The kind of store a connection string names: a PostgreSQL URI (postgresql://,
    postgres://) or key=value string, else a SQLite file path."""
    if dsn.startswith(("postgresql://", "postgres://")) or _KEYWORD_DSN.match(dsn):
        return "postgresql"
    return "sqlite"


@contextmanager
def open_stores(
    loaded: LoadedMap, overrides: Mapping[str, str] | None = None
) -> Iterator[dict[str, Store]]:
    """Every store of the map, connected; `overrides` maps store name -> DSN or path. A
    store's kind is the map's, or else the connection string's (`store_kind`)."""
    stores: dict[str, Store] = {}
    with ExitStack() as stack:
        for name, spec in loaded.datamap.stores.items():
            dsn = store_dsn(loaded, name, overrides or {})
            kind = spec.kind or store_kind(dsn)
            store: Store = (
                PostgresStore(name, dsn) if kind == "postgresql" else SQLiteStore(name, dsn)
            )
            stack.callback(store.close)
            stores[name] = store
        yield stores
