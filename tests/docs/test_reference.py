"""docs/cli.md, docs/controls.md and docs/frameworks.md are generated (cog over
docs/reference.py): never stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GENERATED = ["docs/cli.md", "docs/controls.md", "docs/frameworks.md"]
REGENERATE = "cog -r -I docs " + " ".join(GENERATED)


def cog_check(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "--diff", "-I", "docs", *GENERATED],
        cwd=root,
        capture_output=True,
        text=True,
    )


def test_generated_references_are_current() -> None:
    result = cog_check(ROOT)
    assert result.returncode == 0, (
        f"{' and '.join(GENERATED)} differ from the commands and the catalog; regenerate them "
        f"from the repository root with:\n    {REGENERATE}\n\n{result.stdout}{result.stderr}"
    )


def test_a_stale_reference_is_caught(tmp_path: Path) -> None:
    # The same check on a copy whose CLI reference lost an option: it must fail.
    (tmp_path / "docs").mkdir()
    for name in [*GENERATED, "docs/reference.py"]:
        (tmp_path / name).write_text((ROOT / name).read_text(encoding="utf-8"), encoding="utf-8")
    cli = tmp_path / "docs/cli.md"
    text = cli.read_text(encoding="utf-8")
    assert "--trusted-checkpoint" in text
    cli.write_text(text.replace("--trusted-checkpoint", "--trusted-checkpt", 1), encoding="utf-8")
    result = cog_check(tmp_path)
    assert result.returncode != 0
    assert "--trusted-checkpt" in result.stdout


def test_every_command_and_control_is_in_the_references() -> None:
    from assay.engine.catalog import load_catalog
    from assay.engine.cli.examples import leaf_commands
    from assay.engine.cli.main import cli

    cli_md = (ROOT / "docs/cli.md").read_text(encoding="utf-8")
    for path, _ in leaf_commands(cli):
        assert f"\n## assay {path}\n" in cli_md, path
    controls_md = (ROOT / "docs/controls.md").read_text(encoding="utf-8")
    frameworks_md = (ROOT / "docs/frameworks.md").read_text(encoding="utf-8")
    for cid in load_catalog().controls:
        assert f"| `{cid}` |" in controls_md, cid
        assert f"| `{cid}` |" in frameworks_md, cid
