"""Rectification (Art. 16): validated updates of rectifiable columns, with a conflict check.

A change is planned first: the new value is checked against the column's live type,
length, nullability and uniqueness, and the current values of the subject's rows are
read. Applying it locks those rows, checks they still hold exactly what the plan saw
(otherwise ConflictError, nothing written), and updates them in one statement per table.
Old and new values go to the evidence only as keyed digests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from assay.evidence import Pseudonymizer
from assay.gdpr.datamap import split_ref
from assay.gdpr.errors import ConflictError, GdprError
from assay.gdpr.keycheck import check_found_keys
from assay.gdpr.model import Column, Resolved, Table
from assay.gdpr.parties import shared_rows
from assay.gdpr.sqltext import Sql, chunks, fmt, join, name, param
from assay.gdpr.stores import Store
from assay.gdpr.traverse import CHUNK, Snapshot

TRUE, FALSE = {"true", "yes", "1", "t", "y"}, {"false", "no", "0", "f", "n"}


@dataclass(frozen=True)
class Assignment:
    table: str
    column: str
    value: Any  # validated; None clears the column


@dataclass
class TableChange:
    """Assignments to the same rows of one table. A table whose found rows name someone
    else too may take several: each column changes only in the rows where it is the
    subject's."""

    table: Table
    assignments: list[Assignment]
    observed: dict[Any, tuple[Any, ...]] = field(default_factory=dict)  # key -> current values
    left: int = 0  # the subject's rows left as they are: the columns are another person's

    @property
    def columns(self) -> list[str]:
        return [a.column for a in self.assignments]


def parse_assignment(text: str, resolved: Resolved, *, clear: bool = False) -> Assignment:
    """``table.column=value`` (or, with `clear`, ``table.column``) checked against the map."""
    target, sep, raw = text.partition("=")
    if not clear and not sep:
        raise GdprError(
            "expected --set TABLE.COLUMN=VALUE (use --clear TABLE.COLUMN to set it empty)"
        )
    ref = split_ref(target, resolved.tables)
    if ref is None:
        raise GdprError(f"{target!r}: expected TABLE.COLUMN naming a table of the data map")
    tname, cname = ref
    table = resolved.tables[tname]
    spec = table.spec.columns.get(cname)
    if spec is None or not spec.rectifiable:
        allowed = [f"{tname}.{c}" for c, s in table.spec.columns.items() if s.rectifiable]
        raise GdprError(
            f"{tname}.{cname} is not rectifiable; rectifiable here: "
            + (", ".join(allowed) or "none"),
            remediation="mark the column `rectifiable: true` in the data map if it should be",
        )
    if not table.keyed:
        raise GdprError(
            f"{tname} has no key: its rows cannot be told apart to correct one of them",
            remediation=f"declare `key:` for {tname} in the data map",
        )
    if table.role in ("shared", "reference"):
        raise GdprError(
            f"{tname} is a {table.role} table: a change there changes it for every subject",
            remediation="point the subject's row at a new row instead",
        )
    return Assignment(tname, cname, None if clear else validate(table.columns[cname], raw))


def validate(column: Column, raw: str) -> Any:
    """`raw` as a value of the column's live type; GdprError naming the column otherwise."""
    info = column.info
    where = f"column {column.name} ({info.declared})"
    try:
        if info.kind == "text":
            value: Any = raw.strip()
            if info.length is not None and len(value) > info.length:
                raise ValueError(f"longer than {info.length} characters")
            return value
        if info.kind == "integer":
            return int(raw)
        if info.kind == "numeric":
            return Decimal(raw)
        if info.kind == "boolean":
            word = raw.strip().lower()
            if word not in TRUE | FALSE:
                raise ValueError("expected true or false")
            return word in TRUE
        if info.kind == "date":
            return date.fromisoformat(raw.strip()).isoformat()
        if info.kind == "timestamp":
            return datetime.fromisoformat(raw.strip()).isoformat(sep=" ")
    except (ValueError, InvalidOperation) as exc:
        raise GdprError(f"{where}: invalid value: {exc}") from None
    raise GdprError(f"{where}: rectifying {info.kind} columns is not supported")


def plan_rectification(
    resolved: Resolved,
    stores: Mapping[str, Store],
    snap: Snapshot,
    assignments: Sequence[Assignment],
) -> list[TableChange]:
    """Read the current values to change; call inside `reading(stores)` with the snapshot."""
    check_found_keys(resolved, stores, snap)
    by_table: dict[str, TableChange] = {}
    for a in assignments:
        col = resolved.tables[a.table].columns[a.column]
        if a.value is None and not col.info.nullable:
            raise GdprError(f"{a.table}.{a.column} is NOT NULL: it cannot be cleared")
        change = by_table.setdefault(a.table, TableChange(resolved.tables[a.table], []))
        if a.column in change.columns:
            raise GdprError(f"{a.table}.{a.column} is set twice")
        change.assignments.append(a)
    shared = shared_rows(resolved, snap)
    out = []
    for tname, asked in by_table.items():
        found = snap.found.get(tname)
        if found is None or not found.rows:
            raise GdprError(f"the subject has no rows in {tname}: nothing to rectify")
        mixed = shared.get(tname, {})
        groups: dict[tuple[Any, ...], list[Assignment]] = {}
        for a in asked.assignments:
            # In a row that names someone else too, only the subject's columns are theirs
            # to correct (as only they are erased): the others' belong to the others.
            keys = tuple(k for k in found.rows if k not in mixed or a.column in mixed[k].mine)
            if not keys:
                raise GdprError(
                    f"{tname}.{a.column}: in each of the subject's rows of {tname} it is "
                    "another person's column (the rows name someone else): nothing to rectify"
                )
            groups.setdefault(keys, []).append(a)
        store = stores[asked.table.store]
        for keys, assignments in groups.items():
            change = TableChange(asked.table, assignments, left=len(found.rows) - len(keys))
            change.observed = _current(store, change, list(keys), lock=False)
            for a in assignments:
                _check_unique(store, change.table, a, list(keys))
            out.append(change)
    return out


def _current(
    store: Store, change: TableChange, keys: list[Any], *, lock: bool
) -> dict[Any, tuple[Any, ...]]:
    table = change.table
    cols = join((name(c) for c in [*table.key, *change.columns]), ", ")
    width = len(table.key)
    out: dict[Any, tuple[Any, ...]] = {}
    for part in chunks(keys, CHUNK):
        q = fmt("SELECT {} FROM {} WHERE {}", cols, table.sql, table.key_in(store, part))
        if lock and store.kind == "postgresql":
            q = fmt("{} FOR UPDATE", q)
        for row in store.query(q):
            out[row[0] if width == 1 else tuple(row[:width])] = tuple(row[width:])
    return out


def _check_unique(store: Store, table: Table, a: Assignment, keys: list[Any]) -> None:
    if a.value is None or a.column not in _unique_columns(table):
        return
    q = fmt(
        "SELECT count(*) FROM {} WHERE {} = {} AND NOT ({})",
        table.sql, name(a.column), param(a.value), table.key_in(store, keys),
    )  # fmt: skip
    if store.query(q)[0][0]:
        raise GdprError(f"{table.name}.{a.column}: another row already holds that value")


def _unique_columns(table: Table) -> set[str]:
    return {c for c, col in table.columns.items() if col.unique}


def apply_rectification(
    changes: Sequence[TableChange],
    stores: Mapping[str, Store],
    *,
    statement_timeout: float = 30.0,
    lock_timeout: float = 5.0,
) -> dict[str, int]:
    """Apply planned changes, one transaction per store; rows updated per table (the sum
    of its changes)."""
    done: dict[str, int] = {}
    for store_name in dict.fromkeys(c.table.store for c in changes):
        store = stores[store_name]
        with store.write(statement_timeout, lock_timeout):
            for change in (c for c in changes if c.table.store == store_name):
                keys = list(change.observed)
                now = _current(store, change, keys, lock=True)
                if now != change.observed:
                    raise ConflictError(
                        f"{change.table.name}: the rows changed since the rectification was "
                        "planned; nothing was written",
                        remediation="plan the rectification again",
                    )
                sets = join(
                    (fmt("{} = {}", name(a.column), param(a.value)) for a in change.assignments),
                    ", ",
                )
                n = done.get(change.table.name, 0)
                for part in chunks(keys, CHUNK):
                    n += store.execute(_update(store, change.table, sets, part))
                done[change.table.name] = n
    return done


def _update(store: Store, table: Table, sets: Sql, keys: Sequence[Any]) -> Sql:
    return fmt("UPDATE {} SET {} WHERE {}", table.sql, sets, table.key_in(store, keys))


def change_digests(
    changes: Sequence[TableChange], pseudonymizer: Pseudonymizer
) -> list[dict[str, Any]]:
    """For the evidence: per column, rows and keyed digests of old and new values, never values."""
    out = []
    for change in changes:
        for i, a in enumerate(change.assignments):
            kind = f"rectify:{change.table.name}.{a.column}"
            old = sorted(
                {pseudonymizer.pseudonym(kind, repr(v[i])) for v in change.observed.values()}
            )
            out.append({
                "table": change.table.name, "column": a.column, "rows": len(change.observed),
                "old": old, "new": pseudonymizer.pseudonym(kind, repr(a.value)),
            })  # fmt: skip
    return out
