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

from collections.abc import Collection, Iterable, Mapping, Sequence, Sized
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
    """The rows of one table found for the subject: key -> values of `columns` (the key's
    columns first). A key is a value for a one-column key, a tuple for a composite one.
    A table without a key is addressed by one column, and `counts` says how many rows
    each address stands for."""

    table: Table
    columns: tuple[str, ...]
    rows: dict[Any, tuple[Any, ...]] = field(default_factory=dict)
    via: set[str] = field(default_factory=set)
    counts: dict[Any, int] = field(default_factory=dict)

    def values(self, columns: Sequence[str], keys: Iterable[Any] | None = None) -> list[Any]:
        """Distinct values of `columns` among `keys` (default: all rows), as `value` gives
        them; a value with a NULL part references nothing and is left out."""
        picked = self.rows.values() if keys is None else (self.rows[k] for k in keys)
        at = [self.columns.index(c) for c in columns]
        if len(at) == 1:
            i = at[0]
            return list({row[i] for row in picked if row[i] is not None})
        out = {tuple(row[i] for i in at) for row in picked}
        return [v for v in out if None not in v]

    def value(self, key: Any, columns: Sequence[str]) -> Any:
        """The value of `columns` in the row of `key`: one value, or a tuple for several
        (None if any part is NULL)."""
        row = self.rows[key]
        if len(columns) == 1:
            return row[self.columns.index(columns[0])]
        out = tuple(row[self.columns.index(c)] for c in columns)
        return None if None in out else out

    def key_of(self, row: Sequence[Any]) -> Any:
        width = len(self.table.key)
        return row[0] if width == 1 else tuple(row[:width])

    def count(self, keys: Iterable[Any] | None = None) -> int:
        """How many rows `keys` (default: all) stand for."""
        picked = self.rows if keys is None else keys
        if self.table.keyed:
            return len(picked) if isinstance(picked, Sized) else sum(1 for _ in picked)
        return sum(self.counts[k] for k in picked)


@dataclass
class Snapshot:
    """Every row found for one subject, per table, and how many queries that took."""

    found: dict[str, Found]
    queries: int = 0
    # Every identity value the search used (given, and read from the subject's own rows).
    identities: dict[str, set[Any]] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(f.count() for f in self.found.values())


@contextmanager
def reading(stores: Mapping[str, Store]) -> Any:
    """One consistent read-only transaction on every store, for as long as the block runs."""
    with ExitStack() as stack:
        for store in stores.values():
            stack.enter_context(store.read())
        yield


def link_columns(resolved: Resolved, table: Table) -> tuple[str, ...]:
    """The key, then every column a relation or an identity of `table` uses (a table
    without a key: its address alone, since only it tells its rows apart)."""
    cols = list(table.key)
    if not table.keyed:
        return tuple(cols)
    for r in resolved.relations:
        if r.child == table.name:
            cols.extend(r.child_columns)
        if r.parent == table.name:
            cols.extend(r.parent_columns)
    for names in table.identity_columns.values():
        cols.extend(names)
    return tuple(dict.fromkeys(cols))


def find_subject(
    resolved: Resolved,
    stores: Mapping[str, Store],
    identities: Sequence[Identity],
    prior: Snapshot | None = None,
    seeds: Mapping[str, Sequence[Any]] | None = None,
) -> Snapshot:
    """The subject's rows; call inside `reading(stores)`.

    With `prior` (the snapshot an erasure was planned from), the search also starts from
    every key found before and from the values those rows held, so rows that an erasure
    orphaned or missed are found even once the identity itself has been erased. With
    `seeds` (table -> keys), it starts from those rows too: held rows found again by
    their keys alone (`assay.gdpr.pointers`).
    """
    walk = _Walk(resolved, stores)
    known: dict[str, set[Any]] = {}
    for ident in identities:
        known.setdefault(ident.type, set()).add(ident.value)
    for tname, keys in (seeds or {}).items():
        if tname in resolved.tables:
            walk.select(resolved.tables[tname], resolved.tables[tname].key, keys, "key")
    if prior is not None:
        for tname, old in prior.found.items():
            if tname in resolved.tables and old.rows:
                table = resolved.tables[tname]
                walk.select(table, table.key, list(old.rows), "key")
        for tname, old in prior.found.items():
            for rel in resolved.into(tname):
                if resolved.followed_down(rel):
                    walk.select(
                        resolved.tables[rel.child],
                        rel.child_columns,
                        old.values(rel.parent_columns),
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

    def select(
        self,
        table: Table,
        columns: Sequence[str],
        values: Collection[Any],
        via: str,
        lower: bool = False,
    ) -> None:
        """Add the rows of `table` whose `columns` hold one of `values` (compared
        lower-cased with `lower`: e-mail identities)."""
        if not values:
            return
        store = self.stores[table.store]
        found = self.snapshot.found.get(table.name)
        if found is None:
            found = Found(table, link_columns(self.resolved, table))
            self.snapshot.found[table.name] = found
        exprs = [fmt("lower({})", name(c)) if lower else name(c) for c in columns]
        kinds = table.kinds(columns)

        def where(part: Sequence[Any]) -> Sql:
            return store.any_of(exprs, kinds, part)

        # The statement's text depends on table and columns only: compose it once.
        cache_key = (table.name, via)
        template = self._templates.get(cache_key)
        if template is None:
            cols = join((name(c) for c in found.columns), ", ")
            if table.keyed:
                q = fmt("SELECT {} FROM {} WHERE {}", cols, table.sql, where([]))
            else:  # rows that agree on the address are one entry, with their count
                q = fmt(
                    "SELECT {}, count(*) FROM {} WHERE {} GROUP BY {}",
                    cols,
                    table.sql,
                    where([]),
                    cols,
                )
            template = self._templates[cache_key] = rendered(q).text
        for part in chunks(list(values), CHUNK):
            self.snapshot.queries += 1
            for result in store.query(Sql(template, where(part).params)):
                row = result if table.keyed else result[:-1]
                key = found.key_of(row)
                if not table.keyed:
                    found.counts[key] = result[-1]
                if key not in found.rows:
                    found.rows[key] = tuple(row)
                    self.frontier.setdefault(table.name, set()).add(key)
                    found.via.add(via)

    def by_identity(self, kind: str, values: Collection[Any]) -> None:
        email = self.resolved.identities[kind] == "email"
        for table in self.resolved.tables.values():
            for col in table.identity_columns.get(kind, []):
                self.select(table, (col,), values, f"identity {kind} ({col})", lower=email)

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
                        rel.child_columns,
                        found.values(rel.parent_columns, keys),
                        str(rel),
                    )
            if table.role == "reference" or not table.keyed:
                continue
            for rel in self.resolved.out_of(tname):
                parent = self.resolved.tables.get(rel.parent)
                if parent is not None and parent.role in ("shared", "reference"):
                    self.select(
                        parent,
                        rel.parent_columns,
                        found.values(rel.child_columns, keys),
                        str(rel),
                    )

    def _enrich(self, found: Found, keys: set[Any], known: dict[str, set[Any]]) -> None:
        for kind, cols in found.table.identity_columns.items():
            norm = self.resolved.identities[kind]
            for col in cols:
                for value in found.values((col,), keys):
                    try:
                        known.setdefault(kind, set()).add(normalise(norm, value, label=kind))
                    except IdentityError:
                        continue  # a malformed stored value identifies nobody further
