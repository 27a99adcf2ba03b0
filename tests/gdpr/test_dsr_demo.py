"""The DSR part of `assay demo`: an access request and a dry-run erasure on the example shop."""

from __future__ import annotations

import io
import json
import sqlite3
import zipfile
from pathlib import Path

from rich.console import Console

from assay.demo.dsr import run_demo_dsr
from assay.engine.console import console
from assay.evidence import open_ledger, verify


def test_the_demo_answers_an_access_request_and_plans_an_erasure(tmp_path: Path) -> None:
    out = io.StringIO()
    run_demo_dsr(tmp_path, console(out))
    # What the privacy team copies next is printed whole, on one line, even in a log.
    [erase] = [line for line in out.getvalue().splitlines() if "assay dsr erase" in line]
    assert erase.strip().startswith("SHOP_DB=") and erase.endswith("pseudonym.key")
    state = tmp_path / ".assay"
    [package] = state.glob("DSR-*.zip")
    with zipfile.ZipFile(package) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert sum(t["rows"] for t in manifest["tables"]) == 18
    assert "customers.password_hash" in json.dumps(manifest["withheld"])
    con = sqlite3.connect(state / "shop.db")
    # a dry run: Alice is still all there
    assert con.execute("SELECT count(*) FROM logins WHERE customer_id = 1").fetchone() == (3,)
    con.close()
    ledger_url = f"sqlite:///{state / 'ledger.db'}"
    with open_ledger(ledger_url) as ledger:
        first = [r.hash for r in ledger.records()]
        records = [r.record for r in ledger.records()]
        assert verify(ledger.records()).ok
    events = [(r["type"], r["event"]) for r in records if r["kind"] == "dsr"]
    assert events == [
        ("access", "received"), ("access", "verified"), ("access", "planned"),
        ("access", "executed"), ("access", "completed"),
        ("erasure", "received"), ("erasure", "verified"), ("erasure", "planned"),
    ]  # fmt: skip
    [plan] = [r["plan"] for r in records if r["event"] == "planned" and r["type"] == "erasure"]
    assert plan["totals"]["kept"] > 0 and plan["totals"]["delete"] > 0
    held = {h["hold"] for t in plan["tables"] for h in t["held"]}
    assert held == {"tax-records"}

    # Twice in the same folder: the shop is rebuilt, the ledger grows on top of what it held.
    run_demo_dsr(tmp_path, Console(file=io.StringIO()))
    with open_ledger(ledger_url) as ledger:
        again = [r.hash for r in ledger.records()]
        assert verify(ledger.records()).ok
    assert again[: len(first)] == first and len(again) == 2 * len(first)
    assert len(list(state.glob("DSR-*.zip"))) == 2
