"""`assay controls`: list, show, validate and print the schema of controls."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from assay.engine.catalog import control_schema, load_catalog, load_control
from assay.engine.cli.options import (
    format_option,
    handle_errors,
)
from assay.engine.console import console
from assay.errors import ConfigError, ConfigErrors
from assay.words import counted


@click.group()
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
        loaded.control
        for loaded in catalog.controls.values()
        if not framework or loaded.control.in_framework(framework)
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
    console().print(table)


@controls.command("show")
@click.argument("control_id")
@handle_errors
def controls_show(control_id: str) -> None:
    """Print one control as YAML, with where it was loaded from."""
    catalog = load_catalog()
    loaded = catalog.controls.get(control_id)
    if loaded is None:
        raise ConfigError(
            f"unknown control id {control_id!r}", remediation="`assay controls list` shows the ids"
        )
    click.echo(f"# {loaded.path}")
    click.echo(loaded.path.read_text(encoding="utf-8").rstrip())
    if loaded.permissions:
        click.echo(f"# permissions: {', '.join(loaded.permissions)}")


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
    click.echo(f"{counted(len(files), 'control file')} valid")


@controls.command("schema")
def controls_schema() -> None:
    """Print the JSON Schema of a control file."""
    click.echo(json.dumps(control_schema(), indent=2))
