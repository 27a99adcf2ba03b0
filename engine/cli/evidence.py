"""`assay evidence`: verify the ledger or a bundle, export bundles, sign checkpoints, prove
records, manage keys."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

import assay.evidence as ev
from assay.engine.cli.options import (
    OutputFile,
    checkpoint_log_option,
    choose_format,
    format_option,
    handle_errors,
    ledger_option,
    option_group,
)
from assay.errors import ConfigError, EvidenceError
from assay.words import counted

KEY_HELP = (
    f"Signing key file (default: ${ev.SIGNING_KEY_ENV}, which may also hold the key itself, "
    f"else {ev.DEFAULT_SIGNING_KEY})."
)


def _now() -> str:
    from assay.engine.collect import now_rfc3339

    return now_rfc3339()


def _signing_key(path: Path | None) -> ev.SigningKey:
    key = ev.resolve_signing_key(path)
    if key is None:
        raise ConfigError(
            f"no signing key: {ev.DEFAULT_SIGNING_KEY} does not exist and "
            f"${ev.SIGNING_KEY_ENV} is unset",
            remediation="create one with: assay evidence keygen",
        )
    return key


def _verifier_keys(values: tuple[str, ...]) -> list[ev.VerifierKey]:
    keys = []
    for value in values:
        path = Path(value)
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        try:
            keys.append(ev.VerifierKey.parse(text))
        except ev.SigningKeyError as exc:
            raise ConfigError(str(exc), field="--key") from None
    return keys


public_keys_option = click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="PUBKEY",
    help="Trusted public key: the vkey text (name+id+key) or a file holding it. Repeatable.",
)


def _echo_json(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, indent=2))


workers_option = click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=min(os.cpu_count() or 1, 8),
    show_default="CPU count, at most 8",
    help="Processes to spread a large ledger's or bundle's records over.",
)

attestation_options = option_group(
    click.option("--tsa", metavar="URL", help="The RFC 3161 timestamp authority to ask."),
    click.option(
        "--tsa-ca",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="PEM certificates the TSA's tokens must chain to: checked before a token is kept.",
    ),
    click.option(
        "--witness-url",
        "witness_urls",
        multiple=True,
        metavar="URL",
        help="A witness to ask for a cosignature of the latest checkpoint. Repeatable.",
    ),
    click.option(
        "--witness",
        "witness_keys",
        multiple=True,
        metavar="KEY",
        help="The public key of each --witness-url, in the same order.",
    ),
    click.option(
        "--timeout",
        type=click.FloatRange(0.1, 300),
        default=10.0,
        show_default=True,
        help="Seconds to wait for each answer.",
    ),
)


def _attestation(
    tsa: str | None,
    tsa_ca: Path | None,
    witness_urls: tuple[str, ...],
    witness_keys: tuple[str, ...],
    timeout: float,
) -> ev.Attestation | None:
    """What `attestation_options` ask for; None when they ask for nothing."""
    if len(witness_urls) != len(witness_keys):
        raise click.UsageError("give one --witness KEY for each --witness-url")
    if tsa is None and not witness_urls:
        return None
    witnesses = []
    for url, value in zip(witness_urls, witness_keys, strict=True):
        path = Path(value)
        try:
            key = ev.WitnessKey.parse(path.read_text(encoding="utf-8") if path.is_file() else value)
        except ev.SigningKeyError as exc:
            raise ConfigError(exc.message, field="--witness") from None
        witnesses.append(ev.Witness(url, key))
    return ev.Attestation(
        ev.TimestampAuthority(tsa, tsa_ca, timeout) if tsa else None,
        tuple(witnesses),
        len(witnesses) or 1,
        timeout,
    )


@click.group()
def evidence() -> None:
    """Verify the ledger or a bundle, export bundles, sign checkpoints, ev.prove records."""


def _trusted_checkpoint(path: Path | None, verifiers: list[ev.VerifierKey]) -> ev.Checkpoint | None:
    if path is None:
        return None
    if not verifiers:
        raise ConfigError("--trusted-checkpoint needs --key to check its signature")
    try:
        return ev.Checkpoint.from_note(path.read_bytes())
    except ev.CheckpointError as exc:
        raise ConfigError(str(exc), file=path) from None


@evidence.command("verify")
@click.argument(
    "bundle", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@ledger_option
@public_keys_option
@click.option(
    "--trusted-checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint you saved earlier: the ledger or bundle must still extend it.",
)
@checkpoint_log_option
@click.option(
    "--allow-unsigned-tail",
    is_flag=True,
    help="Ledger only: records no signed checkpoint covers are a note, not a failure.",
)
@click.option(
    "--check-views",
    is_flag=True,
    help="Bundle only: also rebuild its OSCAL document and summary from the records and "
    "compare them byte for byte.",
)
@workers_option
@click.option(
    "--tsa-ca",
    "tsa_ca",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificates a timestamp authority's tokens must chain to; the latest "
    "checkpoint must then carry a token. Repeatable.",
)
@click.option(
    "--witness",
    "witnesses",
    multiple=True,
    metavar="KEY",
    help="A trusted witness's public key (vkey text or a file); the latest checkpoint must "
    "then carry --quorum of their cosignatures. Repeatable.",
)
@click.option(
    "--quorum",
    type=click.IntRange(1),
    help="Witness cosignatures the latest checkpoint needs (default: 1).",
)
@click.option(
    "--skew",
    type=click.IntRange(0),
    default=300,
    show_default=True,
    help="Seconds a record's claimed time may run past its checkpoint's proven time.",
)
@format_option
@handle_errors
def evidence_verify(
    bundle: Path | None,
    ledger: str,
    keys: tuple[str, ...],
    trusted_checkpoint: Path | None,
    checkpoint_log: str | None,
    allow_unsigned_tail: bool,
    check_views: bool,
    workers: int,
    tsa_ca: tuple[Path, ...],
    witnesses: tuple[str, ...],
    quorum: int | None,
    skew: int,
    fmt: str,
) -> None:
    """Verify the ledger (--ledger) or an exported BUNDLE.

    Re-hashes every record, recomputes the Merkle tree (every stored node) and checks
    every signed checkpoint. With --key, checkpoint signatures are checked (a truncated
    tail, records appended without the key, or a log re-signed by another key fails).
    The ledger is pinned to the newest checkpoint in the checkpoint log kept outside it,
    and to --trusted-checkpoint if given: a rollback or rewritten history fails. A
    BUNDLE needs nothing but itself and --key (the log's public key, obtained apart
    from the bundle). With --tsa-ca and --witness, the timestamp tokens and witness
    cosignatures beside the checkpoints are checked too, each checkpoint's proven time
    is shown, and records claiming a later time than it (beyond --skew) fail. Exits 4
    on the first problem, naming the record, checkpoint, proof or file.
    """
    verifiers = _verifier_keys(keys)
    trusted = _trusted_checkpoint(trusted_checkpoint, verifiers)
    policy = _time_policy(tsa_ca, witnesses, quorum, skew)
    if bundle is not None:
        source = click.get_current_context().get_parameter_source("ledger")
        if source is ParameterSource.COMMANDLINE:
            raise click.UsageError("give --ledger or a BUNDLE to verify, not both")
        _verify_bundle(bundle, verifiers, trusted, workers, check_views, policy, fmt)
        return
    if check_views:
        raise click.UsageError("--check-views applies to a BUNDLE only")
    log = ev.resolve_checkpoint_log(checkpoint_log)
    with ev.open_ledger(ledger, create=False) as led:
        pinned = _pinned(led, log, verifiers)
        result = ev.verify_ledger(
            led,
            verifiers,
            trusted,
            workers=workers,
            pinned=pinned,
            allow_unsigned_tail=allow_unsigned_tail,
            policy=policy,
            attachments=lambda checkpoint: ev.kept_beside(checkpoint, [led, log]),
        )
    if pinned is None and result.checkpoints:
        result.notes.append(
            f"the checkpoint log {log.location} holds no checkpoint of this ledger: a "
            "rollback to an earlier checkpoint could not be detected"
        )
    if fmt == "json":
        _echo_json({"ledger": ev.redact_url(ledger), **result.as_dict()})
    else:
        if not result.ok:
            click.echo(f"{counted(result.records, 'record')} passed the checks before the failure")
        else:
            click.echo(f"✓ {result.records} records verified; head {result.head}")
            click.echo(f"✓ Merkle root {result.root} (the stored tree agrees)")
            latest = f"; latest {result.latest.label}" if result.latest else ""
            if result.signatures_checked:
                click.echo(f"✓ {counted(result.checkpoints, 'signed checkpoint')} verified{latest}")
            else:
                click.echo(
                    f"✓ {counted(result.checkpoints, 'checkpoint')} match the records{latest}"
                )
            if result.trusted is not None:
                click.echo(f"✓ consistent with the trusted checkpoint {result.trusted.label}")
            if result.pinned is not None and pinned is not None:
                click.echo(
                    f"✓ consistent with the pinned checkpoint {result.pinned.label} "
                    f"(from {pinned[1]})"
                )
        _echo_times(result.times, policy)
        for note in result.notes:
            click.echo(f"! {note}")
    if not result.ok:
        raise EvidenceError(
            f"evidence ledger {ev.redact_url(ledger)} failed verification: {result.error}"
        )


def _pinned(
    ledger: ev.Ledger, log: ev.CheckpointLog, verifiers: list[ev.VerifierKey]
) -> tuple[ev.Checkpoint, str] | None:
    """The newest checkpoint in the checkpoint log of an origin this ledger (or a trusted
    key) names, and its file."""
    origins = {checkpoint.origin for checkpoint in ledger.checkpoints()}
    origins.update(key.name for key in verifiers)
    return log.newest(origins)


def _time_policy(
    tsa_ca: tuple[Path, ...], witnesses: tuple[str, ...], quorum: int | None, skew: int
) -> ev.TimePolicy | None:
    from datetime import timedelta

    if quorum is not None and not witnesses:
        raise click.UsageError("--quorum goes with --witness")
    roots = []
    for path in tsa_ca:
        try:
            roots += ev.load_certificates(path)
        except ev.TimestampError as exc:
            raise ConfigError(exc.message, file=path, field="--tsa-ca") from None
    keys = []
    for value in witnesses:
        path = Path(value)
        text = path.read_text(encoding="utf-8") if path.is_file() else value
        try:
            keys.append(ev.WitnessKey.parse(text))
        except ev.SigningKeyError as exc:
            raise ConfigError(exc.message, field="--witness") from None
    if quorum is not None and quorum > len(keys):
        raise click.UsageError(f"--quorum {quorum} is more than the {len(keys)} --witness keys")
    policy = ev.TimePolicy(tuple(roots), tuple(keys), quorum or 1, timedelta(seconds=skew))
    return policy if policy else None


def _echo_times(times: list[ev.CheckpointTime], policy: ev.TimePolicy | None) -> None:
    """One line per checkpoint: when its records provably existed, and by whose word."""
    if policy is None:
        return
    for time in times:
        brief = time.as_dict()
        said = []
        if brief["timestamp"] is not None:
            said.append(f"timestamp {brief['timestamp']} by {brief['tsa']}")
        said += [f"cosigned by {c['witness']} at {c['time']}" for c in brief["cosignatures"]]
        label = time.checkpoint.label
        if brief["existed_by"] is None:
            click.echo(f"! {label}: nothing trusted says when (no token or quorum beside it)")
        else:
            click.echo(f"✓ {label}: records existed by {brief['existed_by']} ({'; '.join(said)})")
    if times:
        click.echo(f"✓ no record claims a time after its checkpoint's (skew {policy.skew})")


def _verify_bundle(
    bundle: Path,
    verifiers: list[ev.VerifierKey],
    trusted: ev.Checkpoint | None,
    workers: int,
    check_views: bool,
    policy: ev.TimePolicy | None,
    fmt: str,
) -> None:
    if not verifiers:
        raise ConfigError(
            "verifying a bundle needs --key: the log's public key, obtained apart from the "
            "bundle (its own public.vkey is a hint, never trusted)"
        )
    result = ev.verify_bundle(
        bundle, verifiers, trusted, workers=workers, check_views=check_views, policy=policy
    )
    if fmt == "json":
        _echo_json({"bundle": str(bundle), **result.as_dict()})
    else:
        if not result.ok:
            click.echo(f"{counted(result.records, 'record')} passed the checks before the failure")
        elif result.start is not None and result.end is not None:
            click.echo(
                f"✓ {result.records} of records {result.start}..{result.end - 1} verified; "
                f"head {result.head}"
            )
        if result.ok and result.latest is not None:
            click.echo(
                f"✓ {counted(result.checkpoints, 'signed checkpoint')} verified; latest "
                f"{result.latest.label}, root {result.latest.root.hex()}"
            )
            click.echo(f"✓ manifest and every file's SHA-256 signed by {result.signer}")
            if result.trusted is not None:
                click.echo(f"✓ consistent with the trusted checkpoint {result.trusted.label}")
            if check_views:
                click.echo("✓ the OSCAL document and the summary match the records")
            _echo_times(result.times, policy)
            click.echo(f"to pin it: unzip -p {bundle} {result.latest_file} > pinned.checkpoint")
        for note in result.notes:
            click.echo(f"! {note.replace('(check_views)', '(--check-views)')}")
    if not result.ok:
        raise EvidenceError(f"evidence bundle {bundle} failed verification: {result.error}")


@evidence.command("export")
@ledger_option
@click.option(
    "--out",
    required=True,
    type=OutputFile(),
    help="The bundle to write (a zip; replaced if it exists).",
)
@click.option("--run", "run_id", metavar="ID", help="Export the records of this run.")
@click.option(
    "--from",
    "since",
    metavar="YYYY-MM-DD|TIME",
    help="Export records recorded from this day (YYYY-MM-DD, UTC) or time (RFC 3339) on.",
)
@click.option(
    "--to",
    "until",
    metavar="YYYY-MM-DD|TIME",
    help="Export records up to the end of this day (UTC), or this time (RFC 3339).",
)
@click.option(
    "--since-checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The auditor's pinned checkpoint, when older than the range: the bundle then "
    "proves it extends that checkpoint.",
)
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), help=KEY_HELP)
@checkpoint_log_option
@workers_option
@handle_errors
def evidence_export(
    ledger: str,
    out: Path,
    run_id: str | None,
    since: str | None,
    until: str | None,
    since_checkpoint: Path | None,
    key: Path | None,
    checkpoint_log: str | None,
    workers: int,
) -> None:
    """Write a bundle an auditor verifies offline with only the log's public key.

    The bundle holds the records of a run or a period (default: every record the latest
    signed checkpoint covers) exactly as stored, the signed checkpoints around them, the
    proofs that tie them together, an OSCAL assessment-results document and a summary
    built from the records, and a manifest of the SHA-256 of every file as stored in the
    zip, signed with the log's key; and beside each checkpoint, the timestamp token and
    witness cosignatures the checkpoint log keeps for it. The same ledger and selection
    give the same bytes.
    """
    if run_id is not None and (since or until):
        raise click.UsageError("give --run or --from/--to, not both")
    try:
        selection = ev.Selection(
            run=run_id,
            since=ev.parse_when(since) if since else None,
            until=ev.parse_when(until, end=True) if until else None,
        )
    except ValueError as exc:
        raise ConfigError(str(exc), field="--from/--to") from None
    pinned = None
    if since_checkpoint is not None:
        try:
            pinned = ev.Checkpoint.from_note(since_checkpoint.read_bytes())
        except ev.CheckpointError as exc:
            raise ConfigError(str(exc), file=since_checkpoint) from None
    signing_key = _signing_key(key)
    log = ev.resolve_checkpoint_log(checkpoint_log)
    with ev.open_ledger(ledger, create=False, checkpoint_log=log) as led:
        result = ev.export_bundle(led, out, signing_key, selection, since=pinned, workers=workers)
    latest = result.latest
    click.echo(
        f"wrote {out}: records {result.start}..{result.end - 1} "
        f"({result.end - result.start}), {counted(len(result.checkpoints), 'checkpoint')} up to "
        f"{latest.label}; SHA-256 {result.sha256}"
    )
    click.echo("an auditor checks it with the log's public key, and can pin its checkpoint:")
    click.echo(f"  assay evidence verify {out} --key {signing_key.verifier}")
    click.echo(f"  unzip -p {out} {result.latest_file} > pinned.checkpoint")


@evidence.command("keygen")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=ev.DEFAULT_SIGNING_KEY,
    show_default=True,
    help="Where to write the private key (mode 0600; never overwritten); the public key "
    "goes beside it (signing.key -> signing.pub).",
)
@click.option(
    "--origin",
    help="The log's name, signed into every checkpoint (default: assay.local/evidence/<random>).",
)
@handle_errors
def evidence_keygen(out: Path, origin: str | None) -> None:
    """Create a signing key; print its public verifier key, the one to give auditors."""
    key = ev.create_signing_key(out, origin or ev.default_origin())
    click.echo(
        f"private key written to {out} (mode 0600): keep it secret; public key (for "
        f"auditors) in {ev.public_key_path(out)}:",
        err=True,
    )
    click.echo(str(key.verifier))


@evidence.command("checkpoint")
@ledger_option
@click.option(
    "--sign",
    is_flag=True,
    help="Make sure a signed checkpoint covers every record (an empty ledger's first).",
)
@click.option(
    "--adopt-tail",
    is_flag=True,
    help="With --sign: sign records appended without a checkpoint, recording the "
    "adoption as a ledger record of its own (kind tail_adopted, naming them).",
)
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), help=KEY_HELP)
@checkpoint_log_option
@attestation_options
@handle_errors
def evidence_checkpoint(
    ledger: str,
    sign: bool,
    adopt_tail: bool,
    key: Path | None,
    checkpoint_log: str | None,
    tsa: str | None,
    tsa_ca: Path | None,
    witness_urls: tuple[str, ...],
    witness_keys: tuple[str, ...],
    timeout: float,
) -> None:
    """Print the latest signed checkpoint (C2SP tlog-checkpoint); save it to pin the log.

    Appends sign as they go, so --sign refuses records that no checkpoint covers (they
    were appended without the key) unless --adopt-tail says to sign them on purpose.
    With --tsa or --witness-url, a checkpoint --sign signs is timestamped and cosigned
    as a run's are; one that is not (a TSA or witness that did not answer) is said, and
    assay evidence timestamp fills it later.
    """
    if adopt_tail and not sign:
        raise click.UsageError("--adopt-tail goes with --sign")
    settings = _attestation(tsa, tsa_ca, witness_urls, witness_keys, timeout)
    if settings is not None and not sign:
        raise click.UsageError("--tsa and --witness-url go with --sign")
    log: ev.CheckpointLog = ev.resolve_checkpoint_log(checkpoint_log)
    if settings is not None:
        log = ev.AttestingLog(log, settings)
    checkpoint: ev.Checkpoint | None
    with ev.open_ledger(ledger, create=False, checkpoint_log=log) as led:
        if sign:
            checkpoint = ev.sign_checkpoint(
                led, _signing_key(key), adopt_tail=adopt_tail, at=_now()
            )
        else:
            checkpoint = led.latest_checkpoint()
    if checkpoint is None:
        raise ConfigError(
            f"ledger {ev.redact_url(ledger)} has no signed checkpoint yet",
            remediation="sign one: assay evidence checkpoint --sign",
        )
    click.echo(checkpoint.note, nl=False)


@evidence.command("prove")
@click.argument("seq", type=click.IntRange(0))
@ledger_option
@choose_format("tlog-proof", "json", help="C2SP tlog-proof text, or the same parts as JSON.")
@handle_errors
def evidence_prove(seq: int, ledger: str, fmt: str) -> None:
    """Print an inclusion proof of record SEQ against the latest signed checkpoint."""
    with ev.open_ledger(ledger, create=False) as led:
        proof = ev.prove(led, seq)
    if fmt == "json":
        _echo_json(proof.as_dict())
    else:
        click.echo(proof.text(), nl=False)


@evidence.command("verify-proof")
@click.argument("proof_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@public_keys_option
@handle_errors
def evidence_verify_proof(proof_file: Path, keys: tuple[str, ...]) -> None:
    """Check a .tlog-proof file offline: the record, its proof and the checkpoint signature."""
    verifiers = _verifier_keys(keys)
    if not verifiers:
        raise ConfigError("verify-proof needs --key (the log's public key)")
    try:
        proof = ev.InclusionProof.parse(proof_file.read_text(encoding="utf-8"))
    except (ev.ProofError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not a tlog-proof: {exc}", file=proof_file) from None
    try:
        signer = proof.verify(verifiers)
    except (ev.NoteError, ev.ProofError) as exc:
        raise EvidenceError(f"{proof_file}: record {proof.index}: {exc}") from None
    click.echo(f"✓ record {proof.index} is in {proof.checkpoint.label}, signed by {signer}")


@evidence.command("rotate-key")
@ledger_option
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), help=KEY_HELP)
@click.option(
    "--new-key",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The new signing key (assay evidence keygen --origin NEW-NAME --out FILE).",
)
@checkpoint_log_option
@handle_errors
def evidence_rotate_key(
    ledger: str, key: Path | None, new_key: Path, checkpoint_log: str | None
) -> None:
    """Move the ledger to a new key and origin, recorded in the ledger itself."""
    old = _signing_key(key)
    new = ev.load_signing_key(new_key)
    with ev.open_ledger(
        ledger, create=False, checkpoint_log=ev.resolve_checkpoint_log(checkpoint_log)
    ) as led:
        final, first = ev.rotate_key(led, old, new, _now())
    click.echo(f"final checkpoint under the old key: {final.label}", err=True)
    click.echo(f"first checkpoint under the new key: {first.label}", err=True)
    click.echo(str(new.verifier))


@evidence.command("init")
@ledger_option
@click.option(
    "--grant-writer",
    metavar="ROLE",
    help="PostgreSQL only: grant ROLE what appending needs and nothing more (SELECT and "
    "INSERT on the log's tables); run as the role that owns the ledger.",
)
@handle_errors
def evidence_init(ledger: str, grant_writer: str | None) -> None:
    """Create the ledger, or bring its schema up to date (run as the ledger's owner)."""
    with ev.open_ledger(ledger) as led:
        if grant_writer is not None:
            if not isinstance(led, ev.PostgresLedger):
                raise click.UsageError("--grant-writer applies to a PostgreSQL ledger")
            led.grant_writer(grant_writer)
    click.echo(f"ledger {ev.redact_url(ledger)} is ready", err=True)
    if grant_writer is not None:
        click.echo(f"granted {grant_writer} SELECT and INSERT on the log's tables", err=True)


@evidence.command("timestamp")
@ledger_option
@attestation_options
@checkpoint_log_option
@handle_errors
def evidence_timestamp(
    ledger: str,
    tsa: str | None,
    tsa_ca: Path | None,
    witness_urls: tuple[str, ...],
    witness_keys: tuple[str, ...],
    timeout: float,
    checkpoint_log: str | None,
) -> None:
    """Fill the gaps: timestamp every checkpoint that has no token, and ask witnesses to
    cosign the latest one; what comes back is kept beside them in the checkpoint log.

    A run asks as it signs (the profile's evidence settings); a TSA or witness that did
    not answer then left a checkpoint signed but without it, which this fills.
    Exits 4 if some checkpoint is still without what was asked.
    """
    settings = _attestation(tsa, tsa_ca, witness_urls, witness_keys, timeout)
    if settings is None:
        raise click.UsageError("give --tsa, or --witness-url with --witness, or both")
    witnesses = settings.witnesses
    log = ev.resolve_checkpoint_log(checkpoint_log)
    with ev.open_ledger(ledger, create=False) as led:
        done = ev.fill_gaps(led.checkpoints(), settings, [led, log], led.nodes)
    problems = [problem for attested in done for problem in attested.problems]
    stamped = sum(1 for attested in done if attested.timestamp is not None)
    click.echo(
        f"{counted(len(done), 'checkpoint')} looked at: {stamped} timestamped"
        + (
            f", the latest cosigned by {', '.join(done[-1].cosigned) or 'none'}"
            if witnesses and done
            else ""
        )
    )
    if problems:
        raise EvidenceError(f"{counted(len(problems), 'gap')} left: {problems[0]}")


@evidence.group("witness")
def witness() -> None:
    """Run a C2SP tlog-witness: it cosigns a log's checkpoints only while they stay consistent."""


@witness.command("keygen")
@click.option("--name", required=True, help="The witness's name, e.g. witness.example.com/w1.")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the private key (0600, never overwritten); the public key goes "
    "beside it (witness.key -> witness.pub).",
)
@handle_errors
def witness_keygen(name: str, out: Path) -> None:
    """Create a witness key; print its public key, the one auditors pass to --witness."""
    key = ev.create_witness_key(out, name)
    click.echo(f"private key written to {out} (mode 0600): keep it on the witness's host", err=True)
    click.echo(str(key.verifier))


@witness.command("serve")
@click.option(
    "--key",
    "key_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The witness's private key (assay evidence witness keygen).",
)
@click.option(
    "--log",
    "log_keys",
    required=True,
    multiple=True,
    metavar="PUBKEY",
    help="A log's public key (vkey text or file): the witness follows the log of its "
    "name (origin). Repeatable.",
)
@click.option(
    "--state",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The file that keeps the latest cosigned checkpoint of each log (created if missing).",
)
@click.option(
    "--listen",
    default="127.0.0.1:7380",
    show_default=True,
    metavar="HOST:PORT",
    help="Where to listen; put TLS in front of it for anything but loopback.",
)
@handle_errors
def witness_serve(key_path: Path, log_keys: tuple[str, ...], state: Path, listen: str) -> None:
    """Serve add-checkpoint (C2SP tlog-witness) until interrupted.

    Run it where the ledger's operators have no access: it refuses a checkpoint that is
    not consistent with the last one it cosigned for that log, so a history rewritten
    and re-signed with a stolen log key gets no cosignature.
    """
    key = ev.load_witness_key(key_path)
    logs: dict[str, list[ev.VerifierKey]] = {}
    for verifier in _verifier_keys(log_keys):
        logs.setdefault(verifier.name, []).append(verifier)
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"--listen {listen!r}: expected HOST:PORT", field="--listen")
    service = ev.WitnessService(key, logs, state)
    server = ev.make_server(service, host, int(port))
    click.echo(
        f"witness {key.verifier.name} on http://{host}:{server.server_address[1]}/add-checkpoint "
        f"for {', '.join(sorted(logs))}; public key:",
        err=True,
    )
    click.echo(str(key.verifier))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
