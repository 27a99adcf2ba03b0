"""`assay diff` between two runs in the ledger, and `assay waivers list`."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from assay.engine.cli.options import format_option, handle_errors, ledger_option

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
def waivers() -> None:
    """Review the profile's waivers."""


@waivers.command("list")
@click.option("--profile", "-p", type=click.Path(exists=True, dir_okay=False, path_type=Path))
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
