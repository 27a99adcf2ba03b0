"""The architecture's dependency rule, checked on the source: each part imports only the
parts below it (DESIGN.md, "Layout"), wherever the import sits (top level or in a function).

    demo                      the demo wing, and the only reader of assay.examples
    engine                    CLI, loader, runner, reports
    gdpr                      data-subject requests
    checks, evidence          the check API and providers; the ledger
    base                      assay.errors, files, words, yamlsource, the version
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE = {"assay.errors", "assay.files", "assay.words", "assay.yamlsource", "assay.__version__"}
# The folders that install as assay.<name>, and the parts each may import.
ALLOWED: dict[str, set[str]] = {
    "checks": {"checks"},
    "evidence": {"evidence"},
    "gdpr": {"gdpr", "evidence"},
    "engine": {"engine", "checks", "evidence", "gdpr", "controls"},
    "demo": {"demo", "engine", "checks", "evidence", "gdpr", "controls", "examples"},
}


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return {name for name in found if name == "assay" or name.startswith("assay.")}


def part(module: str) -> str | None:
    """`checks` for assay.checks.aws.collect.s3; None for the base and the root package itself."""
    if module in BASE or any(module.startswith(f"{b}.") for b in BASE):
        return None
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else None


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_each_part_imports_only_the_parts_below_it(folder: str) -> None:
    wrong = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for module in sorted(imports_of(path)):
            target = part(module)
            if target is not None and target not in ALLOWED[folder]:
                wrong.append(f"{path.relative_to(ROOT)} imports {module}")
    assert wrong == []


def test_the_base_imports_nothing_above_it() -> None:
    for name in ("errors", "files", "words", "yamlsource", "__init__"):
        path = ROOT / "assay" / f"{name}.py"
        assert {part(m) for m in imports_of(path)} <= {None}, path


def test_the_rule_sees_imports_inside_functions(tmp_path: Path) -> None:
    source = tmp_path / "m.py"
    source.write_text("def f():\n    from assay.demo.run import run_demo\n")
    assert part(next(iter(imports_of(source) - {"assay.demo.run"}))) == "demo"
