"""A run's ledger records are built as the ledger reads them: the same records, in order,
with every address pseudonymised, however many chunks the append takes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from widgets import widget, widget_workspace

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.engine.run import Records
from assay.evidence.backends.dbapi import _APPEND_CHUNK

WIDGETS = 2 * _APPEND_CHUNK + 50
OWNED = {5, _APPEND_CHUNK + 1, WIDGETS - 1}  # widgets named after an address, in each chunk


def numbered_widget(i: int) -> dict[str, Any]:
    """Widget `i`, named after an address when `i` is in OWNED."""
    return widget(f"owner-{i}@example.com" if i in OWNED else f"w{i}", i % 5)


@pytest.fixture
def workspace(tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return widget_workspace(tmp_path, controls_dir, monkeypatch)


def test_a_run_of_several_chunks_records_every_result_in_order(workspace: Path) -> None:
    snap = workspace / "snap.jsonl"
    write_snapshot(
        Snapshot(now_rfc3339(), resources=[numbered_widget(i) for i in range(WIDGETS)]), snap
    )
    res = CliRunner().invoke(cli, ["evaluate", str(snap), "-f", "json"], catch_exceptions=False)
    doc = json.loads(res.stdout)
    assert doc["run"]["ledger"]["records"] == WIDGETS + 2
    with sqlite3.connect(workspace / ".assay" / "ledger.db") as con:
        bodies = [bytes(b) for (b,) in con.execute("SELECT body FROM records ORDER BY seq")]
        vault = {v for (v,) in con.execute("SELECT value FROM pii_vault")}
    records = [json.loads(b) for b in bodies]
    assert [r["kind"] for r in records] == ["run_started"] + ["result"] * WIDGETS + ["run_finished"]
    assert {r["run"] for r in records} == {doc["run"]["id"]}
    # The results the report shows, in its order, each with its verdict.
    assert [(r["fingerprint"], r["status"]) for r in records[1:-1]] == [
        (r["fingerprint"], r["status"]) for r in doc["results"]
    ]
    counts = {k: n for k, n in doc["summary"]["by_status"].items() if n}
    assert records[-1]["counts"]["by_status"] == counts
    # Addresses from every chunk went to the vault, none into the log.
    assert vault == {f"owner-{i}@example.com" for i in OWNED}
    assert not any(b"example.com" in b for b in bodies)
    verify = CliRunner().invoke(cli, ["evidence", "verify"], catch_exceptions=False)
    assert verify.exit_code == 0 and f"{WIDGETS + 2} records verified" in verify.output


def test_records_are_built_at_each_read_and_kept_nowhere() -> None:
    built: list[int] = []

    def build(i: int) -> dict[str, Any]:
        built.append(i)
        return {"i": i}

    records = Records(4, build)
    assert len(records) == 4 and built == []
    assert records[1] == {"i": 1} and records[-1] == {"i": 3}
    assert records[1] is not records[1]  # built again, not cached
    assert records[1:3] == [{"i": 1}, {"i": 2}]
    assert list(records) == [{"i": i} for i in range(4)]
    with pytest.raises(IndexError):
        records[4]
    with pytest.raises(IndexError):
        records[-5]
