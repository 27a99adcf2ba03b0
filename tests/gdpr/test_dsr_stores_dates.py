"""One map for every store (the kind comes from the connection string), and holds that run
from dates stored as text, alike on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from assay.gdpr import StoreError, lint_datamap, parse_datamap
from assay.gdpr.stores import open_stores, store_kind

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package

ALICE = ("email", "alice.example@example.com")


@pytest.mark.parametrize(
    ("dsn", "kind"),
    [
        ("postgresql://privacy@db/shop", "postgresql"),
        ("postgres://db/shop?sslmode=require", "postgresql"),
        ("host=db dbname=shop user=privacy", "postgresql"),
        ("  dbname=shop", "postgresql"),
        ("/var/lib/shop.db", "sqlite"),
        ("shop.db", "sqlite"),
        ("data/host=1.db", "sqlite"),
    ],
)
def test_the_store_kind_comes_from_the_connection_string(dsn: str, kind: str) -> None:
    assert store_kind(dsn) == kind


def test_the_example_map_names_no_kind_and_serves_both_engines(store_shop: Shop) -> None:
    assert store_shop.datamap.datamap.stores["shop"].kind is None
    assert lint_datamap(store_shop.datamap, store_shop.connections) == []


def test_a_kind_the_map_pins_wins_over_the_connection_string(sqlite_shop: Shop) -> None:
    text = sqlite_shop.map_text().replace("    dsn_env:", "    kind: postgresql\n    dsn_env:")
    pinned = parse_datamap(text, "pinned.yaml")
    with (
        pytest.raises(StoreError, match="store 'shop': cannot connect"),
        open_stores(pinned, sqlite_shop.connections),
    ):
        pass


PAID_ON = "ALTER TABLE payments ADD COLUMN paid_on TEXT"


def test_a_hold_anchored_on_iso_text_works_on_both_engines(store_shop: Shop) -> None:
    """paid_on holds ISO 8601 text: recent (held), nine years old (run out), with a time
    and zone, and one that is no date (held, and reported for that row)."""
    store_shop.run(PAID_ON)
    now = datetime.now().astimezone()
    values = {
        1: (now - timedelta(days=9 * 366)).date().isoformat(),
        2: (now - timedelta(days=700)).isoformat(timespec="seconds"),
        3: "last Tuesday",
    }
    for key, value in values.items():
        store_shop.run("UPDATE payments SET paid_on = %s WHERE id = %s", value, key)
    loaded = store_shop.map_with("        anchor: paid_at\n", "        anchor: paid_on\n")
    assert [f for f in lint_datamap(loaded, store_shop.connections) if f.level == "error"] == []
    with store_shop.session(loaded) as s:
        plan = s.erase(s.identities([ALICE]), dry_run=True).plan
    payments = next(tp for tp in plan.tables if tp.table.name == "payments")
    assert payments.delete == [1]
    assert [(h.hold, h.rows) for h in payments.held] == [("tax-records", 2)]
    assert [(u.key, u.hold, u.column) for u in payments.unreadable] == [
        (3, "tax-records", "paid_on")
    ]
    summary = next(t for t in plan.summary()["tables"] if t["table"] == "payments")
    assert summary["unreadable_anchors"] == [
        {"hold": "tax-records", "column": "paid_on", "rows": 1}
    ]
