"""A data map resolved against its databases: tables with their live columns, keys,
strategies and holds, and the relations between them (foreign keys and declared ones).

Built by `assay.gdpr.resolve`; everything that plans or runs a request works from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

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
from assay.gdpr.sqltext import Sql, name


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
    """`child.child_column` references `parent.parent_column`."""

    child: str
    child_column: str
    parent: str
    parent_column: str
    source: Literal["foreign key", "data map"]
    child_store: str
    child_namespace: str | None = None  # the PostgreSQL schema of the child table

    @property
    def child_sql(self) -> Sql:
        return name(self.child_namespace, self.child) if self.child_namespace else name(self.child)

    def __str__(self) -> str:
        return f"{self.child}.{self.child_column} -> {self.parent}.{self.parent_column}"


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
            sorted({c for c, _ in self.identities} | {r.child_column for r in self.relations})
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
    name: str
    store: str
    role: Role
    key: str
    spec: TableSpec
    columns: dict[str, Column]
    identity_columns: dict[str, list[str]] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    namespace: str | None = None  # the PostgreSQL schema; None on SQLite
    # Owned tables: the people a row can name. With two or more, a row may belong to the
    # subject and to someone else at once (`assay.gdpr.parties`).
    parties: list[Party] = field(default_factory=list)

    @property
    def sql(self) -> Sql:
        """The table's name for SQL, schema-qualified on PostgreSQL."""
        return name(self.namespace, self.name) if self.namespace else name(self.name)

    @property
    def update_columns(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.strategy in UPDATE_STRATEGIES]

    @property
    def exported_columns(self) -> list[str]:
        mapped = [n for n, c in self.spec.columns.items() if c.export and n != self.key]
        return [self.key, *mapped]


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
