"""The SQLite ledger's schema, as migrations applied in order.

The schema version is how many migrations have been applied. Append new functions,
never edit or reorder applied ones: each runs inside the write transaction that bumps
the version, so a failed migration leaves no trace. A PostgreSQL backend keeps the
same tables and columns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from assay.evidence.backends import request_index
from assay.evidence.backends.run_index import rebuild
from assay.evidence.merkle import Frontier, leaf_hash

_PAGE = 1000


def _append_only(db: sqlite3.Connection, table: str) -> None:
    # Not a security boundary (anyone with the file can drop them); they stop accidents.
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} are append-only'); END"
        )


def _create_records(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE records ("
        " seq INTEGER PRIMARY KEY,"
        " prev BLOB NOT NULL UNIQUE,"
        " hash BLOB NOT NULL,"
        " body BLOB NOT NULL)"
    )
    # Version 1 said "evidence records are append-only"; kept, since applied migrations
    # never change.
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER records_no_{event.lower()} BEFORE {event} ON records "
            "BEGIN SELECT RAISE(ABORT, 'evidence records are append-only'); END"
        )


def _create_tree_nodes(db: sqlite3.Connection) -> None:
    """Hashes of complete Merkle subtrees; level 0 holds the leaf hashes of the records."""
    db.execute(
        "CREATE TABLE tree_nodes ("
        " level INTEGER NOT NULL,"
        " idx INTEGER NOT NULL,"
        " hash BLOB NOT NULL,"
        " PRIMARY KEY (level, idx)) WITHOUT ROWID"
    )
    _append_only(db, "tree_nodes")
    # A ledger written before the tree existed gets its nodes from the stored bodies.
    frontier = Frontier()
    bound = -(2**63)
    while True:
        rows = db.execute(
            "SELECT seq, body FROM records WHERE seq >= ? ORDER BY seq LIMIT ?", (bound, _PAGE)
        ).fetchall()
        nodes = [node for _, body in rows for node in frontier.append(leaf_hash(bytes(body)))]
        db.executemany("INSERT INTO tree_nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
        if len(rows) < _PAGE:
            return
        bound = rows[-1][0] + 1


def _create_checkpoints(db: sqlite3.Connection) -> None:
    db.execute(
        "CREATE TABLE checkpoints ("
        " id INTEGER PRIMARY KEY,"
        " origin TEXT NOT NULL,"
        " tree_size INTEGER NOT NULL,"
        " root BLOB NOT NULL,"
        " note TEXT NOT NULL,"
        " UNIQUE (origin, tree_size))"
    )
    _append_only(db, "checkpoints")


def _create_pii_vault(db: sqlite3.Connection) -> None:
    """Raw personal values by pseudonym: deletable, and never part of the hashed log."""
    db.execute("CREATE TABLE pii_vault (pseudonym TEXT PRIMARY KEY, value TEXT NOT NULL)")


def _drop_unique_prev(db: sqlite3.Connection) -> None:
    """Rebuild `records` without the UNIQUE index on `prev`.

    Each new record's prev is a random hash, so that index took a random page write per
    record: about 4 KiB of journal for every append once a ledger is large, which held
    batched appends far below 20,000/s. The seq primary key already refuses a fork (two
    records after the same one would share a seq), and the verifier catches any prev
    that does not link.
    """
    db.execute(
        "CREATE TABLE records_v5 ("
        " seq INTEGER PRIMARY KEY,"
        " prev BLOB NOT NULL,"
        " hash BLOB NOT NULL,"
        " body BLOB NOT NULL)"
    )
    db.execute("INSERT INTO records_v5 SELECT seq, prev, hash, body FROM records")
    db.execute("DROP TABLE records")  # and its triggers with it
    db.execute("ALTER TABLE records_v5 RENAME TO records")
    for event in ("UPDATE", "DELETE"):
        db.execute(
            f"CREATE TRIGGER records_no_{event.lower()} BEFORE {event} ON records "
            "BEGIN SELECT RAISE(ABORT, 'evidence records are append-only'); END"
        )


RUN_INDEX = (
    "CREATE TABLE IF NOT EXISTS runs ("
    " run TEXT PRIMARY KEY,"
    " profile TEXT,"
    " targets TEXT NOT NULL,"
    " targets_key TEXT NOT NULL,"
    " first_seq INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL,"
    " records INTEGER NOT NULL,"
    " results INTEGER NOT NULL,"
    " starts INTEGER NOT NULL,"
    " finishes INTEGER NOT NULL,"
    " started_at TEXT,"
    " finished_at TEXT,"
    " counts TEXT NOT NULL)",
    # The baseline: the last finished run over the same targets; a listing: newest first.
    "CREATE INDEX IF NOT EXISTS runs_by_targets ON runs (targets_key, last_seq)",
    "CREATE INDEX IF NOT EXISTS runs_by_last_seq ON runs (last_seq)",
    "CREATE TABLE IF NOT EXISTS run_segments ("
    " run TEXT NOT NULL,"
    " first_seq INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL,"
    " PRIMARY KEY (run, first_seq)) WITHOUT ROWID",
)
"""The run index's tables (`run_index`), created if missing."""


def create_run_index(db: sqlite3.Connection) -> None:
    """The run index (`run_index`), filled from the records already stored, a page at
    a time. Derived and outside the chain: also how a dropped index is rebuilt."""
    for statement in RUN_INDEX:
        db.execute(statement)
    rebuild(lambda query, params: db.execute(query, params).fetchall(), "?", _PAGE)


def _create_checkpoint_attachments(db: sqlite3.Connection) -> None:
    """What outside parties said about a checkpoint, kept beside it: an RFC 3161 token
    (kind ``tsr``) or a witness's cosignature line (``cosig-<key id>``), each once."""
    db.execute(
        "CREATE TABLE checkpoint_attachments ("
        " origin TEXT NOT NULL,"
        " tree_size INTEGER NOT NULL,"
        " kind TEXT NOT NULL,"
        " data BLOB NOT NULL,"
        " PRIMARY KEY (origin, tree_size, kind)) WITHOUT ROWID"
    )
    _append_only(db, "checkpoint_attachments")


REQUEST_INDEX = (
    "CREATE TABLE IF NOT EXISTS dsr_records (seq INTEGER PRIMARY KEY, request TEXT NOT NULL)",
    # One request's steps: a range of this index.
    "CREATE INDEX IF NOT EXISTS dsr_records_by_request ON dsr_records (request, seq)",
)
"""The request index's table (`request_index`), created if missing."""


def create_request_index(db: sqlite3.Connection) -> None:
    """The request index (`request_index`), filled from the records already stored, a
    page at a time. Derived and outside the chain: also how a dropped index is rebuilt."""
    for statement in REQUEST_INDEX:
        db.execute(statement)
    request_index.rebuild(lambda query, params: db.execute(query, params).fetchall(), "?", _PAGE)


MIGRATIONS: tuple[Callable[[sqlite3.Connection], None], ...] = (
    _create_records,
    _create_tree_nodes,
    _create_checkpoints,
    _create_pii_vault,
    _drop_unique_prev,
    create_run_index,
    _create_checkpoint_attachments,
    create_request_index,
)

TABLES = ("meta", "records", "tree_nodes", "checkpoints", "pii_vault", "checkpoint_attachments")
"""The tables a ledger at the current version holds; one missing means damage (the run
index's tables are derived: missing, they are rebuilt)."""
