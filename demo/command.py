"""`assay demo`, added to the CLI through the ``assay.commands`` entry point group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from assay.engine.cli.options import handle_errors
from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.serve.console import Console


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
    help="The console's port with --serve (another one is picked if it is taken).",
)
@handle_errors
def demo(workdir: Path, serve: bool, port: int) -> None:
    """Run every built-in control on an emulated AWS account, example Kubernetes manifests and
    a throwaway PostgreSQL, then a data-subject request; no account or server needed."""
    from assay.demo.run import run_demo
    from assay.engine.console import console

    code = run_demo(workdir, console())
    if serve:
        serve_demo(workdir, port)
    sys.exit(code)


def serve_demo(workdir: Path, port: int) -> None:
    """The console over the demo's ledger, profile, keys and shop, until interrupted."""
    try:
        from assay.serve.launch import run_console
    except ImportError as exc:
        raise AssayError(
            f"the console needs its web server, which is not installed ({exc.name})",
            remediation="pip install 'assay[serve]'",
        ) from None
    run_console(demo_console(workdir), "127.0.0.1", port, login_link=True, any_port_if_taken=True)


def demo_console(workdir: Path) -> Console:
    """The console `assay demo --serve` serves: the demo's ledger, profile and keys, and
    the example shop's DSR queue with its actions enabled."""
    from assay.demo.shop import shop_datamap
    from assay.demo.state import DemoState
    from assay.serve.dsr import DsrDesk
    from assay.serve.launch import console_from_options

    state = DemoState.at(workdir)
    shop = DsrDesk(
        shop_datamap(),
        state.ledger_url,
        state.pseudonym_key,
        connections={"shop": str(state.root / "shop.db")},
        signer=state.signer,
        actions=True,
    )
    return console_from_options(
        ledger=state.ledger_url,
        profile=state.root / "demo-profile.yaml",
        keys=(),
        signing_key=state.signing_key,
        tokens_path=state.root / "console-tokens.json",
        dsr=shop,
    )
