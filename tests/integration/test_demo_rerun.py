"""`assay demo` twice on one folder: the second run finds nothing changed, because the
emulated accounts and the throwaway PostgreSQL give their resources the same ids; and the
commands it prints work, as printed, from wherever the user stands."""

from __future__ import annotations

import shlex
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
    # Each in its own process, as a user runs it: moto keeps state per process. The
    # second stands elsewhere and names the same folder with --workdir.
    workdir = tmp_path / "the demo"
    elsewhere = tmp_path / "elsewhere"
    workdir.mkdir()
    elsewhere.mkdir()
    outputs = []
    for cwd, args in ((workdir, []), (elsewhere, ["--workdir", "../the demo"])):
        done = subprocess.run(
            [sys.executable, "-m", "assay", "demo", *args],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=cwd,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        outputs.append(done.stdout)
    [since] = [line for line in outputs[1].splitlines() if line.startswith("since run ")]
    assert "new" not in since.split(":", 2)[-1], since
    assert since.endswith("; 0 resources gone"), since

    # The first commands it suggests, run as printed from where the user stood: they
    # find the demo's ledger and keys, and write nothing where the user stands.
    lines = outputs[1].splitlines()
    start = lines.index("Look further:") + 1
    suggested = [line.strip() for line in lines[start : start + 4]]
    assert suggested[0] == f"cd {shlex.quote(str(workdir.resolve()))}", suggested
    verify, prove, evaluate = suggested[1:]
    assert verify.startswith("assay evidence verify ") and prove.startswith("assay evidence prove")
    script = " && ".join([suggested[0], verify, prove, f"{{ {evaluate} > results.json; }}"])
    ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, cwd=elsewhere)
    # evaluate exits 1: the demo's resources include failures, by design
    assert ran.returncode == 1, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "note:" not in ran.stderr, ran.stderr  # no "records ... are not signed"
    assert list(elsewhere.iterdir()) == []
    # The DSR block's lint, on the copy of the example map the demo leaves in its folder.
    [lint] = [line.strip() for line in lines if "assay dsr lint" in line]
    ran = subprocess.run(
        ["bash", "-c", f"{suggested[0]} && {lint}"], capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
