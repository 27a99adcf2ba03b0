"""Rectification: rectifiable columns only, values checked against the live column, conflicts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from assay.evidence import open_ledger
from assay.gdpr import ConflictError, GdprError, State, parse_assignment
from assay.gdpr.rectify import apply_rectification, plan_rectification
from assay.gdpr.traverse import find_subject, reading

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package

ALICE = ("email", "  ALICE.Example@EXAMPLE.com ")  # as typed in a request form


def test_rectification_updates_the_subjects_rows_and_records_digests_only(
    store_shop: Shop,
) -> None:
    with store_shop.session() as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("rectification", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        sets = [
            parse_assignment("customers.full_name=Alice Q. Example", s.resolved),
            parse_assignment("customers.birth_date=1971-02-03", s.resolved),
            parse_assignment("orders.gift_message", s.resolved, clear=True),
        ]
        outcome = s.rectify(ids, sets, request_id=request.id)
    assert outcome.applied == {"customers": 1, "orders": 3}
    assert outcome.request is not None and outcome.request.state == State.COMPLETED
    rows = store_shop.rows("SELECT full_name, birth_date FROM customers WHERE id = 1")
    assert rows[0][0] == "Alice Q. Example" and str(rows[0][1]) == "1971-02-03"
    assert store_shop.rows("SELECT count(*) FROM orders WHERE gift_message IS NOT NULL") == [(1,)]
    with open_ledger(store_shop.ledger) as ledger:
        records = [r for r in ledger.records()]
    executed = next(r.record for r in records if r.record.get("event") == "executed")
    names = {c["column"]: c for c in executed["changes"]}
    assert names["full_name"]["new"].startswith("hmac-sha256:")
    assert all(len(c["old"]) >= 1 for c in executed["changes"])
    for r in records:
        assert b"Alice Q." not in r.body and b"Alice Example" not in r.body
        assert b"1971-02-03" not in r.body


@pytest.mark.parametrize(
    ("assignment", "clear", "message"),
    [
        ("customers.created_at=2020-01-01", False, "not rectifiable; rectifiable here"),
        ("addresses.street=1 New St", False, "not rectifiable"),
        ("customers.birth_date=31/02/1970", False, "invalid value"),
        ("customers.full_name", True, "NOT NULL: it cannot be cleared"),
        ("customers.email=bob@example.com", False, "another row already holds that value"),
        ("nosuch.column=1", False, "naming a table of the data map"),
        ("customers.full_name", False, "expected --set TABLE.COLUMN=VALUE"),
    ],
)
def test_invalid_changes_are_refused_before_anything_is_written(
    sqlite_shop: Shop, assignment: str, clear: bool, message: str
) -> None:
    before = sqlite_shop.fingerprint()
    with sqlite_shop.session() as s, pytest.raises(GdprError, match=message):
        ids = s.identities([ALICE])
        s.rectify(ids, [parse_assignment(assignment, s.resolved, clear=clear)], dry_run=True)
    assert sqlite_shop.fingerprint() == before


def test_a_value_changed_since_planning_is_a_conflict_and_nothing_is_written(
    store_shop: Shop,
) -> None:
    with store_shop.session() as s:
        ids = s.identities([ALICE])
        with reading(s.stores):
            snap = find_subject(s.resolved, s.stores, ids)
            changes = plan_rectification(
                s.resolved, s.stores, snap, [parse_assignment("customers.phone=+1 555", s.resolved)]
            )
        store_shop.run("UPDATE customers SET phone = '+44 1' WHERE id = 1")
        with pytest.raises(ConflictError, match="changed since the rectification was planned"):
            apply_rectification(changes, s.stores)
    assert store_shop.rows("SELECT phone FROM customers WHERE id = 1") == [("+44 1",)]
