"""Reports from the command line: several formats at once, gating options, diff and waivers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from widgets import widget_snapshot

from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.testing import make_resource

TODAY = datetime.now(UTC).date()


@pytest.fixture
def ws(tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
        "waivers:\n"
        "  - {id: W-SOON, control: test-widget-locked, resources: [none], reason: expires soon,"
        f" approver: sec@example.com, expires: {TODAY + timedelta(days=5)}}}\n"
        "  - {id: W-LATER, control: test-widget-locked, resources: [none], reason: expires later,"
        f" approver: sec@example.com, expires: {TODAY + timedelta(days=100)}}}\n"
        "  - {id: W-PAST, control: test-widget-locked, resources: [none], reason: expired long ago,"
        f" approver: sec@example.com, expires: {TODAY - timedelta(days=30)}}}\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_LEDGER", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def snap(ws: Path, **levels: int) -> str:
    path = ws / "snap.jsonl"
    write_snapshot(widget_snapshot(levels, "t"), path)
    return str(path)


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_several_formats_in_one_run(ws: Path) -> None:
    res = invoke(
        "evaluate",
        snap(ws, a=5, b=1),
        "-f",
        "table",
        "-f",
        "sarif=out.sarif",
        "-f",
        "junit=out.xml",
        "-f",
        "html=r.html",
        "-f",
        "json=r.json",
    )
    assert res.exit_code == 1
    assert "2 results: 1 passed, 1 failed" in res.stdout
    assert json.loads((ws / "out.sarif").read_text())["version"] == "2.1.0"
    assert (ws / "out.xml").read_text().startswith("<testsuites")
    assert "<svg" in (ws / "r.html").read_text()
    assert json.loads((ws / "r.json").read_text())["schema"] == "assay.results/v1"
    assert not list(ws.glob("*.tmp"))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "pdf"], "unknown format 'pdf'"),
        (["-f", "json", "-f", "table"], "only one format can go to standard output"),
        (["-f", "sarif="], "expected a file name after '='"),
        (["-f", "json=a.json", "-o", "b.json"], "--output names the file of exactly one format"),
    ],
)
def test_output_option_errors(ws: Path, args: list[str], message: str) -> None:
    res = invoke("evaluate", snap(ws, a=5), *args)
    assert res.exit_code == 2 and message in res.output
    assert not (ws / ".assay").exists()  # nothing ran


def test_step_summary_is_written_when_github_sets_it(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = ws / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    invoke("evaluate", snap(ws, a=5, b=1))
    text = summary.read_text()
    assert "| ✅ passed | 1 |" in text and "| ❌ failed | 1 |" in text


def test_soft_fail_reports_and_exits_0(ws: Path) -> None:
    res = invoke("evaluate", snap(ws, a=1), "--soft-fail", "-f", "table", "-f", "json=r.json")
    assert res.exit_code == 0
    assert (
        "exit code 0 (--soft-fail; the gate's code is 1: an unwaived failure at or above "
        "--fail-on)" in res.stdout
    )
    run = json.loads((ws / "r.json").read_text())["run"]
    assert run["exit_code"] == 1 and run["soft_fail"] is True
    res = invoke("evaluate", snap(ws, a=1))
    assert res.exit_code == 1
    assert "exit code 1: an unwaived failure at or above --fail-on" in res.stdout


def test_only_new_gates_on_new_failures_only(ws: Path) -> None:
    assert invoke("evaluate", snap(ws, a=1, b=5)).exit_code == 1
    # a still fails: not new
    assert invoke("evaluate", snap(ws, a=1, b=5), "--only-new").exit_code == 0
    # b breaks: new
    res = invoke("evaluate", snap(ws, a=1, b=0), "--only-new", "-f", "json")
    assert res.exit_code == 1
    changes = {r["resource"]["name"]: r["change"] for r in json.loads(res.stdout)["results"]}
    assert changes == {"a": "still_failing", "b": "new_failure"}


def test_baseline_file_and_first_seen(ws: Path) -> None:
    first = invoke(
        "evaluate", snap(ws, a=1, b=5), "-f", "json=first.json", "--ledger", "sqlite:///one.db"
    )
    assert first.exit_code == 1
    # another ledger, so only the file can say what came before
    res = invoke(
        "evaluate",
        snap(ws, a=1, c=0),
        "--baseline",
        "first.json",
        "-f",
        "json",
        "--ledger",
        "sqlite:///two.db",
    )
    doc = json.loads(res.stdout)
    by_name = {r["resource"]["name"]: r for r in doc["results"]}
    assert by_name["a"]["change"] == "still_failing"
    base = json.loads((ws / "first.json").read_text())
    assert by_name["a"]["first_seen"] == base["run"]["finished_at"]
    assert by_name["c"]["change"] == "new_failure"
    assert [g["resource"]["name"] for g in doc["summary"]["gone"]] == ["b"]


def test_bad_baseline_file(ws: Path) -> None:
    (ws / "bad.json").write_text('{"schema": "other/v1"}')
    res = invoke("evaluate", snap(ws, a=1), "--baseline", "bad.json")
    assert (
        res.exit_code == 2 and "expected a assay.results/v1 document; got 'other/v1'" in res.output
    )


def test_diff_between_two_runs(ws: Path) -> None:
    ids = []
    for levels in ({"a": 1, "b": 5, "c": 5}, {"a": 5, "b": 1, "d": 1}):
        res = invoke("evaluate", snap(ws, **levels), "-f", "json")
        ids.append(json.loads(res.stdout)["run"]["id"])
    res = invoke("diff", ids[0][:8], ids[1], "--format", "json")
    assert res.exit_code == 0, res.output
    got = {(c["resource"]["name"], c["change"]) for c in json.loads(res.stdout)["changes"]}
    assert got == {
        ("a", "fixed"),
        ("b", "new_failure"),
        ("d", "new_failure"),
        ("c", "resource_gone"),
    }
    table = invoke("diff", ids[0], ids[1])
    assert "new failure" in table.stdout and "resource gone" in table.stdout
    missing = invoke("diff", "ffffffff", ids[1])
    assert missing.exit_code == 2 and "no run in the ledger match 'ffffffff'" in missing.output


def test_waivers_list_states(ws: Path) -> None:
    res = invoke("waivers", "list", "--format", "json")
    states = {w["id"]: w["state"] for w in json.loads(res.stdout)}
    assert states == {"W-SOON": "expiring", "W-LATER": "active", "W-PAST": "expired"}
    table = invoke("waivers", "list")
    assert "W-PAST" in table.stdout and "expired" in table.stdout


def test_reports_written_only_to_files_are_named_with_the_summary_on_stderr(ws: Path) -> None:
    res = invoke("evaluate", snap(ws, a=5, b=1), "-f", "html=x.html", "-f", "json=y.json")
    assert res.exit_code == 1
    assert res.stdout == ""
    assert "html report written to x.html" in res.stderr
    assert "json report written to y.json" in res.stderr
    assert "2 results: 1 passed, 1 failed" in res.stderr
    assert "exit code 1: an unwaived failure at or above --fail-on" in res.stderr
    assert (ws / "x.html").exists() and json.loads((ws / "y.json").read_text())["results"]


def test_piped_output_never_folds_an_id_or_a_date(ws: Path) -> None:
    long_id = "widget:" + "-".join(f"segment{i:02d}" for i in range(20))
    r = make_resource("test.widget", {"lock_level": 1}, id=long_id, name=long_id)
    r["collected_at"] = now_rfc3339()
    write_snapshot(Snapshot(now_rfc3339(), resources=[r]), ws / "long.jsonl")
    res = invoke("evaluate", str(ws / "long.jsonl"))
    assert res.exit_code == 1
    [row] = [line for line in res.stdout.splitlines() if "test-widget-locked" in line]
    assert long_id in row and "lock level 1 < 2" in row
    [since] = [line for line in res.stdout.splitlines() if "evidence:" in line]
    assert since.endswith("…)")  # the whole line, not folded at 80 or 140 columns


def test_the_table_tells_two_resources_of_one_name_apart_by_where_they_live(ws: Path) -> None:
    resources = []
    for account in ("111111111111", "222222222222"):
        r = make_resource(
            "test.widget",
            {"lock_level": 1},
            id=f"arn:aws:iam::{account}:root",
            name="root",
            scope={"provider": "aws", "account": account, "target": f"acct-{account[0]}"},
        )
        r["collected_at"] = now_rfc3339()
        resources.append(r)
    write_snapshot(Snapshot(now_rfc3339(), resources=resources), ws / "two.jsonl")
    res = invoke("evaluate", str(ws / "two.jsonl"))
    rows = [line for line in res.stdout.splitlines() if "test-widget-locked" in line]
    assert len(rows) == 2
    assert any("111111111111" in r for r in rows) and any("222222222222" in r for r in rows)
    assert all(" where " not in r for r in rows)
    header = next(line for line in res.stdout.splitlines() if "severity" in line)
    assert header.index("resource") < header.index("where") < header.index("reason")


def test_a_run_compares_only_with_earlier_runs_of_the_same_targets(ws: Path) -> None:
    def run_on(target: str, *names: str) -> dict[str, Any]:
        resources = []
        for name in names:
            r = make_resource(
                "test.widget", {"lock_level": 1}, id=f"{target}:{name}", name=name,
                scope={"target": target},
            )  # fmt: skip
            r["collected_at"] = now_rfc3339()
            resources.append(r)
        snapshot = Snapshot(now_rfc3339(), targets=[{"name": target}], resources=resources)
        write_snapshot(snapshot, ws / f"{target}.jsonl")
        res = invoke("evaluate", str(ws / f"{target}.jsonl"), "-f", "json")
        doc: dict[str, Any] = json.loads(res.stdout)
        return doc

    run_on("cluster", "a", "b")
    other = run_on("account", "c")  # another estate on the same ledger
    assert other["summary"]["baseline"] is None and other["summary"]["gone"] == []
    again = run_on("cluster", "a", "b")
    assert again["summary"]["baseline"] is not None
    assert {r["change"] for r in again["results"]} == {"still_failing"}
    assert again["summary"]["gone"] == []
