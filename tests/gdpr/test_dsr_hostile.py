"""Hostile identities and hostile names: values stay parameters, names stay identifiers."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from assay.gdpr import IdentityError, State, open_session, parse_datamap

HOSTILE_EMAILS = [
    "x');DROP/**/TABLE/**/customers;--@example.com",
    "\";DELETE/**/FROM/**/orders/**/WHERE/**/''='@example.com",
    "%s%%'--@example.com",
    "robert@example.com'OR'1'='1",
    "alice.example@example.com\u202e",
]

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package


def test_hostile_identities_find_nobody_and_change_nothing(store_shop: Shop) -> None:
    before = store_shop.content()
    with store_shop.session() as s:
        for email in HOSTILE_EMAILS:
            ids = s.identities([("email", email)])
            outcome = s.erase(ids, dry_run=True)
            assert outcome.plan.snapshot.rows == 0, email
    assert store_shop.content() == before


def test_quotes_and_non_ascii_in_real_addresses_are_found(store_shop: Shop) -> None:
    with store_shop.session() as s:
        sean = s.find(s.identities([("email", " SEAN.O'BRIEN@example.com")]))
        zoe = s.find(s.identities([("email", "ZOË@EXAMPLE.COM")]))
    assert list(sean.found["customers"].rows) == [4]
    assert list(zoe.found["customers"].rows) == [3]
    assert list(zoe.found["support_tickets"].rows) == [3]


@pytest.mark.parametrize(
    ("kind", "value", "message"),
    [
        ("email", "alice\x00@example.com", "control characters"),
        ("email", "no-at-sign", "expected one e-mail address"),
        ("email", "   ", "empty value"),
        ("customer_id", "1 OR 1=1", "expected a whole number"),
        ("customer_id", str(2**63), "64-bit"),
        ("phone", "123", "unknown identity type 'phone'"),
    ],
)
def test_malformed_identities_are_refused_without_echoing_them(
    sqlite_shop: Shop, kind: str, value: str, message: str
) -> None:
    with sqlite_shop.session() as s, pytest.raises(IdentityError, match=message) as info:
        s.identities([(kind, value)])
    if value.strip():
        assert value not in str(info.value)


SCHEMA = "Shop %s ü"
KUNDEN = 'Kunden "VIP" 100%'
BESTELLUNGEN = "Bestell'ungen"
WEIRD_SQL = [
    'CREATE TABLE "Kunden ""VIP"" 100%" (id INTEGER PRIMARY KEY, '
    '"E-Mail Adresse" TEXT NOT NULL, "na;me" TEXT)',
    'CREATE INDEX k_mail ON "Kunden ""VIP"" 100%" (lower("E-Mail Adresse"))',
    'CREATE TABLE "Bestell\'ungen" (id INTEGER PRIMARY KEY, '
    '"kunde id" INTEGER REFERENCES "Kunden ""VIP"" 100%" (id), "notiz %s" TEXT)',
    'CREATE INDEX b_k ON "Bestell\'ungen" ("kunde id")',
    'INSERT INTO "Kunden ""VIP"" 100%" VALUES (1, \'Ann@X.org\', \'Ann\'), '
    "(2, 'bob@x.org', 'Bob')",
    "INSERT INTO \"Bestell'ungen\" VALUES (1, 1, 'n1'), (2, 2, 'n2')",
]
WEIRD_MAP = """\
datamap: 1
stores:
  s: {kind: KIND, dsn_env: WEIRD_DSN, schema: "Shop %s ü"}
identities:
  email: {normalize: email}
tables:
  'Kunden "VIP" 100%':
    role: subject
    columns:
      'E-Mail Adresse': {category: contact, identity: email, erase: tombstone}
      'na;me': {category: identity, erase: mask, mask: "#"}
  "Bestell'ungen":
    role: owned
    columns:
      'notiz %s': {category: communication}
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def weird(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        path = tmp_path / "weird.db"
        con = sqlite3.connect(path)
        for statement in WEIRD_SQL:
            con.execute(statement)
        con.commit()
        con.close()
        return "sqlite", str(path)
    dsn = request.getfixturevalue("pg_dsn")
    with psycopg.connect(dsn) as con:
        con.execute('CREATE SCHEMA "Shop %s ü"')
        con.execute('SET search_path TO "Shop %s ü"')
        for statement in WEIRD_SQL:
            con.execute(statement.encode())
    return "postgresql", dsn


def test_names_with_quotes_spaces_percent_and_unicode_work_end_to_end(
    weird: tuple[str, str], tmp_path: Path
) -> None:
    kind, dsn = weird
    loaded = parse_datamap(WEIRD_MAP.replace("KIND", kind), "weird.yaml")
    with open_session(
        loaded,
        ledger_url=f"sqlite:///{tmp_path / 'ledger.db'}",
        key_path=tmp_path / "key",
        connections={"s": dsn},
    ) as s:
        assert [f for f in s.findings if f.level == "error"] == []
        ids = s.identities([("email", "ANN@x.org")])
        access = s.access(ids, tmp_path / "ann.zip")
        assert access.result.rows == {KUNDEN: 1, BESTELLUNGEN: 1}
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        outcome = s.erase(ids, request_id=request.id)
    assert outcome.result is not None and outcome.result.rows == 2
    assert outcome.residual is not None and outcome.residual.total == 0
    if kind == "sqlite":
        con = sqlite3.connect(dsn)
        left = con.execute('SELECT id FROM "Kunden ""VIP"" 100%"').fetchall()
        con.close()
    else:
        with psycopg.connect(dsn) as con:
            left = con.execute(
                'SELECT id FROM "Shop %s ü"."Kunden ""VIP"" 100%"'.encode()
            ).fetchall()
    assert left == [(2,)]
