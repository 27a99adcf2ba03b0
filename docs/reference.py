"""The generated parts of docs/cli.md, docs/controls.md and docs/frameworks.md, rendered
by cog.

Regenerate them, from the repository root, after changing a command, an option, a help
text, a control or a framework file:

    cog -r -I docs docs/cli.md docs/controls.md docs/frameworks.md

tests/docs/test_reference.py fails while any of them differs from what this renders.
"""

from __future__ import annotations

from collections.abc import Iterator

import click

# Wide enough for the longest option line without folding; fixed, so that the output does
# not depend on the terminal the generator runs in.
HELP_WIDTH = 100


def _commands(
    command: click.Command, ctx: click.Context
) -> Iterator[tuple[click.Command, click.Context]]:
    """`command` and every command under it, depth first, in the order `--help` lists them."""
    yield command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _commands(sub, click.Context(sub, info_name=name, parent=ctx))


def cli_reference() -> str:
    """Every command's `--help`, as click renders it, under a heading per command."""
    from assay.engine.cli.main import cli

    root = click.Context(
        cli, info_name="assay", terminal_width=HELP_WIDTH, max_content_width=HELP_WIDTH
    )
    parts = []
    for command, ctx in _commands(cli, root):
        path = ctx.command_path
        parts.append(f"## {path}\n\n```text\n{command.get_help(ctx).rstrip()}\n```\n")
    return "\n" + "\n".join(parts) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _codes(values: str | list[str] | tuple[str, ...] | None) -> str:
    items = [values] if isinstance(values, str) else list(values or ())
    return ", ".join(f"`{v}`" for v in items) or "—"


def controls_reference() -> str:
    """A table per provider: id, title, severity, resource type, frameworks and criteria, the
    permissions it needs (its resource type's collector and its check, as `assay checks
    permissions` counts them), and the equivalent Prowler checks it cites."""
    from assay.checks import registry
    from assay.engine.catalog import load_catalog

    catalog = load_catalog()
    collectors = registry.collectors()
    by_provider: dict[str, list[str]] = {}
    for cid in sorted(catalog.controls):
        by_provider.setdefault(catalog.controls[cid].control.provider, []).append(cid)
    parts = []
    for provider in sorted(by_provider):
        ids = by_provider[provider]
        rows = [
            "| id | title | severity | resource | frameworks | permissions | Prowler |",
            "|---|---|---|---|---|---|---|",
        ]
        for cid in ids:
            loaded = catalog.controls[cid]
            c = loaded.control
            collector = collectors.get(c.resource)
            needed = set(loaded.permissions) | set(collector.permissions if collector else ())
            frameworks = "; ".join(f"{fw} {', '.join(crits)}" for fw, crits in c.frameworks.items())
            rows.append(
                f"| `{c.id}` | {_cell(c.title)} | {c.severity.value} | `{c.resource}` | "
                f"{frameworks or '—'} | {_codes(sorted(needed))} | "
                f"{_codes(c.references.get('prowler'))} |"
            )
        parts.append(f"## {provider} ({len(ids)})\n\n" + "\n".join(rows) + "\n")
    return "\n" + "\n".join(parts) + "\n"


def frameworks_reference() -> str:
    """The frameworks (criteria listed and mapped, sources), then each control's criteria
    in every framework: its own and those derived from its references."""
    from assay.engine.catalog import load_catalog
    from assay.engine.frameworks import mapping_tables

    catalog = load_catalog()
    controls = [c.control for c in catalog.controls.values()]
    return "\n" + mapping_tables(catalog.frameworks, controls) + "\n"
