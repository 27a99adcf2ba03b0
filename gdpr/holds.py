"""Legal holds: which of a subject's rows a hold keeps from erasure, and until when.

A hold applies to a table, optionally to rows matching a condition, and while its anchor
(a date, a timestamp or ISO 8601 text in the row, or in the parent row a relation leads
to) plus its duration lies in the future. A row whose anchor is NULL or no date is held:
nobody can show its hold has run out (and an unreadable one is reported, row by row).
The condition is evaluated in SQL over the found keys, one query per hold and key chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from assay.gdpr.dates import as_date, as_moment, shift
from assay.gdpr.model import Hold, Resolved
from assay.gdpr.sqltext import Sql, chunks, fmt, join, name, param
from assay.gdpr.stores import Store
from assay.gdpr.traverse import CHUNK, Found, Snapshot


@dataclass(frozen=True)
class HeldRows:
    """Rows one hold keeps, when the first and the last of them may be erased (None:
    open-ended, or a row whose date is unknown)."""

    hold: str
    basis: str
    rows: int
    meanwhile: str
    expires: date | None
    first_expires: date | None = None


@dataclass(frozen=True)
class UnreadableAnchor:
    """A row whose hold runs from a value that is no date: it stays held, and is reported."""

    table: str
    key: Any
    hold: str
    column: str


@dataclass
class Holds:
    """Per table: the holds on each held row, each hold's anchor values, unreadable anchors."""

    rows: dict[str, dict[Any, list[Hold]]]
    anchors: dict[str, dict[str, list[Any]]]
    unreadable: list[UnreadableAnchor] = field(default_factory=list)


def held_rows(
    resolved: Resolved, stores: Mapping[str, Store], snap: Snapshot, now: datetime
) -> Holds:
    """Which found rows each hold keeps. The rows a hold's condition selects are read with
    their anchor, and the time is told in Python, so a date, a timestamp and ISO 8601
    text count alike on every engine."""
    out = Holds({t: {} for t in snap.found}, {t: {} for t in snap.found})
    for tname, found in snap.found.items():
        table = found.table
        store = stores[table.store]
        for hold in table.holds:
            anchor: Sql = fmt("NULL")
            source: Sql = fmt("{} t", table.sql)
            if hold.anchor is not None:
                via = hold.anchor.via
                anchor = _col("p" if via else "t", hold.anchor.column)
                if via is not None:
                    on = join(
                        (
                            fmt("t.{} = p.{}", name(c), name(p))
                            for c, p in zip(via.child_columns, via.parent_columns, strict=True)
                        ),
                        " AND ",
                    )
                    source = fmt(
                        "{} t LEFT JOIN {} p ON {}", table.sql, resolved.tables[via.parent].sql, on
                    )
            conds = []
            if hold.where is not None:
                w = hold.where
                col = _col("t", w.column)
                if w.is_null is not None:
                    conds.append(fmt("{} IS NULL" if w.is_null else "{} IS NOT NULL", col))
                elif w.in_ is not None:
                    conds.append(store.key_in(col, w.in_))
                else:
                    conds.append(fmt("{} = {}", col, param(w.equals)))
            cutoff = shift(now, hold.duration, -1) if hold.duration is not None else None
            keys = join((_col("t", c) for c in table.key), ", ")
            for part in chunks(list(found.rows), CHUNK):
                where = table.key_in(store, part, alias="t")
                for c in conds:
                    where = fmt("{} AND {}", where, c)
                snap.queries += 1
                for *row, value in store.query(
                    fmt("SELECT {}, {} FROM {} WHERE {}", keys, anchor, source, where)
                ):
                    key = found.key_of(row)
                    if cutoff is not None and value is not None:
                        moment = as_moment(value)
                        if moment is None:
                            # Nobody can show this hold has run out: held, and said so.
                            assert hold.anchor is not None
                            out.unreadable.append(
                                UnreadableAnchor(tname, key, hold.id, hold.anchor.column)
                            )
                        elif moment < cutoff:
                            continue  # the hold has run out for this row
                    out.rows[tname].setdefault(key, []).append(hold)
                    out.anchors[tname].setdefault(hold.id, []).append(value)
    return out


def _col(alias: Literal["t", "p"], column: str) -> Sql:
    return fmt(alias + ".{}", name(column))


def held_summary(
    found: Found, held: dict[Any, list[Hold]], anchors: dict[str, list[Any]]
) -> list[HeldRows]:
    out = []
    for hold in found.table.holds:
        rows = found.count(k for k, hs in held.items() if hold in hs)
        if not rows:
            continue
        expires = first = None
        values = [as_date(v) for v in anchors.get(hold.id, [])]
        known = [v for v in values if v is not None]
        if hold.duration is not None and known:
            first = shift(min(known), hold.duration)
            if len(known) == len(values):
                expires = shift(max(known), hold.duration)
        out.append(HeldRows(hold.id, hold.basis, rows, hold.meanwhile, expires, first))
    return out
