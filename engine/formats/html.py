"""A single offline HTML page (Jinja2, autoescaped): scores, trend, failures by criterion.

Charts are inline SVG drawn here, so the page needs no JavaScript to be read; a few lines
of script only power the filter box.
"""

from __future__ import annotations

from collections import defaultdict
from typing import IO

from jinja2 import BaseLoader, Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from assay.checks import Status
from assay.engine.evaluate import CriterionScore, Finding, FrameworkScore, Summary, Tally
from assay.engine.report import RunReport
from assay.words import counted

BAR_WIDTH = 360
CHART_W, CHART_H = 640, 180


def template_environment(loader: BaseLoader) -> Environment:
    """A Jinja2 environment over `loader` with the report's settings: every template
    autoescaped, blocks trimmed, and the `counted` filter (`{{ n | counted("record") }}`).
    The web console renders its pages with the same."""
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(["html", "j2"], default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["counted"] = lambda n, noun, plural=None: counted(int(n), noun, plural)
    return env


def score_bars(frameworks: list[FrameworkScore], scores: list[CriterionScore]) -> Markup:
    """One horizontal bar per framework, then one per criterion of it: green share passed,
    red failed, grey waived."""
    rows: list[tuple[str, Tally, str]] = []
    for fw in frameworks:
        rows.append((f"{fw.framework} (all {fw.criteria})", fw, "lbl fw"))
        rows += [
            (f"{s.framework} {s.criterion}", s, "lbl")
            for s in scores
            if s.framework == fw.framework
        ]
    row_h, label_w = 26, 250
    height = row_h * len(rows) + 10
    parts = [
        f'<svg class="bars" role="img" aria-label="Compliance score per framework and criterion" '
        f'width="{label_w + BAR_WIDTH + 60}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, score, cls_label) in enumerate(rows):
        y = 5 + i * row_h
        total = score.passed + score.failed + score.waived
        parts.append(f'<text x="0" y="{y + 15}" class="{cls_label}">{escape(label)}</text>')
        x: float = label_w
        for count, cls in (
            (score.passed, "pass"),
            (score.failed, "fail"),
            (score.waived, "waived"),
        ):
            w = BAR_WIDTH * count / total if total else 0
            if w:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="18" class="{cls}">'
                    f"<title>{cls}: {count}</title></rect>"
                )
            x += w
        if not total:
            parts.append(
                f'<rect x="{label_w}" y="{y}" width="{BAR_WIDTH}" height="18" class="none"/>'
            )
        pct = "n/a" if score.score is None else f"{score.score:.0%}"
        parts.append(f'<text x="{label_w + BAR_WIDTH + 8}" y="{y + 15}" class="pct">{pct}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def overall_score(by_status: dict[str, int], waived: int) -> float | None:
    """passed / (passed + unwaived failures) over every result of a run."""
    passed = int(by_status.get("pass", 0))
    failed = int(by_status.get("fail", 0)) - waived
    return passed / (passed + failed) if passed + failed else None


def trend_chart(points: list[tuple[str, float | None]]) -> Markup:
    """The overall score of each run, oldest first, as a line with dots."""
    pad = 30
    usable = [(label, s) for label, s in points if s is not None]
    parts = [
        f'<svg class="trend" role="img" aria-label="Compliance score over the last runs" '
        f'width="{CHART_W}" height="{CHART_H}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for pct in (0, 50, 100):
        y = CHART_H - pad - (CHART_H - 2 * pad) * pct / 100
        parts.append(
            f'<line x1="{pad}" x2="{CHART_W - pad}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="2" y="{y + 4:.1f}" class="axis">{pct}%</text>'
        )
    if usable:
        step = (CHART_W - 2 * pad) / max(1, len(usable) - 1)
        coords = [
            (pad + i * step, CHART_H - pad - (CHART_H - 2 * pad) * s)
            for i, (_, s) in enumerate(usable)
        ]
        parts.append(
            '<polyline class="line" fill="none" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            + '"/>'
        )
        for (x, y), (label, s) in zip(coords, usable, strict=True):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot">'
                f"<title>{escape(label)}: {s:.0%}</title></circle>"
            )
    else:
        parts.append(f'<text x="{pad}" y="{CHART_H / 2}" class="axis">no completed runs yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# The summary card's colour for each count of `Summary.tally`.
CARD_CLASS = {
    "passed": "pass",
    "failed": "fail",
    "waived": "waived",
    "could not decide": "error",
    "not applicable": "",
}


def failing_criteria(
    s: Summary, by_control: dict[str, list[Finding]]
) -> list[tuple[FrameworkScore, list[tuple[CriterionScore, list[tuple[str, int]]]]]]:
    """Per framework, its criteria with failures and, for each, the failing controls and how
    many failures (waived ones included) each has: each failure is shown once, by control."""
    out = []
    for fw in s.frameworks:
        criteria = [
            (score, [(cid, len(by_control[cid])) for cid in score.controls if cid in by_control])
            for score in s.scores
            if score.framework == fw.framework and score.failed + score.waived
        ]
        if criteria:
            out.append((fw, criteria))
    return out


def render(report: RunReport) -> str:
    s = report.summary
    by_control: dict[str, list[Finding]] = defaultdict(list)
    for f in report.findings:
        if f.status is Status.FAIL:
            by_control[f.control.control.id].append(f)
    current = overall_score(dict(s.counts), s.waived)
    points = [
        (p.at, overall_score(p.counts.get("by_status", {}), int(p.counts.get("waived", 0))))
        for p in report.trend
    ]
    points.append((f"{report.finished_at} (this run)", current))
    ledger = report.ledger or {}
    signed = ledger.get("checkpoint")
    # The signed checkpoint when there is one (origin@size and Merkle root), else the head hash.
    checkpoint = (
        f"{signed['origin']}@{signed['size']} root {signed['root']}"
        if signed
        else ledger.get("head")
    )
    return (
        template_environment(PackageLoader("assay.engine.formats", "templates"))
        .get_template("report.html.j2")
        .render(
            report=report,
            summary=s,
            card_class=CARD_CLASS,
            statuses=list(Status),
            score_bars=score_bars(s.frameworks, s.scores),
            trend=trend_chart(points),
            runs_in_trend=len(points),
            overall=current,
            failures=sorted(by_control.items()),
            failing_criteria=failing_criteria(s, by_control),
            errors=[f for f in report.findings if f.status is Status.ERROR],
            checkpoint=checkpoint,
            change_of=report.change_of,
        )
    )


def write(report: RunReport, out: IO[str]) -> None:
    out.write(render(report))
