"""Framework files: criteria derived from references, errors at their file and line, selection
by framework or criterion, and scores per framework and criterion."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from widgets import WIDGET_CONTROL, widget

from assay.checks import Status
from assay.engine.catalog import load_catalog
from assay.engine.collect import Snapshot
from assay.engine.evaluate import evaluate, summarise
from assay.engine.frameworks import mapping_tables
from assay.engine.models import Control
from assay.engine.planner import Filters, make_plan
from assay.errors import ConfigError, ConfigErrors

STAMP = "2026-11-26T11:00:00Z"
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
MINE = "{ids: [test-widget-locked, test-widget-labelled]}"

# A framework of the user's own, beside their controls: W.1 is satisfied by the control citing
# the Prowler check `widget_locked`, W.2 by none, W.3 only by the controls that name it.
FRAMEWORK = """\
id: widgets
title: Widget Security Standard
sources:
  - {covers: everything, origin: the widget team}
criteria:
  - id: W.1
    title: Widgets are locked
    references: {prowler: [widget_locked, widget_bolted]}
  - {id: W.2, title: Widgets are painted, references: {prowler: [widget_painted]}}
  - {id: W.3, title: Widgets are labelled}
"""
LOCKED = WIDGET_CONTROL + "references: {prowler: [widget_locked, s3_bucket_public_access]}\n"
LABELLED = """\
id: test-widget-labelled
title: Widgets carry an owner label
severity: medium
frameworks: {widgets: [W.3], soc2: [CC7.2]}
resource: test.widget
rule: {all: [{path: labels.owner, exists: true}]}
remediation: Label the widget with its owner.
"""


@pytest.fixture
def controls(tmp_path: Path) -> Path:
    d = tmp_path / "controls"
    (d / "frameworks").mkdir(parents=True)
    (d / "frameworks" / "widgets.yaml").write_text(FRAMEWORK)
    (d / "test-widget-locked.yaml").write_text(LOCKED)
    (d / "test-widget-labelled.yaml").write_text(LABELLED)
    return d


def errors_of(d: Path) -> list[ConfigError]:
    with pytest.raises(ConfigErrors) as info:
        load_catalog([d], builtin=False)
    return info.value.errors


def test_criteria_are_the_union_of_the_control_own_and_the_derived(controls: Path) -> None:
    catalog = load_catalog([controls], builtin=False)
    locked = catalog.controls["test-widget-locked"].control
    # W.1 from widget_locked; soc2 CC6.1 both by hand and from Prowler's mapping of
    # s3_bucket_public_access, listed once; ISO and NIST from the same Prowler id.
    assert locked.frameworks["widgets"] == ["W.1"]
    assert locked.frameworks["soc2"] == ["CC6.1"]
    assert locked.frameworks["iso27001_2022"] == ["A.8.1"]
    assert "AC-3" in locked.frameworks["nist_800_53_r5"]
    assert "cis_aws_v3" not in locked.frameworks
    labelled = catalog.controls["test-widget-labelled"].control
    assert labelled.frameworks == {"widgets": ["W.3"], "soc2": ["CC7.2"]}
    assert catalog.criteria()[("widgets", "W.1")] == ["test-widget-locked"]
    assert ("widgets", "W.2") not in catalog.criteria()


def test_the_builtin_catalog_derives_every_framework_from_prowler_ids() -> None:
    controls = load_catalog().controls
    root_mfa = controls["aws-iam-root-mfa"].control.frameworks
    assert root_mfa["cis_aws_v3"] == ["1.5"]
    assert root_mfa["iso27001_2022"] == ["A.5.15", "A.5.17", "A.8.5"]
    assert "IA-2" in root_mfa["nist_800_53_r5"]
    assert root_mfa["soc2"] == ["CC6.1", "CC6.6"]  # Prowler maps no SOC 2 criterion: by hand
    # CIS PostgreSQL from references.pgdsat, the others from the control's own lists
    ssl = controls["postgres-ssl"].control.frameworks
    assert ssl["cis_postgresql_17"] == ["5.8", "6.8"]
    assert ssl["nist_800_53_r5"] == ["SC-8", "SC-13"]
    assert controls["k8s-pod-privileged"].control.frameworks["cis_k8s_v1.12"] == [
        "5.2.2",
        "5.2.10",
    ]


def test_every_kubernetes_and_postgres_control_maps_to_iso_and_nist() -> None:
    # AWS controls get theirs from Prowler's mappings, which leave some checks out.
    for cid, loaded in load_catalog().controls.items():
        fws = loaded.control.frameworks
        if loaded.control.provider in ("k8s", "postgres"):
            for fw in ("soc2", "iso27001_2022", "nist_800_53_r5"):
                assert fws.get(fw), f"{cid} maps to no {fw} criterion"
        if loaded.control.references.get("pgdsat"):
            assert fws.get("cis_postgresql_17"), cid


def test_an_unknown_framework_in_a_control_names_file_line_and_the_known_ones(
    controls: Path,
) -> None:
    path = controls / "test-widget-labelled.yaml"
    path.write_text(LABELLED.replace("{widgets: [W.3], soc2: [CC7.2]}", "{widget: [W.3]}"))
    [err] = errors_of(controls)
    assert err.file == str(path) and err.line == 4 and err.field == "frameworks.widget"
    assert "frameworks.widget: unknown framework 'widget'; expected one of cis_aws_v3, " in str(err)
    assert "widgets" in err.message


def test_an_unknown_criterion_in_a_control_names_its_place(controls: Path) -> None:
    path = controls / "test-widget-labelled.yaml"
    path.write_text(LABELLED.replace("[W.3]", "[W.3, W.9]"))
    [err] = errors_of(controls)
    assert (err.line, err.field) == (4, "frameworks.widgets[1]")
    assert "unknown widgets criterion 'W.9'; expected one of W.1, W.2, W.3" in err.message


@pytest.mark.parametrize(
    ("change", "line", "field", "message"),
    [
        (("id: widgets", "id: gadgets"), 1, "id", "does not match the file name; expected"),
        (
            ("{id: W.3,", "{id: W.1,"),
            10,
            "criteria[2].id",
            "'W.1' is listed twice; first at line 6",
        ),
        (("  - {covers: everything, origin: the widget team}\n", ""), 3, "sources", "a list"),
        (
            ("    references: {prowler: [", "    refs: {prowler: ["),
            8,
            "criteria[0].refs",
            "unknown",
        ),
        (("[widget_painted]", "widget_painted"), 9, "criteria[1].references.prowler", "a list"),
    ],
)
def test_a_bad_framework_file_names_file_line_and_field(
    controls: Path, change: tuple[str, str], line: int, field: str, message: str
) -> None:
    path = controls / "frameworks" / "widgets.yaml"
    path.write_text(FRAMEWORK.replace(*change))
    errors = errors_of(controls)
    assert any(
        e.file == str(path) and e.line == line and e.field == field and message in e.message
        for e in errors
    ), [str(e) for e in errors]


def test_a_framework_defined_twice_is_refused(controls: Path, tmp_path: Path) -> None:
    other = tmp_path / "more"
    (other / "frameworks").mkdir(parents=True)
    (other / "frameworks" / "soc2.yaml").write_text(
        "id: soc2\ntitle: Mine\nsources: [{covers: all, origin: me}]\n"
        "criteria: [{id: X, title: Y}]\n"
    )
    with pytest.raises(ConfigErrors) as info:
        load_catalog([controls, other], builtin=False)
    [err] = info.value.errors
    assert err.file == str(other / "frameworks" / "soc2.yaml")
    assert "framework 'soc2' is already defined in" in err.message


def profile(tmp_path: Path, controls: Path, selection: str = "{}") -> Path:
    p = tmp_path / "assay.yaml"
    p.write_text(f"controls_dirs: [{controls.name}]\ncontrols: {selection}\n")
    return p


def ids(plan_controls: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(c.control.id for c in plan_controls)


def test_framework_and_criterion_select_controls(tmp_path: Path, controls: Path) -> None:
    path = profile(tmp_path, controls)
    mine = ["test-widget-labelled", "test-widget-locked"]
    assert ids(make_plan(path, Filters(frameworks=["widgets"])).controls) == mine
    assert ids(make_plan(path, Filters(frameworks=["widgets:W.1"])).controls) == mine[1:]
    # derived only: the control's own YAML never names ISO
    iso = make_plan(path, Filters(frameworks=["iso27001_2022:A.8.1"])).controls
    assert "test-widget-locked" in ids(iso) and "test-widget-labelled" not in ids(iso)
    # a criterion no control maps to is known, and selects nothing
    assert ids(make_plan(path, Filters(frameworks=["widgets:W.2"])).controls) == []


def test_unknown_framework_or_criterion_on_the_command_line(tmp_path: Path, controls: Path) -> None:
    path = profile(tmp_path, controls)
    with pytest.raises(ConfigErrors) as info:
        make_plan(path, Filters(frameworks=["widget", "widgets:W.9"]))
    first, second = info.value.errors
    assert first.field == second.field == "--framework"
    assert "unknown framework 'widget'; expected one of cis_aws_v3, " in str(first)
    assert str(second).endswith("unknown widgets criterion 'W.9'; expected one of W.1, W.2, W.3")


def test_unknown_criterion_in_the_profile_names_its_line(tmp_path: Path, controls: Path) -> None:
    path = profile(tmp_path, controls, "\n  frameworks: [soc2, widgets:W.7]")
    with pytest.raises(ConfigErrors) as info:
        make_plan(path)
    [err] = info.value.errors
    assert (err.file, err.line, err.field) == (str(path), 3, "controls.frameworks[1]")
    assert "unknown widgets criterion 'W.7'" in err.message


SNAPSHOT = Snapshot(
    STAMP,
    resources=[
        widget("a", 3, labels={"owner": "ops"}, stamp=STAMP),
        widget("b", 1, labels={}, stamp=STAMP),
    ],
)


def test_scores_per_framework_count_each_result_once(tmp_path: Path, controls: Path) -> None:
    plan = make_plan(profile(tmp_path, controls, MINE))
    findings = evaluate(plan, SNAPSHOT, NOW)
    assert [f.status for f in findings].count(Status.FAIL) == 2  # b fails both controls
    summary = summarise(plan, findings)
    by_key = {(s.framework, s.criterion): s for s in summary.scores}
    w1, w3 = by_key["widgets", "W.1"], by_key["widgets", "W.3"]
    assert (w1.passed, w1.failed, w1.controls) == (1, 1, ["test-widget-locked"])
    assert (w3.passed, w3.failed, w3.controls) == (1, 1, ["test-widget-labelled"])
    frameworks = {fw.framework: fw for fw in summary.frameworks}
    widgets = frameworks["widgets"]
    assert (widgets.passed, widgets.failed, widgets.criteria) == (2, 2, 2)
    assert widgets.score == pytest.approx(0.5)
    # NIST maps the locked control to many base controls; its two results count once
    nist = frameworks["nist_800_53_r5"]
    assert (nist.passed, nist.failed) == (1, 1) and nist.criteria > 5
    # catalog order, then each framework's own order
    assert [fw.framework for fw in summary.frameworks] == sorted(frameworks)
    assert [s.criterion for s in summary.scores if s.framework == "widgets"] == ["W.1", "W.3"]


def test_a_framework_selection_scores_only_what_it_selects(tmp_path: Path, controls: Path) -> None:
    path = profile(tmp_path, controls, MINE)
    plan = make_plan(path, Filters(frameworks=["widgets:W.1"]))
    summary = summarise(plan, evaluate(plan, SNAPSHOT, NOW))
    assert [(s.framework, s.criterion) for s in summary.scores] == [("widgets", "W.1")]
    assert [fw.framework for fw in summary.frameworks] == ["widgets"]
    # the profile's selection and the command line's both narrow: soc2 here, nothing more
    narrowed = profile(tmp_path, controls, MINE[:-1] + ", frameworks: [soc2, widgets]}")
    plan = make_plan(narrowed, Filters(frameworks=["soc2:CC7.2"]))
    summary = summarise(plan, evaluate(plan, SNAPSHOT, NOW))
    assert [(s.framework, s.criterion) for s in summary.scores] == [("soc2", "CC7.2")]
    assert ids(plan.controls) == ["test-widget-labelled"]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("cis_aws_v3", "aws-iam-root-mfa"),
        ("cis_k8s_v1.12:5.2.2", "k8s-pod-privileged"),
        ("cis_postgresql_17:3.1.20", "postgres-connection-logging"),
        ("iso27001_2022:A.8.24", "postgres-ssl"),
        ("nist_800_53_r5:AU-11", "postgres-log-retention"),
        ("soc2", "aws-s3-secure-transport"),
    ],
)
def test_controls_list_selects_by_each_framework(
    spec: str, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from assay.engine.cli.controls import controls

    monkeypatch.chdir(tmp_path)  # no ./assay.yaml: the built-in catalog
    res = CliRunner().invoke(controls, ["list", "--framework", spec, "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = {c["id"]: c for c in json.loads(res.stdout)}
    assert expected in rows
    fw, _, crit = spec.partition(":")
    # only the selected framework's criteria are shown, and each row has the criterion
    assert all(list(c["frameworks"]) == [fw] for c in rows.values())
    assert not crit or all(crit in c["frameworks"][fw] for c in rows.values())
    unknown = CliRunner().invoke(controls, ["list", "--framework", f"{fw}:Z.99"])
    assert unknown.exit_code == 2
    assert f"--framework: unknown {fw} criterion 'Z.99'; expected one of" in unknown.output


def test_controls_show_prints_the_derived_criteria_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from assay.engine.cli.controls import controls

    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(controls, ["show", "aws-iam-root-mfa"])
    assert res.exit_code == 0, res.output
    assert "frameworks: {soc2: [CC6.1, CC6.6]}" in res.output  # the file, as written
    assert "\n# cis_aws_v3: 1.5\n" in res.output  # derived from references.prowler
    assert "\n# soc2: CC6.1, CC6.6\n" in res.output


def test_the_table_has_a_row_per_control_and_a_column_per_framework() -> None:
    catalog = load_catalog()
    control = Control.model_validate(
        {
            "id": "x-new-control",
            "title": "A control added after the docs were generated",
            "severity": "low",
            "resource": "x.thing",
            "check": "x.thing.ok",
            "remediation": "Fix it.",
            "frameworks": {"soc2": ["CC6.1"], "nist_800_53_r5": ["AC-6", "SC-8"]},
        }
    )
    table = mapping_tables(catalog.frameworks, [control])
    header = "| control | " + " | ".join(f"`{fw}`" for fw in catalog.frameworks) + " |"
    assert header in table
    row = next(line for line in table.splitlines() if line.startswith("| `x-new-control` |"))
    cells = [c.strip() for c in row.strip("|").split("|")][1:]
    by_framework = dict(zip(catalog.frameworks, cells, strict=True))
    assert by_framework["soc2"] == "CC6.1"
    assert by_framework["nist_800_53_r5"] == "AC-6, SC-8"
    assert by_framework["cis_aws_v3"] == "—"
    # the framework rows count the criteria listed and those some control maps to
    soc2 = next(line for line in table.splitlines() if line.startswith("| `soc2` |"))
    assert f"| {len(catalog.frameworks['soc2'].criteria)} | 1 |" in soc2
