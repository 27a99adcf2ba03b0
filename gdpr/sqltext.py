"""SQL text with its parameters, composed from `psycopg.sql` parts for both dialects.

Table and column names only ever enter a statement through `ident` (quoted, with any
``%`` escaped so that psycopg's placeholder parser never sees it); values only ever as
parameters. SQLite receives the same text with ``%s`` turned into ``?``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from psycopg import sql

_PLACEHOLDER = re.compile(r"%(s|%)")


@dataclass(frozen=True)
class Sql:
    """A fragment of SQL and the parameters of its placeholders, in order."""

    text: sql.Composable
    params: tuple[Any, ...] = ()


@lru_cache(maxsize=4096)
def ident(*names: str) -> sql.Composable:
    """A quoted (optionally qualified) identifier, safe whatever characters the name holds."""
    quoted = sql.Identifier(*names).as_string(None)
    return sql.SQL(quoted.replace("%", "%%"))


def rendered(q: Sql) -> Sql:
    """`q` with its text composed once into plain SQL, to run many times with new values."""
    return Sql(sql.SQL(q.text.as_string(None)), q.params)


def raw(text: str) -> Sql:
    """Fixed SQL written in this package (never data, never a name from a map)."""
    return Sql(sql.SQL(text))


def param(value: Any) -> Sql:
    return Sql(sql.Placeholder(), (value,))


def name(*names: str) -> Sql:
    return Sql(ident(*names))


def fmt(template: str, *parts: Sql | sql.Composable) -> Sql:
    """`template` with each ``{}`` replaced by a part, left to right; parameters follow suit."""
    texts: list[sql.Composable] = []
    params: list[Any] = []
    for part in parts:
        if isinstance(part, Sql):
            texts.append(part.text)
            params.extend(part.params)
        else:
            texts.append(part)
    return Sql(sql.SQL(template).format(*texts), tuple(params))


def join(parts: Iterable[Sql], separator: str) -> Sql:
    items = list(parts)
    return Sql(
        sql.SQL(separator).join(p.text for p in items),
        tuple(v for p in items for v in p.params),
    )


def for_sqlite(statement: sql.Composable) -> str:
    """The statement as SQLite text: ``%s`` becomes ``?`` and ``%%`` becomes ``%``."""
    text = statement.as_string(None)
    return _PLACEHOLDER.sub(lambda m: "?" if m.group(1) == "s" else "%", text)


def chunks(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
