"""Driving the CLI in the evidence tests: a workspace, a run over widgets, an invocation."""

from __future__ import annotations

from pathlib import Path

import click.testing
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.testing import make_resource


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
