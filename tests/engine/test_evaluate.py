"""Evaluation over snapshots: statuses, errors never folded into pass/fail, waivers, scores."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from assay.checks import Status, collection_error
from assay.checks.result import collection_errors
from assay.engine.collect import CollectionFailure, Snapshot, read_snapshot, write_snapshot
from assay.engine.evaluate import evaluate, exit_code, summarise
from assay.engine.planner import Filters, make_plan
from assay.engine.severity import Severity
from assay.errors import ConfigError, ConfigErrors, ExitCode
from assay.testing import make_resource

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
STAMP = "2026-11-26T11:00:00Z"

EXPLODING = """\
id: test-widget-explodes
title: A check that raises
severity: low
frameworks: {soc2: [CC6.8]}
resource: test.widget
check: test.widget.explodes
remediation: None needed.
"""
RULE = """\
id: test-widget-labelled
title: Widgets carry an owner label
severity: medium
frameworks: {soc2: [CC6.1, CC7.2]}
resource: test.widget
rule: {all: [{path: labels.owner, exists: true}]}
remediation: Label the widget with its owner.
"""


def widget(
    name: str, lock_level: object, labels: dict[str, str] | None = None, stamp: str = STAMP
) -> dict[str, object]:
    r = make_resource(
        "test.widget",
        {"lock_level": lock_level, "labels": labels or {}},
        id=f"widget:{name}",
        name=name,
        scope={"provider": "test", "target": "t1"},
    )
    r["collected_at"] = stamp
    return r


def profile(tmp_path: Path, controls_dir: Path, body: str = "") -> Path:
    (controls_dir / "test-widget-explodes.yaml").write_text(EXPLODING)
    (controls_dir / "test-widget-labelled.yaml").write_text(RULE)
    p = tmp_path / "assay.yaml"
    p.write_text(f"controls_dirs: [{controls_dir.name}]\ncontrols: {{tags: []}}\n{body}")
    return p


def test_statuses_errors_and_scores(tmp_path: Path, controls_dir: Path) -> None:
    plan = make_plan(
        profile(tmp_path, controls_dir),
        Filters(controls=["test-widget-locked", "test-widget-explodes", "test-widget-labelled"]),
    )
    snap = Snapshot(
        STAMP,
        resources=[
            widget("a", 3, {"owner": "ops"}),
            widget("b", 1),
            widget("c", collection_error("AccessDenied", "denied", "test:Describe")),
        ],
    )
    findings = evaluate(plan, snap, NOW)
    got = {(f.control.control.id, f.resource["name"]): f for f in findings}
    assert got["test-widget-locked", "a"].status is Status.PASS
    assert got["test-widget-locked", "b"].status is Status.FAIL
    assert got["test-widget-locked", "b"].result.reason == "lock level 1 < 2"
    denied = got["test-widget-locked", "c"]
    assert denied.status is Status.ERROR
    assert "missing permission test:Describe" in denied.result.reason
    boom = got["test-widget-explodes", "a"]
    assert boom.status is Status.ERROR
    assert "raised RuntimeError: boom" in boom.result.reason
    assert got["test-widget-labelled", "a"].status is Status.PASS
    assert got["test-widget-labelled", "b"].status is Status.FAIL

    summary = summarise(plan, findings)
    cc61 = next(s for s in summary.scores if s.criterion == "CC6.1")
    # locked: a pass, b fail, c error; labelled: a pass, b fail, c fail
    assert (cc61.passed, cc61.failed, cc61.errors) == (2, 3, 1)
    assert cc61.score == pytest.approx(2 / 5)
    assert exit_code(findings, Severity.LOW) is ExitCode.FAILED
    # medium and high failures exist; nothing is critical, but errors remain
    assert exit_code(findings, Severity.CRITICAL) is ExitCode.ERRORS


def test_waiver_keeps_fail_status_and_stops_gating(tmp_path: Path, controls_dir: Path) -> None:
    body = """\
waivers:
  - {id: W-1, control: test-widget-locked, resources: ["widget:b"], reason: accepted for now,
     approver: sec@example.com, expires: 2026-12-31}
  - {id: W-OLD, control: "test-widget-*", resources: [b], reason: accepted last year,
     approver: sec@example.com, expires: 2025-01-31}
"""
    plan = make_plan(
        profile(tmp_path, controls_dir, body),
        Filters(controls=["test-widget-locked", "test-widget-labelled"]),
    )
    findings = evaluate(
        plan,
        Snapshot(STAMP, resources=[widget("a", 3, {"owner": "x"}), widget("b", 1, {"owner": "x"})]),
        NOW,
    )
    b = next(
        f
        for f in findings
        if f.resource["name"] == "b" and f.control.control.id == "test-widget-locked"
    )
    assert b.status is Status.FAIL and b.waiver is not None and b.waiver.id == "W-1"
    assert exit_code(findings, Severity.LOW) is ExitCode.OK
    summary = summarise(plan, findings)
    assert summary.waived == 1
    cc61 = next(s for s in summary.scores if s.criterion == "CC6.1")
    assert (cc61.passed, cc61.failed, cc61.waived) == (3, 0, 1)


def test_expired_waiver_no_longer_applies_and_is_reported(
    tmp_path: Path, controls_dir: Path
) -> None:
    body = """\
waivers:
  - {id: W-OLD, control: test-widget-locked, resources: ["widget:*"], reason: accepted last year,
     approver: sec@example.com, expires: 2025-01-31}
"""
    plan = make_plan(
        profile(tmp_path, controls_dir, body), Filters(controls=["test-widget-locked"])
    )
    findings = evaluate(plan, Snapshot(STAMP, resources=[widget("b", 1)]), NOW)
    [b] = findings
    assert b.waiver is None and b.expired_waiver is not None
    assert exit_code(findings, Severity.LOW) is ExitCode.FAILED
    assert [w.id for w in summarise(plan, findings, NOW.date()).expired_waivers] == ["W-OLD"]


def test_collection_failure_gives_error_results(tmp_path: Path, controls_dir: Path) -> None:
    plan = make_plan(profile(tmp_path, controls_dir), Filters(controls=["test-widget-locked"]))
    snap = Snapshot(
        STAMP, failures=[CollectionFailure("t2", "test", "test.widget", "cannot reach")]
    )
    [f] = evaluate(plan, snap, NOW)
    assert f.status is Status.ERROR and f.result.reason == "cannot reach"
    assert f.resource["scope"]["target"] == "t2"
    assert exit_code([f], Severity.LOW) is ExitCode.ERRORS


def test_stale_evidence_is_an_error_not_a_pass(tmp_path: Path, controls_dir: Path) -> None:
    plan = make_plan(profile(tmp_path, controls_dir), Filters(controls=["test-widget-locked"]))
    old = (NOW - timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    [f] = evaluate(plan, Snapshot(old, resources=[widget("a", 5, stamp=old)]), NOW)
    assert f.status is Status.ERROR
    assert "30h old, older than the 24h limit" in f.result.reason


def test_profile_param_override_is_validated(tmp_path: Path, controls_dir: Path) -> None:
    p = profile(tmp_path, controls_dir, "params:\n  test-widget-locked: {min_level: 9}\n")
    plan = make_plan(p, Filters(controls=["test-widget-locked"]))
    [f] = evaluate(plan, Snapshot(STAMP, resources=[widget("a", 5)]), NOW)
    assert f.status is Status.FAIL
    bad = profile(tmp_path, controls_dir, "params:\n  test-widget-locked: {min_level: lots}\n")
    with pytest.raises(ConfigErrors) as info:
        make_plan(bad)
    [err] = info.value.errors
    assert (
        err.file == str(bad)
        and err.line == 4
        and err.field == "params.test-widget-locked.min_level"
    )


@pytest.mark.parametrize(
    ("body", "line", "field", "message"),
    [
        ("controls: {ids: [nope]}\n", 1, "controls.ids[0]", "unknown control id 'nope'"),
        (
            "targets:\n  - {name: x, provider: gcp}\n",
            2,
            "targets[0].provider",
            "unknown provider 'gcp'",
        ),
        (
            "targets:\n  - {name: x, provider: aws, regionz: [a]}\n",
            2,
            "targets[0].regionz",
            "Extra inputs",
        ),
        (
            "waivers:\n  - {id: W, control: nope, reason: long enough reason, approver: me,"
            " expires: 2030-01-01}\n",
            2,
            "waivers[0].control",
            "waiver 'W' names no known control",
        ),
        (
            "waivers:\n  - {id: W, control: test-widget-locked, reason: short, approver: me,"
            " expires: 2030-01-01}\n",
            2,
            "waivers[0].reason",
            "at least 10 characters",
        ),
        (
            "colors: red\n",
            1,
            "colors",
            "unknown field 'colors'; expected one of controls, controls_dirs",
        ),
    ],
)
def test_profile_errors_name_line_and_field(
    tmp_path: Path, controls_dir: Path, body: str, line: int, field: str, message: str
) -> None:
    p = tmp_path / "assay.yaml"
    p.write_text(f"controls_dirs: [{controls_dir.name}]\n" + body)
    with pytest.raises((ConfigErrors, ConfigError)) as info:
        make_plan(p)
    errs = info.value.errors if isinstance(info.value, ConfigErrors) else [info.value]
    [err] = errs
    assert err.line == line + 1 and err.field == field, err.message
    assert message in err.message


def test_snapshot_round_trip_and_bad_lines(tmp_path: Path) -> None:
    snap = Snapshot(
        STAMP,
        targets=[{"name": "t1", "provider": "test"}],
        failures=[CollectionFailure("t1", "test", "test.gadget", "denied")],
        resources=[widget("a", 1)],
    )
    path = tmp_path / "snap.jsonl"
    write_snapshot(snap, path)
    back = read_snapshot(path)
    assert back.resources == snap.resources and back.failures == snap.failures
    path.write_text(path.read_text() + '{"type": "test.widget", "id": 5}\n')
    with pytest.raises(ConfigError) as info:
        read_snapshot(path)
    assert info.value.line == 3 and "resource needs 'id' (str); got 5" in info.value.message


def test_each_resource_type_is_collected_once_per_target(tmp_path: Path) -> None:
    p = tmp_path / "assay.yaml"
    p.write_text("targets:\n  - {name: a, provider: aws}\n  - {name: b, provider: aws}\n")
    plan = make_plan(p)
    s3_controls = [c for c in plan.controls if c.control.resource == "aws.s3.bucket"]
    assert len(s3_controls) >= 2
    for target in plan.targets:
        assert target.resource_types.count("aws.s3.bucket") == 1
        assert target.resource_types == tuple(sorted(set(target.resource_types)))


def test_collection_errors_are_found_at_any_depth() -> None:
    attrs = {
        "ok": 1,
        "settings": {"ssl": collection_error("denied", "no", "pg_read_all_settings")},
        "rules": [{"x": 1}, collection_error("AccessDenied", "no")],
    }
    found = dict(collection_errors(attrs))
    assert found["settings.ssl"]["permission"] == "pg_read_all_settings"
    assert found["rules[1]"]["code"] == "AccessDenied"
    assert len(found) == 2
