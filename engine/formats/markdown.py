"""A Markdown summary for CI step summaries ($GITHUB_STEP_SUMMARY)."""

from __future__ import annotations

from typing import IO

from assay.checks import Status
from assay.engine.collect import failure_lines
from assay.engine.report import RunReport
from assay.words import counted

ICON = {Status.PASS: "✅", Status.FAIL: "❌", Status.ERROR: "⚠️", Status.NOT_APPLICABLE: "·"}
TALLY_ICON = {
    "passed": "✅",
    "failed": "❌",
    "waived": "🔕",
    "could not decide": "⚠️",
    "not applicable": "·",
}
MAX_ROWS = 50  # step summaries are read by people; the full list is in the other formats


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _pct(score: float | None) -> str:
    return "n/a" if score is None else f"{score:.0%}"


def write(report: RunReport, out: IO[str]) -> None:
    s = report.summary
    out.write(f"## assay compliance run `{report.run_id[:8]}`\n\n")
    out.write("| results | |\n|---|---:|\n")
    for label, n in s.tally:
        out.write(f"| {TALLY_ICON[label]} {label} | {n} |\n")
    out.write("\n")
    if report.baseline:
        changed = [c.change.value for c in report.changes.values()]
        new, fixed = changed.count("new_failure"), changed.count("fixed")
        out.write(
            f"Since `{report.baseline}`: **{counted(new, 'new failure')}**, {fixed} fixed, "
            f"{counted(len(report.gone), 'resource')} gone.\n\n"
        )
    if s.frameworks:
        out.write("| framework | score | passed | failed | waived | errors | criteria |\n")
        out.write("|---|---:|---:|---:|---:|---:|---:|\n")
        for fw in s.frameworks:
            out.write(
                f"| {fw.framework} {_cell(fw.title)} | {_pct(fw.score)} | {fw.passed} "
                f"| {fw.failed} | {fw.waived} | {fw.errors} | {fw.criteria} |\n"
            )
        out.write("\n")
        # Folded: a run over the whole catalog scores well over a hundred criteria.
        for fw in s.frameworks:
            out.write(f"<details><summary>{fw.framework} by criterion</summary>\n\n")
            out.write("| criterion | score | passed | failed | waived | errors |\n")
            out.write("|---|---:|---:|---:|---:|---:|\n")
            for score in s.scores:
                if score.framework == fw.framework:
                    out.write(
                        f"| {score.framework} {score.criterion} {_cell(score.title)} "
                        f"| {_pct(score.score)} | {score.passed} | {score.failed} "
                        f"| {score.waived} | {score.errors} |\n"
                    )
            out.write("\n</details>\n\n")
    bad = [
        f
        for f in report.findings
        if (f.status is Status.FAIL and not f.waiver) or f.status is Status.ERROR
    ]
    if bad:
        out.write("| | severity | control | resource | reason |\n|---|---|---|---|---|\n")
        for f in bad[:MAX_ROWS]:
            out.write(
                f"| {ICON[f.status]} | {f.control.control.severity.value} | "
                f"`{f.control.control.id}` | {_cell(str(f.resource['name']))} | "
                f"{_cell(f.result.reason)} |\n"
            )
        if len(bad) > MAX_ROWS:
            out.write(f"\n…and {len(bad) - MAX_ROWS} more.\n")
        out.write("\n")
    for w in s.expired_waivers:
        out.write(f"- ⏰ waiver `{w.id}` ({w.control}) expired on {w.expires}\n")
    for line in failure_lines(report.failures):
        out.write(f"- ⚠️ {_cell(line)}\n")
    out.write(f"\n{report.exit_line[0].upper()}{report.exit_line[1:]}.\n")
