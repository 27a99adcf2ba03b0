"""The example shop (`examples/shop/`): its schema in two variants, its data map, and a few
customers whose data exercises every rule (shared address, tax hold, tickets by e-mail).

Dates are relative to `now`, so the held and the expired rows stay so whenever it runs.
Used by `assay demo`, the tests and the benchmark; the SQL and YAML are read as package
data, so this works from an installed wheel.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg

from assay.examples import examples_root
from assay.gdpr.mapfile import LoadedMap, parse_datamap
from assay.gdpr.sqltext import fmt, for_sqlite, join, name, param

Variant = Literal["constrained", "plain"]
SCHEMA_FILES = {"constrained": "schema.sql", "plain": "schema-plain.sql"}
ALICE_EMAIL = "Alice.Example@Example.com"  # stored mixed-case; requests may use any case


def shop_file(name: str) -> str:
    return (examples_root() / "shop" / name).read_text(encoding="utf-8")


def shop_datamap() -> LoadedMap:
    """The example data map: one map for SQLite and PostgreSQL, the store's kind following
    from its connection string (the DSN env is SHOP_DB)."""
    return parse_datamap(shop_file("datamap.yaml"), "examples/shop/datamap.yaml")


def shop_rows(now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Four customers. Alice shares an address with Bob, has an order from nine years ago
    (past the tax hold) and two recent ones (held), logins, and two tickets filed under
    her address in another case. Zoë and Seán test non-ASCII and quotes in identities."""

    def ago(days: int) -> str:
        return (now - timedelta(days=days)).strftime("%Y-%m-%d %H:%M:%S")

    def customer(i: int, email: str, name: str, phone: str | None, addr: int) -> dict[str, Any]:
        return {
            "id": i,
            "email": email,
            "full_name": name,
            "phone": phone,
            "birth_date": f"19{70 + i}-0{i}-1{i}",
            "password_hash": f"$argon2id$v=19$x{i}",
            "address_id": addr,
            "marketing_opt_in": i % 2 == 0,
            "created_at": ago(4000 - i),
        }

    def order(i: int, cust: int, addr: int, days: int, gift: str | None) -> dict[str, Any]:
        return {
            "id": i,
            "customer_id": cust,
            "shipping_address_id": addr,
            "placed_at": ago(days),
            "status": "delivered",
            "gift_message": gift,
        }

    def payment(i: int, order_id: int, who: str, days: int) -> dict[str, Any]:
        return {
            "id": i,
            "order_id": order_id,
            "invoice_no": f"INV-{i:05d}",
            "billing_name": who,
            "card_last4": f"42{i:02d}",
            "amount_cents": 1000 * i,
            "paid_at": ago(days),
        }

    return {
        "products": [
            {"id": 1, "sku": "MUG-01", "name": "Mug", "price_cents": 1200},
            {"id": 2, "sku": "TEA-02", "name": "Tea", "price_cents": 800},
        ],
        "addresses": [
            {
                "id": 1,
                "street": "1 Shared Lane",
                "city": "Leeds",
                "postcode": "LS1 1AA",
                "country": "GB",
            },
            {
                "id": 2,
                "street": "9 Old Road",
                "city": "York",
                "postcode": "YO1 9ZZ",
                "country": "GB",
            },
            {
                "id": 3,
                "street": "Rue de l'Été 3",
                "city": "Liège",
                "postcode": "4000",
                "country": "BE",
            },
            {"id": 4, "street": "4 Quay St", "city": "Galway", "postcode": "H91", "country": "IE"},
        ],
        "customers": [
            customer(1, ALICE_EMAIL, "Alice Example", "+44 7700 900001", 1),
            customer(2, "bob@example.com", "Bob Example", None, 1),
            customer(3, "Zoë@Example.com", "Zoë Ünicode", "+32 470 00 00 03", 3),
            customer(4, "sean.o'brien@example.com", "Seán O'Brien", None, 4),
        ],
        "orders": [
            order(1, 1, 2, 9 * 366, "Happy birthday, Mum!"),
            order(2, 1, 1, 700, None),
            order(3, 1, 1, 30, "For the office"),
            order(4, 2, 1, 40, None),
            order(5, 3, 3, 10, "Bonne fête"),
        ],
        "order_items": [
            {"id": i, "order_id": o, "product_id": p, "quantity": q, "unit_price_cents": c}
            for i, (o, p, q, c) in enumerate(
                [
                    (1, 1, 2, 1200),
                    (1, 2, 1, 800),
                    (2, 1, 1, 1200),
                    (3, 2, 3, 800),
                    (4, 1, 1, 1200),
                    (5, 2, 2, 800),
                ],
                start=1,
            )
        ],
        "payments": [
            payment(1, 1, "Alice Example", 9 * 366),
            payment(2, 2, "Alice Example", 700),
            payment(3, 3, "Alice Example", 30),
            payment(4, 4, "Bob Example", 40),
            payment(5, 5, "Zoë Ünicode", 10),
        ],
        "logins": [
            {
                "id": i,
                "customer_id": c,
                "ip_address": f"192.0.2.{i}",
                "user_agent": "Firefox",
                "logged_in_at": ago(i),
            }
            for i, c in enumerate([1, 1, 1, 2, 3], start=1)
        ],
        "support_tickets": [
            {
                "id": 1,
                "email": "ALICE.EXAMPLE@EXAMPLE.COM",
                "subject": "Where is my order?",
                "body": "Order 3 has not arrived.",
                "opened_at": ago(20),
            },
            {
                "id": 2,
                "email": "alice.example@example.com",
                "subject": "Invoice",
                "body": "Please resend invoice INV-00002.",
                "opened_at": ago(600),
            },
            {
                "id": 3,
                "email": "zoë@example.com",
                "subject": "Merci",
                "body": "Tout va bien.",
                "opened_at": ago(5),
            },
        ],
    }


def insert_rows(execute: Any, rows: Mapping[str, list[dict[str, Any]]], sqlite: bool) -> None:
    """INSERT `rows` (table -> list of dicts) through `execute(text, params)`."""
    for table, items in rows.items():
        for item in items:
            q = fmt(
                "INSERT INTO {} ({}) VALUES ({})",
                name(table),
                join((name(c) for c in item), ", "),
                join((param(v) for v in item.values()), ", "),
            )
            execute(for_sqlite(q.text) if sqlite else q.text, q.params)


def create_shop_sqlite(
    path: Path, variant: Variant = "constrained", now: datetime | None = None
) -> None:
    """A new example shop database at `path` (an existing file is replaced)."""
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    try:
        con.executescript(shop_file(SCHEMA_FILES[variant]))
        insert_rows(con.execute, shop_rows(now or datetime.now()), sqlite=True)
        con.commit()
    finally:
        con.close()


def create_shop_postgres(
    dsn: str, variant: Variant = "constrained", now: datetime | None = None
) -> None:
    """The example shop's tables and rows in the (empty) database at `dsn`."""
    with psycopg.connect(dsn) as con:
        con.execute(shop_file(SCHEMA_FILES[variant]).encode())
        insert_rows(con.execute, shop_rows(now or datetime.now()), sqlite=False)
