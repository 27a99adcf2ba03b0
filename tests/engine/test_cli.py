"""The command line: exit codes, formats, bad input, the evidence it writes, its docs."""

from __future__ import annotations

import json
import re
import shlex
import sqlite3
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from widgets import widget, widget_workspace

from assay.engine.cli.examples import leaf_commands
from assay.engine.cli.main import cli
from assay.engine.collect import Snapshot, now_rfc3339, write_snapshot
from assay.testing import make_resource

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def workspace(tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return widget_workspace(tmp_path, controls_dir, monkeypatch)


def invoke(args: list[str], cwd: Path) -> click.testing.Result:
    assert Path.cwd() == cwd
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def snapshot(ws: Path, *levels: int) -> Path:
    path = ws / "snap.jsonl"
    write_snapshot(
        Snapshot(now_rfc3339(), resources=[widget(f"w{i}", lv) for i, lv in enumerate(levels)]),
        path,
    )
    return path


def test_evaluate_passing_snapshot_exits_0_and_writes_evidence(workspace: Path) -> None:
    res = invoke(["evaluate", str(snapshot(workspace, 3, 4)), "--format", "json"], workspace)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["schema"] == "assay.results/v1"
    assert [r["status"] for r in doc["results"]] == ["pass", "pass"]
    first = doc["results"][0]
    assert set(first) >= {
        "control",
        "status",
        "severity",
        "frameworks",
        "resource",
        "reason",
        "observed",
    }
    assert set(first["resource"]) == {"type", "id", "name", "scope"}
    assert doc["run"]["ledger"]["records"] == 4  # run_started, 2 results, run_finished
    assert (workspace / ".assay" / "ledger.db").is_file()
    verify = invoke(["evidence", "verify"], workspace)
    assert verify.exit_code == 0 and "4 records verified" in verify.output


def test_failure_exits_1_and_fail_on_raises_the_bar(workspace: Path) -> None:
    snap = str(snapshot(workspace, 1))
    assert invoke(["evaluate", snap], workspace).exit_code == 1
    # the control is `high`: failing on critical only lets it through
    assert invoke(["evaluate", snap, "--fail-on", "critical"], workspace).exit_code == 0


def test_table_output_has_results_and_summary(workspace: Path) -> None:
    res = invoke(["evaluate", str(snapshot(workspace, 1, 5))], workspace)
    assert "test-widget-locked" in res.output
    assert "lock level 1 < 2" in res.output
    assert (
        "2 results: 1 passed, 1 failed, 0 waived, 0 could not decide, 0 not applicable"
        in res.output
    )
    assert "soc2 CC6.1" in res.output and "50%" in res.output


def test_output_file(workspace: Path) -> None:
    out = workspace / "r.json"
    res = invoke(["evaluate", str(snapshot(workspace, 3)), "-f", "json", "-o", str(out)], workspace)
    assert res.exit_code == 0 and json.loads(out.read_text())["results"][0]["status"] == "pass"


def test_bad_profile_exits_2_and_runs_nothing(workspace: Path) -> None:
    (workspace / "assay.yaml").write_text("controls: {ids: [no-such-control]}\n")
    res = invoke(["evaluate", str(snapshot(workspace, 3))], workspace)
    assert res.exit_code == 2
    assert "assay.yaml:1: controls.ids[0]: unknown control id 'no-such-control'" in res.output
    assert "nothing was run" in res.output
    assert not (workspace / ".assay").exists()


def test_run_without_targets_is_a_usage_error(workspace: Path) -> None:
    res = invoke(["run"], workspace)
    assert res.exit_code == 2 and "names no targets" in res.output


def test_evidence_verify_catches_tampering(workspace: Path) -> None:
    invoke(["evaluate", str(snapshot(workspace, 1, 5))], workspace)
    db = workspace / ".assay" / "ledger.db"
    with sqlite3.connect(db) as con:
        body = con.execute("SELECT body FROM records WHERE seq = 1").fetchone()[0]
        forged = (
            bytes(body).replace(b'"fail"', b'"pass"')
            if b'"fail"' in bytes(body)
            else bytes(body).replace(b'"pass"', b'"fail"')
        )
        con.execute("DROP TRIGGER IF EXISTS records_no_update")
        con.execute("UPDATE records SET body = ? WHERE seq = 1", (forged,))
    res = invoke(["evidence", "verify"], workspace)
    assert res.exit_code == 4
    assert "seq 1" in res.output


def test_evidence_verify_without_ledger(workspace: Path) -> None:
    res = invoke(["evidence", "verify", "--ledger", "sqlite:///missing.db"], workspace)
    assert res.exit_code == 2
    assert not (workspace / "missing.db").exists()


def test_controls_commands(workspace: Path, controls_dir: Path, tmp_path: Path) -> None:
    listed = invoke(["controls", "list", "--format", "json"], workspace)
    ids = [c["id"] for c in json.loads(listed.stdout)]
    assert "aws-s3-default-encryption" in ids
    show = invoke(["controls", "show", "aws-s3-default-encryption"], workspace)
    assert show.exit_code == 0 and "check: aws.s3.default_encryption" in show.output
    assert "s3:GetEncryptionConfiguration" in show.output
    schema = json.loads(invoke(["controls", "schema"], workspace).output)
    assert schema["properties"]["severity"]
    ok = invoke(["controls", "validate", str(controls_dir)], workspace)
    assert ok.exit_code == 0 and "1 control file valid" in ok.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\n")
    res = invoke(["controls", "validate", str(bad)], workspace)
    assert res.exit_code == 2 and "bad.yaml:1: " in res.output


def test_every_command_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    paths = [f"assay {path}" for path, _ in leaf_commands(cli)]
    missing = [c for c in paths if not re.search(re.escape(c) + r"\b", readme)]
    assert not missing, f"undocumented commands: {missing}"


def test_addresses_never_reach_the_ledger_in_the_clear(workspace: Path) -> None:
    r = make_resource(
        "test.widget",
        {"lock_level": 1, "owner": "Alice.Admin@example.com"},
        id="widget:owned-by-alice@example.com",
        name="w",
        scope={"provider": "test", "target": "t1"},
    )
    r["collected_at"] = now_rfc3339()
    path = workspace / "snap.jsonl"
    write_snapshot(Snapshot(now_rfc3339(), resources=[r]), path)
    for _ in range(2):
        res = invoke(["evaluate", str(path), "-f", "json"], workspace)
    # the report is the user's own: it shows the resource as it is
    assert (
        json.loads(res.stdout)["results"][0]["resource"]["id"]
        == "widget:owned-by-alice@example.com"
    )
    # the second run still recognises the resource as the same one
    assert json.loads(res.stdout)["results"][0]["change"] == "still_failing"
    db = workspace / ".assay" / "ledger.db"
    with sqlite3.connect(db) as con:
        bodies = b"".join(bytes(b) for (b,) in con.execute("SELECT body FROM records"))
        assert b"example.com" not in bodies and b"hmac-sha256:" in bodies
        vault = {v for (v,) in con.execute("SELECT value FROM pii_vault")}
    assert vault == {"owned-by-alice@example.com"}  # attributes not observed never get there
    assert invoke(["evidence", "verify"], workspace).exit_code == 0


def test_date_options_show_the_format_they_take() -> None:
    runner = CliRunner()
    export = runner.invoke(cli, ["evidence", "export", "--help"]).output
    assert "--from YYYY-MM-DD|TIME" in export and "--to YYYY-MM-DD|TIME" in export
    assert "--received YYYY-MM-DD" in runner.invoke(cli, ["dsr", "new", "--help"]).output


def test_controls_list_and_show_find_the_profiles_own_controls(
    workspace: Path, controls_dir: Path
) -> None:
    (workspace / "assay.yaml").write_text(f"controls_dirs: [{controls_dir.name}]\n")
    shown = invoke(["controls", "show", "test-widget-locked"], workspace)
    assert shown.exit_code == 0, shown.output
    assert "check: test.widget.locked" in shown.output
    listed = invoke(["controls", "list", "--format", "json"], workspace)
    assert "test-widget-locked" in {c["id"] for c in json.loads(listed.stdout)}


def test_a_stored_snapshot_evaluates_without_the_sources_it_came_from(
    workspace: Path, controls_dir: Path
) -> None:
    (workspace / "assay.yaml").write_text(
        f"controls_dirs: [{controls_dir.name}]\ncontrols: {{ids: [test-widget-locked]}}\n"
        "targets:\n  - {name: gone, provider: k8s, manifests: no/such/folder}\n"
    )
    snap = snapshot(workspace, 3, 4)
    evaluated = invoke(["evaluate", str(snap), "--format", "json"], workspace)
    assert evaluated.exit_code == 0, evaluated.output
    run = invoke(["run"], workspace)  # a live run still needs them, and says so first
    assert run.exit_code == 2 and "targets[0].manifests" in run.output


def test_controls_validate_reports_every_problem_of_a_file_in_one_pass(tmp_path: Path) -> None:
    control = tmp_path / "odd-one.yaml"
    control.write_text(
        "id: not-the-file-name\n"
        "title: Several mistakes at once\n"
        "severity: low\n"
        "frameworks: {soc2: [CC6.1, CC99.9]}\n"
        "resource: aws.s3.bucket\n"
        "rule:\n"
        "  all:\n"
        "    - {path: versioning, equals: Enabled}\n"
        "    - {path: 'tags[?', eq: x}\n"
        "remediation: Fix them.\n"
    )
    res = CliRunner().invoke(cli, ["controls", "validate", str(control)])
    assert res.exit_code == 2, res.output
    assert f"{control}:1: id: control id 'not-the-file-name' does not match" in res.output
    assert f"{control}:4: frameworks.soc2[1]: unknown soc2 criterion 'CC99.9'" in res.output
    assert f"{control}:8: rule.all[0].equals: unknown operator 'equals'" in res.output
    assert f"{control}:9: rule.all[1].path:" in res.output
    assert "4 errors" in res.output


def test_every_option_of_every_command_says_what_it_is_for() -> None:
    context = click.Context(cli)
    listed = [(name, cli.get_command(context, name)) for name in cli.list_commands(context)]
    groups = [(name, c) for name, c in listed if isinstance(c, click.Group)]
    silent = [
        (path, param.opts)
        for path, command in [*leaf_commands(cli), *groups, ("", cli)]
        for param in command.params
        if isinstance(param, click.Option) and not param.help and "--help" not in param.opts
    ]
    assert not silent, f"options without a description: {silent}"


def test_every_command_shows_an_example_that_uses_only_its_own_options() -> None:
    for path, command in leaf_commands(cli):
        assert command.epilog and "Example:" in command.epilog, path
        example = command.epilog.split("Example:\n", 1)[1].strip()
        words = shlex.split(example.split(" > ")[0])
        assert words[: 1 + path.count(" ") + 1] == ["assay", *path.split()], (path, example)
        known = {opt for p in command.params for opt in (*p.opts, *p.secondary_opts)}
        used = {w.split("=", 1)[0] for w in words if w.startswith("-")}
        assert used <= known, (path, used - known)
