"""Controls moto cannot serve, judged from AWS's documented responses through botocore's
Stubber, which validates every response against the service model (an unknown key or a
wrong type fails the test), so a fixture that drifts from the API fails loudly.

moto lacks: `DBInstanceAutomatedBackupsReplications` on RDS instances, and AWS Backup
selections (`list_backup_selections`, `get_backup_selection`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_snapshots import judge
from botocore.stub import Stubber

from assay.checks import Status, registry
from assay.checks.aws import AwsConnection

RESPONSES = Path(__file__).parent / "responses"
ACCOUNT = "123456789012"


def response(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((RESPONSES / f"{name}.json").read_text())
    return loaded


@pytest.fixture
def stubbed() -> Iterator[tuple[AwsConnection, dict[str, Stubber]]]:
    """A connection whose clients answer only what the test queued (no network at all)."""
    session = boto3.Session(
        aws_access_key_id="stub", aws_secret_access_key="stub", region_name="us-east-1"
    )
    conn = AwsConnection(session, ["us-east-1"], workers=1)
    stubs = {name: Stubber(conn.client(name)) for name in ("sts", "rds", "backup", "kms")}
    stubs["sts"].add_response(
        "get_caller_identity",
        {"Account": ACCOUNT, "Arn": f"arn:aws:iam::{ACCOUNT}:user/auditor", "UserId": "AIDA"},
    )
    with ExitStack() as stack:
        for stub in stubs.values():
            stack.enter_context(stub)
        yield conn, stubs
        for stub in stubs.values():
            stub.assert_no_pending_responses()


def collect(conn: AwsConnection, rtype: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in registry.collectors()[rtype].func(conn)}


def test_rds_backup_replication_passes_only_where_a_replica_region_is_listed(
    stubbed: tuple[AwsConnection, dict[str, Stubber]],
) -> None:
    conn, stubs = stubbed
    stubs["rds"].add_response(
        "describe_db_instances", response("rds_describe_db_instances_replicated")
    )
    found = collect(conn, "aws.rds.instance")
    primary, reports = found["orders-primary"], found["reports"]
    assert primary["attributes"]["backup_replications"] == [
        "arn:aws:rds:us-west-2:123456789012:auto-backup:ab-ykb6yzfxcsxtoagjn4ooxxmpl"
    ]
    assert judge("aws-rds-backup-replication", primary["attributes"]).status is Status.PASS
    failed = judge("aws-rds-backup-replication", reports["attributes"])
    assert failed.status is Status.FAIL
    assert failed.reason.startswith("length(backup_replications) is 0")
    # The rest of the instance is read from the same listing.
    assert judge("aws-rds-multi-az", primary["attributes"]).status is Status.PASS
    assert judge("aws-rds-log-exports", reports["attributes"]).status is Status.FAIL


def test_a_backup_plan_selecting_by_tag_covers_the_tagged_resources(
    stubbed: tuple[AwsConnection, dict[str, Stubber]],
) -> None:
    conn, stubs = stubbed
    plans = response("backup_list_backup_plans")
    selections = response("backup_list_backup_selections")
    plan_id = plans["BackupPlansList"][0]["BackupPlanId"]
    stubs["backup"].add_response("list_backup_plans", plans)
    stubs["backup"].add_response(
        "list_backup_selections", selections, expected_params={"BackupPlanId": plan_id}
    )
    stubs["backup"].add_response(
        "get_backup_selection",
        response("backup_get_backup_selection"),
        expected_params={
            "BackupPlanId": plan_id,
            "SelectionId": selections["BackupSelectionsList"][0]["SelectionId"],
        },
    )
    [region] = collect(conn, "aws.backup.region").values()
    assert region["attributes"]["plans"] == [
        {
            "name": "daily-35d",
            "id": plan_id,
            "selections": [
                {
                    "name": "tagged-for-backup",
                    "resources": [],
                    "tags": [{"key": "backup", "value": "required"}],
                }
            ],
        }
    ]
    covered = judge("aws-backup-plan-coverage", region["attributes"])
    assert covered.status is Status.PASS
    assert covered.observed["covered"] == {"backup=required": "daily-35d/tagged-for-backup"}


def plan(*selections: Any) -> dict[str, Any]:
    return {"plans": [{"name": "p", "id": "1", "selections": list(selections)}]}


@pytest.mark.parametrize(
    ("attributes", "status"),
    [
        ({"plans": []}, Status.FAIL),
        (plan(), Status.FAIL),
        (
            plan({"name": "s", "resources": [], "tags": [{"key": "backup", "value": "no"}]}),
            Status.FAIL,
        ),
        (plan({"name": "s", "resources": ["*"], "tags": []}), Status.PASS),
        (
            plan(
                {
                    "$error": {
                        "code": "AccessDeniedException",
                        "message": "no",
                        "permission": "backup:GetBackupSelection",
                    }
                }
            ),
            Status.ERROR,
        ),
    ],
)
def test_backup_coverage_over_snapshots(attributes: dict[str, Any], status: Status) -> None:
    assert judge("aws-backup-plan-coverage", attributes).status is status
