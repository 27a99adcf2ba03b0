"""`assay dsr ...` from the command line: a request's whole life, exit codes, output formats."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from assay.demo.shop import create_shop_sqlite
from assay.engine.cli.main import cli
from assay.examples import examples_root

DATAMAP = str(examples_root() / "shop" / "datamap.yaml")
ALICE = "email=Alice.EXAMPLE@example.com"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    create_shop_sqlite(tmp_path / "shop.db")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHOP_DB", str(tmp_path / "shop.db"))
    monkeypatch.setenv("ASSAY_DATAMAP", DATAMAP)
    for var in ("ASSAY_LEDGER", "ASSAY_PSEUDONYM_KEY"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def dsr(*args: str) -> Result:
    return CliRunner().invoke(cli, ["dsr", *args], catch_exceptions=False)


def new_request(kind: str) -> str:
    res = dsr("new", "--type", kind, "--identity", ALICE)
    assert res.exit_code == 0, res.output
    match = re.match(r"(DSR-\d{8}-[0-9a-f]{6}) received", res.output)
    assert match, res.output
    return match.group(1)


def test_an_erasure_request_from_receipt_to_completion(workspace: Path) -> None:
    rid = new_request("erasure")
    res = dsr("erase", "--request", rid, "--identity", ALICE)
    assert res.exit_code == 2 and "not verified yet" in res.output
    assert dsr("verify", rid, "--method", "reply from the account address").exit_code == 0
    before = (workspace / "shop.db").read_bytes()
    res = dsr("erase", "--request", rid, "--identity", ALICE, "--dry-run")
    assert res.exit_code == 0, res.output
    assert "Erasure plan (dry run)" in res.output and "tax-records" in res.output
    assert (workspace / "shop.db").read_bytes() == before
    res = dsr("erase", "--request", rid, "--identity", ALICE, "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["state"] == "completed" and doc["erased_rows"] == 14
    assert set(doc["residual"].values()) == {0}
    res = dsr("erase", "--request", rid, "--identity", ALICE)
    assert res.exit_code == 0 and "completed already" in res.output
    status = json.loads(dsr("status", "--all", "--format", "json").output)
    assert [(r["request"], r["state"]) for r in status] == [(rid, "completed")]
    assert len(status[0]["deferred"]) == 3
    verified = CliRunner().invoke(cli, ["evidence", "verify"])
    assert verified.exit_code == 0, verified.output


def test_access_sealed_with_a_passphrase_and_unpacked(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EXPORT_PASS", "a long passphrase")
    rid = new_request("portability")
    dsr("verify", rid, "--method", "in person")
    out = workspace / "alice.enc"
    res = dsr(
        "export",
        "--request",
        rid,
        "--identity",
        ALICE,
        "--out",
        str(out),
        "--passphrase-env",
        "EXPORT_PASS",
    )
    assert res.exit_code == 0, res.output
    assert "sealed (AES-256-GCM, scrypt)" in " ".join(res.output.split())
    res = dsr("unpack", str(out), "--out", str(workspace / "x"), "--passphrase-env", "EXPORT_PASS")
    assert res.exit_code == 0 and "files verified" in res.output
    monkeypatch.setenv("EXPORT_PASS", "wrong")
    res = dsr("unpack", str(out), "--out", str(workspace / "y"), "--passphrase-env", "EXPORT_PASS")
    assert res.exit_code == 4 and "wrong passphrase" in res.output
    res = dsr("unpack", str(out), "--out", str(workspace / "z"))
    assert res.exit_code == 2 and "is sealed: a passphrase is needed" in res.output
    assert "--passphrase-env VAR" in res.output


def test_rectify_extend_reject_and_status(workspace: Path) -> None:
    rid = new_request("rectification")
    dsr("verify", rid, "--method", "in person")
    res = dsr(
        "rectify", "--request", rid, "--identity", ALICE, "--set", "customers.phone=+44 7700 900999"
    )
    assert res.exit_code == 0 and "customers: phone: 1 row updated" in res.output
    other = new_request("access")
    assert "now due" in dsr("extend", other, "--months", "2", "--reason", "complex").output
    assert dsr("reject", other, "--reason", "duplicate of an earlier request").exit_code == 0
    res = dsr("status")
    assert res.exit_code == 0 and "no open requests" in res.output


def test_lint_and_bad_input_exit_2_with_the_reason(workspace: Path) -> None:
    res = dsr("lint")
    assert res.exit_code == 0 and "0 errors" in res.output
    bad = workspace / "bad.yaml"
    bad.write_text(
        Path(DATAMAP)
        .read_text()
        .replace("key: id\n    purposes: [account]", "key: idx\n    purposes: [account]")
    )
    res = dsr("lint", "--datamap", str(bad))
    assert res.exit_code == 2 and "key column 'idx' does not exist" in res.output
    res = dsr("erase", "--datamap", str(bad), "--identity", ALICE, "--dry-run")
    assert res.exit_code == 2 and "does not fit the database" in res.output
    res = dsr("erase", "--request", "DSR-nope", "--identity", ALICE)
    assert res.exit_code == 2 and "no pseudonym key at" in res.output  # no request was opened
    new_request("erasure")
    res = dsr("erase", "--request", "DSR-nope", "--identity", ALICE)
    assert res.exit_code == 2 and "no request 'DSR-nope'" in res.output
    res = dsr("erase", "--identity", "email", "--dry-run")
    assert res.exit_code == 2 and "TYPE=VALUE" in res.output
    schema = json.loads(dsr("schema").output)
    assert schema["$id"] == "urn:assay:datamap:v1"


def test_free_text_naming_someone_never_reaches_the_ledger(workspace: Path) -> None:
    rid = new_request("access")
    ledger = workspace / ".assay" / "ledger.db"
    before = ledger.read_bytes()
    for args in (
        ("verify", rid, "--method", "reply from alice.example@example.com"),
        ("verify", rid, "--method", "call to root@localhost"),
        ("reject", rid, "--reason", "jane%40example.com asked twice"),
        ("extend", rid, "--months", "1", "--reason", "backlog, ask jörg@bücher.de"),
    ):
        res = dsr(*args)
        assert res.exit_code == 2, res.output
        assert "contains an e-mail address, which the ledger would keep for good" in res.output
        assert "@" not in res.output.split("hint:")[0].split(":", 1)[1]
    assert ledger.read_bytes() == before


def test_only_a_new_request_creates_the_pseudonym_key(workspace: Path) -> None:
    rid = new_request("erasure")
    key = workspace / ".assay" / "pseudonym.key"
    key.rename(workspace / "elsewhere.key")
    for args in (
        ("verify", rid, "--method", "in person"),
        ("erase", "--request", rid, "--identity", ALICE),
        ("status",),
    ):
        res = dsr(*args)
        assert res.exit_code == 2, res.output
        assert f"no pseudonym key at {Path('.assay') / 'pseudonym.key'}" in res.output
        assert "--pseudonym-key" in res.output
        assert not key.exists()  # never created behind the user's back
    res = dsr("verify", rid, "--method", "in person", "--pseudonym-key", "elsewhere.key")
    assert res.exit_code == 0, res.output
