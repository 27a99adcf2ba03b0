"""The example shop on both datastores, in both schema variants, and a session over it."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from assay.demo.shop import create_shop_postgres, create_shop_sqlite, shop_datamap, shop_file
from assay.gdpr import LoadedMap, Session, open_session, parse_datamap


@dataclass
class Shop:
    """One example shop database and how to reach it."""

    kind: str  # "sqlite" | "postgresql"
    variant: str  # "constrained" | "plain"
    dsn: str
    tmp: Path
    datamap: LoadedMap = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.datamap = shop_datamap()

    @property
    def connections(self) -> dict[str, str]:
        return {"shop": self.dsn}

    @property
    def ledger(self) -> str:
        return f"sqlite:///{self.tmp / 'ledger.db'}"

    def session(
        self, datamap: LoadedMap | None = None, clock: Callable[[], datetime] | None = None
    ) -> AbstractContextManager[Session]:
        extra: dict[str, Any] = {"clock": clock} if clock else {}
        return open_session(
            datamap or self.datamap,
            ledger_url=self.ledger,
            key_path=self.tmp / "pseudonym.key",
            connections=self.connections,
            **extra,
        )

    def map_text(self) -> str:
        """The example map's YAML (its store's kind follows from the connection string)."""
        return shop_file("datamap.yaml")

    def map_with(self, old: str, new: str) -> LoadedMap:
        """The example map with one piece of text replaced (it must occur)."""
        text = self.map_text()
        assert old in text, old
        return parse_datamap(text.replace(old, new, 1), "test-datamap.yaml")

    def rows(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        if self.kind == "sqlite":
            con = sqlite3.connect(self.dsn)
            try:
                return con.execute(query.replace("%s", "?"), params).fetchall()
            finally:
                con.close()
        with psycopg.connect(self.dsn) as con:
            return con.execute(query, params).fetchall()

    def run(self, statement: str, *params: Any) -> None:
        if self.kind == "sqlite":
            con = sqlite3.connect(self.dsn)
            try:
                con.execute(statement.replace("%s", "?"), params)
                con.commit()
            finally:
                con.close()
            return
        with psycopg.connect(self.dsn) as con:
            con.execute(statement, params)

    def fingerprint(self) -> str:
        """SQLite: the database file's bytes. PostgreSQL: every row version of every table
        (ctid and xmin change when a row is rewritten, even with the same values)."""
        if self.kind == "sqlite":
            return hashlib.sha256(Path(self.dsn).read_bytes()).hexdigest()
        tables = [
            r[0]
            for r in self.rows(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            )
        ]
        h = hashlib.sha256()
        for t in tables:
            for row in self.rows(
                f'SELECT ctid::text, xmin::text, t::text FROM "{t}" t ORDER BY ctid'
            ):
                h.update(repr((t, row)).encode())
        return h.hexdigest()

    def content(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every table's rows, sorted: equal before and after means logically unchanged."""
        if self.kind == "sqlite":
            names = [r[0] for r in self.rows("SELECT name FROM sqlite_master WHERE type='table'")]
        else:
            names = [
                r[0]
                for r in self.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
        return {n: sorted(map(repr, self.rows(f'SELECT * FROM "{n}"'))) for n in names}


def make_shop(kind: str, variant: str, tmp: Path, pg_dsn: str | None) -> Shop:
    if kind == "sqlite":
        path = tmp / "shop.db"
        create_shop_sqlite(path, variant)
        return Shop(kind, variant, str(path), tmp)
    assert pg_dsn is not None
    create_shop_postgres(pg_dsn, variant)
    return Shop(kind, variant, pg_dsn, tmp)


# The PostgreSQL variants start a real server: marked as the integration tests they are.
ON_POSTGRES = pytest.mark.integration


@pytest.fixture(
    params=[
        pytest.param(("sqlite", "constrained"), id="sqlite-constrained"),
        pytest.param(("sqlite", "plain"), id="sqlite-plain"),
        pytest.param(("postgresql", "constrained"), id="postgresql-constrained", marks=ON_POSTGRES),
        pytest.param(("postgresql", "plain"), id="postgresql-plain", marks=ON_POSTGRES),
    ],
)
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Shop:
    """The example shop on each datastore, with and without declared constraints."""
    kind, variant = request.param
    dsn = request.getfixturevalue("pg_dsn") if kind == "postgresql" else None
    return make_shop(kind, variant, tmp_path, dsn)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=ON_POSTGRES)])
def store_shop(request: pytest.FixtureRequest, tmp_path: Path) -> Shop:
    """The constrained example shop on each datastore."""
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgresql" else None
    return make_shop(request.param, "constrained", tmp_path, dsn)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=ON_POSTGRES)])
def plain_shop(request: pytest.FixtureRequest, tmp_path: Path) -> Shop:
    """The example shop without declared constraints on each datastore."""
    dsn = request.getfixturevalue("pg_dsn") if request.param == "postgresql" else None
    return make_shop(request.param, "plain", tmp_path, dsn)


@pytest.fixture
def sqlite_shop(tmp_path: Path) -> Shop:
    return make_shop("sqlite", "constrained", tmp_path, None)


@pytest.fixture
def two_stores(sqlite_shop: Shop, tmp_path: Path) -> tuple[LoadedMap, dict[str, str]]:
    """The SQLite shop split in two stores: support tickets move to a help desk database.
    The map and the connections by store name."""
    shop = sqlite_shop
    helpdesk = tmp_path / "helpdesk.db"
    con = sqlite3.connect(helpdesk)
    con.execute("ATTACH DATABASE ? AS shop", (shop.dsn,))
    con.execute("CREATE TABLE support_tickets AS SELECT * FROM shop.support_tickets")
    con.execute("CREATE INDEX tickets_email ON support_tickets (lower(email))")
    con.commit()
    con.execute("DETACH DATABASE shop")
    con.close()
    shop.run("DROP TABLE support_tickets")
    text = shop.map_text().replace("\n    role: ", "\n    store: shop\n    role: ")
    text = text.replace(
        "  support_tickets:\n    store: shop\n", "  support_tickets:\n    store: helpdesk\n"
    )
    text = text.replace("stores:\n", "stores:\n  helpdesk: {dsn_env: HELPDESK_DB}\n")
    return parse_datamap(text, "two-stores.yaml"), {"shop": shop.dsn, "helpdesk": str(helpdesk)}
