"""Rows that name two people: erasing one never touches the other's columns, and an access
package withholds them (Art. 15(4) GDPR). A worked example, then a property over random
small schemas, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import sqlite3
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assay.gdpr import Session, State, open_session, parse_datamap
from assay.gdpr.execute import execute_erasure
from assay.gdpr.plan import plan_erasure
from assay.gdpr.traverse import find_subject, reading

HELPDESK_SCHEMA = """
CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL);
CREATE TABLE tickets (id INTEGER PRIMARY KEY, requester_email TEXT NOT NULL,
    requester_name TEXT, cc_email TEXT, cc_name TEXT, subject TEXT NOT NULL);
CREATE TABLE transfers (id INTEGER PRIMARY KEY,
    payer_id INTEGER NOT NULL REFERENCES customers (id),
    payee_id INTEGER NOT NULL REFERENCES customers (id),
    payer_note TEXT, payee_note TEXT, amount_cents INTEGER NOT NULL);
CREATE TABLE ticket_messages (id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets (id), author_email TEXT, body TEXT);
INSERT INTO customers VALUES (1, 'Alice@Example.com', 'Alice'), (2, 'bob@example.com', 'Bob'),
    (3, 'carol@example.com', 'Carol');
INSERT INTO tickets VALUES
    (1, 'alice@example.com', 'Alice', NULL, NULL, 'Refund'),
    (2, 'ALICE@example.com', 'Alice', 'bob@example.com', 'Bob', 'Shared order'),
    (3, 'bob@example.com', 'Bob', 'alice@EXAMPLE.com', 'Alice', 'Gift for Alice'),
    (4, 'carol@example.com', 'Carol', 'bob@example.com', 'Bob', 'Not Alice''s');
INSERT INTO transfers VALUES (1, 1, 2, 'rent share', 'thanks', 1000),
    (2, 2, 1, 'dinner', 'received', 2000), (3, 1, 1, 'own savings', 'own', 300),
    (4, 2, 3, 'bob to carol', 'carol got it', 400);
INSERT INTO ticket_messages VALUES (1, 1, 'alice@example.com', 'Where is my refund?'),
    (2, 2, 'alice@example.com', 'Our order is late'), (3, 2, 'bob@example.com', 'Mine too'),
    (4, 4, 'carol@example.com', 'Hello');
"""

HELPDESK_MAP = """
datamap: 1
stores: {desk: {dsn_env: DESK_DB}}
identities: {email: {normalize: email}, customer_id: {normalize: integer}}
tables:
  customers:
    role: subject
    columns:
      id: {identity: customer_id}
      email: {category: contact, identity: email, erase: tombstone}
      name: {category: identity, erase: mask, mask: "***"}
  tickets:
    role: owned
    columns:
      requester_email: {category: contact, identity: email, erase: tombstone}
      requester_name: {category: identity, about: requester_email, erase: "null"}
      cc_email: {category: contact, identity: email, erase: "null"}
      cc_name: {category: identity, about: cc_email, erase: "null"}
      subject: {category: communication}
  transfers:
    role: owned
    columns:
      payer_id: {}
      payee_id: {}
      payer_note: {category: financial, about: payer_id, erase: "null"}
      payee_note: {category: financial, about: payee_id, erase: "null"}
      amount_cents: {category: financial}
  ticket_messages:
    role: owned
    columns:
      ticket_id: {}
      author_email: {category: contact, identity: email, erase: "null"}
      body: {category: communication, about: author_email, erase: "null"}
relations:
  - {from: transfers.payer_id, to: customers.id}
  - {from: transfers.payee_id, to: customers.id}
  - {from: ticket_messages.ticket_id, to: tickets.id}
"""

ALICE = ("email", "alice@example.com")


def dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for n in names}
    finally:
        con.close()


@contextmanager
def helpdesk(tmp: Path) -> Iterator[Session]:
    db = tmp / "desk.db"
    con = sqlite3.connect(db)
    con.executescript(HELPDESK_SCHEMA)
    con.close()
    with open_session(
        parse_datamap(HELPDESK_MAP, "helpdesk.yaml"),
        ledger_url=f"sqlite:///{tmp / 'ledger.db'}",
        key_path=tmp / "key",
        connections={"desk": str(db)},
    ) as s:
        yield s


def erase_directly(s: Session, identity: tuple[str, str]) -> None:
    """Plan and execute without the ledger: what the property needs, nothing more."""
    ids = s.identities([identity])
    with reading(s.stores):
        snap = find_subject(s.resolved, s.stores, ids)
        plan = plan_erasure(s.resolved, s.stores, snap, s.clock())
    execute_erasure(plan, s.stores, hash_key=s.hash_key)


def test_the_plan_says_per_row_which_columns_change_and_why(tmp_path: Path) -> None:
    with helpdesk(tmp_path) as s:
        plan = s.erase(s.identities([ALICE]), dry_run=True).plan
    rows = {(d["table"], d["key"]): d for d in plan.decisions()}
    assert {k: (d["action"], tuple(d["columns"])) for k, d in rows.items()} == {
        ("tickets", 1): ("delete", ()),
        ("tickets", 2): ("update", ("requester_email", "requester_name")),
        ("tickets", 3): ("update", ("cc_email", "cc_name")),
        ("transfers", 1): ("update", ("payer_note",)),
        ("transfers", 2): ("update", ("payee_note",)),
        ("transfers", 3): ("delete", ()),
        ("ticket_messages", 1): ("delete", ()),
        ("ticket_messages", 2): ("update", ("author_email", "body")),
        ("ticket_messages", 3): ("keep", ()),
        ("customers", 1): ("update", ("email", "name")),
    }
    assert rows[("tickets", 2)]["why"] == "also names another person (cc_email)"
    assert rows[("transfers", 1)]["why"] == "also names another person (payee_id)"
    # a message of a shared ticket belongs to the ticket's people too
    assert rows[("ticket_messages", 3)]["why"] == (
        "also names another person (author_email; ticket_id)"
    )
    tickets = next(t for t in plan.summary()["tables"] if t["table"] == "tickets")
    assert sorted((k["reason"], k["detail"], k["rows"]) for k in tickets["kept"]) == [
        ("others", "also names another person (cc_email)", 1),
        ("others", "also names another person (requester_email)", 1),
    ]


def test_erasing_one_person_leaves_the_other_persons_columns_alone(tmp_path: Path) -> None:
    with helpdesk(tmp_path) as s:
        before = dump(tmp_path / "desk.db")
        erase_directly(s, ALICE)
    after = dump(tmp_path / "desk.db")
    assert after["tickets"] == [
        (2, "erased-2@invalid", None, "bob@example.com", "Bob", "Shared order"),
        (3, "bob@example.com", "Bob", None, None, "Gift for Alice"),
        before["tickets"][3],
    ]
    assert after["transfers"] == [
        (1, 1, 2, None, "thanks", 1000),
        (2, 2, 1, "dinner", None, 2000),
        before["transfers"][3],
    ]
    assert after["ticket_messages"] == [
        (2, 2, None, None),
        before["ticket_messages"][2],
        before["ticket_messages"][3],
    ]
    assert after["customers"] == [(1, "erased-1@invalid", "***"), *before["customers"][1:]]


def test_access_withholds_the_other_persons_columns_and_says_why(tmp_path: Path) -> None:
    with helpdesk(tmp_path) as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("access", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        outcome = s.access(ids, tmp_path / "alice.zip", request_id=request.id)
    with zipfile.ZipFile(outcome.result.path) as z:
        data = json.loads(z.read("data.json"))
        manifest = json.loads(z.read("manifest.json"))
    tickets = {t["record"]["id"]: t for t in data["tables"]["tickets"]}
    assert tickets[2]["contact"] == {"requester_email": "ALICE@example.com", "cc_email": None}
    assert tickets[2]["identity"] == {"requester_name": "Alice", "cc_name": None}
    assert tickets[3]["contact"] == {"requester_email": None, "cc_email": "alice@EXAMPLE.com"}
    transfers = {t["record"]["id"]: t for t in data["tables"]["transfers"]}
    assert transfers[1]["financial"] == {
        "payer_note": "rent share",
        "payee_note": None,
        "amount_cents": 1000,
    }
    assert transfers[1]["record"]["payee_id"] is None
    withheld = {w["column"]: w for w in manifest["withheld"]}
    assert withheld["tickets.cc_email"]["rows"] == 1
    assert withheld["tickets.requester_email"]["rows"] == 1
    assert "Art. 15(4)" in withheld["transfers.payee_note"]["reason"]
    assert "bob" not in json.dumps(data).lower()


# -- the property: random small schemas, two subjects sharing rows -----------------------

PEOPLE = {"alice": 1, "bob": 2, "carol": 3}
STRATEGIES = ["null", "mask", "hash", "tombstone"]


@dataclass(frozen=True)
class PartySpec:
    kind: str  # "email": an identity column; "ref": a relation to customers
    strategy: str  # of the e-mail column
    bound: tuple[str, ...]  # strategies of the columns about this party


@dataclass(frozen=True)
class TableSpec:
    parties: tuple[PartySpec, ...]
    note: str  # strategy of a column about nobody in particular
    rows: tuple[tuple[str | None, ...], ...]  # per row, the person each party names


def party_specs() -> st.SearchStrategy[PartySpec]:
    return st.builds(
        PartySpec,
        st.sampled_from(["email", "ref"]),
        st.sampled_from(STRATEGIES),
        st.lists(st.sampled_from(["null", "mask", "hash", "delete_row"]), max_size=2).map(tuple),
    )


@st.composite
def table_specs(draw: st.DrawFn) -> TableSpec:
    parties = tuple(draw(st.lists(party_specs(), min_size=2, max_size=3)))
    person = st.sampled_from([*PEOPLE, None])
    rows = draw(st.lists(st.tuples(*[person for _ in parties]), min_size=1, max_size=5).map(tuple))
    return TableSpec(parties, draw(st.sampled_from(["null", "mask", "delete_row"])), rows)


def schema_for(tables: list[TableSpec], casing: int) -> tuple[list[str], str]:
    """SQL statements and the data map for `tables` (t0, t1, ...), with the people's rows."""
    sql = [
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, "
        "name TEXT NOT NULL)",
        *(
            f"INSERT INTO customers VALUES ({i}, '{p}@example.com', '{p.title()}')"
            for p, i in PEOPLE.items()
        ),
    ]
    dm = [
        "datamap: 1",
        "stores: {db: {dsn_env: DB}}",
        "identities: {email: {normalize: email}}",
        "tables:",
        "  customers:",
        "    role: subject",
        "    columns:",
        "      email: {category: contact, identity: email, erase: tombstone}",
        "      name: {category: identity, erase: mask, mask: '***'}",
    ]
    relations = []
    for t, spec in enumerate(tables):
        cols = ["id INTEGER PRIMARY KEY"]
        dm += [f"  t{t}:", "    role: owned", "    columns:"]
        for p, party in enumerate(spec.parties):
            lead = f"p{p}"
            if party.kind == "email":
                cols.append(f"{lead} TEXT")
                erase = _erase(party.strategy)
                dm.append(f"      {lead}: {{category: contact, identity: email, {erase}}}")
            else:
                cols.append(f"{lead} INTEGER REFERENCES customers (id)")
                dm.append(f"      {lead}: {{}}")
                relations.append(f"  - {{from: t{t}.{lead}, to: customers.id}}")
            for b, strategy in enumerate(party.bound):
                cols.append(f"{lead}_b{b} TEXT")
                dm.append(
                    f"      {lead}_b{b}: {{category: identity, about: {lead}, {_erase(strategy)}}}"
                )
        cols.append("note TEXT")
        dm.append(f"      note: {{category: communication, {_erase(spec.note)}}}")
        sql.append(f"CREATE TABLE t{t} ({', '.join(cols)})")
        for r, people in enumerate(spec.rows):
            values = [str(r + 1)]
            for p, (party, who) in enumerate(zip(spec.parties, people, strict=True)):
                if who is None:
                    values.append("NULL")
                elif party.kind == "email":
                    address = f"{who}@example.com"
                    values.append(f"'{address.upper() if (casing + r + p) % 3 == 0 else address}'")
                else:
                    values.append(str(PEOPLE[who]))
                values += [
                    f"'{who or 'nobody'} {p}.{b} in row {r + 1}'" for b in range(len(party.bound))
                ]
            values.append(f"'note {r + 1}'")
            sql.append(f"INSERT INTO t{t} VALUES ({', '.join(values)})")
    if relations:
        dm += ["relations:", *relations]
    return sql, "\n".join(dm) + "\n"


def _erase(strategy: str) -> str:
    if strategy == "mask":
        return "erase: mask, mask: '{first:1}***'"
    return f'erase: "{strategy}"' if strategy == "null" else f"erase: {strategy}"


def untouched_by_alice(tables: list[TableSpec]) -> dict[str, dict[int, dict[int, str | None]]]:
    """Per table and row, the columns (by position) bound to anyone but Alice."""
    out: dict[str, dict[int, dict[int, str | None]]] = {}
    for t, spec in enumerate(tables):
        for r, people in enumerate(spec.rows):
            pos = 1
            for party, who in zip(spec.parties, people, strict=True):
                width = 1 + len(party.bound)
                if who not in (None, "alice"):
                    for i in range(pos, pos + width):
                        out.setdefault(f"t{t}", {}).setdefault(r + 1, {})[i] = who
                pos += width
    return out


def check_property(tables: list[TableSpec], casing: int, rows_of: Any, load: Any) -> None:
    statements, datamap = schema_for(tables, casing)
    with load(statements, datamap) as s:
        before = rows_of()
        erase_directly(s, ("email", "Alice@Example.com"))
        after = rows_of()
    for name in before:
        if name == "customers":  # Bob's and Carol's rows
            assert [r for r in after[name] if r[0] != 1] == before[name][1:]
            continue
        old = {row[0]: row for row in before[name]}
        new = {row[0]: row for row in after[name]}
        for r, cols in untouched_by_alice(tables).get(name, {}).items():
            assert r in new, f"{name} row {r} names {set(cols.values())} but was deleted"
            for i in cols:
                assert new[r][i] == old[r][i], f"{name} row {r} column {i} changed"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(table_specs(), min_size=1, max_size=3), st.integers(0, 2))
def test_erasing_one_subject_never_changes_a_column_bound_to_another_on_sqlite(
    tables: list[TableSpec], casing: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "db.sqlite"

        @contextmanager
        def load(statements: list[str], datamap: str) -> Iterator[Session]:
            con = sqlite3.connect(db)
            for q in statements:
                con.execute(q)
            con.commit()
            con.close()
            with open_session(
                parse_datamap(datamap, "random.yaml"),
                ledger_url=f"sqlite:///{tmp}/ledger.db",
                key_path=Path(tmp) / "key",
                connections={"db": str(db)},
            ) as s:
                yield s

        check_property(tables, casing, lambda: dump(db), load)


@pytest.mark.integration
def test_erasing_one_subject_never_changes_a_column_bound_to_another_on_postgresql(
    pg_dsn: str, tmp_path: Path
) -> None:
    def rows_of() -> dict[str, list[tuple[Any, ...]]]:
        with psycopg.connect(pg_dsn) as con:
            names = [
                r[0]
                for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            ]
            return {n: con.execute(f'SELECT * FROM "{n}" ORDER BY 1').fetchall() for n in names}

    @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(table_specs(), min_size=1, max_size=3), st.integers(0, 2))
    def run(tables: list[TableSpec], casing: int) -> None:
        @contextmanager
        def load(statements: list[str], datamap: str) -> Iterator[Session]:
            with psycopg.connect(pg_dsn, autocommit=True) as con:
                con.execute("DROP SCHEMA public CASCADE")
                con.execute("CREATE SCHEMA public")
                for q in statements:
                    con.execute(q.encode())
            with open_session(
                parse_datamap(datamap, "random.yaml"),
                ledger_url=f"sqlite:///{tmp_path}/ledger.db",
                key_path=tmp_path / "key",
                connections={"db": pg_dsn},
            ) as s:
                yield s

        check_property(tables, casing, rows_of, load)

    run()
