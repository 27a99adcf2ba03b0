"""Collection planned per attribute, against the seeded account on moto's server: for
every AWS control, collecting only the attributes it reads gives the verdicts a full
collection gives, with no more calls and only the permissions those reads need."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore import handlers

from assay.checks import Status, registry
from assay.checks.aws import AwsConnection, AwsTarget, connect
from assay.demo.aws_account import seed
from assay.demo.aws_emulator import start_emulator
from assay.engine.catalog import LoadedControl, load_catalog
from assay.engine.evaluate import run_one

pytestmark = pytest.mark.integration

REGION = "us-east-1"
CALLS: Counter[str] = Counter()


def _count(model: Any, **_: Any) -> None:
    CALLS[f"{model.service_model.service_name}:{model.name}"] += 1


@pytest.fixture(scope="module")
def conn(aws_home: Path) -> Iterator[AwsConnection]:
    with pytest.MonkeyPatch.context() as mp, start_emulator() as url:
        seed(url, REGION)
        # Sessions made from here on count their calls.
        mp.setattr(
            handlers, "BUILTIN_HANDLERS", [*handlers.BUILTIN_HANDLERS, ("before-call", _count)]
        )
        yield connect(AwsTarget(endpoint_url=url, regions=[REGION]), 10.0)


def aws_controls() -> list[LoadedControl]:
    return sorted(
        (lc for lc in load_catalog().controls.values() if lc.control.provider == "aws"),
        key=lambda lc: lc.control.id,
    )


def needed(lc: LoadedControl) -> frozenset[str] | None:
    return registry.attributes_needed(lc.control.check, lc.control.rule)


def collect(
    conn: AwsConnection, rtype: str, wanted: frozenset[str] | None
) -> tuple[list[dict[str, Any]], int]:
    before = sum(CALLS.values())
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    found = []
    for resource in registry.collectors()[rtype].run(conn, wanted):
        resource["collected_at"] = stamp
        found.append(resource)
    return found, sum(CALLS.values()) - before


def verdicts(lc: LoadedControl, resources: list[dict[str, Any]]) -> dict[str, Status]:
    now = datetime.now(UTC)
    return {r["id"]: run_one(lc, r, now).status for r in resources}


def test_every_aws_control_says_which_attributes_it_reads() -> None:
    for lc in aws_controls():
        reads = needed(lc)
        assert reads, lc.control.id
        spec = registry.collectors()[lc.control.resource]
        if spec.attributes:
            assert reads is not None, f"{lc.control.id} would make its collector read everything"


@pytest.mark.parametrize("control_id", [lc.control.id for lc in aws_controls()])
def test_collecting_only_what_a_control_reads_keeps_its_verdicts(
    conn: AwsConnection, control_id: str
) -> None:
    lc = load_catalog().controls[control_id]
    rtype = lc.control.resource
    full, full_calls = collect(conn, rtype, None)
    planned, planned_calls = collect(conn, rtype, needed(lc))
    assert verdicts(lc, planned) == verdicts(lc, full)
    assert all(v is not Status.ERROR for v in verdicts(lc, planned).values()), control_id
    assert planned_calls <= full_calls
    # Attributes the control reads exist in the full snapshot: `reads` names no typo.
    reads = needed(lc) or frozenset()
    present = {name for resource in full for name in resource["attributes"]}
    assert reads <= present, (control_id, reads - present)


def test_planning_the_s3_controls_one_at_a_time_cuts_calls_and_permissions(
    conn: AwsConnection,
) -> None:
    spec = registry.collectors()["aws.s3.bucket"]
    full, full_calls = collect(conn, "aws.s3.bucket", None)
    planned, planned_calls = collect(conn, "aws.s3.bucket", frozenset({"encryption"}))
    buckets = len(full)
    # One listing; per bucket every detail call, or just the one the control reads.
    assert planned_calls < full_calls - buckets * 6
    assert spec.permissions_for({"encryption"}) == (
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetEncryptionConfiguration",
    )
    # What was not read is marked, never silently empty: a control reading it is an error.
    lc = load_catalog().controls["aws-s3-access-logging"]
    assert {run_one(lc, r, datetime.now(UTC)).status for r in planned} == {Status.ERROR}
    assert "no control of the run reads it" in run_one(lc, planned[0], datetime.now(UTC)).reason
