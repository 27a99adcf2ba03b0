"""The terminal table (rich): results, most urgent first, and the summary last."""

from __future__ import annotations

from typing import IO

from rich.table import Table
from rich.text import Text

from assay.checks import Status
from assay.engine.collect import failure_lines
from assay.engine.console import console
from assay.engine.evaluate import Summary, Tally
from assay.engine.report import RunReport, where
from assay.words import counted

_STATUS_STYLE = {
    Status.PASS: "green",
    Status.FAIL: "bold red",
    Status.ERROR: "bold yellow",
    Status.NOT_APPLICABLE: "dim",
}
ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.PASS: 2, Status.NOT_APPLICABLE: 3}


def write(report: RunReport, out: IO[str]) -> None:
    term = console(out)
    table = Table(title=f"assay run {report.run_id}", show_lines=False, expand=False)
    columns = ["status", "severity", "control", "resource", "where", "reason"]
    if report.baseline:
        columns.insert(1, "change")
    for name in columns:
        table.add_column(name, overflow="fold")
    for f in sorted(
        report.findings,
        key=lambda f: (ORDER[f.status], -f.control.control.severity.rank, f.control.control.id),
    ):
        label = f.status.value + (f" (waived {f.waiver.id})" if f.waiver else "")
        row: list[str | Text] = [
            Text(label, style="dim" if f.waiver else _STATUS_STYLE[f.status]),
            f.control.control.severity.value,
            f.control.control.id,
            str(f.resource["name"]),
            where(f.resource),
            f.result.reason,
        ]
        if report.baseline:
            change = report.change_of(f)
            row.insert(1, change.change.value.replace("_", " ") if change else "")
        table.add_row(*row)
    term.print(table)
    term.print(summary_text(report))


def summary_text(report: RunReport) -> Text:
    s = report.summary
    text = Text()
    parts = [f"{n} {label}" for label, n in s.tally]
    text.append(f"{counted(sum(s.counts.values()), 'result')}: " + ", ".join(parts), style="bold")
    text.append("\n")
    text.append(score_lines(s))
    if report.baseline:
        counts: dict[str, int] = {}
        for c in report.changes.values():
            counts[c.change.value] = counts.get(c.change.value, 0) + 1
        shown = ", ".join(_change_count(k, n) for k, n in sorted(counts.items()))
        gone = counted(len(report.gone), "resource")
        text.append(f"since {report.baseline}: {shown}; {gone} gone\n")
    for w in s.expired_waivers:
        text.append(
            f"  waiver {w.id} expired on {w.expires} and no longer applies: renew or fix\n",
            style="yellow",
        )
    for line in failure_lines(report.failures):
        text.append(f"  {line}\n", style="yellow")
    if report.ledger:
        text.append(
            f"evidence: {report.ledger['records']} records appended to {report.ledger['url']}"
            f" (head {report.ledger['head'][:16]}…)\n"
        )
    text.append(report.exit_line + "\n")
    return text


def _pct(score: Tally) -> str:
    return "n/a" if score.score is None else f"{score.score:.0%}"


def _counts(score: Tally) -> str:
    return (
        f"passed {score.passed}, failed {score.failed}, waived {score.waived}, "
        f"errors {score.errors}"
    )


def score_lines(s: Summary) -> Text:
    """A line per framework, and under it its criteria: every one when the scores cover a
    single framework, else those with a failure or an error (the rest are counted)."""
    text = Text()
    every = len(s.frameworks) <= 1
    quiet = 0
    for fw in s.frameworks:
        over = counted(fw.criteria, "criterion", "criteria")
        text.append(
            f"  {fw.framework} {_pct(fw):>5}  {_counts(fw)}  over {over}  {fw.title}\n",
            style="bold",
        )
        for score in s.scores:
            if score.framework != fw.framework:
                continue
            if not (every or score.failed or score.errors):
                quiet += 1
                continue
            text.append(
                f"    {score.framework} {score.criterion:<6} {_pct(score):>5}  {_counts(score)}"
                f"  {score.title}\n"
            )
    if quiet:
        text.append(
            f"    ({counted(quiet, 'criterion', 'criteria')} with nothing failed or undecided "
            "not listed; --framework ID lists a framework's criteria)\n",
            style="dim",
        )
    return text


def _change_count(change: str, n: int) -> str:
    """``2 new failures``, ``1 still failing``: the noun agrees, the state does not change."""
    if change.startswith("new_"):
        return counted(n, change.replace("_", " "))
    return f"{n} {change.replace('_', ' ')}"
