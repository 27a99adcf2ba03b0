"""The request queue that runs itself: `assay dsr due` lists deadlines and expired holds,
`--erase-expired` erases held data once its hold ends without anyone naming the subject
again, and an erasure over several stores records each store and reruns only the rest."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from click.testing import CliRunner, Result

from assay.demo.shop import create_shop_sqlite
from assay.engine.cli.main import cli
from assay.evidence import open_ledger
from assay.gdpr import LoadedMap, RequestError, State, StoreError, open_session
from assay.gdpr.requests import HELD_ERASED, STORE_ERASED

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package

ALICE = ("email", "alice.example@example.com")
NOW = datetime.now().astimezone()
LATER = NOW + timedelta(days=8 * 366)  # every tax hold of the shop has run out


def erase_alice(shop: Shop, clock: datetime = NOW) -> str:
    with shop.session(clock=lambda: clock) as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids, received=clock.date())
        s.book.advance(request, State.VERIFIED, method="test")
        s.erase(ids, request_id=request.id)
    return request.id


def test_held_data_is_erased_when_its_hold_ends_without_the_identity(store_shop: Shop) -> None:
    rid = erase_alice(store_shop)
    assert store_shop.rows("SELECT count(*) FROM orders WHERE customer_id = 1") == [(2,)]
    with store_shop.session(clock=lambda: LATER) as s:
        expired = s.book.due(7).expired
        assert [r.id for r in expired] == [rid]
        assert {d["table"] for d in expired[0].expired_holds(LATER.date())} == {
            "orders",
            "order_items",
            "payments",
        }
        outcome = s.erase_expired(expired[0])
        assert outcome.residual is not None and outcome.residual.total == 0
        assert s.book.due(7).expired == []  # nothing left to wait for
        assert s.book.get(rid).deferred == []
    for table, column in (("orders", "customer_id"), ("logins", "customer_id")):
        assert store_shop.rows(f"SELECT count(*) FROM {table} WHERE {column} = 1") == [(0,)]
    assert store_shop.rows("SELECT count(*) FROM customers WHERE id = 1") == [(0,)]
    assert store_shop.rows("SELECT count(*) FROM payments WHERE id <= 3") == [(0,)]
    assert store_shop.rows("SELECT count(*) FROM customers") == [(3,)]  # nobody else's
    with open_ledger(store_shop.ledger) as ledger:
        records = [r for r in ledger.records() if r.record.get("request") == rid]
    completed = next(r.record for r in records if r.record["event"] == "completed")
    assert str(completed["held_pointer"]).startswith("aesgcm:")
    assert records[-1].record["event"] == HELD_ERASED
    assert records[-1].record["rows"] > 0 and records[-1].record["held_pointer"] is None
    for r in records:
        assert b"alice" not in r.body.lower()


def test_a_hold_still_running_is_left_alone_and_listed_again(store_shop: Shop) -> None:
    rid = erase_alice(store_shop)
    # nine years ago's order was erased at once; the two-year-old one is held until
    # five years from now, the recent one until almost seven
    soon = NOW + timedelta(days=6 * 366)
    with store_shop.session(clock=lambda: soon) as s:
        request = s.book.due(7).expired[0]
        assert request.id == rid
        s.erase_expired(request)
        left = s.book.get(rid)
    assert store_shop.rows("SELECT id FROM orders WHERE customer_id = 1") == [(3,)]
    assert {d["table"] for d in left.deferred} == {"orders", "order_items", "payments"}
    assert left.held_pointer is not None and left.expired_holds(soon.date()) == []


def test_the_pointer_opens_only_with_the_pseudonym_key(sqlite_shop: Shop, tmp_path: Path) -> None:
    rid = erase_alice(sqlite_shop)
    with open_session(
        sqlite_shop.datamap,
        ledger_url=sqlite_shop.ledger,
        key_path=tmp_path / "another.key",
        connections=sqlite_shop.connections,
        clock=lambda: LATER,
    ) as s:
        request = s.book.get(rid)
        with pytest.raises(RequestError, match="cannot be opened with this pseudonym key"):
            s.erase_expired(request)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["dsr", *args], catch_exceptions=False)


def erased_eight_years_ago(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The shop as it was eight years ago, Alice's erasure run then, so that today the
    holds of what it kept have run out; the working directory holds the ledger and key."""
    then = NOW - timedelta(days=8 * 366)
    db = tmp_path / "shop.db"
    create_shop_sqlite(db, now=then.replace(tzinfo=None))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_DB", str(db))
    monkeypatch.delenv("ASSAY_LEDGER", raising=False)
    monkeypatch.delenv("ASSAY_PSEUDONYM_KEY", raising=False)
    from assay.demo.shop import shop_datamap

    with open_session(
        shop_datamap(),
        ledger_url="sqlite:///.assay/ledger.db",
        key_path=Path(".assay/pseudonym.key"),
        connections={"shop": str(db)},
        clock=lambda: then,
    ) as s:
        ids = s.identities([ALICE])
        old = s.book.open_request("erasure", ids, received=then.date())
        s.book.advance(old, State.VERIFIED, method="test")
        s.erase(ids, request_id=old.id)
    return old.id


def test_dsr_due_lists_deadlines_erases_expired_holds_and_gates_the_nightly_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the command line: the shop as it was eight years ago, erased then, so
    today its holds have run out; and two requests, one overdue, one due in three days.
    The gate exits 1 while a request is overdue or held data is past its hold; what
    --erase-expired erased no longer counts, and a request merely due soon never does."""
    old = erased_eight_years_ago(tmp_path, monkeypatch)
    db = tmp_path / "shop.db"
    opened = []
    for days in (40, 28):
        received = (NOW - timedelta(days=days)).date().isoformat()
        res = run("new", "--type", "access", "--identity", "customer_id=2", "--datamap",
                  str(shop_datamap_path()), "--received", received)  # fmt: skip
        assert res.exit_code == 0, res.output
        opened.append(res.output.split()[0])
    overdue, soon = opened
    res = run("due", "-f", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    assert [(r["request"], r["overdue"], r["type"]) for r in doc["requests"]] == [
        (overdue, True, "access"),
        (soon, False, "access"),
    ]
    assert doc["requests"][1]["days_left"] <= 7
    assert [h["request"] for h in doc["expired_holds"]] == [old]
    assert doc["erased"] == []
    assert len(doc["needs_a_person"]) == 2 and doc["exit_code"] == 1
    assert overdue in doc["needs_a_person"][0] and soon not in doc["needs_a_person"][0]
    assert doc["needs_a_person"][1].endswith(old)

    soft = run("due", "--soft-fail")
    assert soft.exit_code == 0, soft.output
    assert f"needs a person: 1 request past the deadline: {overdue}" in soft.output
    assert "exit code 0 (--soft-fail; the gate's code is 1)" in soft.output

    res = run("due", "--erase-expired", "--datamap", str(shop_datamap_path()), "-f", "json")
    assert res.exit_code == 1, res.output  # the overdue request still needs a person
    doc = json.loads(res.stdout)
    assert [e["request"] for e in doc["erased"]] == [old]
    assert doc["erased"][0]["erased_rows"] > 0 and doc["erased"][0]["residual_rows"] == 0
    assert doc["expired_holds"] == []
    assert [overdue in r for r in doc["needs_a_person"]] == [True]
    con = sqlite3.connect(db)
    assert con.execute("SELECT count(*) FROM orders WHERE customer_id = 1").fetchone() == (0,)
    con.close()
    status = json.loads(run("status", "--all", "-f", "json").stdout)
    assert {r["request"]: r["deferred"] for r in status}[old] == []

    assert run("reject", overdue, "--reason", "sent by post instead").exit_code == 0
    res = run("due")
    assert res.exit_code == 0, res.output
    assert soon in res.output and "needs a person" not in res.output


def test_held_data_past_its_hold_fails_the_gate_until_it_is_erased(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No request is open, only held data past its hold (an erasure eight years ago):
    exit 1 without --erase-expired, 0 once it erased everything, and 0 the next night."""
    rid = erased_eight_years_ago(tmp_path, monkeypatch)
    res = run("due")
    assert res.exit_code == 1, res.output
    assert f"needs a person: held data past its hold, not erased, of 1 request: {rid}" in (
        res.output
    )
    assert f"{rid}: 2 rows of orders: hold expired: under " in res.output
    erased = run("due", "--erase-expired", "--datamap", str(shop_datamap_path()))
    assert erased.exit_code == 0, erased.output
    assert f"{rid}: erased " in erased.output and "needs a person" not in erased.output
    assert run("due").exit_code == 0


def test_held_data_an_application_writes_back_still_fails_the_gate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An application (here a trigger) puts the customer row back as soon as the expired
    hold's erasure deletes it: the erasure commits, the fresh read after it finds the row,
    and the gate exits 1 naming the request and the rows, though it erased the rest; the
    row stays listed, due at once, until a later run erases it for good."""
    rid = erased_eight_years_ago(tmp_path, monkeypatch)
    con = sqlite3.connect(tmp_path / "shop.db")
    con.execute(
        "CREATE TRIGGER write_back AFTER DELETE ON customers BEGIN"
        " INSERT INTO customers (id, email, full_name, password_hash, created_at)"
        " VALUES (OLD.id, OLD.email, OLD.full_name, OLD.password_hash, OLD.created_at); END"
    )
    con.commit()
    con.close()
    res = run("due", "--erase-expired", "--datamap", str(shop_datamap_path()), "-f", "json")
    assert res.exit_code == 1, res.output
    doc = json.loads(res.stdout)
    [erased] = doc["erased"]
    assert erased["erased_rows"] > 0 and erased["residual_rows"] == 1
    assert doc["needs_a_person"] == [
        f"data found again after its erasure (written back?), of 1 request: {rid}"
    ]
    # The next night the row is listed again, due at once, and erased if it stays gone.
    con = sqlite3.connect(tmp_path / "shop.db")
    con.execute("DROP TRIGGER write_back")
    con.commit()
    con.close()
    listed = run("due", "-f", "json")
    assert listed.exit_code == 1, listed.output
    [held] = json.loads(listed.stdout)["expired_holds"]
    assert held["request"] == rid
    assert [(h["table"], h["hold"], h["rows"]) for h in held["holds"]] == [
        ("customers", "found-again", 1)
    ]
    again = run("due", "--erase-expired", "--datamap", str(shop_datamap_path()), "-f", "json")
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["erased"][0]["erased_rows"] == 1
    assert sqlite3.connect(tmp_path / "shop.db").execute(
        "SELECT count(*) FROM customers WHERE id = 1"
    ).fetchone() == (0,)


def shop_datamap_path() -> Path:
    from assay.examples import examples_root

    return examples_root() / "shop" / "datamap.yaml"


def test_several_stores_are_recorded_one_by_one_and_a_rerun_finishes_the_rest(
    sqlite_shop: Shop, tmp_path: Path, two_stores: tuple[LoadedMap, dict[str, str]]
) -> None:
    loaded, connections = two_stores

    def session():  # type: ignore[no-untyped-def]
        return open_session(
            loaded,
            ledger_url=sqlite_shop.ledger,
            key_path=tmp_path / "key",
            connections=connections,
        )

    with session() as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        order = list(s.erase(ids, request_id=request.id, dry_run=True).stores())
    first, second = order
    blocker = sqlite3.connect(connections[second], isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with session() as s, pytest.raises(StoreError, match="lock timeout"):
            s.erase(ids, request_id=request.id, lock_timeout=0.2)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    with session() as s:
        assert list(s.book.get(request.id).stores_done) == [first]
        planned = s.erase(ids, request_id=request.id, dry_run=True)
        assert planned.stores()[first].startswith("erased earlier (")
        assert planned.stores()[second] == "to erase"
        done = s.erase(ids, request_id=request.id)
    assert done.result is not None and {st.store for st in done.result.statements} == {second}
    assert done.request is not None and done.request.state == State.COMPLETED
    with open_ledger(sqlite_shop.ledger) as ledger:
        stored = [r.record for r in ledger.records() if r.record["event"] == STORE_ERASED]
    assert [r["store"] for r in stored] == [first, second]
