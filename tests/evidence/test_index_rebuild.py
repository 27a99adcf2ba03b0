"""rebuild_index, the page walk both derived indexes (runs, requests) are rebuilt by: every
record a JSON object, in seq order, across pages, whatever else the records table holds."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pytest

from assay.evidence.backends.run_index import Execute, rebuild_index

BODIES = {
    -5: b'{"kind":"dsr","n":-5}',  # a negative seq is still a record
    1: b'{"kind":"result","n":1}',
    2: b"[1, 2]",  # JSON, but not an object
    3: b'{"kind":"dsr","n":3',  # cut short
    4: b'\xff{"kind":"dsr"}',  # not UTF-8
    5: b'{"kind":"dsr","n":5}',
    6: b"",
    7: b'{"kind":"result","n":7}',
    8: b'{"kind":"dsr","n":8}',
}


@pytest.fixture
def db() -> Iterable[sqlite3.Connection]:
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE records (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
    con.executemany("INSERT INTO records VALUES (?, ?)", BODIES.items())
    con.execute("CREATE TABLE derived (seq INTEGER, n INTEGER)")
    con.execute("CREATE TABLE derived_too (x INTEGER)")
    con.executemany("INSERT INTO derived VALUES (?, ?)", [(100, 100), (1, 999)])
    con.execute("INSERT INTO derived_too VALUES (1)")
    yield con
    con.close()


def rebuild(db: sqlite3.Connection, page: int, needle: bytes = b"") -> list[list[int]]:
    """Rebuild `derived` (and empty `derived_too`); return each call's seqs."""
    calls: list[list[int]] = []

    def execute(query: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return db.execute(query, params).fetchall()

    def index(run: Execute, mark: str, records: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
        assert mark == "?"
        calls.append([])
        for seq, rec in records:
            calls[-1].append(seq)
            run(f"INSERT INTO derived VALUES ({mark}, {mark})", (seq, rec["n"]))

    rebuild_index(execute, "?", page, ("derived", "derived_too"), index, needle)
    return calls


@pytest.mark.parametrize("page", [1, 2, 3, 9, 10, 1000])
def test_every_object_in_seq_order_whatever_the_page(db: sqlite3.Connection, page: int) -> None:
    calls = rebuild(db, page)
    assert [seq for call in calls for seq in call] == [-5, 1, 5, 7, 8]
    # One call a page read, the last one short (possibly empty).
    assert len(calls) == len(BODIES) // page + 1
    assert db.execute("SELECT seq, n FROM derived ORDER BY seq").fetchall() == [
        (-5, -5),
        (1, 1),
        (5, 5),
        (7, 7),
        (8, 8),
    ]
    assert db.execute("SELECT count(*) FROM derived_too").fetchone() == (0,)


def test_only_bodies_holding_the_needle_are_handed_on(db: sqlite3.Connection) -> None:
    calls = rebuild(db, 4, needle=b'"dsr"')
    assert [seq for call in calls for seq in call] == [-5, 5, 8]
