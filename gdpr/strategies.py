"""Erasure strategies as SQL: the value a column gets, and how to tell it already has it.

Every strategy is idempotent: a cell already erased is left alone, so a re-run changes
nothing and a verification can count what is left. Values are computed by the database
in one statement per table and key chunk (the keyed hash too: HMAC-SHA256 over the
built-in sha256() on PostgreSQL, a registered function on SQLite).

- ``null``: NULL.
- ``mask``: the pattern's literal text between the kept first/last characters (short
  values keep nothing); a value holding the literal counts as masked.
- ``hash``: ``hmac:`` and the hex HMAC-SHA256 of the value under the map's hash key.
- ``tombstone``: ``erased-<row key>@invalid``, unique per row (for UNIQUE NOT NULL columns
  such as e-mail addresses) and valid as an address in the reserved ``.invalid`` domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from assay.gdpr.model import Column, Table
from assay.gdpr.sqltext import Sql, fmt, join, name, param
from assay.gdpr.stores import HASH_PREFIX, Store

TOMBSTONE = ("erased-", "@invalid")


def erased_value(store: Store, table: Table, column: Column, hash_key: bytes) -> Sql:
    c = name(column.name)
    if column.strategy == "null":
        return fmt("NULL")
    if column.strategy == "hash":
        return store.keyed_hash(c, hash_key)
    if column.strategy == "tombstone":
        # A composite key's parts are joined with '.': unique as long as the key is.
        key = join((fmt("CAST({} AS TEXT)", name(c)) for c in table.key), " || '.' || ")
        return fmt("{} || {} || {}", param(TOMBSTONE[0]), key, param(TOMBSTONE[1]))
    mask = column.mask
    assert column.strategy == "mask" and mask is not None, column.strategy
    parts = []
    if mask.first:
        parts.append(store.left(c, mask.first))
    parts.append(param(mask.literal))
    if mask.last:
        parts.append(store.right(c, mask.last))
    if len(parts) == 1:
        return parts[0]
    # A value too short to keep anything is replaced by the literal alone.
    return fmt(
        "CASE WHEN length({}) > {} THEN {} ELSE {} END",
        c,
        param(mask.first + mask.last),
        join(parts, " || "),
        param(mask.literal),
    )


def is_erased(store: Store, table: Table, column: Column) -> Sql:
    """True when the cell already holds what the strategy writes (NULL always counts)."""
    c = name(column.name)
    if column.strategy == "null":
        return fmt("{} IS NULL", c)
    if column.strategy == "hash":
        return fmt(
            "({} IS NULL OR substr({}, 1, {}) = {})",
            c,
            c,
            param(len(HASH_PREFIX)),
            param(HASH_PREFIX),
        )
    if column.strategy == "tombstone":
        return fmt("({} IS NULL OR {} = {})", c, c, erased_value(store, table, column, b""))
    assert column.mask is not None
    return fmt("({} IS NULL OR {})", c, store.contains(c, column.mask.literal))


def erased_in_python(column: Column, value: Any) -> bool:
    """`is_erased` for a value already read: NULL, or what the column's strategy writes."""
    if value is None:
        return True
    if not isinstance(value, str):
        return False
    if column.strategy == "hash":
        return value.startswith(HASH_PREFIX)
    if column.strategy == "tombstone":
        return value.startswith(TOMBSTONE[0]) and value.endswith(TOMBSTONE[1])
    return column.strategy == "mask" and column.mask is not None and column.mask.literal in value


def all_erased(store: Store, table: Table, columns: Sequence[str]) -> Sql:
    return join((is_erased(store, table, table.columns[c]) for c in columns), " AND ")


def count_changes(store: Store, table: Table, columns: Sequence[str], keys: Sequence[Any]) -> Sql:
    """SELECT: rows that would change, then cells per column that would change."""
    sums = [
        fmt("sum(CASE WHEN {} THEN 0 ELSE 1 END)", is_erased(store, table, table.columns[c]))
        for c in columns
    ]
    return fmt(
        "SELECT sum(CASE WHEN {} THEN 0 ELSE 1 END), {} FROM {} WHERE {}",
        all_erased(store, table, columns),
        join(sums, ", "),
        table.sql,
        table.key_in(store, keys),
    )


def update_statement(
    store: Store, table: Table, columns: Sequence[str], keys: Sequence[Any], hash_key: bytes
) -> Sql:
    """UPDATE the cells of `columns` not yet erased, in the rows of `keys` that need it."""
    sets = []
    for cname in columns:
        col = table.columns[cname]
        value = erased_value(store, table, col, hash_key)
        if col.strategy != "null":
            value = fmt(
                "CASE WHEN {} THEN {} ELSE {} END", is_erased(store, table, col), name(cname), value
            )
        sets.append(fmt("{} = {}", name(cname), value))
    return fmt(
        "UPDATE {} SET {} WHERE {} AND NOT ({})",
        table.sql,
        join(sets, ", "),
        table.key_in(store, keys),
        all_erased(store, table, columns),
    )


def delete_statement(store: Store, table: Table, keys: Sequence[Any]) -> Sql:
    return fmt("DELETE FROM {} WHERE {}", table.sql, table.key_in(store, keys))
