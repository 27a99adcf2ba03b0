"""`assay demo`, added to the CLI through the ``assay.commands`` entry point group."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from assay.engine.cli.options import handle_errors
from assay.errors import AssayError


@click.command()
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Where .assay/ (ledger, snapshot) is written.",
)
@click.option(
    "--serve",
    is_flag=True,
    help="Then serve the demo's ledger in the web console on 127.0.0.1, with a one-time "
    "sign-in link.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8470,
    show_default=True,
    help="The console's port, with --serve (0: any free port).",
)
@click.pass_context
@handle_errors
def demo(ctx: click.Context, workdir: Path, serve: bool, port: int) -> None:
    """Run every built-in control on an emulated AWS account, example Kubernetes manifests and
    a throwaway PostgreSQL, then a data-subject request; no account or server needed."""
    from assay.demo.run import run_demo
    from assay.engine.console import console

    code = run_demo(workdir, console())
    if serve:
        serve_demo(ctx, workdir, port)
    sys.exit(code)


def serve_demo(ctx: click.Context, workdir: Path, port: int) -> None:
    """`assay serve` over the demo's ledger, profile and keys, and the example shop's
    requests with their actions enabled, signed in through a one-time link."""
    from assay.demo.state import DemoState
    from assay.examples import examples_root

    # Through the CLI, as a user would start it: the demo imports nothing of the console.
    command = ctx.find_root().command
    serve = command.get_command(ctx, "serve") if isinstance(command, click.Group) else None
    if serve is None:
        raise AssayError(
            "the web console is not installed", remediation="pip install 'assay[serve]'"
        )
    state = DemoState.at(workdir)
    # The example map reaches the shop through $SHOP_DB, as `assay dsr` does.
    os.environ["SHOP_DB"] = str(state.root / "shop.db")
    ctx.invoke(
        serve,
        ledger=state.ledger_url,
        profile=state.root / "demo-profile.yaml",
        port=port,
        signing_key=state.signing_key,
        checkpoint_log=str(state.root / "checkpoints"),
        tokens_path=state.root / "console-tokens.json",
        datamap=Path(str(examples_root() / "shop" / "datamap.yaml")),
        pseudonym_key=state.pseudonym_key,
        dsr_actions=True,
        one_time_link=True,
    )
