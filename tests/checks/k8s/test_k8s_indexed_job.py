"""The Indexed Job and CronJob we ship for a sharded organisation run pass our own
Kubernetes controls, and are wired the way `assay run --shards --completer` needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.engine.planner import make_plan
from assay.engine.shard import INDEX_ENV, JOB_UID_ENV, resolve_run_id, resolve_shard

ROOT = Path(__file__).resolve().parents[3]
JOB = ROOT / "examples" / "k8s" / "indexed-job.yaml"
CRON = ROOT / "examples" / "k8s" / "org-cronjob.yaml"


def documents(path: Path) -> list[dict[str, Any]]:
    return list(yaml.safe_load_all(path.read_text()))


def job_spec() -> dict[str, Any]:
    [job] = [d for d in documents(JOB) if d["kind"] == "Job"]
    spec: dict[str, Any] = job["spec"]
    return spec


def test_the_shipped_job_and_cronjob_pass_every_k8s_control(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    profile = {
        "controls": {"tags": ["k8s"]},
        "targets": [
            {"name": "job", "provider": "k8s", "manifests": str(JOB)},
            {"name": "cron", "provider": "k8s", "manifests": str(CRON)},
        ],
        "params": {"k8s-pod-image-provenance": {"registries": ["registry.example.com"]}},
    }
    (tmp_path / "assay.yaml").write_text(yaml.safe_dump(profile))
    res = CliRunner().invoke(cli, ["run", "-f", "json"])
    doc = json.loads(res.stdout)
    assert res.exit_code == 0, [r for r in doc["results"] if r["status"] != "pass"]
    judged = {r["resource"]["name"] for r in doc["results"] if r["status"] == "pass"}
    assert {"Job/assay/assay-org-run", "CronJob/assay/assay-org-nightly"} <= judged


def test_the_cronjob_runs_exactly_the_shipped_job() -> None:
    [cron] = documents(CRON)
    assert cron["spec"]["jobTemplate"]["spec"] == job_spec()


def test_the_job_has_one_completion_per_shard_and_one_that_completes() -> None:
    spec = job_spec()
    assert spec["completionMode"] == "Indexed"
    [container] = spec["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    shards = int(env["ASSAY_SHARDS"]["value"])
    assert spec["completions"] == shards + 1
    assert "--completer" in container["args"]
    # Every index but the last is a shard; the last completes; all share one run id.
    for index in range(shards):
        assert resolve_shard(None, shards, {INDEX_ENV: str(index)}) is not None
    uid_path = env[JOB_UID_ENV]["valueFrom"]["fieldRef"]["fieldPath"]
    assert uid_path == "metadata.labels['batch.kubernetes.io/controller-uid']"
    assert resolve_run_id(None, {JOB_UID_ENV: "uid-a"}) == resolve_run_id(
        None, {JOB_UID_ENV: "uid-a"}
    )
    # The ledger and the keys come from Secrets, never from literals.
    for name in ("ASSAY_LEDGER", "ASSAY_PSEUDONYM_KEY", "ASSAY_SIGNING_KEY"):
        assert "secretKeyRef" in env[name]["valueFrom"], name
    # The completion's gate is a result, a usage error recurs; only a shard that died
    # is run again.
    [rule] = spec["podFailurePolicy"]["rules"]
    assert rule["action"] == "FailIndex" and rule["onExitCodes"]["values"] == [1, 2, 3]
    assert spec["backoffLimitPerIndex"] >= 1


def test_the_shipped_profile_is_a_valid_organisation_target(tmp_path: Path) -> None:
    [config] = [d for d in documents(JOB) if d["kind"] == "ConfigMap"]
    (tmp_path / "assay.yaml").write_text(config["data"]["assay.yaml"])
    plan = make_plan(tmp_path / "assay.yaml")
    [target] = plan.targets
    options = target.options.model_dump()
    assert options["organization"] is True and options["role_name"] == "assay-auditor"
    assert options["regions"] == "all" and options["retry_mode"] == "adaptive"
    [sa] = [d for d in documents(JOB) if d["kind"] == "ServiceAccount"]
    assert sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"].startswith("arn:aws:iam::")
