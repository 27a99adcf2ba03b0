"""`assay evidence ...` and signed runs, through the command line an auditor uses."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import zipfile
from pathlib import Path

import pytest
from bundle_tools import rewrite
from cli_runs import evaluate, invoke
from widgets import widget_workspace

from assay.engine.collect import now_rfc3339
from assay.evidence import SIGNING_KEY_ENV, SigningKey, write_signing_key

LEDGER = Path(".assay") / "ledger.db"


@pytest.fixture
def workspace(tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return widget_workspace(tmp_path, controls_dir, monkeypatch)


def keygen(*args: str) -> str:
    result = invoke("evidence", "keygen", *args)
    assert result.exit_code == 0, result.output
    assert "PRIVATE+KEY" not in result.output
    return result.stdout.strip()


def test_keygen_writes_a_private_file_and_prints_only_the_public_key(workspace: Path) -> None:
    vkey = keygen("--origin", "example.com/evidence/ci")
    assert vkey.startswith("example.com/evidence/ci+")
    key_file = workspace / ".assay" / "signing.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secret = key_file.read_text().strip()
    assert secret.startswith("PRIVATE+KEY+") and secret not in vkey
    assert (workspace / ".assay" / "signing.pub").read_text() == vkey + "\n"
    again = invoke("evidence", "keygen")
    assert again.exit_code == 2 and "refusing to overwrite" in again.output
    assert keygen("--out", "other.key").startswith("assay.local/evidence/")
    assert (workspace / "other.pub").is_file()


def test_a_signed_run_proves_and_verifies_end_to_end(workspace: Path) -> None:
    vkey = keygen("--origin", "example.com/evidence/ci")
    first = evaluate(workspace, 3, 4)
    assert first.exit_code == 0, first.output
    ledger = json.loads(first.stdout)["run"]["ledger"]
    assert ledger["checkpoint"]["origin"] == "example.com/evidence/ci"
    assert ledger["checkpoint"]["size"] == 4

    pinned = invoke("evidence", "checkpoint")
    assert pinned.exit_code == 0 and pinned.output.startswith("example.com/evidence/ci\n4\n")
    (workspace / "pinned.checkpoint").write_text(pinned.output)
    evaluate(workspace, 5)

    proof = invoke("evidence", "prove", "1")
    assert proof.exit_code == 0 and proof.output.startswith("c2sp.org/tlog-proof@v1\n")
    (workspace / "r1.tlog-proof").write_text(proof.output)
    checked = invoke("evidence", "verify-proof", "r1.tlog-proof", "--key", vkey)
    assert checked.exit_code == 0, checked.output
    assert "record 1 is in example.com/evidence/ci@7" in checked.output

    verified = invoke(
        "evidence",
        "verify",
        "--key",
        ".assay/signing.pub",
        "--trusted-checkpoint",
        "pinned.checkpoint",
    )
    assert verified.exit_code == 0, verified.output
    assert "7 records verified" in verified.output
    assert "2 signed checkpoints verified; latest example.com/evidence/ci@7" in verified.output
    assert "consistent with the trusted checkpoint example.com/evidence/ci@4" in verified.output

    doc = json.loads(invoke("evidence", "prove", "2", "--format", "json").output)
    assert (doc["index"], doc["tree_size"]) == (2, 7)


def test_verify_without_a_key_says_what_it_did_not_check(workspace: Path) -> None:
    evaluate(workspace, 3)
    result = invoke("evidence", "verify")
    assert result.exit_code == 0
    assert "! signatures and truncation were not checked (no public key given)" in result.output
    doc = json.loads(invoke("evidence", "verify", "--format", "json").output)
    assert doc["signatures_checked"] is False and doc["notes"]


def test_tampering_exits_4_naming_what_is_wrong(workspace: Path) -> None:
    vkey = keygen()
    evaluate(workspace, 3, 4)
    (workspace / "pinned").write_text(invoke("evidence", "checkpoint").output)
    with sqlite3.connect(workspace / LEDGER) as raw:
        raw.execute("DROP TRIGGER records_no_delete")
        raw.execute("DELETE FROM records WHERE seq = 3")
    result = invoke("evidence", "verify", "--key", vkey)
    assert result.exit_code == 4
    assert "@4: covers 4 records, but the ledger has 3" in result.output
    assert "✓" not in result.output
    assert "3 records passed the checks before the failure" in result.output
    trusted = invoke("evidence", "verify", "--key", vkey, "--trusted-checkpoint", "pinned")
    assert trusted.exit_code == 4


def test_a_forgery_under_another_key_exits_4(workspace: Path) -> None:
    keygen("--origin", "example.com/evidence/ci")
    evaluate(workspace, 3)
    forger = SigningKey.generate("example.com/evidence/ci")
    result = invoke("evidence", "verify", "--key", str(forger.verifier))
    assert result.exit_code == 4 and "no signature by a trusted key" in result.output


def test_a_bad_or_foreign_key_stops_a_run_before_it_writes(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keygen("--origin", "example.com/evidence/ci")
    evaluate(workspace, 3)
    before = invoke("evidence", "verify", "--format", "json")
    records = json.loads(before.stdout)["records"]

    os.chmod(workspace / ".assay" / "signing.key", 0o644)
    loose = evaluate(workspace, 3)
    assert loose.exit_code == 2 and "readable by others" in loose.output
    os.chmod(workspace / ".assay" / "signing.key", 0o600)

    write_signing_key(workspace / "foreign.key", SigningKey.generate("example.com/other"))
    monkeypatch.setenv(SIGNING_KEY_ENV, str(workspace / "foreign.key"))
    foreign = evaluate(workspace, 3)
    monkeypatch.delenv(SIGNING_KEY_ENV)
    assert foreign.exit_code == 2 and "signed under origin 'example.com/evidence/ci'" in (
        foreign.output
    )
    after = json.loads(invoke("evidence", "verify", "--format", "json").output)
    assert after["records"] == records


def test_checkpoint_sign_and_rotate_key(workspace: Path) -> None:
    evaluate(workspace, 3)  # no key yet: an unsigned run
    empty = invoke("evidence", "checkpoint")
    assert empty.exit_code == 2 and "assay evidence checkpoint --sign" in empty.output
    no_key = invoke("evidence", "checkpoint", "--sign")
    assert no_key.exit_code == 2 and "assay evidence keygen" in no_key.output

    old_vkey = keygen("--origin", "example.com/evidence/2024")
    refused = invoke("evidence", "checkpoint", "--sign")
    assert refused.exit_code == 2
    assert "records 0..2 were appended before any signed checkpoint" in refused.output
    assert "--adopt-tail" in refused.output
    signed = invoke("evidence", "checkpoint", "--sign", "--adopt-tail")
    assert signed.exit_code == 0 and signed.output.startswith("example.com/evidence/2024\n4\n")

    keygen("--origin", "example.com/evidence/2025", "--out", "next.key")
    rotated = invoke("evidence", "rotate-key", "--new-key", "next.key")
    assert rotated.exit_code == 0, rotated.output
    assert "final checkpoint under the old key: example.com/evidence/2024@5" in rotated.output
    new_vkey = rotated.stdout.strip()
    result = invoke("evidence", "verify", "--key", old_vkey)
    assert result.exit_code == 0, result.output
    assert "latest example.com/evidence/2025@5" in result.output
    adopted = "records 0..2 were appended without a checkpoint and adopted unsigned"
    assert adopted in result.output
    stale = invoke("evidence", "checkpoint", "--sign")  # still the old key by default
    assert stale.exit_code == 2 and "signed under origin 'example.com/evidence/2025'" in (
        stale.output
    )
    assert invoke("evidence", "checkpoint", "--sign", "--key", "next.key").exit_code == 0
    assert new_vkey.startswith("example.com/evidence/2025+")


def test_bad_public_keys_and_checkpoint_files_are_usage_errors(workspace: Path) -> None:
    evaluate(workspace, 3)
    bad = invoke("evidence", "verify", "--key", "not-a-key")
    assert bad.exit_code == 2 and "--key: verifier key 'not-a-key'" in bad.output
    (workspace / "junk").write_text("junk\n")
    no_key = invoke("evidence", "verify", "--trusted-checkpoint", "junk")
    assert no_key.exit_code == 2 and "needs --key" in no_key.output
    vkey = str(SigningKey.generate("x").verifier)
    junk = invoke("evidence", "verify", "--key", vkey, "--trusted-checkpoint", "junk")
    assert junk.exit_code == 2 and "not a signed note" in junk.output


# --- bundles -----------------------------------------------------------------------------


def test_export_then_verify_a_bundle_offline(workspace: Path) -> None:
    vkey = keygen("--origin", "example.com/evidence/ci")
    evaluate(workspace, 3, 4)
    evaluate(workspace, 1)

    exported = invoke("evidence", "export", "--out", "q2.zip")
    assert exported.exit_code == 0, exported.output
    assert "wrote q2.zip: records 0..6 (7), 2 checkpoints up to example.com/evidence/ci@7" in (
        exported.output
    )
    assert f"assay evidence verify q2.zip --key {vkey}" in exported.output
    (workspace / LEDGER).unlink()  # the auditor has nothing but the bundle and the key

    verified = invoke("evidence", "verify", "q2.zip", "--key", vkey)
    assert verified.exit_code == 0, verified.output
    assert "✓ 7 of records 0..6 verified" in verified.output
    assert "✓ 2 signed checkpoints verified; latest example.com/evidence/ci@7" in verified.output
    assert "unzip -p q2.zip checkpoints/0001-size-7.note > pinned.checkpoint" in verified.output
    assert "! oscal/assessment-results.json and summary.md are covered" in verified.output
    rebuilt = invoke("evidence", "verify", "q2.zip", "--key", vkey, "--check-views")
    assert "✓ the OSCAL document and the summary match the records" in rebuilt.output
    doc = json.loads(invoke("evidence", "verify", "q2.zip", "--key", vkey, "-f", "json").output)
    assert doc["ok"] and doc["range"] == {"start": 0, "end": 7} and doc["bundle"] == "q2.zip"


def test_next_bundle_against_a_pinned_checkpoint_and_a_run(workspace: Path) -> None:
    vkey = keygen("--origin", "example.com/evidence/ci")
    evaluate(workspace, 3)
    invoke("evidence", "export", "--out", "q1.zip")
    with zipfile.ZipFile(workspace / "q1.zip") as zf:
        (workspace / "pinned").write_bytes(zf.read("checkpoints/0000-size-3.note"))
    run = json.loads(evaluate(workspace, 5, 6).stdout)["run"]["id"]

    q2 = invoke("evidence", "export", "--out", "q2.zip", "--run", run)
    assert q2.exit_code == 0 and "records 3..6 (4)" in q2.output, q2.output
    result = invoke("evidence", "verify", "q2.zip", "--key", vkey, "--trusted-checkpoint", "pinned")
    assert result.exit_code == 0, result.output
    assert "✓ consistent with the trusted checkpoint example.com/evidence/ci@3" in result.output
    today = now_rfc3339()[:10]
    period = invoke("evidence", "export", "--out", "p.zip", "--from", today, "--to", today)
    assert period.exit_code == 0 and "records 0..6 (7)" in period.output, period.output


def test_a_tampered_bundle_exits_4(workspace: Path) -> None:
    vkey = keygen()
    evaluate(workspace, 3, 4)
    invoke("evidence", "export", "--out", "b.zip")
    bundle = workspace / "b.zip"
    rewrite(bundle, bundle, {"summary.md": lambda data: data + b"\nAll good, trust us.\n"})
    result = invoke("evidence", "verify", "b.zip", "--key", vkey)
    assert result.exit_code == 4
    failed = "evidence bundle b.zip failed verification: summary.md: SHA-256 of its stored bytes"
    assert failed in result.output
    assert "✓" not in result.output  # nothing reads as verified when verification failed
    other = str(SigningKey.generate("x").verifier)
    result = invoke("evidence", "verify", "b.zip", "--key", other)
    assert result.exit_code == 4 and "✓" not in result.output


def test_bundle_usage_errors(workspace: Path) -> None:
    keygen()
    evaluate(workspace, 3)
    invoke("evidence", "export", "--out", "b.zip")
    no_key = invoke("evidence", "verify", "b.zip")
    assert no_key.exit_code == 2 and "verifying a bundle needs --key" in no_key.output
    vkey = str(SigningKey.generate("x").verifier)
    both = invoke("evidence", "verify", "b.zip", "--ledger", str(LEDGER), "--key", vkey)
    assert both.exit_code == 2 and "not both" in both.output
    views = invoke("evidence", "verify", "--check-views")
    assert views.exit_code == 2 and "BUNDLE only" in views.output
    mixed = invoke("evidence", "export", "--out", "x.zip", "--run", "r", "--from", "2024-01-01")
    assert mixed.exit_code == 2 and "--run or --from/--to" in mixed.output
    bad = invoke("evidence", "export", "--out", "x.zip", "--from", "01/02/2024")
    assert bad.exit_code == 2 and "'01/02/2024' is not a date" in bad.output
    nothing = invoke("evidence", "export", "--out", "x.zip", "--run", "nope")
    assert nothing.exit_code == 2 and "no records of run nope" in nothing.output


def test_unsigned_runs_say_so_once_and_export_says_how_to_sign(workspace: Path) -> None:
    run = evaluate(workspace, 3, 4)
    assert run.stderr.count("of this run are not signed") == 1
    assert "assay evidence keygen, then assay evidence checkpoint --sign --adopt-tail" in (
        run.stderr
    )
    keygen()
    export = invoke("evidence", "export", "--out", "b.zip")
    assert export.exit_code == 2
    assert "no signed checkpoint to export against" in export.output
    assert "hint: sign one: assay evidence checkpoint --sign (with --adopt-tail" in export.output
    signed = evaluate(workspace, 3, 4)  # the key is refused on the unsigned tail
    assert signed.exit_code == 2 and "adopt" in signed.output
    assert invoke("evidence", "checkpoint", "--sign", "--adopt-tail").exit_code == 0
    again = evaluate(workspace, 3, 4)
    assert "not signed" not in again.stderr
    assert invoke("evidence", "export", "--out", "b.zip").exit_code == 0
