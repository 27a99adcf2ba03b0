"""An impossible calendar date anywhere in YAML is a clean input error at its line (exit 2),
never a traceback: PyYAML turns anything shaped like a date into one, whatever the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assay.demo.shop import shop_file
from assay.engine.cli.main import cli

WAIVER = """\
waivers:
  - id: W-1
    control: aws-s3-versioning
    resources: ["*"]
    reason: scratch
    approver: sec@example.com
    expires: {date}
"""


@pytest.mark.parametrize("date", ["2027-02-30", "2027-13-01", "2027-02-29"])
def test_an_impossible_waiver_expiry_names_file_line_and_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, date: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assay.yaml").write_text(WAIVER.format(date=date))
    res = CliRunner().invoke(cli, ["run"])
    assert res.exit_code == 2, res.output
    assert f"assay.yaml:7: waivers[0].expires: invalid YAML: '{date}' is not a calendar date" in (
        res.output
    )
    assert "Traceback" not in res.output


def test_an_impossible_date_in_a_control_is_an_error_at_its_line(tmp_path: Path) -> None:
    control = tmp_path / "odd-control.yaml"
    control.write_text(
        "id: odd-control\ntitle: 2027-02-30\nseverity: low\nframeworks: {soc2: [CC6.1]}\n"
        "resource: aws.s3.bucket\ncheck: aws.s3.versioning\nremediation: none\n"
    )
    res = CliRunner().invoke(cli, ["controls", "validate", str(control)])
    assert res.exit_code == 2, res.output
    assert f"{control}:2: title: invalid YAML: '2027-02-30' is not a calendar date" in res.output


def test_an_impossible_date_in_a_data_map_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = shop_file("datamap.yaml")
    first = text.index("\n", text.index("stores:")) + 1
    datamap = tmp_path / "datamap.yaml"
    datamap.write_text(text[:first] + "  # reviewed\n" + text[first:] + "reviewed: 2026-02-31\n")
    line = datamap.read_text().count("\n")
    res = CliRunner().invoke(cli, ["dsr", "lint", "--datamap", str(datamap)])
    assert res.exit_code == 2, res.output
    assert f"{datamap}:{line}: reviewed: invalid YAML: '2026-02-31'" in res.output


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [
        ("controls:\n  ids: [a, b\nparams: {}\n", 2, "[ list"),
        ('waivers:\n  - id: "W1\n    control: x\ntargets: []\n', 2, "quoted string"),
        ("controls: {ids: [a]\nparams: {}\n", 1, "{ mapping"),
    ],
)
def test_an_unclosed_bracket_or_quote_is_reported_where_it_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: int, what: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "assay.yaml").write_text(text)
    res = CliRunner().invoke(cli, ["run"])
    assert res.exit_code == 2, res.output
    assert f"assay.yaml:{line}: invalid YAML:" in res.output
    assert f"the {what} that starts here is never closed" in res.output
