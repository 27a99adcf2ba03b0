"""The built wheel installs into a fresh venv and works from there, away from the source tree."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_installs_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(dist), str(ROOT)],
        check=True,
    )
    [wheel] = dist.glob("assay-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    # everything installs under the one import package, data included
    assert {n.split("/")[0] for n in names if not n.startswith("assay-")} == {"assay"}
    assert "assay/controls/frameworks/soc2.yaml" in names
    assert "assay/controls/control.schema.json" in names
    assert "assay/checks/registry.py" in names and "assay/py.typed" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([venv / "bin" / "pip", "install", "--quiet", str(wheel)], check=True)
    out = subprocess.run(
        [venv / "bin" / "assay", "controls", "list", "--format", "json"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert "aws-s3-default-encryption" in out.stdout
    # the demo names its missing extra instead of failing with a traceback
    demo = subprocess.run(
        [venv / "bin" / "assay", "demo"], cwd=tmp_path, capture_output=True, text=True
    )
    assert demo.returncode == 2 and "pip install 'assay[demo]'" in demo.stderr
