"""`assay checks permissions` and `assay checks list`: what a run must be granted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.checks import registry
from assay.engine.cli.main import cli


@pytest.fixture(autouse=True)
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No ./assay.yaml: the built-in profile (every control) applies."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def policy(*args: str) -> dict[str, object]:
    res = CliRunner().invoke(cli, ["checks", "permissions", "--provider", "aws", *args])
    assert res.exit_code == 0, res.output
    doc: dict[str, object] = json.loads(res.stdout)
    return doc


def actions(doc: dict[str, object]) -> list[str]:
    [statement] = doc["Statement"]  # type: ignore[misc]
    assert (statement["Effect"], statement["Resource"]) == ("Allow", "*")
    return list(statement["Action"])


def test_the_policy_grants_every_collector_and_check_permission_and_nothing_else() -> None:
    doc = policy()
    assert doc["Version"] == "2012-10-17"
    granted = actions(doc)
    expected = {
        p
        for spec in registry.collectors().values()
        if spec.provider == "aws"
        for p in spec.permissions
    } | {
        p
        for name, spec in registry.checks().items()
        if name.startswith("aws.")
        for p in spec.permissions
    }
    assert granted == sorted(expected)
    assert all(a.split(":")[1][:3] in ("Des", "Get", "Lis", "Gen") for a in granted), granted


def test_selecting_controls_narrows_the_policy() -> None:
    granted = actions(policy("--control", "aws-s3-secure-transport"))
    assert "s3:GetBucketPolicy" in granted and "s3:ListAllMyBuckets" in granted
    assert not [a for a in granted if not a.startswith("s3:")]


def test_a_profile_selects_the_controls(empty_dir: Path) -> None:
    profile = empty_dir / "rds.yaml"
    profile.write_text("controls: {ids: [aws-rds-force-ssl]}\n")
    # The instance collector reads Performance Insights keys (kms:DescribeKey) only for
    # another control: collection is planned per attribute, so that grant is left out.
    assert actions(policy("--profile", str(profile))) == [
        "ec2:DescribeRegions",
        "rds:DescribeDBInstances",
        "rds:DescribeDBParameters",
    ]


def test_an_unknown_provider_is_a_usage_error_naming_the_choices() -> None:
    res = CliRunner().invoke(cli, ["checks", "permissions", "--provider", "gcp"])
    assert res.exit_code == 2
    assert "unknown provider 'gcp'; expected one of" in res.output and "aws" in res.output


def test_checks_list_shows_params_and_permissions_as_json() -> None:
    res = CliRunner().invoke(cli, ["checks", "list", "--provider", "aws", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {row["name"]: row for row in json.loads(res.stdout)}
    assert all(name.startswith("aws.") for name in rows)
    rotation = rows["aws.iam.access_key_rotation"]
    assert rotation["resource"] == "aws.iam.user"
    assert rotation["params"]["properties"]["max_age_days"]["default"] == 90
    assert "iam:GetCredentialReport" in rotation["permissions"]
