"""`assay demo`, added to the CLI through the ``assay.commands`` entry point group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from assay.engine.cli.options import handle_errors


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where .assay/ (ledger, snapshot) is written.",
)
@handle_errors
def demo(workdir: Path) -> None:
    """Run every built-in control on an emulated AWS account, example Kubernetes manifests and
    a throwaway PostgreSQL, then a data-subject request; no account or server needed."""
    from assay.demo.run import run_demo
    from assay.engine.console import console

    sys.exit(run_demo(workdir, console()))
