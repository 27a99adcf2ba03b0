"""The `assay` command line. The only place that turns errors into exit codes."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from assay import __version__
from assay.engine.cli.checks import checks
from assay.engine.cli.controls import controls
from assay.engine.cli.dsr import dsr
from assay.engine.cli.evidence import evidence
from assay.engine.cli.examples import add_examples
from assay.engine.cli.options import (
    Output,
    OutputFile,
    RunSettings,
    Sharding,
    collect_options,
    handle_errors,
    output_options,
    run_options,
    selection_options,
    shard_options,
)
from assay.engine.cli.running import deliver, make_run_plan
from assay.engine.cli.runs import complete, diff, runs, waivers
from assay.errors import ConfigError, ExitCode
from assay.words import counted

if TYPE_CHECKING:
    from assay.engine.collect import Snapshot
    from assay.engine.planner import Plan

# The commands import what they run inside their functions, so that `assay --help` and
# every other --help answer without loading the engine, the clients and the ledger.


def _report(
    plan: Plan, profile: Path, snap: Snapshot, settings: RunSettings, outputs: list[Output]
) -> None:
    """Evaluate, record, write every requested report, and exit with the gate's code."""
    from assay.engine.run import execute
    from assay.engine.severity import Severity

    report = execute(
        plan,
        snap,
        ledger_url=settings.ledger,
        fail_on=Severity(settings.fail_on),
        profile=str(profile),
        baseline_file=settings.baseline,
        only_new=settings.only_new,
    )
    report.soft_fail = settings.soft_fail
    deliver(report, outputs)


def _sharded(
    plan: Plan,
    profile: Path,
    settings: RunSettings,
    sharding: Sharding,
    workers: int,
    timeout: float,
    outputs: list[Output],
) -> None:
    """One shard of a sharded run, or (--completer, index N) the run's completion."""
    from assay.engine.shard import resolve_run_id, resolve_shard

    if settings.baseline is not None:
        raise ConfigError(
            "a sharded run compares with the ledger's last complete run", field="--baseline"
        )
    run_id = resolve_run_id(sharding.run_id, os.environ)
    if sharding.completes(os.environ):
        complete(plan, profile, settings, run_id, sharding.shards or 0, sharding.wait, outputs)
        return
    shard = resolve_shard(sharding.shard, sharding.shards, os.environ)
    if shard is None:
        raise ConfigError("--run-id and --completer are for sharded runs", field="--shards")
    _plan_has_targets(plan)
    from assay.engine.sharded import run_shard

    done = run_shard(
        plan,
        shard,
        run_id,
        ledger_url=settings.ledger,
        profile=str(profile),
        workers=workers,
        timeout=timeout,
    )
    if done.already_finished:
        click.echo(f"shard {shard} of run {run_id} had already finished; nothing to do", err=True)
        return
    click.echo(
        f"shard {shard} of run {run_id}: {counted(done.groups, 'target')}, "
        f"{counted(done.units, 'work unit')} recorded ({done.skipped} already were), "
        f"{counted(done.results, 'result')}, {counted(len(done.failures), 'collection failure')}."
        f" Reports come with the run's completion: assay runs complete {run_id} "
        f"--shards {shard.count}",
        err=True,
    )


def _plan_has_targets(plan: Plan) -> None:
    if not plan.targets:
        raise ConfigError(
            "the profile names no targets to collect from",
            file=plan.profile_path,
            remediation="add a `targets:` list to the profile, or run `assay demo`",
        )


def _collect(plan: Plan, workers: int, timeout: float) -> Any:
    from assay.engine.console import collect_with_progress

    _plan_has_targets(plan)
    return collect_with_progress(plan, workers=workers, timeout=timeout)


class _Commands(click.Group):
    """This package's commands, and the click commands other packages publish in the
    `assay.commands` entry point group (the demo, the console, third-party tools). Those
    are looked up and imported only when one is named or all are listed (help): finding
    and importing them costs every other command a tenth of a second."""

    published = False

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            self.load_published()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self.load_published()
        return super().list_commands(ctx)

    def load_published(self) -> None:
        """Add the published commands, once (one that fails to import says so when run)."""
        if self.published:
            return
        self.published = True
        from importlib.metadata import entry_points

        for entry in entry_points(group="assay.commands"):
            try:
                command = entry.load()
            except Exception as exc:
                command = _unloadable(entry.name, entry.value, exc)
            if entry.name not in self.commands:
                self.add_command(command, entry.name)
                add_examples(command, entry.name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assay")
def cli() -> None:
    """Policy-as-code compliance checks with an evidence ledger an auditor can verify."""


@cli.command()
@selection_options
@run_options
@collect_options
@shard_options
@output_options
@handle_errors
def run(
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
    settings: RunSettings,
    workers: int,
    timeout: float,
    sharding: Sharding,
    outputs: list[Output],
) -> None:
    """Collect from the profile's targets, evaluate, record evidence and report.

    With --shard I/N (or --shards N in an Indexed Job), collect only this shard's share
    and append it to the shared ledger; the run is reported once complete.
    """
    plan, path = make_run_plan(profile, framework, control, severity)
    if sharding.active:
        _sharded(plan, path, settings, sharding, workers, timeout, outputs)
        return
    snap = _collect(plan, workers, timeout)
    _report(plan, path, snap, settings, outputs)


@cli.command()
@selection_options
@collect_options
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=OutputFile(),
    help="Snapshot file (JSON lines).",
)
@handle_errors
def collect(
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
    workers: int,
    timeout: float,
    output: Path,
) -> None:
    """Collect resource snapshots from the profile's targets, without evaluating."""
    from assay.engine.collect import failure_lines, write_snapshot

    plan, _ = make_run_plan(profile, framework, control, severity)
    snap = _collect(plan, workers, timeout)
    write_snapshot(snap, output)
    click.echo(
        f"{counted(len(snap.resources), 'resource')} from "
        f"{counted(len(snap.targets), 'target')} written to {output}; "
        f"{counted(len(snap.failures), 'collection failure')}",
        err=True,
    )
    for line in failure_lines(snap.failures):
        click.echo(f"  {line}", err=True)


@cli.command()
@click.argument("snapshot", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@selection_options
@run_options
@output_options
@handle_errors
def evaluate(
    snapshot: Path,
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
    settings: RunSettings,
    outputs: list[Output],
) -> None:
    """Evaluate a snapshot written by `assay collect`, record evidence and report."""
    from assay.engine.collect import read_snapshot

    plan, path = make_run_plan(profile, framework, control, severity, with_targets=False)
    snap = read_snapshot(snapshot)
    _report(plan, path, snap, settings, outputs)


@cli.command()
@click.option(
    "--profile",
    "-p",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Profile file (default: ./assay.yaml).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(1),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each target and resource type.",
)
@handle_errors
def doctor(profile: Path | None, timeout: float) -> None:
    """Check each target is reachable and every collector it needs is permitted."""
    from assay.checks.registry import NOT_COLLECTED
    from assay.checks.result import collection_errors

    plan, _ = make_run_plan(profile, (), (), None)
    snap = _collect(plan, workers=8, timeout=timeout)
    ok = True
    for t in snap.targets:
        if "error" in t:
            ok = False
            click.echo(f"✗ {t['name']} ({t['provider']}): {t['error']}")
            continue
        who = ", ".join(f"{k}={v}" for k, v in t["identity"].items())
        click.echo(f"✓ {t['name']} ({t['provider']}): connected as {who}")
    for f in snap.failures:
        ok = False
        click.echo(f"✗ {f.target}: {f.resource_type}: {f.reason}")
    denied = {
        (r["scope"]["target"], r["type"], path, marker.get("permission") or marker["code"])
        for r in snap.resources
        for path, marker in collection_errors(r["attributes"])
        if marker["code"] != NOT_COLLECTED  # left out on purpose: no control reads it
    }
    for target, rtype, attr, perm in sorted(denied):
        ok = False
        click.echo(f"✗ {target}: {rtype}.{attr}: missing {perm}")
    click.echo(
        "all targets reachable with the permissions the controls need"
        if ok
        else "some evidence cannot be collected; see above"
    )
    sys.exit(ExitCode.OK if ok else ExitCode.ERRORS)


cli.add_command(checks)
cli.add_command(controls)
cli.add_command(diff)
cli.add_command(runs)
cli.add_command(waivers)
cli.add_command(evidence)
cli.add_command(dsr)


def _unloadable(name: str, value: str, exc: Exception) -> click.Command:
    """A command whose package failed to import: it says so when run, the others still work."""

    def fail() -> None:
        click.echo(f"error: the command {name!r} ({value}) could not be loaded: {exc}", err=True)
        sys.exit(ExitCode.USAGE)

    return click.Command(name, callback=fail, help=f"(could not be loaded: {exc})")


add_examples(cli)


def main() -> None:
    cli(prog_name="assay")
