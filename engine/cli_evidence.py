"""`assay evidence`: verify the evidence ledger."""

from __future__ import annotations

import json

import click

from assay.engine.cli_options import (
    format_option,
    handle_errors,
    ledger_option,
)
from assay.engine.errors import EvidenceError
from assay.evidence import open_ledger, redact_url, verify


@click.group()
def evidence() -> None:
    """Verify the evidence ledger."""


@evidence.command("verify")
@ledger_option
@format_option
@handle_errors
def evidence_verify(ledger: str, fmt: str) -> None:
    """Re-hash every stored record and check the chain; exit 4 on the first bad record."""
    with open_ledger(ledger, create=False) as led:
        result = verify(led.records())
    doc = {"ledger": redact_url(ledger), **result.as_dict()}
    if fmt == "json":
        click.echo(json.dumps(doc, indent=2))
    elif result.ok:
        click.echo(f"✓ {result.records} records verified; head {result.head}")
    if not result.ok:
        raise EvidenceError(
            f"evidence ledger {redact_url(ledger)} failed verification: {result.error}"
        )
