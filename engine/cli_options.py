"""Options and error handling shared by every `assay` command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from assay.checks import registry
from assay.engine.errors import AssayError, ConfigErrors, ExitCode
from assay.engine.models import Severity
from assay.engine.report import FORMATS
from assay.evidence import LedgerError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_LEDGER = "sqlite:///.assay/ledger.db"
SEVERITIES = [s.value for s in Severity]


def handle_errors(func: F) -> F:
    """Print an AssayError's diagnostics on stderr and exit with its code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except ConfigErrors as exc:
            for e in exc.errors:
                click.echo(f"error: {e.diagnostics()}", err=True)
            click.echo(f"{len(exc.errors)} error(s); nothing was run", err=True)
            sys.exit(exc.exit_code)
        except AssayError as exc:
            click.echo(f"error: {exc.diagnostics()}", err=True)
            sys.exit(exc.exit_code)
        except (registry.RegistryError, LedgerError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(ExitCode.USAGE)

    return wrapper  # type: ignore[return-value]


def option_group(*options: Callable[[F], F]) -> Callable[[F], F]:
    """Several click options as one decorator, so commands share them exactly."""

    def apply(func: F) -> F:
        for option in reversed(options):
            func = option(func)
        return func

    return apply


format_option = click.option(
    "--format",
    "-f",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    show_default=True,
    help="Output format.",
)
output_options = option_group(
    format_option,
    click.option(
        "--output",
        "-o",
        "output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the report to this file instead of standard output.",
    ),
)
selection_options = option_group(
    click.option(
        "--profile",
        "-p",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Profile file (default: ./assay.yaml, else the built-in default).",
    ),
    click.option(
        "--framework",
        multiple=True,
        help="Only controls of this framework or criterion (soc2, soc2:CC6.1).",
    ),
    click.option("--control", multiple=True, help="Only this control id (repeatable)."),
    click.option("--severity", type=click.Choice(SEVERITIES), help="Only controls at or above."),
)
ledger_option = click.option(
    "--ledger",
    envvar="ASSAY_LEDGER",
    default=DEFAULT_LEDGER,
    show_default=True,
    help="Evidence ledger URL (sqlite:///path.db); env ASSAY_LEDGER.",
)
run_options = option_group(
    ledger_option,
    click.option(
        "--fail-on",
        type=click.Choice(SEVERITIES),
        default="low",
        show_default=True,
        help="Exit 1 on an unwaived failure at or above this severity.",
    ),
)
collect_options = option_group(
    click.option(
        "--workers",
        type=click.IntRange(1, 256),
        default=8,
        show_default=True,
        help="Collection threads.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(1),
        default=300.0,
        show_default=True,
        help="Seconds allowed per target and resource type.",
    ),
)
