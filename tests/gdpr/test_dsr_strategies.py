"""Strategies computed by the database: keyed hash equal to Python's HMAC, idempotent masks."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import psycopg
import pytest
from psycopg import sql

from assay.demo.local_postgres import LocalPostgres
from assay.gdpr import State
from assay.gdpr.stores import keyed_hash_value

if TYPE_CHECKING:
    from conftest import Shop  # the fixtures' type; tests/ is not a package

ALICE = ("email", "  ALICE.Example@EXAMPLE.com ")  # as typed in a request form

TICKETS = """\
  support_tickets:
    role: owned
    key: id
    erase: update
    purposes: [support]
    retention: Two years after the ticket is closed.
    columns:
      email: {category: contact, identity: email}
      subject: {category: communication, erase: mask, mask: "{first:2}~~{last:1}"}
      body: {category: communication, erase: hash}
"""


def test_hash_and_mask_are_computed_in_sql_and_never_applied_twice(store_shop: Shop) -> None:
    text = store_shop.map_text()
    start = text.index("  support_tickets:")
    end = text.index("  products:")
    loaded = store_shop.map_with(text[start:end], TICKETS + "\n")
    store_shop.run("UPDATE support_tickets SET subject = 'Hi' WHERE id = 2")
    originals = dict(store_shop.rows("SELECT id, body FROM support_tickets"))
    with store_shop.session(loaded) as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        outcome = s.erase(ids, request_id=request.id)
        assert outcome.residual is not None and outcome.residual.total == 0
        rows = dict(
            (i, (subj, body))
            for i, subj, body in store_shop.rows("SELECT id, subject, body FROM support_tickets")
        )
        assert rows[1] == ("Wh~~?", keyed_hash_value(s.hash_key, originals[1]))
        # too short to keep any characters: the literal alone
        assert rows[2] == ("~~", keyed_hash_value(s.hash_key, originals[2]))
        assert rows[3][1] == originals[3]  # Zoë's ticket is not Alice's
        again = s.erase(ids, dry_run=True).plan
    tickets = next(tp for tp in again.tables if tp.table.name == "support_tickets")
    assert tickets.found == 2 and tickets.erasable == 0


@pytest.mark.integration
@pytest.mark.parametrize("store_shop", ["postgresql"], indirect=True)
def test_the_hash_key_never_reaches_a_server_that_logs_every_statement(
    store_shop: Shop, pg_dsn: str, postgres_server: LocalPostgres
) -> None:
    shop = store_shop
    dbname = psycopg.conninfo.conninfo_to_dict(pg_dsn)["dbname"]
    with psycopg.connect(postgres_server.dsn, autocommit=True) as con:
        con.execute(
            sql.SQL("ALTER DATABASE {} SET log_statement = 'all'").format(sql.Identifier(dbname))
        )
    log = postgres_server.datadir.parent / "server.log"
    start = log.stat().st_size
    text = shop.map_text()
    loaded = shop.map_with(
        text[text.index("  support_tickets:") : text.index("  products:")], TICKETS + "\n"
    )
    with shop.session(loaded) as s:
        ids = s.identities([ALICE])
        request = s.book.open_request("erasure", ids)
        s.book.advance(request, State.VERIFIED, method="test")
        assert s.erase(ids, request_id=request.id).residual.total == 0  # type: ignore[union-attr]
        key = s.hash_key
    with log.open("rb") as f:
        f.seek(start)
        written = f.read().decode(errors="replace").lower()
    assert "update" in written and "support_tickets" in written  # the server did log
    block = key.ljust(64, b"\0")
    for secret in (key, bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)):
        assert secret.hex() not in written
        assert hashlib.sha256(secret).hexdigest() not in written
