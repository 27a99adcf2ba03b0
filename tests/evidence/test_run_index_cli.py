"""Runs through the command line on every backend: each result record carries its dates
forward, the baseline comes from the run index (a ledger from before the dates falls
back to one streamed pass), `assay diff` finds runs by prefix in the index, and
`assay evidence verify` never reads it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cli_runs import invoke
from evidence_backends import Backend
from widgets import widget_workspace

from assay.engine.changes import ledger_baseline, ledger_history, run_index
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.evidence import RESERVED_KEYS, open_ledger
from assay.testing import make_resource


@pytest.fixture
def ws(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch, backend: Backend
) -> Path:
    return widget_workspace(tmp_path, controls_dir, monkeypatch, ledger=backend.url)


def run(ws: Path, *levels: int, ledger: str | None = None) -> dict[str, Any]:
    """One run over widgets w0, w1, ... (level < 2 fails), into the workspace's ledger
    unless `ledger` is given; its results document."""
    resources = []
    for i, level in enumerate(levels):
        r = make_resource("test.widget", {"lock_level": level}, id=f"widget:w{i}")
        r["collected_at"] = now_rfc3339()
        resources.append(r)
    write_snapshot(Snapshot(now_rfc3339(), resources=resources), ws / "snap.jsonl")
    args = ["evaluate", str(ws / "snap.jsonl"), "--format", "json"]
    res = invoke(*args, *(["--ledger", ledger] if ledger else []))
    assert res.exit_code in (0, 1), res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def results_of(url: str, run_id: str) -> list[dict[str, Any]]:
    with open_ledger(url, create=False) as ledger:
        return [
            s.record for s in run_index(ledger).run_records(run_id) if s.record["kind"] == "result"
        ]


def test_each_result_carries_first_seen_and_fail_since(ws: Path, backend: Backend) -> None:
    docs = []
    for level in (1, 1, 3, 1):  # fails, still fails, fixed, fails again
        docs.append(run(ws, level))
        time.sleep(1.05)  # times are to the second: each run its own
    at = [doc["run"]["finished_at"] for doc in docs]
    dates = [
        (rec["first_seen"], rec["fail_since"])
        for doc in docs
        for rec in results_of(backend.url, doc["run"]["id"])
    ]
    assert dates == [(at[0], at[0]), (at[0], at[0]), (at[0], None), (at[0], at[3])]
    # What the reports said agrees with what the records carry.
    changes = [(d["results"][0].get("change"), d["results"][0].get("first_seen")) for d in docs]
    assert changes == [
        (None, None),  # no baseline yet
        ("still_failing", at[0]),
        ("fixed", at[0]),
        ("new_failure", at[3]),
    ]
    # With no fingerprint missing from a run, history from baseline to baseline is the
    # whole history a full scan sees.
    with open_ledger(backend.url) as ledger:
        records = [s.record for s in ledger.records()]
        assert ledger_baseline(run_index(ledger), set(), 3) == ledger_history(records, 3, set())


def test_a_baseline_from_before_results_carried_dates_is_read_by_one_scan(
    ws: Path, backend: Backend
) -> None:
    carried = f"sqlite:///{ws / 'carried.db'}"
    first = run(ws, 1, ledger=carried)
    time.sleep(1.05)
    second = run(ws, 1, 3, ledger=carried)
    # The same history as an older assay wrote it: no dates in the result records.
    with open_ledger(carried) as source, open_ledger(backend.url) as old:
        old.append([older(s.record) for s in source.records()])
    now = run(ws, 1, 3)
    again = run(ws, 1, 3, ledger=carried)
    assert [r["change"] for r in now["results"]] == ["still_failing", "unchanged"]
    at = [first["run"]["finished_at"], second["run"]["finished_at"]]
    assert [r["first_seen"] for r in now["results"]] == at
    assert [r["first_seen"] for r in again["results"]] == at
    # The run written now carries them: the next baseline needs no scan.
    stored = [(r["first_seen"], r["fail_since"]) for r in results_of(backend.url, now["run"]["id"])]
    assert stored == [(at[0], at[0]), (at[1], None)]


def older(record: dict[str, Any]) -> dict[str, Any]:
    drop = RESERVED_KEYS | {"first_seen", "fail_since"}
    return {k: v for k, v in record.items() if k not in drop}


def test_diff_finds_runs_by_prefix_in_the_index(ws: Path) -> None:
    a = run(ws, 1, 3)["run"]["id"]
    b = run(ws, 3, 1)["run"]["id"]
    res = invoke("diff", a[:8], b, "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert (doc["from"]["run"], doc["to"]["run"]) == (a, b)
    assert sorted(c["change"] for c in doc["changes"]) == ["fixed", "new_failure"]
    both = invoke("diff", "", b)
    assert both.exit_code == 2
    assert f"2 runs ({', '.join(sorted([a, b]))}) in the ledger match ''" in both.output
    none = invoke("diff", a + "0", b)
    assert none.exit_code == 2 and f"no run in the ledger match '{a}0'" in none.output


def test_verify_reads_no_index(ws: Path, backend: Backend) -> None:
    run(ws, 1)
    run(ws, 3)
    honest = json.loads(invoke("evidence", "verify", "--format", "json").stdout)
    backend.execute("UPDATE runs SET finishes = 0, records = 0, counts = '[]'")
    backend.execute("DELETE FROM run_segments")
    tampered = invoke("evidence", "verify", "--format", "json")
    assert tampered.exit_code == 0 and json.loads(tampered.stdout) == honest
