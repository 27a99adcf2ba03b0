"""Every command block of README.md and docs/*.md runs, in order, as a user would type it.

Each file is walked in a fresh copy of the repository, one block after another in one
shell session (doc_env). A block that needs what no test run has (a real AWS account, a
real cluster) is skipped with the reason; what the docs assume and the test can give (the
AWS emulator, a PostgreSQL server named `db`, the example shop) is started for it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from doc_env import MISSING, PROVIDED, ROOT, DocSession
from markdown_blocks import Block, blocks

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _params() -> list[object]:
    params = []
    for path in DOCS:
        for block in blocks(path):
            if not block.is_command:
                continue
            marks = []
            missing = [MISSING[n] for n in block.requires if n in MISSING]
            if missing:
                marks.append(pytest.mark.skip(reason=f"{block.where} {'; '.join(missing)}"))
            if "xfail" in block.markers:
                marks.append(pytest.mark.xfail(strict=True, reason=block.markers["xfail"]))
            params.append(pytest.param(block, marks=marks, id=block.where))
    return params


# Installing the package and running the demo, as the quick start does, takes a minute.
# A document's blocks share its session in order: they run in one test process, as
# every test of a file does (pytest-xdist's --dist loadfile, in pyproject.toml).
@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.parametrize("block", _params())
def test_command_block(block: Block, doc_session: Callable[[str], DocSession]) -> None:
    session = doc_session(block.path.name)
    if session.failed_at is not None:
        pytest.skip(f"an earlier block of {block.path.name} failed ({session.failed_at})")
    unknown = [n for n in block.requires if n not in PROVIDED and n not in MISSING]
    assert not unknown, f"{block.where}: unknown requirement {unknown}; known: " + ", ".join(
        sorted(PROVIDED | MISSING.keys())
    )
    for need in block.requires:
        session.provide(need)
    outcome = session.run(block.script())
    if outcome.status != block.exit_code and "xfail" not in block.markers:
        session.failed_at = block.where
    tail = "\n".join(outcome.output.splitlines()[-60:])
    assert outcome.status == block.exit_code, (
        f"{block.where}: exit {outcome.status}, the docs expect {block.exit_code}\n"
        f"--- the block\n{block.script()}--- its output (last 60 lines)\n{tail}"
    )
