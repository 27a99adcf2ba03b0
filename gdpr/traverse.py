"""Finding a subject's rows: from identities over relations, one set-based query per step.

A table's rows are found by an identity column (``lower(email) = ANY(...)``), or through a
relation from rows already found: down into `owned` tables (rows that reference found
rows), up into `shared` and `reference` tables (rows that found rows reference). Never
down from shared rows (that would reach other people's rows), never up into owned ones.
A subject row's identity columns feed further identities back in (a request by customer
id also finds the support tickets keyed by that customer's e-mail).

Only keys and the columns relations and identities need are read: personal payloads are
read later, in batches, by access.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from psycopg import sql

from assay.gdpr.errors import IdentityError
from assay.gdpr.identity import Identity, normalise
from assay.gdpr.model import Resolved, Table
from assay.gdpr.sqltext import Sql, chunks, fmt, join, name, rendered
from assay.gdpr.stores import Store

CHUNK = 10_000


@dataclass
class Found:
    """The rows of one table found for the subject: key -> values of `columns`."""

    table: Table
    columns: tuple[str, ...]
    rows: dict[Any, tuple[Any, ...]] = field(default_factory=dict)
    via: set[str] = field(default_factory=set)

    def values(self, column: str, keys: Iterable[Any] | None = None) -> list[Any]:
        """Distinct non-null values of `column` among `keys` (default: all rows)."""
        i = self.columns.index(column)
        rows = self.rows if keys is None else {k: self.rows[k] for k in keys}
        return list({row[i] for row in rows.values() if row[i] is not None})

    def value(self, key: Any, column: str) -> Any:
        return self.rows[key][self.columns.index(column)]


@dataclass
class Snapshot:
    """Every row found for one subject, per table, and how many queries that took."""

    found: dict[str, Found]
    queries: int = 0
    # Every identity value the search used (given, and read from the subject's own rows).
    identities: dict[str, set[Any]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(len(f.rows) for f in self.found.values())


@contextmanager
def reading(stores: Mapping[str, Store]) -> Any:
    """One consistent read-only transaction on every store, for as long as the block runs."""
    with ExitStack() as stack:
        for store in stores.values():
            stack.enter_context(store.read())
        yield


def link_columns(resolved: Resolved, table: Table) -> tuple[str, ...]:
    """The key, then every column a relation or an identity of `table` uses."""
    cols = [table.key]
    for r in resolved.relations:
        if r.child == table.name:
            cols.append(r.child_column)
        if r.parent == table.name:
            cols.append(r.parent_column)
    for names in table.identity_columns.values():
        cols.extend(names)
    return tuple(dict.fromkeys(cols))


def find_subject(
    resolved: Resolved,
    stores: Mapping[str, Store],
    identities: Sequence[Identity],
    prior: Snapshot | None = None,
) -> Snapshot:
    """The subject's rows; call inside `reading(stores)`.

    With `prior` (the snapshot an erasure was planned from), the search also starts from
    every key found before and from the values those rows held, so rows that an erasure
    orphaned or missed are found even once the identity itself has been erased.
    """
    walk = _Walk(resolved, stores)
    known: dict[str, set[Any]] = {}
    for ident in identities:
        known.setdefault(ident.type, set()).add(ident.value)
    if prior is not None:
        for tname, old in prior.found.items():
            if tname in resolved.tables and old.rows:
                walk.select(resolved.tables[tname], name(old.table.key), list(old.rows), "key")
        for tname, old in prior.found.items():
            for rel in resolved.into(tname):
                if resolved.followed_down(rel):
                    walk.select(
                        resolved.tables[rel.child],
                        name(rel.child_column),
                        old.values(rel.parent_column),
                        f"{rel} (before erasure)",
                    )
    searched: dict[str, set[Any]] = {}
    while True:
        fresh = {t: v - searched.get(t, set()) for t, v in known.items()}
        if not any(fresh.values()) and not walk.frontier:
            break
        for kind, values in fresh.items():
            searched.setdefault(kind, set()).update(values)
            if values:
                walk.by_identity(kind, values)
        walk.expand(known)
    walk.snapshot.identities = known
    return walk.snapshot


class _Walk:
    def __init__(self, resolved: Resolved, stores: Mapping[str, Store]) -> None:
        self.resolved = resolved
        self.stores = stores
        self.snapshot = Snapshot({})
        self.frontier: dict[str, set[Any]] = {}
        self._templates: dict[tuple[str, str], sql.Composable] = {}

    def select(self, table: Table, column: Sql, values: Collection[Any], via: str) -> None:
        """Add the rows of `table` where `column` is one of `values`."""
        if not values:
            return
        store = self.stores[table.store]
        found = self.snapshot.found.get(table.name)
        if found is None:
            found = Found(table, link_columns(self.resolved, table))
            self.snapshot.found[table.name] = found
        # The statement's text depends on table and column only: compose it once.
        cache_key = (table.name, via)
        template = self._templates.get(cache_key)
        if template is None:
            cols = join((name(c) for c in found.columns), ", ")
            q = fmt("SELECT {} FROM {} WHERE {}", cols, table.sql, store.key_in(column, []))
            template = self._templates[cache_key] = rendered(q).text
        for part in chunks(list(values), CHUNK):
            self.snapshot.queries += 1
            for row in store.query(Sql(template, store.key_in(column, part).params)):
                if row[0] not in found.rows:
                    found.rows[row[0]] = tuple(row)
                    self.frontier.setdefault(table.name, set()).add(row[0])
                    found.via.add(via)

    def by_identity(self, kind: str, values: Collection[Any]) -> None:
        email = self.resolved.identities[kind] == "email"
        for table in self.resolved.tables.values():
            for col in table.identity_columns.get(kind, []):
                expr = fmt("lower({})", name(col)) if email else name(col)
                self.select(table, expr, values, f"identity {kind} ({col})")

    def expand(self, known: dict[str, set[Any]]) -> None:
        """Follow relations from newly found rows until nothing new turns up."""
        while self.frontier:
            tname, keys = self.frontier.popitem()
            found = self.snapshot.found[tname]
            table = found.table
            if table.role == "subject":
                self._enrich(found, keys, known)
            for rel in self.resolved.into(tname):
                if self.resolved.followed_down(rel):
                    child = self.resolved.tables[rel.child]
                    self.select(
                        child,
                        name(rel.child_column),
                        found.values(rel.parent_column, keys),
                        str(rel),
                    )
            if table.role == "reference":
                continue
            for rel in self.resolved.out_of(tname):
                parent = self.resolved.tables.get(rel.parent)
                if parent is not None and parent.role in ("shared", "reference"):
                    self.select(
                        parent,
                        name(rel.parent_column),
                        found.values(rel.child_column, keys),
                        str(rel),
                    )

    def _enrich(self, found: Found, keys: set[Any], known: dict[str, set[Any]]) -> None:
        for kind, cols in found.table.identity_columns.items():
            norm = self.resolved.identities[kind]
            for col in cols:
                for value in found.values(col, keys):
                    try:
                        known.setdefault(kind, set()).add(normalise(norm, value, label=kind))
                    except IdentityError:
                        continue  # a malformed stored value identifies nobody further
