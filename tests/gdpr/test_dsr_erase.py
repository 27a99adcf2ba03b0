"""Erasure: the plan, the dry run that writes nothing, execution, verification, idempotency.

Every test runs on SQLite and PostgreSQL, with the schema's constraints declared and with
none declared (relations from the data map only): the plan must be the same.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from assay.evidence import open_ledger, verify
from assay.gdpr import (
    ConflictError,
    LoadedMap,
    ResidualDataError,
    State,
    StoreError,
    open_session,
    parse_datamap,
)
from assay.gdpr.execute import execute_erasure
from assay.gdpr.plan import plan_erasure
from assay.gdpr.traverse import find_subject, reading

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package

ALICE = ("email", "  ALICE.Example@EXAMPLE.com ")  # as typed in a request form

EXPECTED = {  # table: (found, delete, rows erased in place, kept)
    "logins": (3, 3, 0, 0),
    "order_items": (4, 2, 0, 2),
    "payments": (3, 1, 2, 2),
    "support_tickets": (2, 2, 0, 0),
    "orders": (3, 1, 1, 2),
    "products": (2, 0, 0, 2),
    "customers": (1, 0, 1, 1),
    "addresses": (2, 1, 0, 1),
}


def kept(table: dict[str, object]) -> int:
    return sum(k["rows"] for k in table["kept"])  # type: ignore[attr-defined,index]


def verified_request(session: object, kind: str = "erasure") -> str:
    ids = session.identities([ALICE])  # type: ignore[attr-defined]
    book = session.book  # type: ignore[attr-defined]
    request = book.open_request(kind, ids)
    book.advance(request, State.VERIFIED, method="test")
    return str(request.id)


def test_dry_run_plans_every_row_and_writes_nothing(shop: Shop) -> None:
    before = shop.fingerprint()
    with shop.session() as s:
        ids = s.identities([ALICE])
        outcome = s.erase(ids, request_id=verified_request(s), dry_run=True)
    assert shop.fingerprint() == before
    summary = outcome.plan.summary()
    got = {
        t["table"]: (
            t["found"],
            t["delete"],
            t["update"]["rows"],
            sum(k["rows"] for k in t["kept"]),
        )
        for t in summary["tables"]
    }
    assert got == EXPECTED
    tables = [t["table"] for t in summary["tables"]]
    # referencing tables come before the tables they reference
    assert tables.index("order_items") < tables.index("orders") < tables.index("customers")
    assert tables.index("customers") < tables.index("addresses")
    customers = next(t for t in summary["tables"] if t["table"] == "customers")
    assert {c: v["strategy"] for c, v in customers["update"]["columns"].items()} == {
        "email": "tombstone",
        "full_name": "mask",
        "phone": "null",
        "birth_date": "null",
        "password_hash": "mask",
    }
    assert customers["kept"][0]["reason"] == "hold"
    addresses = next(t for t in summary["tables"] if t["table"] == "addresses")
    assert addresses["kept"][0]["reason"] == "shared"
    held = {t["table"]: t["held"] for t in summary["tables"] if t["held"]}
    assert set(held) == {"orders", "order_items", "payments"}
    assert all(
        h["hold"] == "tax-records" and "Art. 17(3)(b)" in h["basis"]
        for v in held.values()
        for h in v
    )


def test_erasure_executes_verifies_and_records_evidence_without_identities(shop: Shop) -> None:
    bob = shop.rows("SELECT * FROM customers WHERE id = 2")
    with shop.session() as s:
        ids = s.identities([ALICE])
        rid = verified_request(s)
        outcome = s.erase(ids, request_id=rid)
    assert outcome.result is not None and outcome.result.rows == 14
    assert outcome.residual is not None and outcome.residual.total == 0
    assert outcome.request is not None and outcome.request.state == State.COMPLETED
    # the subject row stays (held orders reference it) but holds nothing personal
    assert shop.rows(
        "SELECT email, full_name, phone, birth_date, password_hash FROM customers WHERE id = 1"
    ) == [("erased-1@invalid", "A***", None, None, "!erased")]
    assert shop.rows("SELECT * FROM customers WHERE id = 2") == bob
    assert [r[0] for r in shop.rows("SELECT id FROM addresses ORDER BY id")] == [1, 3, 4]
    assert shop.rows("SELECT id, gift_message FROM orders WHERE customer_id = 1 ORDER BY id") == [
        (2, None),
        (3, None),
    ]
    assert shop.rows("SELECT id, billing_name, card_last4 FROM payments WHERE id <= 3") == [
        (2, "Alice Example", None),
        (3, "Alice Example", None),
    ]
    assert shop.rows("SELECT count(*) FROM logins WHERE customer_id = 1") == [(0,)]
    assert [r[0] for r in shop.rows("SELECT id FROM support_tickets")] == [3]
    assert [r[0] for r in shop.rows("SELECT id FROM order_items ORDER BY id")] == [3, 4, 5, 6]
    with open_ledger(shop.ledger) as ledger:
        records = list(ledger.records())
        assert verify(ledger.records()).ok
    events = [r.record["event"] for r in records if r.record["kind"] == "dsr"]
    assert events == ["received", "verified", "planned", "executed", "completed"]
    for r in records:
        body = r.body.lower()
        assert b"alice" not in body and b"example.com" not in body
    completed = records[-1].record
    assert set(completed["residual"].values()) == {0}
    assert {d["table"] for d in completed["deferred"]} == {"orders", "order_items", "payments"}
    executed = records[-2].record
    deletes = [s for s in executed["statements"] if s["action"] == "delete"]
    assert len(deletes) == len({s["table"] for s in deletes})  # one DELETE per table, set-based


def test_rerunning_a_completed_erasure_is_a_noop_that_says_so(store_shop: Shop) -> None:
    with store_shop.session() as s:
        ids = s.identities([ALICE])
        rid = verified_request(s)
        s.erase(ids, request_id=rid)
        after = store_shop.fingerprint()
        again = s.erase(ids, request_id=rid)
    assert again.result is None and "completed already" in again.note
    assert store_shop.fingerprint() == after


def test_a_second_erasure_request_finds_nothing_left_or_only_held_data(
    store_shop: Shop,
) -> None:
    with store_shop.session() as s:
        by_email = s.identities([ALICE])
        by_id = s.identities([("customer_id", "1")])
        first = s.book.open_request("erasure", by_email + by_id)
        s.book.advance(first, State.VERIFIED, method="test")
        s.erase(by_email, request_id=first.id)
        after = store_shop.content()
        # the e-mail address is gone: nothing is found, the request completes as a no-op
        second = s.book.open_request("erasure", by_email)
        s.book.advance(second, State.VERIFIED, method="test")
        outcome = s.erase(by_email, request_id=second.id)
        assert outcome.plan.erasable == 0 and outcome.plan.snapshot.rows == 0
        assert outcome.request is not None and outcome.request.state == State.COMPLETED
        assert "nothing erasable" in outcome.note
        # by customer id the kept row is found, but all that is left is under the tax hold
        third = s.book.open_request("erasure", by_id)
        s.book.advance(third, State.VERIFIED, method="test")
        held = s.erase(by_id, request_id=third.id)
    assert held.plan.erasable == 0
    assert held.request is not None and held.request.state == State.REJECTED
    assert held.request.reason is not None and "legal hold" in held.request.reason
    assert "tax-records" in held.request.reason
    assert store_shop.content() == after


def test_held_rows_are_erased_once_the_hold_has_expired(store_shop: Shop) -> None:
    later = datetime.now().astimezone() + timedelta(days=8 * 366)
    with store_shop.session(clock=lambda: later) as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids, received=later.date())
        s.book.advance(request, State.VERIFIED, method="test")
        outcome = s.erase(ids, request_id=request.id)
    assert outcome.residual is not None and outcome.residual.total == 0
    assert store_shop.rows("SELECT count(*) FROM customers WHERE id = 1") == [(0,)]
    assert store_shop.rows("SELECT count(*) FROM orders WHERE customer_id = 1") == [(0,)]
    # the address Bob still lives at stays; Alice's old one goes
    assert [r[0] for r in store_shop.rows("SELECT id FROM addresses ORDER BY id")] == [1, 3, 4]


def test_a_count_that_differs_from_the_plan_rolls_everything_back(store_shop: Shop) -> None:
    with store_shop.session() as s:
        ids = s.identities([ALICE])
        with reading(s.stores):
            snap = find_subject(s.resolved, s.stores, ids)
            plan = plan_erasure(s.resolved, s.stores, snap, s.clock())
        # someone deletes one of the planned rows between planning and execution
        store_shop.run("DELETE FROM logins WHERE id = 3")
        before = store_shop.content()
        with pytest.raises(ConflictError, match="logins: delete affected 2 row"):
            execute_erasure(plan, s.stores, hash_key=s.hash_key)
    assert store_shop.content() == before


def test_foreign_keys_alone_are_enough_to_plan(store_shop: Shop) -> None:
    text = store_shop.map_text()
    fk_map = parse_datamap(text[: text.index("# Relations a database")], "fk-only.yaml")
    assert not fk_map.datamap.relations
    with store_shop.session() as s:
        with_map = s.erase(s.identities([ALICE]), dry_run=True).plan
    with store_shop.session(fk_map) as s:
        fk_only = s.erase(s.identities([ALICE]), dry_run=True).plan
    assert fk_only.summary() == with_map.summary()
    assert fk_only.digest() == with_map.digest()


def test_each_store_is_erased_in_its_own_transaction(
    sqlite_shop: Shop, tmp_path: Path, two_stores: tuple[LoadedMap, dict[str, str]]
) -> None:
    loaded, connections = two_stores
    with open_session(
        loaded, ledger_url=sqlite_shop.ledger, key_path=tmp_path / "key", connections=connections
    ) as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        outcome = s.erase(ids, request_id=request.id)
    assert outcome.result is not None and outcome.residual is not None
    assert {st.store for st in outcome.result.statements} == {"shop", "helpdesk"}
    assert outcome.residual.total == 0
    con = sqlite3.connect(connections["helpdesk"])
    assert con.execute("SELECT id FROM support_tickets").fetchall() == [(3,)]
    con.close()


def test_lock_and_statement_timeouts_stop_the_erasure_and_roll_back(store_shop: Shop) -> None:
    before = store_shop.content()
    with store_shop.session() as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        if store_shop.kind == "sqlite":
            blocker = sqlite3.connect(store_shop.dsn, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")
        else:
            blocker = psycopg.connect(store_shop.dsn)
            blocker.execute("SELECT * FROM addresses WHERE id = 2 FOR UPDATE")
        try:
            with pytest.raises(StoreError, match="lock timeout"):
                s.erase(ids, request_id=request.id, lock_timeout=0.2)
        finally:
            blocker.rollback()
            blocker.close()
        if store_shop.kind == "sqlite":
            store_shop.run("CREATE TABLE slow (n INTEGER)")
            store_shop.run(
                "INSERT INTO slow WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 "
                "FROM c WHERE x < 1000) SELECT x FROM c"
            )
            store_shop.run(
                "CREATE TRIGGER slow_delete BEFORE DELETE ON addresses BEGIN "
                "SELECT count(*) FROM slow a, slow b, slow c; END"
            )
        else:
            store_shop.run(
                "CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN PERFORM pg_sleep(10); RETURN OLD; END $$"
            )
            store_shop.run(
                "CREATE TRIGGER slow_delete BEFORE DELETE ON addresses "
                "FOR EACH ROW EXECUTE FUNCTION slow()"
            )
        with pytest.raises(StoreError, match="statement timeout"):
            s.erase(ids, request_id=request.id, statement_timeout=0.3)
        assert s.book.get(request.id).state == State.PLANNED
    after = store_shop.content()
    after.pop("slow", None)
    assert after == before


def test_data_written_back_during_the_erasure_is_found_and_erased_again(
    sqlite_shop: Shop,
) -> None:
    # an application trigger writes a new login for Alice while her tickets are deleted
    sqlite_shop.run(
        "CREATE TRIGGER relog AFTER DELETE ON support_tickets WHEN OLD.id = 1 BEGIN "
        "INSERT INTO logins VALUES (99, 1, '203.0.113.9', 'curl', '2030-01-01 00:00:00'); END"
    )
    with sqlite_shop.session() as s:
        ids = s.identities([ALICE])
        outcome = s.erase(ids, request_id=verified_request(s))
    assert outcome.residual is not None and outcome.residual.total == 0
    assert sqlite_shop.rows("SELECT count(*) FROM logins WHERE customer_id = 1") == [(0,)]
    with open_ledger(sqlite_shop.ledger) as ledger:
        records = [r.record for r in ledger.records()]
    assert [r["event"] for r in records][-4:] == ["executed", "residual", "executed", "completed"]
    assert records[-3]["residual"]["logins"] == 1


def test_data_that_keeps_coming_back_fails_the_verification(sqlite_shop: Shop) -> None:
    sqlite_shop.run(
        "CREATE TRIGGER relog AFTER DELETE ON logins WHEN OLD.customer_id = 1 BEGIN "
        "INSERT INTO logins VALUES (OLD.id + 100, 1, '203.0.113.9', 'curl', '2030-01-01'); END"
    )
    with sqlite_shop.session() as s:
        ids = s.identities([ALICE, ("customer_id", "1")])
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        with pytest.raises(ResidualDataError, match=r"still finds erasable rows: \{'logins': 3\}"):
            s.erase(s.identities([ALICE]), request_id=request.id)
        assert s.book.get(request.id).state == State.EXECUTED
        sqlite_shop.run("DROP TRIGGER relog")
        # the e-mail address is erased by now: the customer id still finds the rest
        again = s.erase(s.identities([("customer_id", "1")]), request_id=request.id)
    assert again.residual is not None and again.residual.total == 0
    assert sqlite_shop.rows("SELECT count(*) FROM logins WHERE customer_id = 1") == [(0,)]
