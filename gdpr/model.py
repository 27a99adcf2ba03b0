"""A data map resolved against its databases: tables with their live columns, keys,
strategies and holds, and the relations between them (foreign keys and declared ones).

Built by `assay.gdpr.resolve`; everything that plans or runs a request works from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from assay.gdpr.datamap import (
    UPDATE_STRATEGIES,
    ColumnSpec,
    Duration,
    MaskPattern,
    Role,
    RowCondition,
    Strategy,
    TableSpec,
)
from assay.gdpr.identity import Normalisation
from assay.gdpr.introspect import ColumnInfo
from assay.gdpr.mapfile import LoadedMap
from assay.gdpr.sqltext import Sql, fmt, name

if TYPE_CHECKING:
    from assay.gdpr.stores import Store


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    where: str
    message: str
    at: str = ""

    def __str__(self) -> str:
        return f"{self.level}: {self.where}: {self.message}" + (f" ({self.at})" if self.at else "")


@dataclass(frozen=True)
class Column:
    name: str
    info: ColumnInfo
    spec: ColumnSpec | None
    strategy: Strategy
    mask: MaskPattern | None = None
    unique: bool = False

    @property
    def category(self) -> str | None:
        return self.spec.category if self.spec else None


@dataclass(frozen=True)
class Relation:
    """`child.child_columns` references `parent.parent_columns` (one column or several)."""

    child: str
    child_columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    source: Literal["foreign key", "data map"]
    child_store: str
    child_namespace: str | None = None  # the PostgreSQL schema of the child table

    @property
    def child_sql(self) -> Sql:
        return name(self.child_namespace, self.child) if self.child_namespace else name(self.child)

    def __str__(self) -> str:
        child, parent = _cols(self.child_columns), _cols(self.parent_columns)
        return f"{self.child}.{child} -> {self.parent}.{parent}"


def _cols(columns: Sequence[str]) -> str:
    return columns[0] if len(columns) == 1 else f"({', '.join(columns)})"


def columns_in(
    store: Store,
    columns: Sequence[str],
    kinds: Sequence[str],
    values: Sequence[Any],
    alias: str | None = None,
) -> Sql:
    """The row's `columns` equal one of `values` (scalars for one column, else tuples)."""
    exprs = [fmt(alias + ".{}", name(c)) if alias else name(c) for c in columns]
    return store.any_of(exprs, kinds, values)


@dataclass(frozen=True)
class Party:
    """One person a row of an owned table can name: the identity columns and relations
    (to the subject's tables) that say who, and every column that describes them."""

    identities: tuple[tuple[str, str], ...]  # (column, identity type)
    relations: tuple[Relation, ...]
    columns: frozenset[str]  # the party's own columns and those bound to it (`about:`)

    @property
    def label(self) -> str:
        return ", ".join(
            sorted(
                {c for c, _ in self.identities}
                | {c for r in self.relations for c in r.child_columns}
            )
        )


@dataclass(frozen=True)
class Anchor:
    column: str
    via: Relation | None = None  # the anchor lives in the parent this relation leads to


@dataclass(frozen=True)
class Hold:
    id: str
    basis: str
    duration: Duration | None
    anchor: Anchor | None
    where: RowCondition | None
    columns: frozenset[str] | None
    meanwhile: Literal["keep", "minimise"]


@dataclass
class Table:
    """A mapped table. `key` is its primary key or the map's `key:`; a table with neither
    is addressed by the columns that find its rows (`keyed` False), and rows that agree
    on all of them are erased and exported together."""

    name: str
    store: str
    role: Role
    key: tuple[str, ...]
    spec: TableSpec
    columns: dict[str, Column]
    identity_columns: dict[str, list[str]] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    namespace: str | None = None  # the PostgreSQL schema; None on SQLite
    # Owned tables: the people a row can name. With two or more, a row may belong to the
    # subject and to someone else at once (`assay.gdpr.parties`).
    parties: list[Party] = field(default_factory=list)
    keyed: bool = True
    unique_key: bool = True  # declared unique by the database (else checked in the data)

    def key_in(self, store: Store, keys: Sequence[Any], alias: str | None = None) -> Sql:
        """The row's key is one of `keys` (values for one key column, tuples for several)."""
        return columns_in(store, self.key, self.kinds(self.key), keys, alias)

    def kinds(self, columns: Sequence[str]) -> list[str]:
        return [self.columns[c].info.kind for c in columns]

    @property
    def addressing(self) -> str:
        """How the plan tells the subject's rows apart, in words."""
        how = "key" if self.keyed else "no key: rows addressed by"
        return f"{how} {_cols(self.key)}"

    @property
    def sql(self) -> Sql:
        """The table's name for SQL, schema-qualified on PostgreSQL."""
        return name(self.namespace, self.name) if self.namespace else name(self.name)

    @property
    def update_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.strategy in UPDATE_STRATEGIES]

    @property
    def exported_columns(self) -> list[str]:
        """The key's columns first, then every exported mapped column."""
        mapped = [n for n, c in self.spec.columns.items() if c.export and n not in self.key]
        return [*self.key, *mapped]


@dataclass
class Resolved:
    """A data map that fits its databases: what planning and execution work from."""

    loaded: LoadedMap
    tables: dict[str, Table]
    relations: list[Relation]
    identities: dict[str, Normalisation]
    _into: dict[str, list[Relation]] = field(init=False, default_factory=dict)
    _out: dict[str, list[Relation]] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        for r in self.relations:
            self._into.setdefault(r.parent, []).append(r)
            if r.child in self.tables:
                self._out.setdefault(r.child, []).append(r)

    def into(self, table: str) -> list[Relation]:
        """Relations whose parent is `table` (children may be unmapped tables)."""
        return self._into.get(table, [])

    def out_of(self, table: str) -> list[Relation]:
        """Relations from mapped `table` to its parents."""
        return self._out.get(table, [])

    def followed_down(self, rel: Relation) -> bool:
        """Whether finding a subject follows `rel` from parent rows to every child row."""
        child, parent = self.tables.get(rel.child), self.tables.get(rel.parent)
        return (
            child is not None
            and parent is not None
            and child.role == "owned"
            and parent.role in ("subject", "owned")
        )
