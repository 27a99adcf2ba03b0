"""Keys the database does not declare unique, checked in the data.

A `key:` from the map (or a primary key on a schema without constraints) tells rows apart
only if no two rows share it and none has it NULL. `assay dsr lint` checks the whole
table; planning checks the keys of the rows found, so a request never runs statements
that would reach more rows than it planned.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assay.gdpr.errors import SchemaMismatchError
from assay.gdpr.model import Finding, Resolved, Table
from assay.gdpr.sqltext import chunks, fmt, join, name, raw
from assay.gdpr.stores import Store
from assay.gdpr.traverse import CHUNK, Snapshot


def key_problems(table: Table, store: Store, keys: Sequence[Any] | None = None) -> list[Finding]:
    """A duplicated key value and NULL keys of `table` (among `keys`, default every row)."""
    if table.unique_key or not table.keyed:
        return []
    cols = join((name(c) for c in table.key), ", ")
    label = table.key[0] if len(table.key) == 1 else f"({', '.join(table.key)})"
    where = f"{table.name}.{label}"
    parts = [None] if keys is None else list(chunks(keys, CHUNK))
    out: list[Finding] = []
    for part in parts:
        scope = raw("TRUE") if part is None else table.key_in(store, part)
        dup = store.query(
            fmt(
                "SELECT {}, count(*) FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1 LIMIT 1",
                cols,
                table.sql,
                scope,
                cols,
            )
        )
        if dup:
            *value, n = dup[0]
            shown = value[0] if len(value) == 1 else tuple(value)
            out.append(
                Finding(
                    "error",
                    where,
                    f"the key is not unique in the data: {shown!r} is the key of {n} rows; "
                    "declare a key that tells rows apart (`key: [a, b]` for several columns)",
                )
            )
            break
    if keys is None:
        nulls = join((fmt("{} IS NULL", name(c)) for c in table.key), " OR ")
        (n,) = store.query(fmt("SELECT count(*) FROM {} WHERE {}", table.sql, nulls))[0]
        if n:
            out.append(
                Finding("error", where, f"the key is NULL in {n} rows: they cannot be addressed")
            )
    return out


def check_found_keys(resolved: Resolved, stores: Mapping[str, Store], snap: Snapshot) -> None:
    """SchemaMismatchError if a found key stands for several rows; call inside a read."""
    problems: list[Finding] = []
    for found in snap.found.values():
        table = found.table
        keys = [k for k in found.rows if k is not None and not (isinstance(k, tuple) and None in k)]
        if len(keys) < len(found.rows):
            problems.append(
                Finding("error", table.name, "a row found for the subject has a NULL key")
            )
        if keys:
            problems += key_problems(table, stores[table.store], keys)
    if problems:
        raise SchemaMismatchError(list(problems))
