"""Snapshot factories for the AWS check tests: resources shaped as the collectors yield them.

A plain module (not a conftest) so that tests import it by a name no other folder uses.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from assay.checks import Result
from assay.engine.catalog import LoadedControl, load_catalog
from assay.engine.evaluate import run_one

ACCOUNT = "123456789012"
COLLECTED_AT = "2026-06-30T12:00:00Z"


def snapshot(
    rtype: str, attributes: dict[str, Any], *, id: str = "", name: str = "r", **extra: Any
) -> dict[str, Any]:
    """A resource as a collector yields it, after the engine stamped `collected_at`."""
    return {
        "type": rtype,
        "id": id or f"arn:aws:test:us-east-1:{ACCOUNT}:{name}",
        "name": name,
        "scope": {"provider": "aws", "account": ACCOUNT, "region": "us-east-1", "target": "t"},
        "attributes": attributes,
        "collected_at": COLLECTED_AT,
        **extra,
    }


@cache
def _controls() -> dict[str, LoadedControl]:
    return load_catalog().controls


def judge(control_id: str, attributes: dict[str, Any], **extra: Any) -> Result:
    """The verdict of the shipped control (its rule, or its check with its params), as the
    engine reaches it: an attribute that could not be collected gives `error`."""
    control = _controls()[control_id]
    resource = snapshot(control.control.resource, attributes, **extra)
    return run_one(control, resource, datetime.fromisoformat(COLLECTED_AT))
