"""One example per command, shown at the end of its --help (the ones a person types first)."""

from __future__ import annotations

from collections.abc import Iterator

import click

EXAMPLES: dict[str, str] = {
    "run": "assay run --profile assay.yaml -f table -f sarif=assay.sarif --fail-on high",
    "collect": "assay collect --profile assay.yaml --output snapshot.jsonl",
    "evaluate": "assay evaluate snapshot.jsonl -f html=report.html -f json=results.json",
    "doctor": "assay doctor --profile assay.yaml",
    "checks list": "assay checks list --format json",
    "checks permissions": "assay checks permissions --provider aws",
    "controls list": "assay controls list --framework soc2:CC6.1",
    "controls show": "assay controls show aws-s3-default-encryption",
    "controls validate": "assay controls validate my-controls/",
    "controls schema": "assay controls schema > control.schema.json",
    "diff": "assay diff 3f2a 9c1e --format json",
    "runs complete": "assay runs complete 3f2a --shards 4 --wait -f json=results.json",
    "waivers list": "assay waivers list --profile assay.yaml",
    "evidence verify": "assay evidence verify q2.zip --key assay.pub --trusted-checkpoint q1.note",
    "evidence export": "assay evidence export --out q2.zip --from 2026-04-01 --to 2026-06-30",
    "evidence keygen": "assay evidence keygen --origin example.com/compliance/prod",
    "evidence checkpoint": "assay evidence checkpoint --sign",
    "evidence prove": "assay evidence prove 1234 > record-1234.proof",
    "evidence verify-proof": "assay evidence verify-proof record-1234.proof --key assay.pub",
    "evidence rotate-key": "assay evidence rotate-key --new-key .assay/signing-2027.key",
    "evidence init": "assay evidence init --ledger postgresql://owner@db/ledger "
    "--grant-writer assay_writer",
    "evidence timestamp": "assay evidence timestamp --tsa https://tsa.example.com/ "
    "--tsa-ca tsa-ca.pem",
    "evidence witness keygen": "assay evidence witness keygen --name witness.example.com/w1 "
    "--out witness.key",
    "evidence witness serve": "assay evidence witness serve --key witness.key --log assay.pub "
    "--state witness.json --listen 127.0.0.1:7380",
    "dsr schema": "assay dsr schema > datamap.schema.json",
    "dsr lint": "assay dsr lint --datamap datamap.yaml",
    "dsr new": "assay dsr new --type erasure --identity email=jane@example.com",
    "dsr verify": "assay dsr verify DSR-20261206-a1b2c3 --method 'reply from the account address'",
    "dsr reject": "assay dsr reject DSR-20261206-a1b2c3 --reason 'identity could not be verified'",
    "dsr extend": "assay dsr extend DSR-20261206-a1b2c3 --months 1 --reason 'complex request'",
    "dsr status": "assay dsr status --all --format json",
    "dsr access": "assay dsr access --request DSR-20261206-a1b2c3 "
    "--identity email=jane@example.com --out jane.zip",
    "dsr export": "assay dsr export --request DSR-20261206-a1b2c3 "
    "--identity email=jane@example.com --out jane.zip --passphrase-env EXPORT_PASS",
    "dsr erase": "assay dsr erase --request DSR-20261206-a1b2c3 "
    "--identity email=jane@example.com --dry-run",
    "dsr rectify": "assay dsr rectify --request DSR-20261206-a1b2c3 "
    "--identity email=jane@example.com --set customers.phone='+44 7700 900999'",
    "dsr due": "assay dsr due --within 14 --erase-expired --datamap datamap.yaml --format json",
    "dsr unpack": "assay dsr unpack jane.zip --out jane/ --passphrase-env EXPORT_PASS",
    "demo": "assay demo --workdir /tmp/assay-demo",
}


def leaf_commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under `group` that runs something, with its path (``evidence verify``);
    listed as help lists them, so commands a group loads on demand are among them."""
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        if isinstance(command, click.Group):
            yield from leaf_commands(command, f"{prefix}{name} ")
        elif command is not None:
            yield f"{prefix}{name}", command


def add_examples(command: click.Command, path: str = "") -> None:
    """Give `command` (a group: every command under it) its example as the help epilog;
    `path` is its own (``evidence verify``), empty for the top."""
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            add_examples(sub, f"{path} {name}".lstrip())
    elif path in EXAMPLES:
        command.epilog = f"\b\nExample:\n  {EXAMPLES[path]}"
