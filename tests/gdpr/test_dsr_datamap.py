"""The data map file: schema, and every problem reported with its file, line and field."""

from __future__ import annotations

from datetime import date

import jsonschema
import pytest
import yaml

from assay.demo.shop import shop_datamap, shop_file
from assay.gdpr import DataMapError, datamap_schema, parse_datamap
from assay.gdpr.datamap import Duration, MaskPattern, parse_duration, parse_mask
from assay.gdpr.dates import add_months, shift

BASE = """\
datamap: 1
stores:
  shop: {kind: sqlite, dsn_env: SHOP_DB}
identities:
  email: {normalize: email}
tables:
  customers:
    role: subject
    columns:
      email: {category: contact, identity: email, erase: tombstone}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(DataMapError) as info:
        parse_datamap(text, "map.yaml")
    return info.value.problems


def test_the_example_map_is_valid_against_the_published_schema() -> None:
    jsonschema.Draft202012Validator(datamap_schema()).validate(
        yaml.safe_load(shop_file("datamap.yaml"))
    )
    loaded = shop_datamap()
    assert set(loaded.datamap.tables) >= {"customers", "orders", "support_tickets", "products"}
    assert loaded.digest.startswith("sha256:")


def test_a_minimal_map_loads() -> None:
    dm = parse_datamap(BASE, "map.yaml").datamap
    assert dm.tables["customers"].columns["email"].erase == "tombstone"


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("role: subject", "role: subjekt", "map.yaml:8: tables.customers.role: expected one of"),
        ("    role: subject\n", "    role: subject\n    colour: red\n",
         "map.yaml:9: tables.customers.colour: unknown field 'colour'"),
        ("erase: tombstone", "erase: null",
         "map.yaml:10: tables.customers.columns.email.erase: YAML reads a bare null"),
        ("erase: tombstone", "erase: mask",
         "tables.customers.columns.email.mask: `mask` goes with erase: mask"),
        ("erase: tombstone", "erase: mask, mask: 'x{first:2}'",
         "{first:N} may only open the pattern"),
        ("erase: tombstone", "erase: mask, mask: '{first:2}'", "needs literal text"),
        ("identity: email", "identity: phone", "unknown identity type 'phone'"),
        ("    role: subject\n", "    role: subject\n    store: crm\n", "unknown store"),
        ("datamap: 1", "datamap: 2", "map.yaml:1: datamap: expected 1; got 2"),
        ("email: {normalize: email}", "email: {normalize: email}\n  email: {normalize: text}",
         "map.yaml:6: identities.email: duplicate key"),
    ],
)  # fmt: skip
def test_problems_name_file_line_and_field(old: str, new: str, expected: str) -> None:
    assert old in BASE
    found = problems(BASE.replace(old, new, 1))
    assert any(expected in p for p in found), found


def test_holds_relations_and_reference_tables_are_cross_checked() -> None:
    text = BASE + (
        "    holds:\n"
        "      - {id: tax, basis: law, duration: 7 years, anchor: created_at}\n"
        "      - {id: tax, basis: law, where: {column: status, equals: x, is_null: true}}\n"
        "  products:\n"
        "    role: reference\n"
        "    columns: {name: {erase: mask, mask: '***'}}\n"
        "relations:\n"
        "  - {from: orders.customer_id, to: customers.id}\n"
    )
    found = "\n".join(problems(text))
    assert "holds[0].duration: expected an ISO 8601 duration" in found
    assert "holds[1].id: hold 'tax' is defined twice" in found
    assert "holds[1].where: give exactly one of equals, in, is_null" in found
    assert "products.columns.name.erase: a reference table is never erased" in found
    assert "relations[0].from: table of 'orders.customer_id' is not in the data map" in found


def test_a_map_nobody_can_be_found_with_is_rejected() -> None:
    text = BASE.replace(", identity: email", "")
    assert any("nobody can be found" in p for p in problems(text))


def test_durations_masks_and_calendar_months() -> None:
    assert parse_duration("P7Y") == Duration(7)
    assert parse_duration("P1Y6M10D") == Duration(1, 6, 10)
    assert parse_duration("P") is None and parse_duration("7Y") is None
    assert str(Duration(0, 18)) == "P18M"
    assert parse_mask("{first:1}***{last:2}") == MaskPattern(1, "***", 2)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2023, 1, 31), 1) == date(2023, 2, 28)
    assert add_months(date(2024, 11, 30), 3) == date(2025, 2, 28)
    assert shift(date(2024, 2, 29), Duration(7), -1) == date(2017, 2, 28)
