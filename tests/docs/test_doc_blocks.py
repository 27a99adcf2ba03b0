"""Every block of README.md and docs/*.md says what it is, every YAML example passes the
validator of its kind, and nothing renders as a stray piece of an HTML comment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from doc_env import MISSING, PROVIDED, ROOT
from markdown_blocks import SHELL, YAML_KINDS, Block, blocks, stray_comment_text

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
ALL = [b for path in DOCS for b in blocks(path)]
YAML = [b for b in ALL if b.lang == "yaml"]


def test_every_block_says_what_it_is() -> None:
    problems = []
    for b in ALL:
        if not b.lang:
            problems.append(f"{b.where}: no info string (sh, console, text, yaml KIND, ...)")
        if b.lang == "yaml" and (len(b.info) < 2 or b.info[1] not in YAML_KINDS):
            problems.append(f"{b.where}: yaml without its kind, one of {sorted(YAML_KINDS)}")
        if b.markers and not b.is_command:
            problems.append(f"{b.where}: markers on a block that is not run: {b.markers}")
        for need in b.requires:
            if need not in PROVIDED and need not in MISSING:
                problems.append(f"{b.where}: unknown requirement {need!r}")
    assert not problems, "\n".join(problems)


def test_there_are_blocks_of_every_kind() -> None:
    # The conventions are in use: a parser that found nothing would pass everything above.
    assert {b.info[1] for b in YAML} == YAML_KINDS
    assert any(b.lang in SHELL for b in ALL) and any(b.lang == "console" for b in ALL)


def _validate(block: Block, tmp: Path) -> None:
    from assay.checks import compile_rule
    from assay.engine.catalog import load_catalog, load_control
    from assay.engine.planner import make_plan
    from assay.gdpr.datamap import datamap_schema

    kind = block.info[1]
    data = yaml.safe_load(block.text)
    if kind == "profile":
        # The files a profile names (manifests, dumps, kubeconfigs) exist where it says.
        for target in data.get("targets") or []:
            for option in ("manifests", "dump", "kubeconfig"):
                if option in target:
                    named = Path(target[option].replace("~", str(tmp / "home"), 1))
                    named = named if named.is_absolute() else tmp / named
                    if target[option].endswith("/"):
                        named.mkdir(parents=True)
                    else:
                        named.parent.mkdir(parents=True, exist_ok=True)
                        named.write_text("{}")
        path = tmp / "assay.yaml"
        path.write_text(block.text, encoding="utf-8")
        make_plan(path)  # schema, selection, params against each control, target options
    elif kind == "control":
        path = tmp / f"{data['id']}.yaml"
        path.write_text(block.text, encoding="utf-8")
        load_control(path, load_catalog().frameworks)  # schema, check, params, criteria
    elif kind == "rule":
        compile_rule(data["rule"])
    elif kind == "datamap":
        # The schema only: the docs show excerpts of a map, not always a whole one.
        jsonschema.validate(data, datamap_schema())
    else:
        for doc in yaml.safe_load_all(block.text):
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], block.where


@pytest.mark.parametrize("block", YAML, ids=[b.where for b in YAML])
def test_yaml_block_is_valid(block: Block, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    _validate(block, tmp_path)


def test_a_broken_example_is_caught(tmp_path: Path) -> None:
    profile = next(b for b in YAML if b.path.name == "README.md" and b.info[1] == "profile")
    assert "severity: medium" in profile.text
    broken = Block(
        profile.path, profile.line, profile.info, profile.text.replace("medium", "mediums", 1)
    )
    with pytest.raises(Exception, match="mediums"):
        _validate(broken, tmp_path)


def test_nothing_renders_as_a_stray_comment() -> None:
    found = [line for path in DOCS for line in stray_comment_text(path)]
    assert not found, "text that belongs in an HTML comment:\n" + "\n".join(found)


LEFTOVER_NOTE = """\
# Title

Some text.

## Evidence" and "## For auditors"
sections as a whole. Elsewhere in the README:
- Command reference: replace the row
-->

## Evidence

More text.
"""


def markdown_lint(*pages: Path) -> subprocess.CompletedProcess[str]:
    """pymarkdown over `pages` with the repository's configuration."""
    config = str(ROOT / ".pymarkdown.json")
    return subprocess.run(
        [sys.executable, "-m", "pymarkdown", "--config", config, "scan", *map(str, pages)],
        capture_output=True,
        text=True,
    )


def test_a_leftover_note_fails_lint_and_the_render_check(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(LEFTOVER_NOTE, encoding="utf-8")
    assert stray_comment_text(page)
    lint = markdown_lint(page)
    assert lint.returncode != 0 and "MD022" in lint.stdout, lint.stdout + lint.stderr


def test_the_docs_pass_lint() -> None:
    lint = markdown_lint(*DOCS)
    assert lint.returncode == 0, lint.stdout + lint.stderr
