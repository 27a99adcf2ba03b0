"""The DSR part of `assay demo`: an access request and a dry-run erasure on the example shop."""

from __future__ import annotations

import shlex
from pathlib import Path

from rich.console import Console

from assay.demo.shop import create_shop_sqlite, shop_datamap, shop_file
from assay.demo.state import DemoState
from assay.files import write_text
from assay.gdpr.dsr import open_session
from assay.gdpr.report import render_access, render_plan
from assay.gdpr.requests import State

# What the customer typed into the request form: spaces and capitals included.
DEMO_IDENTITY = ("email", "  ALICE.Example@EXAMPLE.com ")


def run_demo_dsr(workdir: Path, console: Console) -> None:
    """Build the example shop under `workdir/.assay/`, answer an access request and plan an
    erasure (dry run) for one customer, and print what a privacy team sees.

    The requests go to the ledger `workdir/.assay/ledger.db` under pseudonyms keyed by
    `workdir/.assay/pseudonym.key`, each step signed with the demo's key; the shop
    database is rebuilt on every run.
    """
    evidence = DemoState.at(workdir)
    db = evidence.root / "shop.db"
    ledger_url = evidence.ledger_url
    key_path = evidence.pseudonym_key
    create_shop_sqlite(db)
    console.print(
        f"\n[bold]Data-subject requests[/]: an example shop database at {db} "
        "(customers, a shared address, orders under a 7-year tax hold, tickets by e-mail)"
    )
    with open_session(
        shop_datamap(),
        ledger_url=ledger_url,
        key_path=key_path,
        connections={"shop": str(db)},
        signer=evidence.signer,
    ) as session:
        ids = session.identities([DEMO_IDENTITY])
        book = session.book
        access = book.open_request("access", ids)
        book.advance(access, State.VERIFIED, method="demo: reply from the account address")
        console.print(
            f"Access request {access.id} for {DEMO_IDENTITY[1].strip()!r} "
            f"(matched case-insensitively), due {access.due}:"
        )
        outcome = session.access(ids, evidence.root / f"{access.id}.zip", request_id=access.id)
        render_access(console, outcome.result)
        erasure = book.open_request("erasure", ids)
        book.advance(erasure, State.VERIFIED, method="demo: reply from the account address")
        planned = session.erase(ids, request_id=erasure.id, dry_run=True)
        console.print(f"\nErasure request {erasure.id}, due {erasure.due}:")
        render_plan(console, planned.plan, "Erasure plan (dry run: nothing was written)")
    # A copy beside the demo's evidence: the installed example's path goes away when the
    # package is reinstalled (pip install -e after pip install .).
    datamap = evidence.root / "shop-datamap.yaml"
    write_text(datamap, shop_file("datamap.yaml"))
    who = shlex.quote("email=alice.example@example.com")
    shown = evidence.shown
    env = f"SHOP_DB={shown(db)}"
    console.print(
        "Every step above is a ledger record carrying a keyed pseudonym, never the address.\n"
        "Look further:\n"
        + evidence.commands(
            f"assay dsr status --ledger {shown(ledger_url)} --pseudonym-key {shown(key_path)}",
            f"{env} assay dsr erase --datamap {shown(datamap)} --request {erasure.id} "
            f"--identity {who} "
            f"--ledger {shown(ledger_url)} --pseudonym-key {shown(key_path)}",
            f"{env} assay dsr lint --datamap {shown(datamap)}",
        )
    )
