"""`assay demo` twice in one folder: the second run finds nothing changed, because the
emulated accounts and the throwaway PostgreSQL give their resources the same ids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def test_a_second_demo_says_nothing_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    # The demo sets these for its emulator; set here, they are restored after the test.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"):
        monkeypatch.setenv(name, "unused")
    for name in ("AWS_PROFILE", "ASSAY_SIGNING_KEY", "ASSAY_CHECKPOINT_LOG", "ASSAY_LEDGER"):
        monkeypatch.delenv(name, raising=False)
    # Each in its own process, as a user runs it: moto keeps state per process.
    outputs = []
    for _ in range(2):
        done = subprocess.run(
            [sys.executable, "-m", "assay", "demo"],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout)
    [since] = [line for line in outputs[1].splitlines() if line.startswith("since run ")]
    assert "new" not in since.split(":", 2)[-1], since
    assert since.endswith("; 0 resources gone"), since
