"""Fingerprints are keyed: runs compare across time, but a guessed resource id (an IAM user
named after an e-mail address) cannot be tested against the ledger or a report."""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.testing import make_resource

PERSON = "widget:jane.doe@example.com"


@pytest.fixture
def ws(tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("ASSAY_LEDGER", "ASSAY_PSEUDONYM_KEY", "ASSAY_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    r = make_resource("test.widget", {"lock_level": 1}, id=PERSON, name="jane")
    r["collected_at"] = now_rfc3339()
    write_snapshot(Snapshot(now_rfc3339(), resources=[r]), tmp_path / "snap.jsonl")
    return tmp_path


def run(ledger: str) -> dict[str, object]:
    res = CliRunner().invoke(cli, ["evaluate", "snap.jsonl", "--ledger", ledger, "-f", "json"])
    assert res.exit_code == 1, res.output
    doc: dict[str, object] = json.loads(res.stdout)
    return doc


def stored_fingerprints(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        bodies = [json.loads(b) for (b,) in conn.execute("SELECT body FROM records ORDER BY seq")]
    return [b["fingerprint"] for b in bodies if b.get("kind") == "result"]


def test_a_guess_cannot_be_tested_but_runs_still_compare(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    guess = hashlib.sha256(f"test-widget-locked\x00{PERSON}".encode()).hexdigest()[:32]
    first = run("sqlite:///a.db")
    second = run("sqlite:///a.db")
    [r1], [r2] = first["results"], second["results"]  # type: ignore[misc]
    assert r1["fingerprint"] == r2["fingerprint"] != guess
    assert r2["change"] == "still_failing"
    assert stored_fingerprints(ws / "a.db") == [r1["fingerprint"]] * 2
    assert guess.encode() not in (ws / "a.db").read_bytes()

    # Another key, another fingerprint: it is the key that makes them comparable.
    monkeypatch.setenv("ASSAY_PSEUDONYM_KEY", secrets.token_hex(32))
    [other] = run("sqlite:///b.db")["results"]  # type: ignore[misc]
    assert other["fingerprint"] not in (r1["fingerprint"], guess)


def test_a_results_baseline_compares_under_the_current_key(ws: Path) -> None:
    res = CliRunner().invoke(cli, ["evaluate", "snap.jsonl", "-f", "json=base.json"])
    assert res.exit_code == 1, res.output
    res = CliRunner().invoke(
        cli, ["evaluate", "snap.jsonl", "--baseline", "base.json", "-f", "json"]
    )
    [r] = json.loads(res.stdout)["results"]
    assert r["change"] == "still_failing"
