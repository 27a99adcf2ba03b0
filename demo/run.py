"""`assay demo`: the whole flow on the embedded default, with no account and no server to set up.

An emulated AWS account (moto on 127.0.0.1), the Kubernetes manifests shipped in
examples/k8s/demo-cluster, a throwaway PostgreSQL server when its binaries are installed,
then a data-subject request against the example shop database.
"""

from __future__ import annotations

import os
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.rule import Rule

from assay.demo.dsr import run_demo_dsr
from assay.demo.kubernetes import k8s_demo_target
from assay.demo.local_postgres import find_bindir, local_postgres
from assay.demo.outside import Outside, outside_parties
from assay.demo.postgres import demo_target as postgres_demo_target
from assay.demo.postgres import seed_demo as seed_postgres
from assay.demo.state import DemoState
from assay.engine.collect import write_snapshot
from assay.engine.console import collect_with_progress
from assay.engine.formats.table import write as write_table
from assay.engine.planner import make_plan
from assay.engine.run import execute
from assay.engine.severity import Severity
from assay.errors import AssayError, EvidenceError, ExitCode
from assay.evidence import (
    CheckpointTime,
    Selection,
    export_bundle,
    fill_gaps,
    load_signing_key,
    open_ledger,
    public_key_path,
    verify_bundle,
    verify_ledger,
)
from assay.files import write_text
from assay.words import counted

REGION = "us-east-1"
# The throwaway server's port is part of its resources' ids: the same one each run, when
# free, so that a second demo compares with the first.
DEMO_PG_PORT = 54329
DEMO_WAIVER = {
    "id": "W-DEMO-1",
    "control": "aws-ebs-volume-encrypted",
    "resources": ["*"],
    "reason": "Demo: scratch volumes hold only reproducible build caches.",
    "approver": "security@example.com",
    "expires": "2099-12-31",
}


SECTION_WIDTH = 80
"""The most a section's rule spans: piped output has no width of its own."""


def section(console: Console, title: str) -> None:
    """A rule with `title` that opens a part of the demo's output, as wide as the
    terminal up to SECTION_WIDTH."""
    console.print(Rule(title), width=min(console.width, SECTION_WIDTH))


def demo_profile(targets: list[dict[str, Any]], waived_volume: str) -> dict[str, object]:
    return {
        "controls": {"frameworks": ["soc2"]},
        "targets": targets,
        "waivers": [{**DEMO_WAIVER, "resources": [waived_volume]}],
    }


def run_demo(workdir: Path, console: Console) -> int:
    """Seed an emulated account, run the AWS controls on it, record and verify the evidence."""
    try:
        from assay.demo.aws_account import PEER_EXTERNAL_ID, PEER_ROLE, seed, seed_peer
        from assay.demo.aws_emulator import start_emulator
    except ImportError as exc:
        raise AssayError(
            f"the demo needs the AWS emulator (moto), which is not installed ({exc.name})",
            remediation="pip install 'assay[demo]'",
        ) from None
    evidence = DemoState.at(workdir)
    state = evidence.root
    # Relative to where the user stands, so the commands printed at the end work as shown.
    ledger_url = evidence.ledger_url
    profile_path = state / "demo-profile.yaml"
    snapshot_path = state / "demo-snapshot.jsonl"
    # The emulator accepts any credentials; these keep a user's real ones out of the demo.
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_DEFAULT_REGION=REGION
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    with ExitStack() as servers:
        endpoint_url = servers.enter_context(start_emulator())
        console.print(f"[bold]assay demo[/]: AWS emulator (moto) listening on {endpoint_url}")
        seeded = seed(endpoint_url, REGION)
        console.print(f"  seeded an account with {seeded['summary']}")
        peer = seed_peer(endpoint_url, REGION)
        console.print(f"  and a second account, {peer['account']}, reached by assuming a role")
        targets = [
            {"name": "demo", "provider": "aws", "endpoint_url": endpoint_url, "regions": [REGION]},
            {
                "name": "demo-audit",
                "provider": "aws",
                "endpoint_url": endpoint_url,
                "regions": [REGION],
                "role_arn": PEER_ROLE,
                "external_id": PEER_EXTERNAL_ID,
            },
            k8s_demo_target(),
        ]
        console.print(f"Kubernetes: the manifests in {targets[2]['manifests']}")
        if find_bindir() is None:
            console.print(
                "PostgreSQL: server binaries (initdb, pg_ctl) not found, so the PostgreSQL "
                "controls are left out; install PostgreSQL to include them"
            )
        else:
            pg = servers.enter_context(local_postgres(prefer_port=DEMO_PG_PORT))
            console.print(f"PostgreSQL: a throwaway server on 127.0.0.1:{pg.port}, removed after")
            console.print(f"  seeded {seed_postgres(pg.dsn)['summary']}")
            targets.append(postgres_demo_target(pg.dsn))
        profile = demo_profile(targets, seeded["waived_volume"])
        write_text(profile_path, yaml.safe_dump(profile, sort_keys=False))
        plan = make_plan(profile_path)
        snap = collect_with_progress(plan, workers=8, timeout=60)
    write_snapshot(snap, snapshot_path)
    key_path = evidence.signing_key
    public = load_signing_key(key_path).verifier
    with outside_parties(evidence) as outside:
        report = execute(
            plan,
            snap,
            ledger_url=ledger_url,
            fail_on=Severity.LOW,
            profile=str(profile_path),
            signer=evidence.signer.with_attestation(outside.attestation),
            pseudonym_key=evidence.pseudonym_key,
        )
        write_table(report, console.file)
        with open_ledger(ledger_url) as ledger:
            checked = verify_ledger(
                ledger,
                [public],
                policy=outside.policy,
                attachments=ledger.attachments,
            )
        if not checked.ok or checked.latest is None:
            raise EvidenceError(f"the demo ledger failed verification: {checked.error}")
        console.print(
            f"[green]✓[/] evidence verified: {checked.records} records, checkpoint "
            f"{checked.latest.label} signed by {public}",
            soft_wrap=True,
        )
        _print_times(console, checked.times[-1:])
        shown = evidence.shown
        console.print(
            "A nightly CI run would exit with code "
            f"{report.exit_code} ({ExitCode(report.exit_code).name.lower()}).\n"
            "Look further:\n"
            + evidence.commands(
                f"assay evidence verify --ledger {shown(ledger_url)} "
                f"--key {shown(public_key_path(key_path))} "
                f"--checkpoint-log {shown(evidence.checkpoint_log.directory)} "
                f"{outside.verify_options(shown)}",
                f"assay evidence prove 1 --ledger {shown(ledger_url)}",
                f"assay evaluate {shown(snapshot_path)} --profile {shown(profile_path)} "
                f"--ledger {shown(ledger_url)} --format json",
                "assay controls list",
                "assay controls show aws-s3-default-encryption",
            ),
            soft_wrap=True,
        )
        section(console, "Data-subject requests")
        run_demo_dsr(workdir, console)
        # The requests' checkpoints were signed without asking the outside parties: fill
        # the gaps, as `assay evidence timestamp` does.
        with open_ledger(ledger_url, create=False) as ledger:
            fill_gaps(
                ledger.checkpoints(),
                outside.attestation,
                [ledger, evidence.checkpoint_log],
                ledger.nodes,
            )
        console.rule("For the auditor")
        export_run(evidence, report.run_id, state / "demo-bundle.zip", outside, console)
    return int(ExitCode.OK)


def _print_times(console: Console, times: list[CheckpointTime]) -> None:
    for time in times:
        said = time.as_dict()
        witnesses = ", ".join(c["witness"] for c in said["cosignatures"]) or "no witness"
        console.print(
            f"[green]✓[/] {time.checkpoint.label}: its records existed by "
            f"{said['existed_by']} (RFC 3161 timestamp by {said['tsa']}; cosigned by "
            f"{witnesses})",
            soft_wrap=True,
        )


def export_run(
    evidence: DemoState, run_id: str, out: Path, outside: Outside, console: Console
) -> None:
    """Export the run's evidence bundle, verify it with the public key alone (and the
    outside parties' certificates and keys), and show how."""
    key_path = evidence.signing_key
    key = load_signing_key(key_path)
    with open_ledger(
        evidence.ledger_url, create=False, checkpoint_log=evidence.checkpoint_log
    ) as ledger:
        exported = export_bundle(ledger, out, key, Selection(run=run_id))
    checked = verify_bundle(out, [key.verifier], policy=outside.policy)
    if not checked.ok:
        raise EvidenceError(f"the demo's evidence bundle failed verification: {checked.error}")
    console.print(
        f"[green]✓[/] exported the run to {out}: records {exported.start}..{exported.end - 1} "
        f"and {counted(len(exported.checkpoints), 'signed checkpoint')}, verified with the "
        "public key alone",
        soft_wrap=True,
    )
    _print_times(console, checked.times[-1:])
    shown = evidence.shown
    console.print(
        "An auditor, given the bundle and the public key (apart from it), checks it and pins "
        "its checkpoint; the TSA's certificate and the witness's key say when its records "
        "existed:\n"
        + evidence.commands(
            f"assay evidence verify {shown(out)} --key {shown(public_key_path(key_path))} "
            f"{outside.verify_options(shown)}",
            f"unzip -p {shown(out)} {exported.latest_file} > pinned.checkpoint",
        )
        + "\nand next quarter verifies the new bundle with --trusted-checkpoint "
        "pinned.checkpoint.",
        soft_wrap=True,
    )
