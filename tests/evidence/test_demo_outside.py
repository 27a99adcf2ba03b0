"""The demo's outside parties: its bundle carries a timestamp and a cosignature that an
auditor's verification reports, and a second demo run extends what the first witnessed."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from rich.console import Console

from assay.demo.outside import outside_parties
from assay.demo.run import SECTION_WIDTH, export_run, section
from assay.demo.state import DemoState
from assay.engine.console import console
from assay.evidence import load_signing_key, open_ledger, verify_bundle


def _run(state: DemoState, n: int) -> None:
    key = load_signing_key(state.signing_key)
    entries = [
        {"kind": "result", "at": "2026-01-01T00:00:00Z", "run": f"r{n}", "n": i} for i in range(n)
    ]
    with outside_parties(state) as outside:
        _, log = state.signer.with_attestation(outside.attestation).resolve()
        with open_ledger(state.ledger_url, checkpoint_log=log) as ledger:
            ledger.append(entries, key=key)
        out = io.StringIO()
        export_run(state, f"r{n}", state.root / "bundle.zip", outside, Console(file=out))
    assert "its records existed by" in out.getvalue()
    assert "--tsa-ca" in out.getvalue() and "--witness" in out.getvalue()


def test_the_demo_bundle_carries_a_timestamp_and_a_cosignature(tmp_path: Path) -> None:
    state = DemoState.at(tmp_path)
    _run(state, 3)
    _run(state, 5)  # the same TSA and witness, which has seen the first run's checkpoint
    with zipfile.ZipFile(state.root / "bundle.zip") as zf:
        kinds = sorted(name.rsplit(".", 1)[1][:5] for name in zf.namelist() if "size-8." in name)
    assert kinds == ["cosig", "note", "tsr"]
    with outside_parties(state) as outside:
        key = load_signing_key(state.signing_key).verifier
        report = verify_bundle(state.root / "bundle.zip", [key], policy=outside.policy)
    assert report.ok, report.error
    latest = report.times[-1]
    assert latest.token is not None and [c.witness.name for c in latest.cosignatures] == [
        "witness.assay.local/demo"
    ]


def test_a_section_rule_stays_short_when_the_output_is_piped() -> None:
    out = io.StringIO()
    section(console(out), "Data-subject requests")
    line = out.getvalue().rstrip("\n")
    assert "Data-subject requests" in line and len(line) == SECTION_WIDTH
