"""The CronJob we ship for the nightly run passes our own Kubernetes controls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.engine.planner import make_plan

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "examples" / "k8s" / "cronjob.yaml"


def test_the_shipped_cronjob_passes_every_k8s_control(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    docs = list(yaml.safe_load_all(MANIFEST.read_text()))
    config = next(d for d in docs if d["kind"] == "ConfigMap")
    shipped = yaml.safe_load(config["data"]["assay.yaml"])
    profile = {
        "controls": {"tags": ["k8s"]},
        "targets": [{"name": "manifests", "provider": "k8s", "manifests": str(MANIFEST)}],
        "params": shipped["params"],
    }
    (tmp_path / "assay.yaml").write_text(yaml.safe_dump(profile))
    res = CliRunner().invoke(cli, ["run", "-f", "json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0, [r for r in doc["results"] if r["status"] != "pass"]
    judged = {r["resource"]["name"] for r in doc["results"] if r["status"] == "pass"}
    assert "CronJob/assay/assay-nightly" in judged
    assert "ClusterRoleBinding/assay-reader" in judged
    # the profile the job runs with is valid as it stands
    (tmp_path / "shipped.yaml").write_text(config["data"]["assay.yaml"])
    plan = make_plan(tmp_path / "shipped.yaml")
    assert {t.target.provider for t in plan.targets} == {"k8s", "postgres"}
