"""`assay controls`: list, show, validate and print the schema of controls."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assay.engine.cli.options import format_option, handle_errors
from assay.errors import ConfigError, ConfigErrors
from assay.words import counted


@click.group()
def controls() -> None:
    """List, show and validate controls."""


@controls.command("list")
@click.option(
    "--framework",
    help="Only controls of this framework or criterion (cis_aws_v3, iso27001_2022:A.8.24), "
    "showing only its criteria.",
)
@click.option(
    "--profile",
    "-p",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Include the controls of this profile's controls_dirs (default: ./assay.yaml if any).",
)
@format_option
@handle_errors
def controls_list(framework: str | None, profile: Path | None, fmt: str) -> None:
    """List the controls a run would see: the built-in catalog and the profile's own."""
    from rich.table import Table

    from assay.engine.console import console
    from assay.engine.planner import framework_spec_problem, profile_catalog, resolve_profile

    catalog = profile_catalog(resolve_profile(profile))
    if framework:
        problem = framework_spec_problem(catalog, framework)
        if problem:
            raise ConfigError(problem, field="--framework")
    rows = [
        loaded.control
        for loaded in catalog.controls.values()
        if not framework or loaded.control.in_framework(framework)
    ]
    if framework:
        shown = framework.partition(":")[0]
        rows = [c.model_copy(update={"frameworks": {shown: c.frameworks[shown]}}) for c in rows]
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
    console().print(table)


@controls.command("show")
@click.argument("control_id")
@click.option(
    "--profile",
    "-p",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Include the controls of this profile's controls_dirs (default: ./assay.yaml if any).",
)
@handle_errors
def controls_show(control_id: str, profile: Path | None) -> None:
    """Print one control as YAML, with where it was loaded from (built-in or the profile's
    controls_dirs, as a run finds it) and every criterion it maps to, its own and those
    the framework files derive from its references."""
    from assay.engine.planner import profile_catalog, resolve_profile

    catalog = profile_catalog(resolve_profile(profile))
    loaded = catalog.controls.get(control_id)
    if loaded is None:
        raise ConfigError(
            f"unknown control id {control_id!r}", remediation="`assay controls list` shows the ids"
        )
    click.echo(f"# {loaded.path}")
    click.echo(loaded.path.read_text(encoding="utf-8").rstrip())
    # The file holds the control's own mapping; the framework files add what they derive.
    for fw, crits in loaded.control.frameworks.items():
        click.echo(f"# {fw}: {', '.join(crits) or '(none)'}")
    if loaded.permissions:
        click.echo(f"# permissions: {', '.join(loaded.permissions)}")


@controls.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@handle_errors
def controls_validate(paths: tuple[Path, ...]) -> None:
    """Validate control files (or folders of them) against the schema and the registry."""
    from assay.engine.catalog import load_catalog, load_control

    frameworks = load_catalog().frameworks
    files = [f for p in paths for f in (sorted(p.rglob("*.yaml")) if p.is_dir() else [p])]
    errors: list[ConfigError] = []
    for f in files:
        try:
            load_control(f, frameworks)
        except (ConfigError, ConfigErrors) as exc:
            errors += exc.errors
    if errors:
        raise ConfigErrors(errors)
    click.echo(f"{counted(len(files), 'control file')} valid")


@controls.command("schema")
def controls_schema() -> None:
    """Print the JSON Schema of a control file."""
    from assay.engine.catalog import control_schema

    click.echo(json.dumps(control_schema(), indent=2))
