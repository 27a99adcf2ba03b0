"""Keys the database does not declare unique: a duplicated one is an error at lint and at
plan time, naming the table and a duplicated value, before anything is written."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from assay.gdpr import DataMapError, SchemaMismatchError, lint_datamap

if TYPE_CHECKING:
    from conftest import Shop

ALICE = ("email", "alice.example@example.com")


def test_a_duplicated_key_is_an_error_at_lint_and_at_plan_time(plain_shop: Shop) -> None:
    plain_shop.run(
        "INSERT INTO logins VALUES (3, 2, '198.51.100.7', 'Safari', '2026-01-01 00:00:00')"
    )
    errors = [str(f) for f in lint_datamap(plain_shop.datamap, plain_shop.connections)]
    assert [e for e in errors if e.startswith("error")] == [
        "error: logins.id: the key is not unique in the data: 3 is the key of 2 rows; "
        "declare a key that tells rows apart (`key: [a, b]` for several columns)"
    ]
    before = plain_shop.content()
    with plain_shop.session() as s, pytest.raises(SchemaMismatchError) as caught:
        s.erase(s.identities([ALICE]), dry_run=True)
    assert "logins.id: the key is not unique in the data: 3 is the key of 2 rows" in str(
        caught.value.message
    )
    assert plain_shop.content() == before


def test_a_null_key_is_an_error_at_lint(plain_shop: Shop) -> None:
    plain_shop.run("INSERT INTO products (sku, name, price_cents) VALUES ('X', 'X', 1)")
    errors = [str(f) for f in lint_datamap(plain_shop.datamap, plain_shop.connections)]
    assert "error: products.id: the key is NULL in 1 rows: they cannot be addressed" in errors


def test_a_composite_key_must_name_existing_columns_once(plain_shop: Shop) -> None:
    old = "  logins:\n    role: owned\n    key: id"
    loaded = plain_shop.map_with(old, old.replace("key: id", "key: [id, nope]"))
    line = plain_shop.map_text().split("\n").index("  logins:") + 3
    errors = [str(f) for f in lint_datamap(loaded, plain_shop.connections) if f.level == "error"]
    assert errors == [f"error: logins: key column 'nope' does not exist (test-datamap.yaml:{line})"]
    with pytest.raises(DataMapError, match=f"test-datamap.yaml:{line}: .*named twice"):
        plain_shop.map_with(old, old.replace("key: id", "key: [id, id]"))
