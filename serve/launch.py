"""From command-line options to a served console (for `assay serve` and `assay demo --serve`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from assay.errors import ConfigError
from assay.evidence import SigningKey, SigningKeyError, VerifierKey, resolve_signing_key
from assay.evidence.signing import Signer
from assay.serve.console import Console, open_console
from assay.serve.dsr import DsrDesk
from assay.serve.proxy import ProxyIdentity
from assay.serve.server import bind, serve
from assay.serve.sessions import Identity
from assay.serve.tokens import Role, TokenStore


def trusted_keys(values: Sequence[str], signing: SigningKey | None) -> list[VerifierKey]:
    """The keys named (vkey text, or a file holding one); else the signing key's own."""
    keys = []
    for value in values:
        path = Path(value)
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        try:
            keys.append(VerifierKey.parse(text))
        except SigningKeyError as exc:
            raise ConfigError(str(exc), field="--key") from None
    if not keys and signing is not None:
        keys.append(signing.verifier)
    return keys


def console_from_options(
    *,
    ledger: str,
    profile: Path | None,
    keys: Sequence[str],
    signing_key: Path | None,
    tokens_path: Path,
    proxy: tuple[Sequence[str], Sequence[str], str, str] = ((), (), "", ""),
    dsr: DsrDesk | None = None,
    secure_cookies: bool = False,
) -> Console:
    """The console the options describe; ConfigError (naming the option) for a bad one."""
    addresses, grants, user_header, groups_header = proxy
    if grants and not addresses:
        raise ConfigError("--proxy-role needs --proxy-address", field="--proxy-role")
    identity = (
        ProxyIdentity.parse(addresses, grants, user_header=user_header, groups_header=groups_header)
        if addresses
        else None
    )
    signing = resolve_signing_key(signing_key)
    return open_console(
        ledger,
        keys=trusted_keys(keys, signing),
        tokens=TokenStore(tokens_path),
        profile=profile,
        signing_key=signing,
        proxy=identity,
        dsr=dsr,
        secure_cookies=secure_cookies,
    )


def dsr_desk(ledger: str, datamap: Path, key_path: Path, actions: bool, signer: Signer) -> DsrDesk:
    """The DSR queue over `datamap`, its stores reached through the map's own settings,
    its steps signed by `signer`."""
    if not key_path.is_file():
        raise ConfigError(
            "no pseudonym key: the requests' subjects cannot be matched without it",
            file=key_path,
            field="--pseudonym-key",
        )
    return DsrDesk(datamap, ledger, key_path, signer=signer, actions=actions)


def run_console(console: Console, host: str, port: int, *, login_link: bool) -> None:
    """Serve `console` until interrupted. With `login_link`, print a one-time link that
    signs its first visitor in as an administrator (for a demo on this machine)."""
    sock = bind(host, port)

    def ready(url: str) -> None:
        click.echo(f"assay console on {url} (Ctrl-C to stop)")
        if login_link:
            admin = Identity("one-time link", Role.ADMIN, "one-time link")
            secret = console.sessions.one_time_link(admin)
            click.echo(f"open, once, to sign in: {url}/login/once/{secret}")
        elif not console.tokens.entries() and console.proxy is None:
            click.echo(
                "no tokens yet: create one with "
                "'assay serve token create --role auditor --name NAME'",
                err=True,
            )

    try:
        serve(console, sock, ready=ready)
    except KeyboardInterrupt:
        # uvicorn shuts down on Ctrl-C, then raises it again: stopping is not a failure.
        click.echo("assay console stopped", err=True)
