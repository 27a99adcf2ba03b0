"""`assay dsr lint`: the data map compared with the live schema, on both datastores."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from assay.gdpr import Finding, SchemaMismatchError, lint_datamap

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package


def lint(shop: Shop, old: str | None = None, new: str = "") -> list[Finding]:
    loaded = shop.map_with(old, new) if old else shop.datamap
    return lint_datamap(loaded, shop.connections)


def messages(findings: list[Finding], level: str) -> str:
    return "\n".join(str(f) for f in findings if f.level == level)


def test_the_example_map_fits_the_constrained_shop_cleanly(store_shop: Shop) -> None:
    assert lint(store_shop) == []


def test_without_declared_constraints_only_warnings_remain(shop: Shop) -> None:
    findings = lint(shop)
    assert messages(findings, "error") == ""
    if shop.variant == "plain":
        warnings = messages(findings, "warning")
        assert "customers.id: the key is not declared unique" in warnings
        assert "identity lookups compare id and no index serves it" in warnings


CASES = [
    (
        'erase: mask, mask: "{first:1}***", rectifiable: true}',
        'erase: "null"}',
        "customers.full_name: null on a NOT NULL column",
    ),
    (
        "      customer_id: {}\n      shipping_address_id: {}",
        "      customer_id: {erase: mask, mask: '***'}\n      shipping_address_id: {}",
        "orders.customer_id: mask on a relation column",
    ),
    (
        "quantity: {category: behavioural}",
        "quantity: {category: behavioural, erase: hash}",
        "order_items.quantity: hash needs a text column; this one is INTEGER",
    ),
    (
        "      phone: {",
        "      nickname: {category: identity}\n      phone: {",
        "customers.nickname: no such column",
    ),
    (
        "        anchor: paid_at",
        "        anchor: amount_cents",
        "payments hold tax-records: anchor 'amount_cents' must be a date, timestamp or text",
    ),
    (
        "{category: identity, identity: customer_id}",
        "{category: identity, identity: customer_id, rectifiable: true}",
        "customers.id: a key or relation column cannot be rectifiable",
    ),
]


@pytest.mark.parametrize(("old", "new", "expected"), CASES)
def test_strategies_the_column_cannot_take_are_errors(
    sqlite_shop: Shop, old: str, new: str, expected: str
) -> None:
    findings = lint(sqlite_shop, old, new)
    assert expected.lower() in messages(findings, "error").lower(), findings


def test_strategy_errors_on_postgresql_name_the_declared_type(store_shop: Shop) -> None:
    findings = lint(
        store_shop,
        "      quantity: {category: behavioural}",
        "      quantity: {category: behavioural, erase: tombstone}",
    )
    assert "order_items.quantity: tombstone needs a text column" in messages(findings, "error")


def test_hostile_map_names_are_unknown_tables_and_nothing_runs(store_shop: Shop) -> None:
    hostile = 'customers"; DROP TABLE orders; --'
    table = f"  '{hostile}':\n    role: owned\n    columns: {{x: {{category: contact}}}}\n"
    findings = lint(store_shop, "  products:\n", table + "  products:\n")
    assert f"error: {hostile}: no such table" in messages(findings, "error")
    bad_map = store_shop.map_with("  products:\n", table + "  products:\n")
    with pytest.raises(SchemaMismatchError, match="no such table"), store_shop.session(bad_map):
        pass
    assert store_shop.rows("SELECT count(*) FROM orders") == [(5,)]


def test_missing_indexes_unmapped_columns_and_tables_are_warnings(store_shop: Shop) -> None:
    store_shop.run("DROP INDEX customers_email_lower")
    store_shop.run("DROP INDEX orders_customer")
    store_shop.run("ALTER TABLE customers ADD COLUMN nickname TEXT")
    store_shop.run(
        "CREATE TABLE reviews (id INTEGER PRIMARY KEY, "
        "customer_id INTEGER REFERENCES customers (id), body TEXT)"
    )
    warnings = messages(lint(store_shop), "warning")
    assert (
        "customers.email: identity lookups compare lower(email) and no index serves it" in warnings
    )
    assert "orders.customer_id: no index on this column (references customers)" in warnings
    assert "customers.nickname: not in the data map" in warnings
    assert "reviews: not in the data map, but references customers" in warnings
