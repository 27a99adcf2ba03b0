"""Loading controls: every bad input names the file, line, field and what was expected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from widgets import WIDGET_CONTROL

from assay.controls import catalog_root
from assay.engine.catalog import control_schema, load_catalog
from assay.errors import ConfigError, ConfigErrors


def errors_for(tmp_path: Path, text: str, name: str = "test-widget-locked") -> list[ConfigError]:
    d = tmp_path / "bad"
    d.mkdir(exist_ok=True)
    (d / f"{name}.yaml").write_text(text)
    with pytest.raises(ConfigErrors) as info:
        load_catalog([d], builtin=False)
    return info.value.errors


BASE = WIDGET_CONTROL.replace("params: {min_level: 2}\n", "")  # the tests add their own


def test_valid_control_loads_with_its_params(controls_dir: Path) -> None:
    catalog = load_catalog([controls_dir], builtin=False)
    lc = catalog.controls["test-widget-locked"]
    assert lc.params == {"min_level": 2}
    assert lc.permissions == ("test:Describe",)
    assert catalog.criteria()[("soc2", "CC6.1")] == ["test-widget-locked"]


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE + "tags: [a, b\n")
    assert err.file and err.file.endswith("test-widget-locked.yaml")
    assert err.line == 8  # where the list opens, not where the parser gave up
    assert "invalid YAML" in err.message


def test_unknown_field_names_the_field_and_what_is_allowed(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE + "severty: low\n")
    assert err.line == 8
    assert err.field == "severty"
    assert "unknown field 'severty'; expected one of" in err.message
    assert "severity" in err.message


def test_wrong_type_says_what_was_expected(tmp_path: Path) -> None:
    [err] = errors_for(
        tmp_path, BASE.replace("frameworks: {soc2: [CC6.1]}", "frameworks: {soc2: CC6.1}")
    )
    assert err.line == 4
    assert err.field == "frameworks.soc2"
    assert "expected a list; got a string" in err.message


def test_bad_severity_lists_the_choices(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE.replace("severity: high", "severity: urgent"))
    assert err.line == 3 and err.field == "severity"
    assert 'expected one of critical, high, medium, low, info; got "urgent"' in err.message


def test_missing_required_field(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE.replace("remediation: Lock the widget.\n", ""))
    assert "missing required field 'remediation'" in err.message


def test_check_and_rule_are_exclusive(tmp_path: Path) -> None:
    errs = errors_for(tmp_path, BASE.replace("check: test.widget.locked\n", ""))
    assert any("exactly one of 'check' or 'rule' is required" in e.message for e in errs)


def test_unknown_check_name(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE.replace("test.widget.locked\n", "test.widget.lockd\n"))
    assert err.line == 6 and err.field == "check"
    assert "no check named 'test.widget.lockd' is registered" in err.message
    assert "test.widget.locked" in err.message  # the registered ones are listed


def test_params_are_validated_by_the_checks_model(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE + "params: {min_level: many}\n")
    assert err.line == 8 and err.field == "params.min_level"
    assert "integer" in err.message


def test_check_resource_type_must_match(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE.replace("resource: test.widget", "resource: test.gadget"))
    assert err.field == "resource"
    assert "applies to 'test.widget', not to 'test.gadget'" in err.message


def test_duplicate_control_id_names_both_files(tmp_path: Path, controls_dir: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "test-widget-locked.yaml").write_text(BASE)
    with pytest.raises(ConfigErrors) as info:
        load_catalog([controls_dir, other], builtin=False)
    [err] = info.value.errors
    assert "duplicate control id 'test-widget-locked'; first defined in" in err.message
    assert str(controls_dir) in err.message and str(other) in err.message


def test_rule_that_does_not_compile_points_at_the_rule_line(tmp_path: Path) -> None:
    text = BASE.replace(
        "check: test.widget.locked\n", "rule:\n  all:\n    - {path: lock_level, equals: 2}\n"
    )
    [err] = errors_for(tmp_path, text)
    assert err.line == 8
    assert err.field is not None and err.field.startswith("rule.all[0]")
    assert "equals" in err.message


def test_empty_all_is_rejected(tmp_path: Path) -> None:
    text = BASE.replace("check: test.widget.locked\n", "rule: {all: []}\n")
    [err] = errors_for(tmp_path, text)
    assert err.field is not None and err.field.startswith("rule")
    assert "empty" in err.message or "non-empty" in err.message


def test_id_must_match_file_name(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE, name="widget")
    assert err.field == "id"
    assert "does not match the file name; expected 'widget'" in err.message


def test_unknown_framework_criterion(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE.replace("[CC6.1]", "[CC6.11]"))
    assert err.field == "frameworks.soc2[0]"
    assert "unknown soc2 criterion 'CC6.11'" in err.message


def test_duplicate_yaml_key(tmp_path: Path) -> None:
    [err] = errors_for(tmp_path, BASE + "severity: low\n")
    assert err.line == 8
    assert "duplicate key 'severity' (first defined on line 3)" in err.message


def test_all_errors_of_a_catalog_are_reported_together(tmp_path: Path) -> None:
    d = tmp_path / "many"
    d.mkdir()
    (d / "test-widget-locked.yaml").write_text(BASE + "severty: low\n")
    (d / "test-widget-other.yaml").write_text(
        BASE.replace("test-widget-locked", "test-widget-other").replace("high", "urgent")
    )
    with pytest.raises(ConfigErrors) as info:
        load_catalog([d], builtin=False)
    assert len(info.value.errors) == 2


def test_shipped_schema_is_the_generated_one() -> None:
    shipped = json.loads((Path(str(catalog_root())) / "control.schema.json").read_text())
    assert shipped == control_schema(), "run: assay controls schema > controls/control.schema.json"


def test_builtin_catalog_loads() -> None:
    catalog = load_catalog()
    assert catalog.controls
    assert "soc2" in catalog.frameworks
