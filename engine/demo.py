"""`assay demo`: the whole flow against an emulated AWS account on 127.0.0.1."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from rich.console import Console

from assay.engine.collect import collect, write_snapshot
from assay.engine.errors import AssayError, EvidenceError, ExitCode
from assay.engine.formats.table import write as write_table
from assay.engine.models import Severity
from assay.engine.planner import make_plan
from assay.engine.run import execute
from assay.evidence import (
    create_signing_key,
    default_origin,
    load_signing_key,
    open_ledger,
    public_key_path,
    verify_ledger,
)

REGION = "us-east-1"
DEMO_WAIVER = {
    "id": "W-DEMO-1",
    "control": "aws-ebs-volume-encrypted",
    "resources": ["*"],
    "reason": "Demo: scratch volumes hold only reproducible build caches.",
    "approver": "security@example.com",
    "expires": "2099-12-31",
}


def demo_profile(endpoint_url: str, waived_volume: str) -> dict[str, object]:
    return {
        "controls": {"frameworks": ["soc2"]},
        "targets": [
            {"name": "demo", "provider": "aws", "endpoint_url": endpoint_url, "regions": [REGION]}
        ],
        "waivers": [{**DEMO_WAIVER, "resources": [waived_volume]}],
    }


def run_demo(workdir: Path, console: Console) -> int:
    """Seed an emulated account, run the AWS controls on it, record and verify the evidence."""
    try:
        from assay.engine.demo_account import seed, start_emulator
    except ImportError as exc:
        raise AssayError(
            f"the demo needs the AWS emulator (moto), which is not installed ({exc.name})",
            remediation="pip install 'assay[demo]'",
        ) from None
    state = workdir / ".assay"
    state.mkdir(parents=True, exist_ok=True)
    # Relative to where the user stands, so the commands printed at the end work as shown.
    ledger_url = f"sqlite:///{state / 'ledger.db'}"
    profile_path = state / "demo-profile.yaml"
    snapshot_path = state / "demo-snapshot.jsonl"
    # The emulator accepts any credentials; these keep a user's real ones out of the demo.
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo", AWS_DEFAULT_REGION=REGION
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    with start_emulator() as endpoint_url:
        console.print(f"[bold]assay demo[/]: AWS emulator (moto) listening on {endpoint_url}")
        seeded = seed(endpoint_url, REGION)
        console.print(f"seeded an account with {seeded['summary']}")
        profile = demo_profile(endpoint_url, seeded["waived_volume"])
        profile_path.write_text(yaml.safe_dump(profile, sort_keys=False), encoding="utf-8")
        plan = make_plan(profile_path)
        snap = collect(plan, workers=8, timeout=60)
    write_snapshot(snap, snapshot_path)
    key_path = state / "signing.key"
    if not key_path.exists():
        create_signing_key(key_path, default_origin())
    public = load_signing_key(key_path).verifier
    report = execute(
        plan,
        snap,
        ledger_url=ledger_url,
        fail_on=Severity.LOW,
        profile=str(profile_path),
        signing_key=key_path,
    )
    write_table(report, console.file)
    with open_ledger(ledger_url) as ledger:
        checked = verify_ledger(ledger, [public])
    if not checked.ok or checked.latest is None:
        raise EvidenceError(f"the demo ledger failed verification: {checked.error}")
    console.print(
        f"[green]✓[/] evidence verified: {checked.records} records, checkpoint "
        f"{checked.latest.label} signed by {public}",
        soft_wrap=True,
    )
    console.print(
        "A nightly CI run would exit with code "
        f"{report.exit_code} ({ExitCode(report.exit_code).name.lower()}).\n"
        "Look further:\n"
        f"  assay evidence verify --ledger {ledger_url} --key {public_key_path(key_path)}\n"
        f"  assay evidence prove 1 --ledger {ledger_url}\n"
        f"  assay evaluate {snapshot_path} --profile {profile_path} --ledger {ledger_url}"
        " --format json\n"
        "  assay controls list\n"
        "  assay controls show aws-s3-default-encryption"
    )
    return int(ExitCode.OK)
