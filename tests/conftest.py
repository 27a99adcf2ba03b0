"""Shared fixtures: a small third-party-style check, registered through the public API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from assay.checks import Result, attribute, check


class LockParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    min_level: int = 1


@check(
    "test.widget.locked", resource="test.widget", permissions=["test:Describe"], params=LockParams
)
def widget_locked(resource: dict[str, Any], params: LockParams) -> Result:
    level = attribute(resource, "lock_level")
    if level is None:
        return Result.failed("widget has no lock", lock_level=None)
    if level >= params.min_level:
        return Result.passed(f"lock level {level} >= {params.min_level}", lock_level=level)
    return Result.failed(f"lock level {level} < {params.min_level}", lock_level=level)


@check("test.widget.explodes", resource="test.widget", permissions=["test:Describe"])
def widget_explodes(resource: dict[str, Any], params: Any) -> Result:
    raise RuntimeError("boom")


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


@pytest.fixture
def controls_dir(tmp_path: Path) -> Path:
    d = tmp_path / "controls"
    d.mkdir()
    (d / "test-widget-locked.yaml").write_text(WIDGET_CONTROL)
    return d
