"""The DSR part of `assay demo`: an access request and a dry-run erasure on the example shop."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

from rich.console import Console

from assay.demo.dsr import run_demo_dsr
from assay.evidence import open_ledger, verify


def test_the_demo_answers_an_access_request_and_plans_an_erasure(tmp_path: Path) -> None:
    out = io.StringIO()
    run_demo_dsr(tmp_path, Console(file=out, width=200))
    text = out.getvalue()
    assert "Access request DSR-" in text and "matched case-insensitively" in text
    assert "18 rows written to" in text and "withheld: customers.password_hash" in text
    assert "Erasure plan (dry run: nothing was written)" in text
    assert "tax-records" in text and "shared" in text
    assert "assay dsr erase --datamap" in text
    state = tmp_path / ".assay"
    con = sqlite3.connect(state / "shop.db")
    # a dry run: Alice is still all there
    assert con.execute("SELECT count(*) FROM logins WHERE customer_id = 1").fetchone() == (3,)
    con.close()
    with open_ledger(f"sqlite:///{state / 'ledger.db'}") as ledger:
        records = [r.record for r in ledger.records()]
        assert verify(ledger.records()).ok
    events = [(r["type"], r["event"]) for r in records if r["kind"] == "dsr"]
    assert events == [
        ("access", "received"), ("access", "verified"), ("access", "planned"),
        ("access", "executed"), ("access", "completed"),
        ("erasure", "received"), ("erasure", "verified"), ("erasure", "planned"),
    ]  # fmt: skip
    assert len(list(state.glob("DSR-*.zip"))) == 1
    # run twice in the same folder: the shop is rebuilt, the ledger grows
    run_demo_dsr(tmp_path, Console(file=io.StringIO()))
