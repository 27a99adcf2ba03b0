"""`assay dsr`: data-subject requests (access, export, erasure, rectification) with evidence."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from assay.engine.cli.options import (
    OutputFile,
    format_option,
    handle_errors,
    ledger_option,
    option_group,
)
from assay.errors import AssayError, ExitCode
from assay.words import counted

if TYPE_CHECKING:
    from assay.gdpr.requests import RequestBook

F = TypeVar("F", bound=Callable[..., Any])


datamap_option = click.option(
    "--datamap",
    "datamap",
    envvar="ASSAY_DATAMAP",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Data map file (YAML); env ASSAY_DATAMAP.",
)
key_option = click.option(
    "--pseudonym-key",
    "key_path",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=lambda _ctx, _param, value: value or _default_key_path(),
    help="Key for subject pseudonyms and hashed columns (default .assay/pseudonym.key, "
    "created 0600 if missing; or hex in env ASSAY_PSEUDONYM_KEY).",
)
identity_option = click.option(
    "--identity",
    "identity",
    multiple=True,
    required=True,
    metavar="TYPE=VALUE",
    help="An identity of the subject, as the data map names it (repeatable).",
)
timeout_options = option_group(
    click.option(
        "--statement-timeout",
        type=click.FloatRange(0.1),
        default=30.0,
        show_default=True,
        help="Seconds one statement may run.",
    ),
    click.option(
        "--lock-timeout",
        type=click.FloatRange(0.1),
        default=5.0,
        show_default=True,
        help="Seconds to wait for a lock.",
    ),
)
session_options = option_group(datamap_option, ledger_option, key_option, identity_option)


def _default_key_path() -> Path:
    from assay.evidence.pseudonym import DEFAULT_KEY_PATH

    return DEFAULT_KEY_PATH


def _book(ledger: str, key_path: Path, *, create_key: bool = False) -> RequestBook:
    """The requests in `ledger`; only a command that opens a request may create the key:
    for any other, a missing key is an error naming the file, not a new key that then
    matches no identity."""
    from assay.evidence import Pseudonymizer, load_key
    from assay.gdpr.requests import RequestBook

    return RequestBook(ledger, Pseudonymizer(load_key(key_path, create=create_key)))


def _emit(fmt: str, doc: Any) -> None:
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2, default=str, ensure_ascii=False))


@click.group()
def dsr() -> None:
    """Data-subject requests against real databases, with a dry run first and evidence."""


@dsr.command("schema")
def schema() -> None:
    """Print the JSON Schema of a data map file."""
    from assay.gdpr.datamap import datamap_schema

    click.echo(json.dumps(datamap_schema(), indent=2))


@dsr.command("lint")
@datamap_option
@format_option
@handle_errors
def lint(datamap: Path, fmt: str) -> None:
    """Compare the data map with the live schema; exit 2 on any error."""
    from assay.engine.console import console
    from assay.gdpr.dsr import lint_datamap
    from assay.gdpr.report import render_findings

    findings = lint_datamap(datamap)
    if fmt == "json":
        _emit(fmt, [vars(f) for f in findings])
    else:
        render_findings(console(), findings)
    if any(f.level == "error" for f in findings):
        sys.exit(ExitCode.USAGE)


@dsr.command("new")
@click.option(
    "--type",
    "kind",
    required=True,
    type=click.Choice(["access", "portability", "erasure", "rectification"]),
    help="What the subject asks for (GDPR Art. 15, 20, 17, 16).",
)
@session_options
@click.option(
    "--received",
    type=click.DateTime(["%Y-%m-%d"]),
    metavar="YYYY-MM-DD",
    help="Date received (default today).",
)
@handle_errors
def new(
    kind: str, datamap: Path, ledger: str, key_path: Path, identity: tuple[str, ...], received: Any
) -> None:
    """Record a new request; prints its id and due date."""
    from assay.gdpr.identity import make_identities, parse_identity
    from assay.gdpr.mapfile import load_datamap

    loaded = load_datamap(datamap)
    types = {k: v.normalize for k, v in loaded.datamap.identities.items()}
    ids = make_identities([parse_identity(i) for i in identity], types)
    book = _book(ledger, key_path, create_key=True)
    request = book.open_request(kind, ids, received.date() if received else None)
    click.echo(f"{request.id} received {request.received}, due {request.due}")


def _book_command(name: str, help_text: str) -> Callable[[F], F]:
    def wrap(func: F) -> F:
        func = handle_errors(func)
        func = key_option(ledger_option(click.argument("request_id")(func)))
        return dsr.command(name, help=help_text)(func)  # type: ignore[return-value]

    return wrap


@_book_command("verify", "Record that the subject's identity was verified (and how).")
@click.option("--method", required=True, help="How, e.g. 'reply from the account address'.")
def verify(request_id: str, ledger: str, key_path: Path, method: str) -> None:
    from assay.gdpr.requests import State

    book = _book(ledger, key_path)
    request = book.advance(book.get(request_id), State.VERIFIED, method=method)
    click.echo(f"{request.id} verified")


@_book_command("reject", "Reject a request, with the reason told to the subject.")
@click.option("--reason", required=True, help="Why: told to the subject.")
def reject(request_id: str, ledger: str, key_path: Path, reason: str) -> None:
    from assay.gdpr.requests import State

    book = _book(ledger, key_path)
    request = book.advance(book.get(request_id), State.REJECTED, reason=reason)
    click.echo(f"{request.id} rejected: {reason}")


@_book_command("extend", "Extend the deadline once, by one or two months (GDPR article 12(3)).")
@click.option(
    "--months",
    type=click.IntRange(1, 2),
    default=2,
    show_default=True,
    help="How many months to add to the deadline (Art. 12(3) allows two).",
)
@click.option("--reason", required=True, help="Why: told to the subject within the first month.")
def extend(request_id: str, ledger: str, key_path: Path, months: int, reason: str) -> None:
    book = _book(ledger, key_path)
    request = book.extend(book.get(request_id), months, reason)
    click.echo(f"{request.id} now due {request.due}")


@dsr.command("status")
@ledger_option
@key_option
@click.option("--all", "include_closed", is_flag=True, help="Include completed and rejected.")
@format_option
@handle_errors
def status(ledger: str, key_path: Path, include_closed: bool, fmt: str) -> None:
    """List requests: overdue first, then by due date."""
    book = _book(ledger, key_path)
    requests = book.listing(include_closed=include_closed)
    today = book.clock().date()
    if fmt == "json":  # for scripts: without the console's imports, a second sooner
        _emit(fmt, [r.as_dict(today) for r in requests])
        return
    from assay.engine.console import console
    from assay.gdpr.report import render_requests

    render_requests(console(), requests, today)


@dsr.command("due")
@ledger_option
@key_option
@click.option(
    "--within",
    type=click.IntRange(0),
    default=7,
    show_default=True,
    metavar="DAYS",
    help="List open requests due within this many days (and every overdue one).",
)
@click.option(
    "--erase-expired",
    is_flag=True,
    help="Erase held data whose hold has run out (needs --datamap), one record per request.",
)
@click.option(
    "--datamap",
    "datamap",
    envvar="ASSAY_DATAMAP",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Data map file (YAML), for --erase-expired; env ASSAY_DATAMAP.",
)
@click.option(
    "--soft-fail",
    is_flag=True,
    help="Report, but exit 0 when something needs a person (errors still exit 2 or 3).",
)
@timeout_options
@format_option
@handle_errors
def due(
    ledger: str,
    key_path: Path,
    within: int,
    erase_expired: bool,
    datamap: Path | None,
    soft_fail: bool,
    statement_timeout: float,
    lock_timeout: float,
    fmt: str,
) -> None:
    """For the nightly run: requests near or past their deadline, and held data whose hold
    has expired (erased with --erase-expired, so no one has to remember it in 2032).

    Exits 1 when something needs a person: a request past its deadline, or held data
    past its hold still there (what --erase-expired erased does not count; what it finds
    again right after erasing does, and is listed until erased). A request due soon is
    listed, and exits 0."""
    book = _book(ledger, key_path)
    found = book.due(within)
    erased: list[dict[str, Any]] = []
    if erase_expired and found.expired:
        if datamap is None:
            raise AssayError(
                "--erase-expired needs the data map: give --datamap or set ASSAY_DATAMAP"
            )
        from assay.gdpr.dsr import open_session

        with open_session(datamap, ledger_url=ledger, key_path=key_path, create_key=False) as s:
            for request in found.expired:
                outcome = s.erase_expired(
                    request, statement_timeout=statement_timeout, lock_timeout=lock_timeout
                )
                erased.append(
                    {
                        "request": request.id,
                        "erased_rows": outcome.result.rows if outcome.result else 0,
                        "residual_rows": outcome.residual.total if outcome.residual else 0,
                        "note": outcome.note,
                        "plan": outcome.plan.summary(),
                        "still_held": outcome.request.deferred if outcome.request else [],
                    }
                )
                if fmt != "json":
                    from assay.engine.console import console
                    from assay.gdpr.report import render_plan

                    render_plan(console(), outcome.plan, f"Held data of {request.id}", 0)
        found = book.due(within)
    reasons = found.needs_a_person()
    code = ExitCode.FAILED if reasons else ExitCode.OK
    today = found.today
    if fmt == "json":
        _emit(
            fmt,
            {
                "today": today.isoformat(),
                "within_days": within,
                "requests": [r.as_dict(today) for r in found.soon],
                "expired_holds": [
                    {"request": r.id, "holds": r.expired_holds(today)} for r in found.expired
                ],
                "erased": erased,
                "needs_a_person": reasons,
                "exit_code": 0 if soft_fail else int(code),
            },
        )
    else:
        from assay.engine.console import console
        from assay.gdpr.report import render_due

        render_due(console(), found.soon, found.expired, today, within)
        for e in erased:
            click.echo(f"{e['request']}: erased {counted(e['erased_rows'], 'held row')}")
        for reason in reasons:
            click.echo(f"needs a person: {reason}")
        if code and soft_fail:
            click.echo(f"exit code 0 (--soft-fail; the gate's code is {int(code)})")
    if code and not soft_fail:
        sys.exit(code)


def _passphrase(env: str | None) -> str | None:
    if env is None:
        return None
    value = os.environ.get(env)
    if not value:
        raise AssayError(f"environment variable {env} (the passphrase) is not set or empty")
    return value


def _access(kind: str) -> Callable[..., None]:
    @session_options
    @click.option("--request", "request_id", required=True, help="The request id.")
    @click.option(
        "--out",
        "out",
        required=True,
        type=OutputFile(),
        help="Package file to write.",
    )
    @click.option(
        "--passphrase-env",
        metavar="VAR",
        help="Seal the package with the passphrase in this env variable.",
    )
    @click.option(
        "--expires-hours",
        type=click.IntRange(1),
        default=72,
        show_default=True,
        help="Hours the download link stays valid (in the manifest).",
    )
    @format_option
    @handle_errors
    def command(
        datamap: Path,
        ledger: str,
        key_path: Path,
        identity: tuple[str, ...],
        request_id: str,
        out: Path,
        passphrase_env: str | None,
        expires_hours: int,
        fmt: str,
    ) -> None:
        from assay.engine.console import console
        from assay.gdpr.dsr import open_session
        from assay.gdpr.identity import parse_identity
        from assay.gdpr.report import render_access

        with open_session(datamap, ledger_url=ledger, key_path=key_path, create_key=False) as s:
            ids = s.identities([parse_identity(i) for i in identity])
            outcome = s.access(
                ids,
                out,
                request_id=request_id,
                passphrase=_passphrase(passphrase_env),
                expires_in=timedelta(hours=expires_hours),
            )
        if fmt == "json":
            _emit(fmt, outcome.result.manifest)
        else:
            render_access(console(), outcome.result)

    command.__doc__ = (
        f"Export the subject's data for {kind} as a zip: JSON, CSV per table, manifest."
    )
    return command


dsr.command("access")(_access("an access request (GDPR article 15)"))
dsr.command("export")(_access("a portability request (GDPR article 20)"))


@dsr.command("erase")
@session_options
@click.option("--request", "request_id", help="The request id (required unless --dry-run).")
@click.option("--dry-run", is_flag=True, help="Print the plan; write nothing to the database.")
@timeout_options
@format_option
@handle_errors
def erase(
    datamap: Path,
    ledger: str,
    key_path: Path,
    identity: tuple[str, ...],
    request_id: str | None,
    dry_run: bool,
    statement_timeout: float,
    lock_timeout: float,
    fmt: str,
) -> None:
    """Erase the subject's data: plan, execute in one transaction per store, verify."""
    from assay.engine.console import console
    from assay.gdpr.dsr import open_session
    from assay.gdpr.identity import parse_identity
    from assay.gdpr.report import render_plan
    from assay.gdpr.requests import State

    with open_session(datamap, ledger_url=ledger, key_path=key_path, create_key=False) as s:
        ids = s.identities([parse_identity(i) for i in identity])
        outcome = s.erase(
            ids,
            request_id=request_id,
            dry_run=dry_run,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
        )
    doc: dict[str, Any] = {
        "request": outcome.request.id if outcome.request else None,
        "state": outcome.request.state.value if outcome.request else None,
        "dry_run": dry_run,
        "note": outcome.note,
        "plan": outcome.plan.summary(),
        "plan_digest": outcome.plan.digest(),
        "rows": outcome.plan.decisions(),
        "erased_rows": outcome.result.rows if outcome.result else 0,
        "residual": outcome.residual.counts if outcome.residual else None,
        "stores": outcome.stores(),
    }
    if fmt == "json":
        _emit(fmt, doc)
        return
    term = console()
    done = outcome.request is not None and outcome.request.state == State.COMPLETED
    if done and outcome.result is None:
        term.print(outcome.note)  # completed before this run: nothing to show but that
        return
    render_plan(term, outcome.plan, "Erasure plan (dry run)" if dry_run else "Erasure plan")
    stores = outcome.stores()
    if len(stores) > 1 or any(v.startswith("erased earlier") for v in stores.values()):
        term.print("Stores: " + "; ".join(f"{n}: {v}" for n, v in stores.items()))
    if outcome.result is not None and outcome.residual is not None:
        term.print(
            f"[green]✓[/] erased {outcome.result.rows} rows in "
            f"{outcome.result.seconds * 1000:.0f} ms; verified: nothing erasable remains"
        )
    if outcome.note:
        term.print(outcome.note)


@dsr.command("rectify")
@session_options
@click.option("--request", "request_id", help="The request id (required unless --dry-run).")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="TABLE.COLUMN=VALUE",
    help="A new value for a rectifiable column (repeatable).",
)
@click.option(
    "--clear",
    "clears",
    multiple=True,
    metavar="TABLE.COLUMN",
    help="Set a nullable rectifiable column empty (repeatable).",
)
@click.option("--dry-run", is_flag=True, help="Validate and show the change; write nothing.")
@timeout_options
@handle_errors
def rectify(
    datamap: Path,
    ledger: str,
    key_path: Path,
    identity: tuple[str, ...],
    request_id: str | None,
    sets: tuple[str, ...],
    clears: tuple[str, ...],
    dry_run: bool,
    statement_timeout: float,
    lock_timeout: float,
) -> None:
    """Correct the subject's data (GDPR article 16): rectifiable columns, checked on the schema."""
    from assay.gdpr.dsr import open_session
    from assay.gdpr.identity import parse_identity
    from assay.gdpr.rectify import parse_assignment

    with open_session(datamap, ledger_url=ledger, key_path=key_path, create_key=False) as s:
        ids = s.identities([parse_identity(i) for i in identity])
        assignments = [parse_assignment(t, s.resolved) for t in sets] + [
            parse_assignment(t, s.resolved, clear=True) for t in clears
        ]
        outcome = s.rectify(
            ids,
            assignments,
            request_id=request_id,
            dry_run=dry_run,
            statement_timeout=statement_timeout,
            lock_timeout=lock_timeout,
        )
    for change in outcome.changes:
        # Applied, every row planned was updated (else nothing was, and this is not reached).
        rows = counted(len(change.observed), "row")
        what = f"{rows} updated" if change.table.name in outcome.applied else f"{rows} would change"
        if change.left:
            what += f"; {counted(change.left, 'row')} left: the column is another person's there"
        click.echo(f"{change.table.name}: {', '.join(change.columns)}: {what}")


@dsr.command("unpack")
@click.argument("package", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to extract into (created, 0700, if missing).",
)
@click.option("--passphrase-env", metavar="VAR", help="Env variable holding the passphrase.")
@handle_errors
def unpack_command(package: Path, out: Path, passphrase_env: str | None) -> None:
    """Unseal and extract an export package, checking every file against its manifest."""
    from assay.gdpr.package import unpack

    manifest = unpack(package, out, _passphrase(passphrase_env))
    expired = date.fromisoformat(manifest["expires_at"][:10]) < date.today()
    click.echo(
        f"{len(manifest['files'])} files verified and extracted to {out}"
        + ("; note: the package's download link has expired" if expired else "")
    )
