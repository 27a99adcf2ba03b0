"""What a privacy team reads: plans, export summaries, request lists and lint findings.

Console renderings only; the same facts are available as data (`ErasurePlan.summary`,
the export manifest, `Request.as_dict`) for `--format json`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from rich.console import Console
from rich.table import Table as RichTable

from assay.gdpr.access import AccessResult
from assay.gdpr.model import Finding
from assay.gdpr.package import sealed_header
from assay.gdpr.plan import ErasurePlan
from assay.gdpr.requests import RESIDUAL, Request
from assay.words import counted


def render_plan(
    console: Console, plan: ErasurePlan, title: str = "Erasure plan", rows_shown: int = 20
) -> None:
    grid = RichTable(title=title, title_justify="left")
    for header in ("table", "role", "found", "delete", "erase in place", "kept, and why"):
        grid.add_column(header, overflow="fold")
    for tp in plan.tables:
        cols: dict[str, int] = {}
        for g in tp.updates:
            for c in g.columns:
                cols[c] = cols.get(c, 0) + g.cells.get(c, 0)
        update = "\n".join(
            f"{c}: {tp.table.columns[c].strategy} ({n})" for c, n in cols.items() if n
        )
        kept = "\n".join(
            f"{k.rows} {k.reason}: {k.detail}" + ("; minimised" if k.minimised else "")
            for k in tp.kept
        )
        grid.add_row(
            tp.table.name,
            tp.table.role,
            str(tp.found),
            str(len(tp.delete)) if tp.delete else "-",
            update or "-",
            kept or "-",
        )
    console.print(grid)
    totals = plan.summary()["totals"]
    console.print(
        f"{totals['found']} rows found: {totals['delete']} to delete, {totals['update']} to "
        f"erase in place, {totals['kept']} kept. Plan {plan.digest()[:19]}…"
    )
    by_hold: dict[tuple[str, str], list[str]] = {}
    for tp in plan.tables:
        for h in tp.held:
            until = f"until {h.expires}" if h.expires else "until lifted"
            by_hold.setdefault((h.hold, h.basis), []).append(f"{tp.table.name} {h.rows} {until}")
    if by_hold:
        console.print("[bold]Held: tell the subject why, and erase when the hold expires:[/]")
        for (hold, basis), where in by_hold.items():
            console.print(f"  {hold}: {'; '.join(where)}\n    {basis}")
    unreadable = [u for tp in plan.tables for u in tp.unreadable]
    if unreadable:
        console.print("[bold yellow]Held because the hold's date cannot be read (fix the data):[/]")
        for u in unreadable:
            console.print(
                f"  {u.table} {u.key!r}: {u.column} holds no ISO 8601 date; kept under {u.hold}",
                highlight=False,
            )
    _render_rows(console, plan, rows_shown)
    retained = [(tp.table.name, tp.retained) for tp in plan.tables if tp.retained]
    if retained:
        console.print("[bold]Personal columns kept in rows that stay:[/]")
        for table, kept_cols in retained:
            console.print(f"  {table}: {', '.join(kept_cols)}")


def _render_rows(console: Console, plan: ErasurePlan, limit: int) -> None:
    """Row by row: rows erased in place or kept first (deletions are the plain case)."""
    decisions = sorted(plan.decisions(), key=lambda d: d["action"] == "delete")
    if not decisions or limit <= 0:
        return
    console.print("[bold]Row by row[/] (table, key: what changes, why):")
    for d in decisions[:limit]:
        what = {
            "delete": "deleted",
            "update": "erase " + ", ".join(d["columns"]),
            "keep": "unchanged",
        }[d["action"]]
        console.print(f"  {d['table']} {d['key']!r}: {what}; {d['why']}", highlight=False)
    if len(decisions) > limit:
        more = counted(len(decisions) - limit, "more row")
        console.print(f"  … and {more} (--format json lists them all)")


def render_access(console: Console, result: AccessResult) -> None:
    m = result.manifest
    grid = RichTable(title="Export package", title_justify="left")
    for header in ("table", "rows", "categories", "purposes (lawful basis)", "retention"):
        grid.add_column(header, overflow="fold")
    holds: dict[str, str] = {}
    for t in m["tables"]:
        cats = sorted({c for c in t["categories"].values() if c})
        purposes = "\n".join(f"{p['description']} ({p['basis']})" for p in t["purposes"])
        retention = t["retention"] or "-"
        for h in t["legal_holds"]:
            retention += f"\nlegal hold: {h['id']}"
            holds[h["id"]] = h["basis"]
        grid.add_row(t["table"], str(t["rows"]), ", ".join(cats) or "-", purposes or "-", retention)
    console.print(grid)
    for hold, basis in holds.items():
        console.print(f"  legal hold {hold}: {basis}")
    for w in m["withheld"]:
        console.print(f"  withheld: {w['column']} ({w['reason']})")
    sealed = ", sealed (AES-256-GCM, scrypt)" if sealed_header(result.path) else ""
    rows = sum(t["rows"] for t in m["tables"])
    console.print(f"{rows} rows written to {result.path}{sealed}; link expires {m['expires_at']}")


def render_requests(console: Console, requests: Sequence[Request], today: date) -> None:
    if not requests:
        console.print("no open requests")
        return
    grid = RichTable(title="Data-subject requests", title_justify="left")
    grid.add_column("request", no_wrap=True)
    for header in ("type", "state", "received", "due", "deadline"):
        grid.add_column(header)
    for r in requests:
        if not r.open:
            deadline = r.reason or "closed"
        elif r.overdue(today):
            deadline = f"[red]OVERDUE by {counted((today - r.due).days, 'day')}[/]"
        else:
            left = counted((r.due - today).days, "day")
            deadline = f"{left} left" + (" (extended)" if r.extended else "")
        grid.add_row(
            r.id, r.type, r.state.value, r.received.isoformat(), r.due.isoformat(), deadline
        )
    console.print(grid)
    deferred = [(r, d) for r in requests for d in r.deferred]
    if deferred:
        console.print("[bold]Held data awaiting erasure:[/]")
        for r, d in deferred:
            when = d["expires"] or "when the hold is lifted"
            rows = counted(d["rows"], "row")
            console.print(f"  {r.id}: {rows} of {d['table']} under {d['hold']}: {when}")


def render_due(
    console: Console,
    soon: Sequence[Request],
    expired: Sequence[Request],
    today: date,
    within: int,
) -> None:
    """What the nightly run must see: deadlines near or past, holds run out."""
    if soon:
        render_requests(console, soon, today)
    else:
        console.print(f"no request due within {counted(within, 'day')}")
    for r in expired:
        for d in r.expired_holds(today):
            rows = counted(d["rows"], "row")
            what = (
                f"{d['basis']} on {d['expires']}"
                if d["hold"] == RESIDUAL
                else f"hold expired: under {d['hold']} since {d['expires']}"
            )
            console.print(
                f"{r.id}: {rows} of {d['table']}: {what}: erase with "
                "`assay dsr due --erase-expired`"
            )


def render_findings(console: Console, findings: Sequence[Finding]) -> None:
    for f in findings:
        colour = "red" if f.level == "error" else "yellow"
        at = f" [dim]({f.at})[/]" if f.at else ""
        console.print(f"[{colour}]{f.level}[/]: {f.where}: {f.message}{at}", highlight=False)
    errors = sum(f.level == "error" for f in findings)
    console.print(f"{counted(errors, 'error')}, {counted(len(findings) - errors, 'warning')}")
