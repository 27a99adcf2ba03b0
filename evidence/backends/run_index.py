"""The run index: one row per run id, derived from the records, so that finding a run,
the last one over some targets, or the trend of the last few costs O(runs), not O(records).

A run's records are those whose ``run`` field holds its id: a ``run_started`` (its
``profile`` and ``targets``), ``result`` records and a ``run_finished`` (its ``counts``).
`RunEntry` is what the index knows of one run; `run_segments` holds the stretches of
consecutive seqs its records occupy, so the run is read back by primary-key ranges.

The index is a cache outside the hash chain. `index_records` keeps it in the append's
own transaction; `rebuild` makes it anew from the records, page by page (a migration,
or tables found missing). Verification never reads it: a tampered index can mislead a
report, never make evidence verify or fail.

Several processes may append records of one run in batches of their own: a run is as
many segments as its records form, and its targets are those of all its
``run_started`` records. A run is finished once it has as many ``run_finished``
records as ``run_started`` ones; a sharded run (its ``run_started`` and ``run_finished``
records carry ``shard: {index, count}``) counts as one start, whatever its shards, and
finishes only with its closing ``run_finished``, which carries no ``shard`` and is
written once every shard of the N has finished (`assay runs complete`). A shard that
never started thus cannot make a run look finished.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

Execute = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Runs one statement in the caller's transaction; returns its rows (none for DML)."""

STARTED, RESULT, FINISHED = "run_started", "result", "run_finished"
TABLES = ("runs", "run_segments")
"""The index's tables; derived, so one missing is rebuilt, not damage."""

_MIN_SEQ = -(2**63)
_COLUMNS = (
    "run, profile, targets, targets_key, first_seq, last_seq, records, results,"
    " starts, finishes, started_at, finished_at, counts"
)


def targets_key(names: Iterable[str]) -> str:
    """The key that runs over the same set of target names share (hex SHA-256)."""
    return hashlib.sha256(json.dumps(sorted(set(names))).encode()).hexdigest()


def target_names(run_started: Mapping[str, Any]) -> set[str]:
    """The names of the targets a ``run_started`` record lists (entries without one
    count as ``"None"``, as the run's own comparison of targets does)."""
    targets = run_started.get("targets")
    if not isinstance(targets, list):
        return set()
    return {str(t.get("name")) for t in targets if isinstance(t, dict)}


@dataclass(frozen=True)
class RunEntry:
    """One run as the index has it. Times are the records' own ``at`` values."""

    run: str
    profile: str | None
    """The first ``run_started`` record's profile."""
    targets: tuple[str, ...]
    """The sorted names of the targets of all its ``run_started`` records."""
    first_seq: int
    last_seq: int
    records: int
    """How many records carry its id."""
    results: int
    starts: int
    """How many ``run_started`` records it has; a sharded run counts one."""
    finishes: int
    started_at: str | None
    """The first ``run_started`` record's ``at``."""
    finished_at: str | None
    """The last ``run_finished`` record's ``at`` (a shard's own end not counted)."""
    counts: tuple[dict[str, Any], ...]
    """Each ``run_finished`` record's ``counts``, in seq order (a shard's own end not
    counted: a sharded run's closing record counts the whole run)."""

    @property
    def finished(self) -> bool:
        """Every ``run_started`` of it has its ``run_finished`` (a sharded run: it has its
        closing record): it can be a baseline."""
        return self.starts > 0 and self.finishes >= self.starts


@dataclass(frozen=True)
class RunSql:
    """The index's statements with one DB-API parameter marker (build with `run_sql`)."""

    get: str
    put: str
    extend_segment: str
    add_segment: str
    segments: str
    by_prefix: str
    records_between: str
    mark: str

    def listing(self, *, targets: bool, profile: bool, finished: bool, limit: bool) -> str:
        """Runs newest first (by their latest record), with a marker for each filter
        asked: targets key, then profile, then limit."""
        where = []
        if targets:
            where.append(f"targets_key = {self.mark}")
        if profile:
            where.append(f"profile = {self.mark}")
        if finished:
            where.append("starts > 0 AND finishes >= starts")
        query = f"SELECT {_COLUMNS} FROM runs"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY last_seq DESC"
        return query + (f" LIMIT {self.mark}" if limit else "")


@cache
def run_sql(mark: str) -> RunSql:
    """The index's statements with `mark` as the parameter marker (``?``, ``%s``)."""
    m = mark
    updates = ", ".join(f"{c} = excluded.{c}" for c in _COLUMNS.split(", ")[1:])
    return RunSql(
        get=f"SELECT {_COLUMNS} FROM runs WHERE run = {m}",
        put=f"INSERT INTO runs ({_COLUMNS}) VALUES ({', '.join([m] * 13)})"
        f" ON CONFLICT (run) DO UPDATE SET {updates}",
        extend_segment=f"UPDATE run_segments SET last_seq = {m} WHERE run = {m} AND last_seq = {m}",
        add_segment=f"INSERT INTO run_segments (run, first_seq, last_seq) VALUES ({m}, {m}, {m})",
        segments=f"SELECT first_seq, last_seq FROM run_segments WHERE run = {m} ORDER BY first_seq",
        by_prefix=f"SELECT {_COLUMNS} FROM runs WHERE run >= {m} ORDER BY run LIMIT {m}",
        records_between=f"SELECT seq, hash, body FROM records WHERE seq >= {m} AND seq <= {m}"
        f" ORDER BY seq LIMIT {m}",
        mark=m,
    )


def entry_of(row: Sequence[Any]) -> RunEntry:
    """The `RunEntry` of a row selected with the index's columns."""
    (run, profile, targets, _, first, last, records, results, starts, finishes) = row[:10]
    started_at, finished_at, counts = row[10:]
    return RunEntry(
        run=str(run),
        profile=profile,
        targets=tuple(json.loads(targets)),
        first_seq=int(first),
        last_seq=int(last),
        records=int(records),
        results=int(results),
        starts=int(starts),
        finishes=int(finishes),
        started_at=started_at,
        finished_at=finished_at,
        counts=tuple(json.loads(counts)),
    )


@dataclass
class _Growing:
    """A run's row while a stretch of records is added to it."""

    run: str
    stored_last: int | None = None  # the last seq already indexed, if any
    profile: str | None = None
    targets: set[str] = field(default_factory=set)
    first_seq: int | None = None
    last_seq: int = _MIN_SEQ
    records: int = 0
    results: int = 0
    starts: int = 0
    finishes: int = 0
    started_at: str | None = None
    finished_at: str | None = None
    counts: list[Any] = field(default_factory=list)
    segments: list[list[int]] = field(default_factory=list)  # new ones, [first, last]

    @classmethod
    def stored(cls, entry: RunEntry) -> _Growing:
        return cls(
            run=entry.run,
            stored_last=entry.last_seq,
            profile=entry.profile,
            targets=set(entry.targets),
            first_seq=entry.first_seq,
            last_seq=entry.last_seq,
            records=entry.records,
            results=entry.results,
            starts=entry.starts,
            finishes=entry.finishes,
            started_at=entry.started_at,
            finished_at=entry.finished_at,
            counts=list(entry.counts),
        )

    def add(self, seq: int, rec: Mapping[str, Any]) -> None:
        if self.segments and self.segments[-1][1] == seq - 1:
            self.segments[-1][1] = seq
        else:
            self.segments.append([seq, seq])
        if self.first_seq is None:
            self.first_seq = seq
        self.last_seq = max(self.last_seq, seq)
        self.records += 1
        kind, at = rec.get("kind"), rec.get("at")
        at = at if isinstance(at, str) and at else None
        sharded = isinstance(rec.get("shard"), dict)
        if kind == STARTED:
            # A sharded run is one run however many shards (and re-runs of a shard) start it.
            self.starts = max(self.starts, 1) if sharded else self.starts + 1
            profile = rec.get("profile")
            if self.profile is None and isinstance(profile, str):
                self.profile = profile
            self.targets |= target_names(rec)
            self.started_at = self.started_at or at
        elif kind == RESULT:
            self.results += 1
        elif kind == FINISHED and not sharded:
            self.finishes += 1
            self.finished_at = at or self.finished_at
            counts = rec.get("counts")
            self.counts.append(counts if isinstance(counts, dict) else {})

    def store(self, execute: Execute, sql: RunSql) -> None:
        names = sorted(self.targets)
        execute(
            sql.put,
            (
                self.run,
                self.profile,
                json.dumps(names),
                targets_key(names),
                self.first_seq,
                self.last_seq,
                self.records,
                self.results,
                self.starts,
                self.finishes,
                self.started_at,
                self.finished_at,
                json.dumps(self.counts),
            ),
        )
        for first, last in self.segments:
            # A batch that continues the run's last stretch of seqs lengthens it.
            if first - 1 == self.stored_last:
                execute(sql.extend_segment, (last, self.run, self.stored_last))
            else:
                execute(sql.add_segment, (self.run, first, last))


def index_records(
    execute: Execute, mark: str, records: Iterable[tuple[int, Mapping[str, Any]]]
) -> None:
    """Add `records` (``(seq, record)`` in seq order, after every seq already indexed)
    to the index, in the caller's transaction: one read and one write per run touched."""
    sql = run_sql(mark)
    growing: dict[str, _Growing] = {}
    for seq, rec in records:
        run = rec.get("run")
        if not isinstance(run, str):
            continue
        state = growing.get(run)
        if state is None:
            rows = execute(sql.get, (run,))
            state = _Growing.stored(entry_of(rows[0])) if rows else _Growing(run)
            growing[run] = state
        state.add(seq, rec)
    for state in growing.values():
        state.store(execute, sql)


def rebuild(execute: Execute, mark: str, page: int) -> None:
    """Empty the index and make it anew from every stored record, `page` records at a
    time (memory bounded by a page and the runs it touches)."""
    rebuild_index(execute, mark, page, TABLES, index_records)


Indexer = Callable[[Execute, str, Iterable[tuple[int, Mapping[str, Any]]]], None]
"""Adds ``(seq, record)`` pairs, in seq order, to a derived index in the caller's
transaction (`index_records`, `request_index.index_requests`)."""


def rebuild_index(
    execute: Execute,
    mark: str,
    page: int,
    tables: Iterable[str],
    index: Indexer,
    needle: bytes = b"",
) -> None:
    """Empty a derived index's `tables`, then hand `index` every stored record, in seq
    order, `page` records at a time, in the caller's transaction. Only a body holding
    `needle` is decoded; one that is not a JSON object is skipped: the index serves
    reports, and verification reports the body."""
    for table in tables:
        execute(f"DELETE FROM {table}", ())
    bound = _MIN_SEQ
    while True:
        rows = execute(
            f"SELECT seq, body FROM records WHERE seq >= {mark} ORDER BY seq LIMIT {mark}",
            (bound, page),
        )
        index(execute, mark, _objects(rows, needle))
        if len(rows) < page:
            return
        bound = rows[-1][0] + 1


def _objects(
    rows: Iterable[tuple[Any, ...]], needle: bytes
) -> Iterable[tuple[int, Mapping[str, Any]]]:
    for seq, body in rows:
        data = bytes(body)
        if needle not in data:
            continue
        try:
            rec = json.loads(data)
        except ValueError:
            continue
        if isinstance(rec, dict):
            yield int(seq), rec


def runs_query(
    sql: RunSql,
    *,
    targets: Collection[str] | None,
    profile: str | None,
    finished: bool,
    limit: int | None,
) -> tuple[str, list[Any]]:
    """The listing statement and its parameters for these filters."""
    params: list[Any] = []
    if targets is not None:
        params.append(targets_key(targets))
    if profile is not None:
        params.append(profile)
    if limit is not None:
        params.append(limit)
    query = sql.listing(
        targets=targets is not None,
        profile=profile is not None,
        finished=finished,
        limit=limit is not None,
    )
    return query, params
