"""The `assay` command line. The only place that turns errors into exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO, TypeVar

import click
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from assay import __version__
from assay.checks import registry
from assay.engine import demo as demo_mod
from assay.engine.catalog import control_schema, load_catalog, load_control
from assay.engine.collect import collect as collect_snapshot
from assay.engine.collect import read_snapshot, write_snapshot
from assay.engine.errors import AssayError, ConfigError, ConfigErrors, EvidenceError, ExitCode
from assay.engine.models import Severity
from assay.engine.planner import Filters, Plan, make_plan, resolve_profile
from assay.engine.report import FORMATS, RunReport, write_report
from assay.engine.run import execute
from assay.evidence import LedgerError, open_ledger, redact_url, verify

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


def _plan(
    profile: Path | None, framework: tuple[str, ...], control: tuple[str, ...], severity: str | None
) -> tuple[Plan, Path]:
    path = resolve_profile(profile)
    filters = Filters(framework, control, Severity(severity) if severity else None)
    return make_plan(path, filters), path


@contextmanager
def _report_stream(output: Path | None) -> Iterator[TextIO]:
    if output is None:
        yield sys.stdout
        return
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        yield out
    tmp.replace(output)


def _collect(plan: Plan, workers: int, timeout: float) -> Any:
    if not plan.targets:
        raise ConfigError(
            "the profile names no targets to collect from",
            file=plan.profile_path,
            remediation="add a `targets:` list to the profile, or run `assay demo`",
        )
    err = Console(stderr=True)
    if not err.is_terminal:
        return collect_snapshot(plan, workers=workers, timeout=timeout)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        total = sum(len(t.resource_types) for t in plan.targets)
        task = bar.add_task(f"collecting 0/{total}", total=total)

        def tick(what: str, n: int) -> None:
            bar.advance(task)
            bar.update(
                task, description=f"collecting {bar.tasks[0].completed:.0f}/{total}: {what} ({n})"
            )

        return collect_snapshot(plan, workers=workers, timeout=timeout, progress=tick)


def _finish(report: RunReport, fmt: str, output: Path | None) -> None:
    with _report_stream(output) as out:
        write_report(fmt, report, out)
    sys.exit(report.exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="assay")
def cli() -> None:
    """Policy-as-code compliance checks with an evidence ledger an auditor can verify."""


@cli.command()
@selection_options
@run_options
@collect_options
@output_options
@handle_errors
def run(
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
    ledger: str,
    fail_on: str,
    workers: int,
    timeout: float,
    fmt: str,
    output: Path | None,
) -> None:
    """Collect from the profile's targets, evaluate, record evidence and report."""
    plan, path = _plan(profile, framework, control, severity)
    snap = _collect(plan, workers, timeout)
    report = execute(plan, snap, ledger_url=ledger, fail_on=Severity(fail_on), profile=str(path))
    _finish(report, fmt, output)


@cli.command()
@selection_options
@collect_options
@click.option(
    "--output",
    "-o",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
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
    plan, _ = _plan(profile, framework, control, severity)
    snap = _collect(plan, workers, timeout)
    write_snapshot(snap, output)
    click.echo(
        f"{len(snap.resources)} resources from {len(snap.targets)} target(s) written to "
        f"{output}; {len(snap.failures)} collection failure(s)",
        err=True,
    )
    for f in snap.failures:
        click.echo(f"  could not collect {f.resource_type} from {f.target}: {f.reason}", err=True)


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
    ledger: str,
    fail_on: str,
    fmt: str,
    output: Path | None,
) -> None:
    """Evaluate a snapshot written by `assay collect`, record evidence and report."""
    plan, path = _plan(profile, framework, control, severity)
    snap = read_snapshot(snapshot)
    report = execute(plan, snap, ledger_url=ledger, fail_on=Severity(fail_on), profile=str(path))
    _finish(report, fmt, output)


@cli.command()
@click.option("--profile", "-p", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--timeout", type=click.FloatRange(1), default=30.0, show_default=True)
@handle_errors
def doctor(profile: Path | None, timeout: float) -> None:
    """Check each target is reachable and every collector it needs is permitted."""
    plan, _ = _plan(profile, (), (), None)
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
        (
            r["scope"]["target"],
            r["type"],
            name,
            value["$error"].get("permission") or value["$error"]["code"],
        )
        for r in snap.resources
        for name, value in r["attributes"].items()
        if isinstance(value, dict) and "$error" in value
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


@cli.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where .assay/ (ledger, snapshot) is written.",
)
@handle_errors
def demo(workdir: Path) -> None:
    """Run the built-in AWS controls against an emulated account; no cloud account needed."""
    sys.exit(demo_mod.run_demo(workdir, Console()))


@cli.group()
def controls() -> None:
    """List, show and validate controls."""


@controls.command("list")
@click.option("--framework", help="Only controls of this framework or criterion.")
@format_option
@handle_errors
def controls_list(framework: str | None, fmt: str) -> None:
    """List the controls of the built-in catalog."""
    catalog = load_catalog()
    rows = [
        lc.control
        for lc in catalog.controls.values()
        if not framework or lc.control.in_framework(framework)
    ]
    if fmt == "json":
        click.echo(
            json.dumps([c.model_dump(mode="json", exclude_defaults=True) for c in rows], indent=2)
        )
        return
    table = Table(title=f"{len(rows)} controls")
    for col in ("id", "severity", "resource", "frameworks", "title"):
        table.add_column(col, overflow="fold")
    for c in rows:
        fws = "; ".join(f"{k}: {', '.join(v)}" for k, v in c.frameworks.items())
        table.add_row(c.id, c.severity.value, c.resource, fws, c.title)
    Console().print(table)


@controls.command("show")
@click.argument("control_id")
@handle_errors
def controls_show(control_id: str) -> None:
    """Print one control as YAML, with where it was loaded from."""
    catalog = load_catalog()
    lc = catalog.controls.get(control_id)
    if lc is None:
        raise ConfigError(
            f"unknown control id {control_id!r}", remediation="`assay controls list` shows the ids"
        )
    click.echo(f"# {lc.path}")
    click.echo(lc.path.read_text(encoding="utf-8").rstrip())
    if lc.permissions:
        click.echo(f"# permissions: {', '.join(lc.permissions)}")


@controls.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@handle_errors
def controls_validate(paths: tuple[Path, ...]) -> None:
    """Validate control files (or folders of them) against the schema and the registry."""
    frameworks = load_catalog().frameworks
    files = [f for p in paths for f in (sorted(p.rglob("*.yaml")) if p.is_dir() else [p])]
    errors: list[ConfigError] = []
    for f in files:
        try:
            load_control(f, frameworks)
        except ConfigErrors as exc:
            errors += exc.errors
        except ConfigError as exc:
            errors.append(exc)
    if errors:
        raise ConfigErrors(errors)
    click.echo(f"{len(files)} control file(s) valid")


@controls.command("schema")
def controls_schema() -> None:
    """Print the JSON Schema of a control file."""
    click.echo(json.dumps(control_schema(), indent=2))


@cli.group()
def evidence() -> None:
    """Verify the evidence ledger."""


@evidence.command("verify")
@ledger_option
@format_option
@handle_errors
def evidence_verify(ledger: str, fmt: str) -> None:
    """Re-hash every stored record and check the chain; exit 4 on the first bad record."""
    with open_ledger(ledger, create=False) as led:
        result = verify(led.records())
    doc = {"ledger": redact_url(ledger), **result.as_dict()}
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    elif result.ok:
        click.echo(f"✓ {result.records} records verified; head {result.head}")
    if not result.ok:
        raise EvidenceError(
            f"evidence ledger {redact_url(ledger)} failed verification: {result.error}"
        )


def main() -> None:
    cli(prog_name="assay")
