"""SARIF results for Kubernetes manifests point at the object's own file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assay.demo.kubernetes import k8s_demo_target
from assay.engine.cli.main import cli


def test_sarif_locations_point_at_the_manifest_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    target = k8s_demo_target()
    (tmp_path / "assay.yaml").write_text(yaml.safe_dump({"targets": [target]}))
    res = CliRunner().invoke(cli, ["run", "-f", "sarif", "--control", "k8s-pod-privileged"])
    assert res.exit_code == 1, res.output
    [result] = json.loads(res.stdout)["runs"][0]["results"]
    loc = result["locations"][0]["physicalLocation"]
    path = Path(loc["artifactLocation"]["uri"].removeprefix("file://"))
    lines = path.read_text().splitlines()
    line = loc["region"]["startLine"]
    # the document that starts at that line is the failing object
    doc = yaml.safe_load("\n".join(lines[line - 1 :]).split("\n---")[0])
    name = result["locations"][0]["logicalLocations"][0]["name"]
    assert name.endswith("/" + doc["metadata"]["name"])
