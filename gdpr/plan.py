"""The erasure plan: for every row found, delete it, minimise it, or keep it and say why.

Decisions, in order:

1. `reference` rows are never touched.
2. Rows under a legal hold (table, row condition, anchor + duration still running) are
   kept; with ``meanwhile: minimise`` their columns outside the hold are erased.
3. Other rows of tables erased by ``delete_row`` are deleted, unless a row that stays
   references them (foreign key or declared relation): another subject's row (kept as
   `shared`), a held row (kept under that hold), or any other kept row (`referenced`).
   This is a fixpoint over the relation graph, from reference counts taken with one
   GROUP BY query per relation; the same rules hold whether or not the database
   declares its foreign keys.
4. Subject and owned rows that stay for a reason other than a ``keep`` hold are
   minimised: their null/mask/hash/tombstone columns are erased. Shared rows that stay are
   left as they are (they are someone else's too).

The plan holds keys and counts, never personal values. Counts of cells to change come
from the database with the same predicates the UPDATE statements use, so the executor
can require the affected counts to match exactly.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from assay.gdpr.holds import HeldRows, UnreadableAnchor, held_rows, held_summary
from assay.gdpr.keycheck import check_found_keys
from assay.gdpr.model import Hold, Relation, Resolved, Table, columns_in
from assay.gdpr.parties import Sharing, shared_rows
from assay.gdpr.sqltext import chunks, fmt, join, name
from assay.gdpr.stores import Store
from assay.gdpr.strategies import count_changes
from assay.gdpr.traverse import CHUNK, Snapshot

Reason = Literal["hold", "others", "shared", "referenced", "reference"]
Action = Literal["delete", "update", "keep"]


@dataclass
class UpdateGroup:
    """Rows that get the same columns erased; `rows` and `cells` count what will change."""

    columns: tuple[str, ...]
    keys: list[Any]
    rows: int = 0
    cells: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class KeptRows:
    reason: Reason
    rows: int
    detail: str
    holds: tuple[str, ...] = ()
    minimised: bool = False


@dataclass(frozen=True)
class RowDecision:
    """What happens to one found row: deleted, some columns erased in place, or kept."""

    key: Any
    action: Action
    columns: tuple[str, ...]
    why: str
    rows: int = 1  # more for a table without a key: the rows its address stands for


@dataclass
class TablePlan:
    table: Table
    found: int
    delete: list[Any] = field(default_factory=list)
    updates: list[UpdateGroup] = field(default_factory=list)
    kept: list[KeptRows] = field(default_factory=list)
    held: list[HeldRows] = field(default_factory=list)
    retained: list[str] = field(default_factory=list)
    rows: list[RowDecision] = field(default_factory=list)
    unreadable: list[UnreadableAnchor] = field(default_factory=list)
    delete_rows: int = 0  # the rows `delete` stands for (more than its keys without a key)

    @property
    def erasable(self) -> int:
        return self.delete_rows + sum(g.rows for g in self.updates)


@dataclass
class ErasurePlan:
    tables: list[TablePlan]  # execution order: referencing tables before referenced ones
    snapshot: Snapshot

    @property
    def erasable(self) -> int:
        return sum(t.erasable for t in self.tables)

    def summary(self) -> dict[str, Any]:
        """The plan as JSON-able data: names, strategies, counts, holds; no keys, no values."""
        out = []
        for tp in self.tables:
            cols: dict[str, dict[str, Any]] = {}
            for g in tp.updates:
                for c in g.columns:
                    entry = cols.setdefault(
                        c, {"strategy": tp.table.columns[c].strategy, "cells": 0}
                    )
                    entry["cells"] += g.cells.get(c, 0)
            out.append(
                {
                    "table": tp.table.name,
                    "store": tp.table.store,
                    "role": tp.table.role,
                    "found": tp.found,
                    "addressed_by": tp.table.addressing,
                    "delete": tp.delete_rows,
                    "update": {"rows": sum(g.rows for g in tp.updates), "columns": cols},
                    "kept": [
                        {
                            "reason": k.reason,
                            "rows": k.rows,
                            "detail": k.detail,
                            "holds": list(k.holds),
                            "minimised": k.minimised,
                        }
                        for k in tp.kept
                    ],
                    "held": [
                        {
                            "hold": h.hold,
                            "basis": h.basis,
                            "rows": h.rows,
                            "meanwhile": h.meanwhile,
                            "expires": h.expires.isoformat() if h.expires else None,
                            "first_expires": (
                                h.first_expires.isoformat() if h.first_expires else None
                            ),
                        }
                        for h in tp.held
                    ],
                    "retained_columns": tp.retained,
                    "unreadable_anchors": [
                        {"hold": h, "column": c, "rows": n}
                        for (h, c), n in sorted(
                            Counter((u.hold, u.column) for u in tp.unreadable).items()
                        )
                    ],
                }
            )
        return {
            "tables": out,
            "totals": {
                "found": sum(t.found for t in self.tables),
                "delete": sum(t.delete_rows for t in self.tables),
                "update": sum(sum(g.rows for g in t.updates) for t in self.tables),
                "kept": sum(k.rows for t in self.tables for k in t.kept),
            },
        }

    def decisions(self) -> list[dict[str, Any]]:
        """Every found row: its table, key, what happens to it, the columns changed, why.
        Keys can be personal data: for the operator's screen, never for the ledger."""
        return [
            {
                "table": tp.table.name,
                "key": d.key,
                "rows": d.rows,
                "action": d.action,
                "columns": list(d.columns),
                "why": d.why,
            }
            for tp in self.tables
            for d in tp.rows
        ]

    def digest(self) -> str:
        """SHA-256 over the summary and the exact keys: two equal digests, two equal plans."""
        keys = {
            tp.table.name: {
                "delete": sorted(map(str, tp.delete)),
                "update": [[list(g.columns), sorted(map(str, g.keys))] for g in tp.updates],
            }
            for tp in self.tables
        }
        body = json.dumps([self.summary(), keys], sort_keys=True, default=str).encode()
        return "sha256:" + hashlib.sha256(body).hexdigest()


def plan_erasure(
    resolved: Resolved, stores: Mapping[str, Store], snap: Snapshot, now: datetime
) -> ErasurePlan:
    """Decide every found row's fate; call inside `reading(stores)` with the snapshot's read.
    SchemaMismatchError if a key the database does not declare unique is not (`keycheck`)."""
    check_found_keys(resolved, stores, snap)
    holds = held_rows(resolved, stores, snap, now)
    held = holds.rows
    shared = shared_rows(resolved, snap)
    deletable = {
        t: {k for k in f.rows if k not in held[t] and k not in shared.get(t, {})}
        for t, f in snap.found.items()
        if f.table.role != "reference" and f.table.spec.erase == "delete_row"
    }
    totals = _reference_counts(resolved, stores, snap, deletable)
    _settle(resolved, snap, deletable, totals)
    order = _order(resolved, list(snap.found))
    refs = _Refs(resolved, snap, deletable, totals)
    plans = []
    for tname in order:
        found = snap.found[tname]
        tp = _table_plan(snap, tname, refs, held, shared.get(tname, {}))
        tp.held = held_summary(found, held[tname], holds.anchors[tname])
        tp.unreadable = [u for u in holds.unreadable if u.table == tname]
        tp.updates = [g for g in tp.updates if g.keys]
        _count(stores[found.table.store], found.table, tp.updates)
        plans.append(tp)
    return ErasurePlan(plans, snap)


def _reference_counts(
    resolved: Resolved,
    stores: Mapping[str, Store],
    snap: Snapshot,
    deletable: dict[str, set[Any]],
) -> dict[RelKey, Counter[Any]]:
    """For every relation into a table with rows to delete: references per value, everyone's.

    A relation the search followed down already found every referencing row, so its
    counts come from the snapshot; the others (from shared, reference or unmapped tables)
    are counted by the database, one GROUP BY per relation.
    """
    totals: dict[RelKey, Counter[Any]] = {}
    for tname, keys in deletable.items():
        found = snap.found[tname]
        for rel in resolved.into(tname):
            counts: Counter[Any] = Counter()
            if resolved.followed_down(rel):
                child = snap.found.get(rel.child)
                if child is not None:
                    for k in child.rows:
                        counts[child.value(k, rel.child_columns)] += child.count((k,))
                totals[_rk(rel)] = counts
                continue
            values = found.values(rel.parent_columns, keys)
            store = stores[rel.child_store]
            cols = join((name(c) for c in rel.child_columns), ", ")
            width = len(rel.child_columns)
            for part in chunks(values, CHUNK):
                snap.queries += 1
                where = columns_in(
                    store, rel.child_columns, found.table.kinds(rel.parent_columns), part
                )
                for *value, n in store.query(
                    fmt(
                        "SELECT {}, count(*) FROM {} WHERE {} GROUP BY {}",
                        cols,
                        rel.child_sql,
                        where,
                        cols,
                    )
                ):
                    counts[value[0] if width == 1 else tuple(value)] += n
            totals[_rk(rel)] = counts
    return totals


RelKey = tuple[str, tuple[str, ...], str, tuple[str, ...]]


def _rk(rel: Relation) -> RelKey:
    return (rel.child, rel.child_columns, rel.parent, rel.parent_columns)


def _settle(
    resolved: Resolved,
    snap: Snapshot,
    deletable: dict[str, set[Any]],
    totals: Mapping[RelKey, Counter[Any]],
) -> None:
    """Drop from `deletable` every row something staying still references, until stable."""
    changed = True
    while changed:
        changed = False
        for tname, keys in deletable.items():
            found = snap.found[tname]
            for rel in resolved.into(tname):
                child = snap.found.get(rel.child)
                going: Counter[Any] = Counter()
                if child is not None and rel.child in deletable:
                    for k in deletable[rel.child]:
                        going[child.value(k, rel.child_columns)] += child.count((k,))
                refs = totals[_rk(rel)]
                for key in list(keys):
                    value = found.value(key, rel.parent_columns)
                    if value is not None and refs.get(value, 0) > going[value]:
                        keys.discard(key)
                        changed = True


def _order(resolved: Resolved, tables: list[str]) -> list[str]:
    """Referencing tables before the tables they reference (Kahn); cycles in name order."""
    present = set(tables)
    children = {t: {r.child for r in resolved.into(t) if r.child in present} - {t} for t in tables}
    out: list[str] = []
    while len(out) < len(tables):
        ready = sorted(t for t in present - set(out) if not children[t] - set(out))
        out += ready or sorted(present - set(out))[:1]
    return out


class _Refs:
    """Who references a row: counts from everyone, and the subject's own rows by value."""

    def __init__(
        self,
        resolved: Resolved,
        snap: Snapshot,
        deletable: dict[str, set[Any]],
        totals: Mapping[RelKey, Counter[Any]],
    ) -> None:
        self.resolved = resolved
        self.snap = snap
        self.deletable = deletable
        self.totals = totals
        self.inherited: dict[str, dict[Any, tuple[frozenset[str], bool]]] = {}
        self.mine: dict[RelKey, dict[Any, list[Any]]] = {}
        for rk in totals:
            child = snap.found.get(rk[0])
            index: dict[Any, list[Any]] = defaultdict(list)
            if child is not None:
                for k in child.rows:
                    index[child.value(k, rk[1])].append(k)
            self.mine[rk] = index

    def why_staying(self, tname: str, key: Any) -> tuple[int, frozenset[str], bool]:
        """References from outside the subject's rows; holds of kept rows referencing it; keep?"""
        found = self.snap.found[tname]
        outside = 0
        holds: set[str] = set()
        keep = False
        for rel in self.resolved.into(tname):
            rk = _rk(rel)
            value = found.value(key, rel.parent_columns)
            if value is None or rk not in self.totals:
                continue
            mine = self.mine[rk].get(value, [])
            child = self.snap.found.get(rel.child)
            counted = child.count(mine) if child is not None else 0
            outside += max(self.totals[rk].get(value, 0) - counted, 0)
            for ck in mine:
                if ck in self.deletable.get(rel.child, ()):
                    continue
                ids, k = self.inherited.get(rel.child, {}).get(ck, (frozenset(), False))
                holds |= ids
                keep = keep or (k and bool(ids))
        return outside, frozenset(holds), keep


def _table_plan(
    snap: Snapshot,
    tname: str,
    refs: _Refs,
    held: dict[str, dict[Any, list[Hold]]],
    shared: dict[Any, Sharing],
) -> TablePlan:
    found = snap.found[tname]
    table = found.table
    tp = TablePlan(table, found.count())
    if table.role == "reference":
        tp.kept.append(KeptRows("reference", found.count(), "reference data, never erased"))
        tp.rows = [RowDecision(k, "keep", (), "reference data") for k in found.rows]
        return tp
    going = refs.deletable.get(tname, set())
    tp.delete = sorted(going, key=str)
    tp.delete_rows = found.count(tp.delete)
    alone = "the subject's alone" + ("" if table.keyed else f" ({table.addressing})")
    tp.rows = [RowDecision(k, "delete", (), alone, found.count((k,))) for k in tp.delete]
    personal = [c for c, s in table.spec.columns.items() if s.category]
    update_cols = tuple(table.update_columns)
    groups: dict[tuple[str, ...], list[Any]] = defaultdict(list)
    kept: Counter[tuple[Reason, str, tuple[str, ...], bool]] = Counter()
    retained: set[str] = set()
    inherited = refs.inherited.setdefault(tname, {})
    for key in found.rows:
        if key in going:
            continue
        direct = held[tname].get(key, [])
        share = shared.get(key)
        cols: tuple[str, ...]
        if direct:
            ids = tuple(sorted({h.id for h in direct}))
            keep = any(h.meanwhile == "keep" for h in direct)
            locked: set[str] = set().union(*(h.columns or table.columns for h in direct))
            cols = () if keep else tuple(c for c in update_cols if c not in locked)
            if share is not None:
                cols = tuple(c for c in cols if c in share.mine)
            inherited[key] = (frozenset(ids), keep)
            why = f"legal hold {', '.join(ids)}"
            kept[("hold", why, ids, bool(cols))] += found.count((key,))
        elif share is not None:
            # Another person's row too: only the subject's own columns are erased.
            _, holds, keep = refs.why_staying(tname, key)
            cols = () if keep else tuple(c for c in update_cols if c in share.mine)
            if holds:
                inherited[key] = (holds, keep)
            why = share.why
            kept[("others", why, tuple(sorted(holds)), bool(cols))] += found.count((key,))
        else:
            outside, holds, keep = refs.why_staying(tname, key)
            if outside and table.role == "shared":
                cols = ()
                if holds:
                    inherited[key] = (holds, keep)
                also = f"; and by rows held under {', '.join(sorted(holds))}" if holds else ""
                why = "still referenced by other subjects' rows" + also
                kept[("shared", why, tuple(sorted(holds)), False)] += found.count((key,))
            elif holds:
                cols = () if keep or table.role == "shared" else update_cols
                inherited[key] = (holds, keep)
                ids = tuple(sorted(holds))
                why = f"referenced by rows held under {', '.join(ids)}"
                kept[("hold", why, ids, bool(cols))] += found.count((key,))
            elif table.spec.erase == "update":
                cols = update_cols
                why = "rows of this table are erased in place"
            else:
                cols = () if table.role == "shared" else update_cols
                if outside:
                    why = "still referenced by other subjects' rows"
                    kept[("shared", why, (), bool(cols))] += found.count((key,))
                else:
                    why = "referenced by this subject's kept rows"
                    kept[("referenced", why, (), bool(cols))] += found.count((key,))
        if cols:
            groups[cols].append(key)
        tp.rows.append(
            RowDecision(key, "update" if cols else "keep", cols, why, found.count((key,)))
        )
        retained.update(c for c in personal if c not in cols)
    tp.updates = [UpdateGroup(cols, sorted(keys, key=str)) for cols, keys in groups.items()]
    tp.kept = [KeptRows(r, n, d, h, m) for (r, d, h, m), n in sorted(kept.items())]
    tp.retained = sorted(retained)
    return tp


def _count(store: Store, table: Table, groups: list[UpdateGroup]) -> None:
    for g in groups:
        g.rows, g.cells = 0, dict.fromkeys(g.columns, 0)
        for part in chunks(g.keys, CHUNK):
            row = store.query(count_changes(store, table, g.columns, part))[0]
            g.rows += int(row[0] or 0)
            for c, n in zip(g.columns, row[1:], strict=True):
                g.cells[c] += int(n or 0)
