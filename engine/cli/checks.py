"""`assay checks`: the registered check functions, and the permissions a run needs."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assay.engine.cli.options import format_option, handle_errors, selection_options
from assay.errors import ConfigError

if TYPE_CHECKING:
    from assay.engine.planner import Plan

IAM_POLICY_VERSION = "2012-10-17"


@click.group()
def checks() -> None:
    """List check functions and print the permissions the controls need."""


@checks.command("list")
@click.option("--provider", help="Only checks of this provider (aws, k8s, postgres, ...).")
@format_option
@handle_errors
def checks_list(provider: str | None, fmt: str) -> None:
    """List registered check functions: resource type, parameters and permissions."""
    from rich.table import Table

    from assay.checks import registry
    from assay.engine.console import console

    specs = [
        spec
        for name, spec in sorted(registry.checks().items())
        if not provider or name.split(".")[0] == provider
    ]
    if fmt == "json":
        rows = [
            {
                "name": s.name,
                "resource": s.resource,
                "permissions": list(s.permissions),
                "params": s.params.model_json_schema(),
            }
            for s in specs
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(specs)} checks")
    for col in ("name", "resource", "params", "permissions"):
        table.add_column(col, overflow="fold")
    for s in specs:
        table.add_row(
            s.name, s.resource, ", ".join(s.params.model_fields), ", ".join(s.permissions)
        )
    console().print(table)


@checks.command("permissions")
@click.option(
    "--provider",
    required=True,
    help="The provider whose permissions to print (aws prints an IAM policy document).",
)
@selection_options
@handle_errors
def checks_permissions(
    provider: str,
    profile: Path | None,
    framework: tuple[str, ...],
    control: tuple[str, ...],
    severity: str | None,
) -> None:
    """Print the least privilege the selected controls need from one provider.

    The union of the permissions declared by the collectors of the resource types the
    controls judge and by their check functions. For aws it is an IAM policy document
    to attach to the role or user the run uses; for other providers, a JSON list.
    """
    from assay.checks import registry
    from assay.engine.planner import Filters, make_plan, resolve_profile
    from assay.engine.severity import Severity

    if provider not in registry.providers():
        raise ConfigError(
            f"unknown provider {provider!r}; expected one of "
            f"{', '.join(sorted(registry.providers()))}",
            field="--provider",
        )
    path = resolve_profile(profile)
    plan = make_plan(path, Filters(framework, control, Severity(severity) if severity else None))
    actions = sorted(permissions(plan, provider))
    if not actions:
        raise ConfigError(
            f"the selected controls use no {provider} resource; nothing to grant",
            file=path,
            remediation="select controls of that provider (--control, --framework)",
        )
    if provider == "aws":
        click.echo(json.dumps(iam_policy(actions), indent=2))
    else:
        click.echo(json.dumps({"provider": provider, "permissions": actions}, indent=2))


def permissions(plan: Plan, provider: str) -> set[str]:
    """What the plan's controls of `provider` need: check permissions, and those of the
    collector calls that read the attributes the controls use."""
    from assay.checks import registry
    from assay.engine.planner import attributes_read

    controls = [c for c in plan.controls if c.control.provider == provider]
    needed = {p for c in controls for p in c.permissions}
    collectors = registry.collectors()
    for rtype, wanted in attributes_read(controls).items():
        spec = collectors.get(rtype)
        if spec is not None:
            needed.update(spec.permissions_for(wanted))
    return needed


def iam_policy(actions: Iterable[str]) -> dict[str, object]:
    """An identity policy allowing `actions` on every resource (they are all reads)."""
    return {
        "Version": IAM_POLICY_VERSION,
        "Statement": [
            {
                "Sid": "AssayReadOnly",
                "Effect": "Allow",
                "Action": sorted(actions),
                "Resource": "*",
            }
        ],
    }
