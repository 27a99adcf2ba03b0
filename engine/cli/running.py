"""What `assay run`, `evaluate` and `runs complete` share: the plan from the profile and
the command line, and the reports written where they were asked for."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assay.engine.cli.options import Output
from assay.words import counted

if TYPE_CHECKING:
    from assay.engine.planner import Plan
    from assay.engine.report import RunReport


def make_run_plan(
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
    *,
    with_targets: bool = True,
) -> tuple[Plan, Path]:
    """The plan of the profile (`resolve_profile`) narrowed by the command line."""
    from assay.engine.planner import Filters, make_plan, resolve_profile
    from assay.engine.severity import Severity

    path = resolve_profile(profile)
    filters = Filters(framework, control, Severity(severity) if severity else None)
    return make_plan(path, filters, with_targets=with_targets), path


def deliver(report: RunReport, outputs: list[Output]) -> None:
    """Write every requested report (and the GitHub step summary), say on stderr where
    they went and whether the run is unsigned, then exit with the gate's code."""
    from assay.engine.console import console
    from assay.engine.formats import FORMATS
    from assay.engine.formats.table import summary_text
    from assay.files import atomic_write

    for out in outputs:
        writer = FORMATS[out.fmt]
        if out.path is None:
            writer(report, sys.stdout)
        else:
            with atomic_write(out.path) as f:
                writer(report, f)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as f:
            FORMATS["markdown"](report, f)
    if report.ledger is not None and report.ledger["checkpoint"] is None:
        click.echo(
            f"note: the {counted(report.ledger['records'], 'record')} of this run are not "
            "signed: no signing key (.assay/signing.key or $ASSAY_SIGNING_KEY). To sign: "
            "assay evidence keygen, then assay evidence checkpoint --sign --adopt-tail",
            err=True,
        )
    if all(out.path is not None for out in outputs):
        # Every report went to a file: say where, and how the run ended, on stderr.
        err = console(stderr=True)
        for out in outputs:
            err.print(f"{out.fmt} report written to {out.path}", markup=False, highlight=False)
        err.print(summary_text(report), highlight=False)
    sys.exit(report.process_exit_code)
