"""Where assay writes: never through a planted link, never over what is not a regular file,
and a bad output path fails before anything runs or reaches the ledger."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.evidence import PseudonymKeyError, load_key
from assay.files import UnsafePathError, atomic_write
from assay.testing import make_resource


@pytest.fixture
def ws(tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
    )
    monkeypatch.chdir(tmp_path)
    for name in ("ASSAY_LEDGER", "GITHUB_STEP_SUMMARY", "ASSAY_SIGNING_KEY"):
        monkeypatch.delenv(name, raising=False)
    r = make_resource("test.widget", {"lock_level": 5}, id="widget:a", name="a")
    r["collected_at"] = now_rfc3339()
    write_snapshot(Snapshot(now_rfc3339(), resources=[r]), tmp_path / "snap.jsonl")
    return tmp_path


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args))


def ledger_rows(ws: Path) -> int:
    db = ws / ".assay" / "ledger.db"
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM records").fetchone()[0])


def test_a_link_planted_at_the_old_temporary_name_is_never_followed(ws: Path) -> None:
    victim = ws / "victim.txt"
    victim.write_text("precious\n")
    for planted in ("report.json.tmp", ".report.json.tmp"):
        (ws / planted).symlink_to(victim)
    res = invoke("evaluate", "snap.jsonl", "-f", "json=report.json")
    assert res.exit_code == 0, res.output
    assert victim.read_text() == "precious\n"
    assert [r["status"] for r in json.loads((ws / "report.json").read_text())["results"]] == [
        "pass"
    ]
    assert not stat.S_ISLNK(os.lstat(ws / "report.json").st_mode)
    # Nothing of ours is left beside it: only the planted links and what was there.
    assert sorted(p.name for p in ws.iterdir() if p.name.endswith(".tmp")) == [
        ".report.json.tmp",
        "report.json.tmp",
    ]


@pytest.mark.parametrize("kind", ["fifo", "directory", "symlink"])
def test_a_target_that_is_not_a_regular_file_is_refused_before_the_run(ws: Path, kind: str) -> None:
    target = ws / "report.json"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "directory":
        target.mkdir()
    else:
        (ws / "elsewhere.json").write_text("keep\n")
        target.symlink_to(ws / "elsewhere.json")
    before = os.lstat(target)
    res = invoke("evaluate", "snap.jsonl", "-f", f"json={target}")
    assert res.exit_code == 2, res.output
    assert "not a regular file; refusing to replace it" in res.output
    assert {"fifo": "a FIFO", "directory": "a directory", "symlink": "a symbolic link"}[kind] in (
        res.output
    )
    after = os.lstat(target)
    assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino)
    assert ledger_rows(ws) == 0  # nothing ran


@pytest.mark.skipif(os.geteuid() != 0, reason="only root could replace /dev/null")
def test_dev_null_is_never_replaced_by_a_report(ws: Path) -> None:
    res = invoke("evaluate", "snap.jsonl", "-f", "json=/dev/null")
    assert res.exit_code == 2, res.output
    assert "/dev/null exists and is a character device" in res.output
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_an_output_in_a_missing_directory_fails_before_anything_is_recorded(ws: Path) -> None:
    for args in (
        ["-f", "json=no/such/dir/report.json"],
        ["-f", "json", "--output", "no/such/dir/report.json"],
    ):
        res = invoke("evaluate", "snap.jsonl", *args)
        assert res.exit_code == 2, res.output
        assert "directory no/such/dir does not exist" in res.output
        assert "Traceback" not in res.output
    assert ledger_rows(ws) == 0
    res = invoke("collect", "--output", "no/such/snap.jsonl")
    assert res.exit_code == 2 and "directory no/such does not exist" in res.output


def test_dash_is_standard_output(ws: Path) -> None:
    res = invoke("evaluate", "snap.jsonl", "-f", "json=-")
    assert res.exit_code == 0, res.output
    assert [r["status"] for r in json.loads(res.stdout)["results"]] == ["pass"]
    assert not (ws / "-").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["collect", "--output"],
        ["evidence", "export", "--out"],
        ["dsr", "access", "--datamap", "assay.yaml", "--request", "DSR-1", "--out"],
    ],
    ids=["snapshot", "bundle", "dsr-package"],
)
def test_every_writer_refuses_a_fifo(ws: Path, command: list[str]) -> None:
    os.mkfifo(ws / "out")
    res = invoke(*command, "out")
    assert res.exit_code == 2, res.output
    assert "is a FIFO, not a regular file" in res.output
    assert stat.S_ISFIFO(os.lstat(ws / "out").st_mode)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_write(target) as f:
        f.write("half")
        raise RuntimeError("writer failed")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_no_overwrite_means_no_overwrite_even_through_a_link(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    (tmp_path / "key").symlink_to(victim)
    with pytest.raises(UnsafePathError), atomic_write(tmp_path / "key", replace=False) as f:
        f.write("secret")
    assert victim.read_text() == "keep\n"


def test_keygen_refuses_a_planted_link_at_the_key_or_public_key(ws: Path) -> None:
    victim = ws / "victim"
    victim.write_text("keep\n")
    (ws / "k.pub").symlink_to(victim)
    res = invoke("evidence", "keygen", "--origin", "example.com/log", "--out", "k.key")
    assert res.exit_code == 2, res.output
    assert "k.pub already exists" in res.output
    assert victim.read_text() == "keep\n" and not (ws / "k.key").exists()
    res = invoke("evidence", "keygen", "--origin", "example.com/log", "--out", "new/dir/s.key")
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(os.stat(ws / "new/dir/s.key").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ws / "new/dir").st_mode) == 0o700


def test_a_pseudonym_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.key"
    key = load_key(path)  # created 0600
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key(path) == key
    path.chmod(0o640)
    with pytest.raises(PseudonymKeyError, match=r"mode 0640, readable by others; run: chmod 600"):
        load_key(path)
