"""The checkpoint log in S3 (moto's server): written by signed runs, never overwritten,
and the pin `assay evidence verify` checks a rolled-back ledger against."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from assay.demo.aws_emulator import start_emulator
from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.evidence import (
    CHECKPOINT_LOG_ENV,
    SIGNING_KEY_ENV,
    LedgerError,
    S3Log,
    SigningKey,
    resolve_checkpoint_log,
    write_signing_key,
)
from assay.evidence.checkpoint_log import file_name
from assay.evidence.signed_append import sign_tree
from assay.testing import make_resource

pytestmark = pytest.mark.integration
ORIGIN = "example.com/evidence/s3"
BUCKET = "evidence-checkpoints"


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with start_emulator() as url:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": url,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        yield client


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_signed_runs_keep_their_checkpoints_in_s3_and_verify_pins_to_them(
    s3: Any, tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_LEDGER", raising=False)
    monkeypatch.delenv(SIGNING_KEY_ENV, raising=False)
    monkeypatch.setenv(CHECKPOINT_LOG_ENV, f"s3://{BUCKET}/prod")
    key = SigningKey.generate(ORIGIN)
    write_signing_key(tmp_path / ".assay" / "signing.key", key)
    resource = make_resource(
        "test.widget", {"lock_level": 3}, id="widget:w0", scope={"target": "t"}
    )
    resource["collected_at"] = now_rfc3339()
    write_snapshot(Snapshot(now_rfc3339(), resources=[resource]), tmp_path / "snap.jsonl")
    for _ in range(2):
        assert invoke("evaluate", str(tmp_path / "snap.jsonl")).exit_code == 0

    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="prod/")
    assert [item["Key"] for item in listed["Contents"]] == [
        f"prod/{file_name(ORIGIN, size)}" for size in (3, 6)
    ]
    assert not (tmp_path / ".assay" / "checkpoints").exists()
    assert invoke("evidence", "verify", "--key", str(key.verifier)).exit_code == 0

    with sqlite3.connect(tmp_path / ".assay" / "ledger.db") as raw:
        for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            raw.execute(f"DROP TRIGGER {name}")
        raw.execute("DELETE FROM checkpoints WHERE tree_size > 3")
        raw.execute("DELETE FROM records WHERE seq >= 3")
        raw.execute("DELETE FROM tree_nodes WHERE (idx + 1) * (1 << level) > 3")
    result = invoke("evidence", "verify", "--key", str(key.verifier))
    assert result.exit_code == 4
    assert f"pinned checkpoint {ORIGIN}@6 (from s3://{BUCKET}/prod/" in result.output


def test_an_s3_checkpoint_is_never_replaced(s3: Any) -> None:
    log = resolve_checkpoint_log(f"s3://{BUCKET}/a/b")
    assert log == S3Log(BUCKET, "a/b/")
    key = SigningKey.generate(ORIGIN)
    first = sign_tree(key, 5, b"\1" * 32)
    log.publish(first)
    log.publish(first)
    with pytest.raises(LedgerError, match=f"already holds a different checkpoint {ORIGIN}@5"):
        log.publish(sign_tree(key, 5, b"\2" * 32))
    found = log.newest([ORIGIN])
    assert found is not None and found[0] == first
    assert log.newest(["someone.else"]) is None


def test_tokens_and_cosignatures_are_kept_beside_the_checkpoint_once(s3: Any) -> None:
    key = SigningKey.generate(ORIGIN)
    log = resolve_checkpoint_log(f"s3://{BUCKET}/logs")
    checkpoint = sign_tree(key, 0, bytes.fromhex("e3b0c442" * 8))
    log.publish(checkpoint)
    assert log.attach(checkpoint, "tsr", b"token")
    assert log.attach(checkpoint, "cosig-0a0b0c0d", b"\xe2\x80\x94 w a\n")
    assert not log.attach(checkpoint, "tsr", b"another token")  # the first one stays
    assert log.attachments(checkpoint) == {
        "cosig-0a0b0c0d": b"\xe2\x80\x94 w a\n",
        "tsr": b"token",
    }
    stem = file_name(ORIGIN, 0).removesuffix("checkpoint")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="logs/")["Contents"]}
    assert f"logs/{stem}tsr" in keys
    assert log.newest([ORIGIN]) is not None  # attachments do not confuse the pin
