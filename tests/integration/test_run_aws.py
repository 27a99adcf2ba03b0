"""`assay run` and `assay doctor` against moto's HTTP server and a target that cannot be reached."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from click.testing import CliRunner

from assay.demo.aws_account import DemoAccount, seed
from assay.demo.aws_emulator import start_emulator
from assay.engine.cli.main import cli

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def account() -> Iterator[tuple[str, DemoAccount]]:
    with start_emulator() as url:
        yield url, seed(url)


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("ASSAY_LEDGER", raising=False)
    return tmp_path


def write_profile(ws: Path, *targets: str) -> Path:
    p = ws / "assay.yaml"
    p.write_text("targets:\n" + "".join(f"  - {t}\n" for t in targets))
    return p


def test_run_gives_seeded_verdicts_and_errors_for_an_unreachable_target(
    account: tuple[str, DemoAccount], workspace: Path
) -> None:
    url, seeded = account
    dead = f"http://127.0.0.1:{closed_port()}"
    write_profile(
        workspace,
        f"{{name: emu, provider: aws, endpoint_url: '{url}', regions: [us-east-1]}}",
        f"{{name: dead, provider: aws, endpoint_url: '{dead}', regions: [us-east-1]}}",
    )
    res = CliRunner().invoke(
        cli, ["run", "--format", "json", "--timeout", "20"], catch_exceptions=False
    )
    doc = json.loads(res.stdout)
    got = {
        (r["control"], r["resource"]["id"]): r["status"]
        for r in doc["results"]
        if r["resource"]["scope"]["target"] == "emu"
    }
    expected = {
        (cid, rid): status for cid, per in seeded["expected"].items() for rid, status in per.items()
    }
    assert got == expected
    dead_results = [r for r in doc["results"] if r["resource"]["scope"]["target"] == "dead"]
    assert dead_results and all(r["status"] == "error" for r in dead_results)
    assert all("cannot reach target 'dead'" in r["reason"] for r in dead_results)
    assert {f["target"] for f in doc["summary"]["collection_failures"]} == {"dead"}
    assert res.exit_code == 1  # the seeded failures gate before the errors do
    verify = CliRunner().invoke(cli, ["evidence", "verify"])
    assert verify.exit_code == 0, verify.output
    # The table names the unreachable target once, with the cause, not once per type.
    table = CliRunner().invoke(cli, ["run", "--timeout", "20"], catch_exceptions=False)
    types = len({f["resource_type"] for f in doc["summary"]["collection_failures"]})
    [line] = [x for x in table.stdout.splitlines() if "not collected)" in x]
    assert "cannot reach target 'dead'" in line
    assert line.rstrip().endswith(f"({types} resource types not collected)")


def test_doctor_names_the_unreachable_target(
    account: tuple[str, DemoAccount], workspace: Path
) -> None:
    url, _ = account
    write_profile(workspace, f"{{name: emu, provider: aws, endpoint_url: '{url}'}}")
    ok = CliRunner().invoke(cli, ["doctor"])
    assert ok.exit_code == 0, ok.output
    assert "✓ emu (aws): connected as account=" in ok.output
    dead = f"http://127.0.0.1:{closed_port()}"
    write_profile(
        workspace,
        f"{{name: emu, provider: aws, endpoint_url: '{url}'}}",
        f"{{name: dead, provider: aws, endpoint_url: '{dead}'}}",
    )
    bad = CliRunner().invoke(cli, ["doctor", "--timeout", "20"])
    assert bad.exit_code == 3
    assert "✗ dead (aws): cannot reach target 'dead'" in bad.output


def test_changes_across_three_runs_as_buckets_are_fixed_and_broken(
    account: tuple[str, DemoAccount], workspace: Path
) -> None:
    url, seeded = account
    verdicts = seeded["expected"]["aws-s3-default-encryption"]
    broken = next(arn for arn, status in verdicts.items() if status == "fail")
    healthy = next(arn for arn, status in verdicts.items() if status == "pass")
    write_profile(workspace, f"{{name: emu, provider: aws, endpoint_url: '{url}'}}")
    s3 = boto3.client(
        "s3",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    before = s3.get_bucket_encryption(Bucket=healthy.split(":::")[1])

    def changes() -> dict[str, str]:
        res = CliRunner().invoke(
            cli, ["run", "-f", "json", "--control", "aws-s3-default-encryption"]
        )
        doc = json.loads(res.stdout)
        return {r["resource"]["id"]: r.get("change", "") for r in doc["results"]}

    try:
        first = changes()
        assert first[broken] == "" and first[healthy] == ""  # no baseline yet
        s3.put_bucket_encryption(
            Bucket=broken.split(":::")[1],
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
            },
        )
        s3.delete_bucket_encryption(Bucket=healthy.split(":::")[1])
        second = changes()
        assert second[broken] == "fixed" and second[healthy] == "new_failure"
        third = changes()
        assert third[broken] == "unchanged" and third[healthy] == "still_failing"
    finally:
        s3.delete_bucket_encryption(Bucket=broken.split(":::")[1])
        s3.put_bucket_encryption(
            Bucket=healthy.split(":::")[1],
            ServerSideEncryptionConfiguration=before["ServerSideEncryptionConfiguration"],
        )
