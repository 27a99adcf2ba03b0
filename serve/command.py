"""`assay serve` and `assay serve token ...`, added to the CLI through the
``assay.commands`` entry point group. The web stack is imported when a command runs,
never for --help."""

from __future__ import annotations

from pathlib import Path

import click

from assay.engine.cli.options import checkpoint_log_option, handle_errors, ledger_option
from assay.errors import AssayError

ROLES = ("auditor", "privacy", "admin")
_TOKENS_HELP = "The console's token file (hashed tokens, 0600)."


def _example(text: str) -> str:
    return f"\b\nExample:\n  {text}"


tokens_option = click.option(
    "--tokens",
    "tokens_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".assay/console-tokens.json"),
    show_default=True,
    help=_TOKENS_HELP,
)


@click.group(
    invoke_without_command=True,
    epilog=_example("assay serve --profile assay.yaml --port 8470"),
)
@ledger_option
@click.option(
    "--profile",
    "-p",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The profile whose controls (titles, remediations) and waivers the pages show.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8470,
    show_default=True,
    help="Port to listen on (0: any free port).",
)
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="PUBKEY",
    help="Public key the proofs are checked against: vkey text or a file. Repeatable. "
    "Default: the public key of the signing key.",
)
@click.option(
    "--signing-key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The log's signing key, to sign exported bundles (default: $ASSAY_SIGNING_KEY, "
    "else .assay/signing.key if present).",
)
@tokens_option
@click.option(
    "--proxy-address",
    multiple=True,
    metavar="IP",
    help="Trust the identity headers of requests from this reverse proxy (single sign-on). "
    "Repeatable.",
)
@click.option(
    "--proxy-role",
    multiple=True,
    metavar="ROLE=GROUP",
    help="Give ROLE (auditor, privacy, admin) to the proxy's users in GROUP. Repeatable.",
)
@click.option(
    "--proxy-user-header",
    default="X-Forwarded-Email",
    show_default=True,
    metavar="HEADER",
    help="The proxy's header naming the signed-in user (with --proxy-address).",
)
@click.option(
    "--proxy-groups-header",
    default="X-Forwarded-Groups",
    show_default=True,
    metavar="HEADER",
    help="The proxy's header listing the user's groups, for --proxy-role.",
)
@click.option(
    "--datamap",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Serve the DSR queue of this data map's requests to the privacy role (its "
    "stores are reached as `assay dsr` reaches them).",
)
@click.option(
    "--pseudonym-key",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path(".assay/pseudonym.key"),
    show_default=True,
    help="The key of the subjects' pseudonyms, with --datamap (or hex in env ASSAY_PSEUDONYM_KEY).",
)
@click.option(
    "--dsr-actions",
    is_flag=True,
    help="Let the privacy role act on requests (verify, dry-run, erase, extend, reject); "
    "without it the queue is read-only.",
)
@checkpoint_log_option
@click.option(
    "--secure-cookies",
    is_flag=True,
    help="Mark cookies Secure: the console is reached over HTTPS (through a proxy).",
)
@click.option(
    "--one-time-link",
    is_flag=True,
    help="Print a link that signs its first visitor in as an administrator, once, within "
    "the hour (a demo on this machine).",
)
@click.pass_context
@handle_errors
def serve(
    ctx: click.Context,
    ledger: str,
    profile: Path | None,
    host: str,
    port: int,
    keys: tuple[str, ...],
    signing_key: Path | None,
    tokens_path: Path,
    proxy_address: tuple[str, ...],
    proxy_role: tuple[str, ...],
    proxy_user_header: str,
    proxy_groups_header: str,
    datamap: Path | None,
    pseudonym_key: Path,
    dsr_actions: bool,
    checkpoint_log: str | None,
    secure_cookies: bool,
    one_time_link: bool,
) -> None:
    """A web console over the evidence ledger: runs, findings and their proofs, diffs,
    waivers, evidence export. Sign in with a token (`assay serve token create`) or
    through a reverse proxy that names the user (--proxy-address)."""
    if ctx.invoked_subcommand is not None:
        return
    if dsr_actions and datamap is None:
        raise click.UsageError("--dsr-actions needs --datamap")
    from assay.evidence.signing import Signer

    try:
        from assay.serve.launch import console_from_options, dsr_desk, run_console
    except ImportError as exc:
        raise AssayError(
            f"the console needs its web server, which is not installed ({exc.name})",
            remediation="pip install 'assay[serve]'",
        ) from None
    # DSR steps are signed as `assay dsr` signs them: this key, this checkpoint log.
    signer = Signer(signing_key, checkpoint_log)
    desk = None
    if datamap is not None:
        desk = dsr_desk(ledger, datamap, pseudonym_key, dsr_actions, signer)
    console = console_from_options(
        ledger=ledger,
        profile=profile,
        keys=keys,
        signing_key=signing_key,
        tokens_path=tokens_path,
        proxy=(proxy_address, proxy_role, proxy_user_header, proxy_groups_header),
        dsr=desk,
        secure_cookies=secure_cookies,
    )
    run_console(console, host, port, login_link=one_time_link)


@serve.group()
def token() -> None:
    """Create, list and revoke the console's API tokens."""


@token.command(
    "create", epilog=_example("assay serve token create --role auditor --name 'Q3 audit'")
)
@click.option("--role", type=click.Choice(ROLES), required=True, help="What the token may do.")
@click.option("--name", required=True, help="Who holds it: the ledger records their actions so.")
@tokens_option
@handle_errors
def token_create(role: str, name: str, tokens_path: Path) -> None:
    """Create a token and print it once; only its SHA-256 is kept."""
    from assay.engine.collect import now_rfc3339
    from assay.serve.tokens import Role, TokenStore

    secret, entry = TokenStore(tokens_path).create(name, Role(role), now_rfc3339())
    click.echo(secret)
    click.echo(
        f"token {entry.id} for {entry.name!r} ({entry.role.value}) added to {tokens_path}; "
        "it is shown only this once",
        err=True,
    )


@token.command("list", epilog=_example("assay serve token list"))
@tokens_option
@handle_errors
def token_list(tokens_path: Path) -> None:
    """List the tokens: id, role, holder, created (never the tokens themselves)."""
    from assay.serve.tokens import TokenStore

    entries = TokenStore(tokens_path).entries()
    if not entries:
        click.echo(f"no tokens in {tokens_path}")
    for entry in entries.values():
        click.echo(f"{entry.id}  {entry.role.value:<8} {entry.created_at}  {entry.name}")


@token.command("revoke", epilog=_example("assay serve token revoke 3f2a9c1e"))
@click.argument("token_id")
@tokens_option
@handle_errors
def token_revoke(token_id: str, tokens_path: Path) -> None:
    """Revoke token TOKEN_ID: a console ends its sessions at their next request."""
    from assay.serve.tokens import TokenStore

    entry = TokenStore(tokens_path).revoke(token_id)
    click.echo(f"revoked token {entry.id} of {entry.name!r} ({entry.role.value})")
