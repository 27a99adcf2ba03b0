"""Driving the CLI in the evidence tests: a workspace, a run over widgets, an invocation."""

from __future__ import annotations

from pathlib import Path

import click.testing
import pytest
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.evidence import SIGNING_KEY_ENV
from assay.evidence.checkpoint_log import CHECKPOINT_LOG_ENV
from assay.testing import make_resource


def widget_workspace(
    ws: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch, ledger: str | None = None
) -> Path:
    """`ws` as the working folder, its profile running the test widget control, nothing
    of the environment's keys, logs or ledger in the way (`ledger` as ASSAY_LEDGER)."""
    (ws / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    monkeypatch.chdir(ws)
    for var in ("ASSAY_LEDGER", SIGNING_KEY_ENV, CHECKPOINT_LOG_ENV, "ASSAY_PSEUDONYM_KEY"):
        monkeypatch.delenv(var, raising=False)
    if ledger is not None:
        monkeypatch.setenv("ASSAY_LEDGER", ledger)
    return ws


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def evaluate(ws: Path, *levels: int) -> click.testing.Result:
    """`assay evaluate --format json` over one widget per lock level."""
    resources = []
    for i, level in enumerate(levels):
        r = make_resource(
            "test.widget", {"lock_level": level}, id=f"widget:w{i}", scope={"target": "t1"}
        )
        r["collected_at"] = now_rfc3339()
        resources.append(r)
    write_snapshot(Snapshot(now_rfc3339(), resources=resources), ws / "snap.jsonl")
    return invoke("evaluate", str(ws / "snap.jsonl"), "--format", "json")
