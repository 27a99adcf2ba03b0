"""The test widget every engine, report and console test judges: its control and snapshots.

`test.widget.locked` (registered in tests/conftest.py) passes a widget whose `lock_level`
is at least the control's `min_level` (2 here).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from assay.engine.collect import Snapshot, now_rfc3339
from assay.evidence import SIGNING_KEY_ENV
from assay.evidence.checkpoint_log import CHECKPOINT_LOG_ENV
from assay.testing import make_resource

WIDGET_CONTROL = """\
id: test-widget-locked
title: Widgets are locked
severity: high
frameworks: {soc2: [CC6.1]}
resource: test.widget
check: test.widget.locked
params: {min_level: 2}
remediation: Lock the widget.
"""


def widget(
    name: str,
    lock_level: object,
    *,
    scope: dict[str, Any] | None = None,
    stamp: str | None = None,
    **attributes: object,
) -> dict[str, Any]:
    """The snapshot of widget `name` (id ``widget:<name>``) at `lock_level`, with any other
    `attributes`, in `scope` (default: target t1 of provider test), collected at `stamp`
    (default: now)."""
    r = make_resource(
        "test.widget",
        {"lock_level": lock_level, **attributes},
        id=f"widget:{name}",
        name=name,
        scope=scope or {"provider": "test", "target": "t1"},
    )
    r["collected_at"] = stamp or now_rfc3339()
    return r


def widget_snapshot(levels: Mapping[str, int], target: str) -> Snapshot:
    """A snapshot, collected now, of one widget of `target` per name, at its lock level."""
    resources = [widget(name, level, scope={"target": target}) for name, level in levels.items()]
    return Snapshot(now_rfc3339(), resources=resources)


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
