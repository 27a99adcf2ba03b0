"""Every --help answers without loading the engine: commands import what they run when they run.

Checked by what is imported, not by a timer (timings live in bench/cli_startup.py): one
process renders the help of every command, then lists the modules it loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import metadata

import pytest
from click.testing import CliRunner

from assay.engine.cli.main import _Commands, cli

# What a command needs to run, never to describe itself.
HEAVY = (
    "assay.checks.registry",
    "assay.engine.collect",
    "assay.engine.planner",
    "assay.evidence.backends",
    "assay.gdpr.dsr",
    "assay.demo.run",
    "boto3",
    "botocore",
    "jinja2",
    "jsonschema",
    "kubernetes",
    "moto",
    "psycopg",
    "pydantic",
    "rich",
    "yaml",
)

HELP_OF_EVERY_COMMAND = """
import json, sys
from click.testing import CliRunner
from assay.engine.cli.examples import leaf_commands
from assay.engine.cli.main import cli

runner = CliRunner()
paths = [[]] + [path.split() for path, _ in leaf_commands(cli)]
paths += [[name] for name, cmd in cli.commands.items() if hasattr(cmd, "commands")]
for path in paths:
    res = runner.invoke(cli, [*path, "--help"], prog_name="assay")
    assert res.exit_code == 0 and "Usage: assay" in res.output, (path, res.output)
print(json.dumps({"helps": len(paths), "modules": sorted(sys.modules)}))
"""


def test_no_help_loads_the_engine_or_any_client() -> None:
    out = subprocess.run(
        [sys.executable, "-c", HELP_OF_EVERY_COMMAND], capture_output=True, text=True, check=True
    )
    seen = json.loads(out.stdout)
    assert seen["helps"] > 30
    loaded = [m for m in seen["modules"] if any(m == h or m.startswith(f"{h}.") for h in HEAVY)]
    assert not loaded, f"--help imported {loaded}"


OWN_COMMAND = """
import json, sys
from click.testing import CliRunner
from assay.engine.cli.main import cli

res = CliRunner().invoke(cli, ["evidence", "verify", "--help"], prog_name="assay")
assert res.exit_code == 0, res.output
print(json.dumps(sorted(sys.modules)))
"""


def test_a_command_of_its_own_does_not_look_up_or_import_the_published_ones() -> None:
    out = subprocess.run(
        [sys.executable, "-c", OWN_COMMAND], capture_output=True, text=True, check=True
    )
    modules = set(json.loads(out.stdout))
    assert "importlib.metadata" not in modules
    assert not {m for m in modules if m.startswith(("assay.demo", "assay.serve"))}


def test_a_published_command_that_fails_to_import_says_so_when_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broken = metadata.EntryPoint("broken", "assay.nowhere:command", "assay.commands")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [broken])
    commands = _Commands(commands=dict(cli.commands))
    res = CliRunner().invoke(commands, ["broken"], prog_name="assay")
    assert res.exit_code == 2
    assert "the command 'broken' (assay.nowhere:command) could not be loaded" in res.output
    assert "evidence" in CliRunner().invoke(commands, ["--help"]).output
