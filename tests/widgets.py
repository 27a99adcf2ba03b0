"""The test widget every engine, report and console test judges: its control and snapshots.

`test.widget.locked` (registered in tests/conftest.py) passes a widget whose `lock_level`
is at least the control's `min_level` (2 here).
"""

from __future__ import annotations

from collections.abc import Mapping

from assay.engine.collect import Snapshot, now_rfc3339
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


def widget_snapshot(levels: Mapping[str, int], target: str) -> Snapshot:
    """A snapshot, collected now, of one widget of `target` per name, at its lock level."""
    resources = []
    for name, level in levels.items():
        r = make_resource(
            "test.widget",
            {"lock_level": level},
            id=f"widget:{name}",
            name=name,
            scope={"target": target},
        )
        r["collected_at"] = now_rfc3339()
        resources.append(r)
    return Snapshot(now_rfc3339(), resources=resources)
