"""`assay diff` between two runs in the ledger, `assay runs complete` for a sharded run,
and `assay waivers list`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assay.engine.cli.options import (
    Output,
    RunSettings,
    format_option,
    handle_errors,
    ledger_option,
    output_options,
    run_options,
    selection_options,
    wait_timeout_option,
)
from assay.engine.cli.running import deliver, make_run_plan
from assay.errors import ConfigError
from assay.words import counted

if TYPE_CHECKING:
    from assay.engine.planner import Plan

EXPIRING_DAYS = 14


@click.command()
@click.argument("run_a")
@click.argument("run_b")
@ledger_option
@format_option
@handle_errors
def diff(run_a: str, run_b: str, ledger: str, fmt: str) -> None:
    """What changed from RUN_A to RUN_B (run ids from the ledger, or unique prefixes)."""
    from rich.table import Table

    from assay.engine.changes import Change, diff_runs, run_index, run_results
    from assay.engine.console import console
    from assay.evidence import open_ledger

    with open_ledger(ledger, create=False) as led:
        id_a, at_a, a = run_results(run_index(led), run_a)
        id_b, at_b, b = run_results(run_index(led), run_b)
    changes = sorted(diff_runs(a, b), key=lambda c: (list(Change).index(c[0]), c[1].control))
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "from": {"run": id_a, "finished_at": at_a},
                    "to": {"run": id_b, "finished_at": at_b},
                    "changes": [
                        {
                            "change": ch.value,
                            "control": s.control,
                            "resource": s.resource,
                            "status": s.status,
                        }
                        for ch, s in changes
                    ],
                },
                indent=2,
            )
        )
        return
    table = Table(title=f"{id_a[:8]} ({at_a}) → {id_b[:8]} ({at_b})")
    for col in ("change", "control", "resource", "status now"):
        table.add_column(col, overflow="fold")
    for ch, s in changes:
        now = "-" if ch is Change.GONE else s.status
        table.add_row(ch.value.replace("_", " "), s.control, str(s.resource.get("id")), now)
    term = console()
    term.print(table)
    counts = {ch: sum(1 for c, _ in changes if c is ch) for ch in Change}
    term.print(
        ", ".join(f"{n} {ch.value.replace('_', ' ')}" for ch, n in counts.items() if n)
        or "no changes"
    )


@click.group()
def runs() -> None:
    """Sharded runs: complete one once its shards have finished."""


@runs.command("complete")
@click.argument("run")
@click.option(
    "--shards",
    type=click.IntRange(1, 10_000),
    required=True,
    help="How many shards the run has (its --shards).",
)
@click.option("--wait", is_flag=True, help="Wait up to --wait-timeout for unfinished shards.")
@wait_timeout_option
@selection_options
@run_options
@output_options
@handle_errors
def runs_complete(
    run: str,
    shards: int,
    wait: bool,
    wait_timeout: float,
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
    settings: RunSettings,
    outputs: list[Output],
) -> None:
    """Complete sharded run RUN (an id or unique prefix): check every shard finished,
    write the closing record and its signed checkpoint, and report the whole run.

    An incomplete run names the shards it lacks (exit 3); run them again with the same
    run id, then complete it. Give the profile and filters the shards ran with.
    """
    plan, path = make_run_plan(profile, framework, control, severity, with_targets=False)
    complete(plan, path, settings, run, shards, wait_timeout if wait else None, outputs)


def complete(
    plan: Plan,
    profile: Path,
    settings: RunSettings,
    run: str,
    shards: int,
    wait: float | None,
    outputs: list[Output],
) -> None:
    """Complete `run`, write its reports and exit with its gate's code."""
    from assay.engine.complete import complete_run
    from assay.engine.severity import Severity

    if settings.baseline is not None:
        raise ConfigError(
            "a sharded run compares with the ledger's last complete run", field="--baseline"
        )
    report = complete_run(
        plan,
        run,
        shards,
        ledger_url=settings.ledger,
        fail_on=Severity(settings.fail_on),
        profile=str(profile),
        wait=wait,
        only_new=settings.only_new,
    )
    report.soft_fail = settings.soft_fail
    written = "" if report.ledger is None else "; closing record written"
    click.echo(
        f"run {report.run_id} complete: {counted(shards, 'shard')}, "
        f"{counted(len(report.findings), 'result')}{written}",
        err=True,
    )
    deliver(report, outputs)


@click.group()
def waivers() -> None:
    """Review the profile's waivers."""


@waivers.command("list")
@click.option(
    "--profile",
    "-p",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Profile file whose waivers to list (default: ./assay.yaml).",
)
@format_option
@handle_errors
def waivers_list(profile: Path | None, fmt: str) -> None:
    """Every waiver with its state: active, expiring within 14 days, or expired."""
    from rich.table import Table

    from assay.engine.console import console
    from assay.engine.planner import load_profile, resolve_profile
    from assay.engine.report import waiver_json

    path = resolve_profile(profile)
    prof, _ = load_profile(path)
    today = datetime.now(UTC).date()
    rows = []
    for w in sorted(prof.waivers, key=lambda w: w.expires):
        if w.expires < today:
            state = "expired"
        elif w.expires <= today + timedelta(days=EXPIRING_DAYS):
            state = "expiring"
        else:
            state = "active"
        rows.append((state, w))
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {"state": st, **waiver_json(w), "days_left": (w.expires - today).days}
                    for st, w in rows
                ],
                indent=2,
            )
        )
        return
    if not rows:
        click.echo(f"no waivers in {path}")
        return
    table = Table(title=f"waivers in {path}")
    for col in ("state", "id", "control", "resources", "expires", "approver", "reason"):
        table.add_column(col, overflow="fold")
    style = {"expired": "bold red", "expiring": "yellow", "active": "green"}
    for st, w in rows:
        table.add_row(
            f"[{style[st]}]{st}[/]",
            w.id,
            w.control,
            ", ".join(w.resources),
            f"{w.expires} ({(w.expires - today).days:+d} d)",
            w.approver,
            w.reason,
        )
    console().print(table)
