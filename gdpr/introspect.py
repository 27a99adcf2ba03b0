"""The live schema of a datastore: columns and types, keys, unique columns, foreign keys, indexes.

PostgreSQL is read from pg_catalog in four queries whatever the number of tables; SQLite
from its table-valued pragma functions. Both give the same shape, so the data map is
checked the same way on either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from assay.gdpr.sqltext import fmt, param, raw
from assay.gdpr.stores import Store

Kind = Literal["text", "integer", "numeric", "boolean", "date", "timestamp", "bytes", "other"]


@dataclass(frozen=True)
class ColumnInfo:
    name: str
    declared: str
    kind: Kind
    length: int | None
    nullable: bool


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]


@dataclass
class TableInfo:
    name: str
    columns: dict[str, ColumnInfo] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    unique: set[str] = field(default_factory=set)
    # Column sets a constraint or a full, plain unique index keeps unique (any width).
    unique_sets: set[frozenset[str]] = field(default_factory=set)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    # Leading key of each index: ("column", name), ("lower", name) or ("expr", text).
    index_leads: set[tuple[str, str]] = field(default_factory=set)


LiveSchema = dict[str, TableInfo]


def introspect(store: Store, pg_schema: str = "public") -> LiveSchema:
    """The schema of `store` (for PostgreSQL, of one schema), read in one transaction."""
    with store.read():
        if store.kind == "postgresql":
            return _postgres(store, pg_schema)
        return _sqlite(store)


_PG_KINDS: dict[str, Kind] = {
    "text": "text",
    "varchar": "text",
    "bpchar": "text",
    "citext": "text",
    "name": "text",
    "int2": "integer",
    "int4": "integer",
    "int8": "integer",
    "numeric": "numeric",
    "float4": "numeric",
    "float8": "numeric",
    "money": "numeric",
    "bool": "boolean",
    "date": "date",
    "timestamp": "timestamp",
    "timestamptz": "timestamp",
    "bytea": "bytes",
}


def _postgres(store: Store, schema: str) -> LiveSchema:
    tables: LiveSchema = {}
    rows = store.query(
        fmt(
            "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), t.typname,"
            " a.atttypmod, a.attnotnull FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_attribute a ON a.attrelid = c.oid JOIN pg_type t ON t.oid = a.atttypid"
            " WHERE n.nspname = {} AND c.relkind IN ('r', 'p') AND a.attnum > 0"
            " AND NOT a.attisdropped ORDER BY c.relname, a.attnum",
            param(schema),
        )
    )
    for table, col, declared, typname, typmod, notnull in rows:
        kind = _PG_KINDS.get(typname, "other")
        length = typmod - 4 if typname in ("varchar", "bpchar") and typmod > 4 else None
        info = tables.setdefault(table, TableInfo(table))
        info.columns[col] = ColumnInfo(col, declared, kind, length, not notnull)
    cols = (
        "ARRAY(SELECT a.attname FROM unnest({}) WITH ORDINALITY k(n, i) JOIN pg_attribute a"
        " ON a.attrelid = {} AND a.attnum = k.n ORDER BY k.i)"
    )
    rows = store.query(
        fmt(
            "SELECT c.relname, con.contype, " + cols.format("con.conkey", "con.conrelid") + ","
            " fc.relname, fn.nspname, "
            + cols.format("con.confkey", "con.confrelid")
            + " FROM pg_constraint con JOIN pg_class c ON c.oid = con.conrelid"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " LEFT JOIN pg_class fc ON fc.oid = con.confrelid"
            " LEFT JOIN pg_namespace fn ON fn.oid = fc.relnamespace"
            " WHERE n.nspname = {} AND con.contype IN ('p', 'u', 'f') ORDER BY con.conname",
            param(schema),
        )
    )
    for table, contype, columns, parent, parent_schema, parent_columns in rows:
        owner = tables.get(table)
        if owner is None:
            continue
        if contype == "p":
            owner.primary_key = tuple(columns)
        if contype in ("p", "u"):
            owner.unique_sets.add(frozenset(columns))
        if contype in ("p", "u") and len(columns) == 1:
            owner.unique.add(columns[0])
        if contype == "f" and parent_schema == schema:
            owner.foreign_keys.append(ForeignKey(tuple(columns), parent, tuple(parent_columns)))
    rows = store.query(
        fmt(
            "SELECT c.relname, i.indisunique, i.indnkeyatts, i.indpred IS NULL,"
            " pg_get_indexdef(i.indexrelid, 1, true), i.indexprs IS NULL,"
            " ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
            " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
            " WHERE k.o <= i.indnkeyatts ORDER BY k.o) FROM pg_index i"
            " JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = {}",
            param(schema),
        )
    )
    for table, unique, nkeys, full, lead, plain, columns in rows:
        indexed = tables.get(table)
        if indexed is None or not full:
            continue  # a partial index does not serve every lookup
        parsed = _index_lead(lead, indexed)
        indexed.index_leads.add(parsed)
        if unique and nkeys == 1 and parsed[0] == "column":
            indexed.unique.add(parsed[1])
        if unique and plain:
            indexed.unique_sets.add(frozenset(columns))
    return tables


_SQLITE_KINDS: tuple[tuple[str, Kind], ...] = (
    ("INT", "integer"),
    ("CHAR", "text"),
    ("CLOB", "text"),
    ("TEXT", "text"),
    ("BLOB", "bytes"),
    ("REAL", "numeric"),
    ("FLOA", "numeric"),
    ("DOUB", "numeric"),
    ("BOOL", "boolean"),
    ("DATETIME", "timestamp"),
    ("TIMESTAMP", "timestamp"),
    ("DATE", "date"),
)


def _sqlite_kind(declared: str) -> Kind:
    upper = declared.upper()
    for marker, kind in _SQLITE_KINDS:
        if marker in upper:
            return kind
    return "bytes" if not upper else "numeric"


def _sqlite(store: Store) -> LiveSchema:
    tables: LiveSchema = {}
    names = store.query(
        raw(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%%' "
            "ESCAPE '\\' ORDER BY name"
        )
    )
    for (table,) in names:
        info = TableInfo(table)
        tables[table] = info
        pk: list[tuple[int, str]] = []
        for _, col, declared, notnull, _, pkpos in store.query(
            fmt("SELECT * FROM pragma_table_info({})", param(table))
        ):
            info.columns[col] = ColumnInfo(col, declared, _sqlite_kind(declared), None, not notnull)
            if pkpos:
                pk.append((pkpos, col))
        info.primary_key = tuple(c for _, c in sorted(pk))
        if info.primary_key:
            info.unique_sets.add(frozenset(info.primary_key))
        if len(info.primary_key) == 1:
            info.unique.add(info.primary_key[0])
            info.index_leads.add(("column", info.primary_key[0]))
        fks: dict[int, list[tuple[str, str, str | None]]] = {}
        for fk_id, _, parent, col, parent_col, *_ in store.query(
            fmt("SELECT * FROM pragma_foreign_key_list({})", param(table))
        ):
            fks.setdefault(fk_id, []).append((parent, col, parent_col))
        for parts in fks.values():
            parent = parts[0][0]
            info.foreign_keys.append(
                ForeignKey(tuple(p[1] for p in parts), parent, tuple(p[2] or "" for p in parts))
            )
        for _, index, unique, _, partial in store.query(
            fmt("SELECT * FROM pragma_index_list({})", param(table))
        ):
            if partial:
                continue
            keys = [
                r
                for r in store.query(
                    fmt("SELECT cid, name, key FROM pragma_index_xinfo({})", param(index))
                )
                if r[2]
            ]
            if not keys:
                continue
            cid, col, _ = keys[0]
            if unique and all(k[0] >= 0 for k in keys):
                info.unique_sets.add(frozenset(k[1] for k in keys))
            if cid >= 0:
                info.index_leads.add(("column", col))
                if unique and len(keys) == 1:
                    info.unique.add(col)
            else:
                sql_rows = store.query(
                    fmt(
                        "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = {}",
                        param(index),
                    )
                )
                info.index_leads.add(_index_lead(_first_index_key(sql_rows[0][0] or ""), info))
    # A foreign key naming no parent column references the parent's primary key.
    for info in tables.values():
        for i, fk in enumerate(info.foreign_keys):
            if any(not c for c in fk.parent_columns) and fk.parent in tables:
                info.foreign_keys[i] = ForeignKey(
                    fk.columns, fk.parent, tables[fk.parent].primary_key
                )
    return tables


def _first_index_key(create_sql: str) -> str:
    """The first key expression of a CREATE INDEX statement."""
    m = re.search(r"\bON\b\s*(?:\"(?:[^\"]|\"\")*\"|\S+?)\s*\(", create_sql, re.IGNORECASE)
    if not m:
        return ""
    depth, start = 1, m.end()
    for i in range(start, len(create_sql)):
        ch = create_sql[i]
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 or (depth == 1 and ch == ","):
            return create_sql[start:i].strip()
    return ""


def _unquote(text: str) -> str:
    text = text.strip()
    for open_, close in (('"', '"'), ("`", "`"), ("[", "]")):
        if len(text) >= 2 and text[0] == open_ and text[-1] == close:
            return text[1:-1].replace(close * 2, close) if open_ != "[" else text[1:-1]
    return text


def _index_lead(expr: str, info: TableInfo) -> tuple[str, str]:
    text = re.sub(r"::[a-z ]+(\([0-9]+\))?", "", expr.strip())
    text = re.sub(r"\s+(COLLATE\s+\S+|ASC|DESC)\s*$", "", text, flags=re.IGNORECASE).strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    if _unquote(text) in info.columns:
        return ("column", _unquote(text))
    m = re.fullmatch(r"lower\s*\((.*)\)", text, re.IGNORECASE | re.DOTALL)
    if m:
        inner = re.sub(r"::[a-z ]+(\([0-9]+\))?", "", m.group(1)).strip()
        inner = inner[1:-1].strip() if inner.startswith("(") and inner.endswith(")") else inner
        if _unquote(inner) in info.columns:
            return ("lower", _unquote(inner))
    return ("expr", text)
