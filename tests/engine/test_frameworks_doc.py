"""docs/frameworks.md carries the mapping tables generated from the catalog, never stale."""

from __future__ import annotations

from pathlib import Path

from assay.engine.catalog import load_catalog
from assay.engine.frameworks import mapping_tables
from assay.engine.models import Control

DOC = Path(__file__).resolve().parents[2] / "docs" / "frameworks.md"
START, END = "]]] -->\n", "<!-- [[[end]]] -->"


def generated_part(text: str) -> str:
    return text[text.index(START) + len(START) : text.index(END)]


def test_the_tables_in_the_docs_are_those_of_the_catalog() -> None:
    catalog = load_catalog()
    expected = mapping_tables(catalog.frameworks, [c.control for c in catalog.controls.values()])
    assert generated_part(DOC.read_text(encoding="utf-8")) == expected, (
        "docs/frameworks.md differs from the catalog; regenerate it from the repository root "
        "with:\n    cog -r docs/frameworks.md"
    )


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
    # and a catalog that gained this control no longer matches the committed docs
    assert table not in DOC.read_text(encoding="utf-8")
