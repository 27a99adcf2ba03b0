"""AWS Backup: vaults (`aws.backup.vault`) and each region's plans (`aws.backup.region`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import paginate, read_attribute
from assay.checks.registry import collector

VAULT = "aws.backup.vault"
REGION = "aws.backup.region"
_VAULTS = "backup:ListBackupVaults"
_PLANS = "backup:ListBackupPlans"
_SELECTIONS = "backup:ListBackupSelections"
_SELECTION = "backup:GetBackupSelection"


@collector(VAULT, permissions=[_VAULTS, DESCRIBE_REGIONS])
def collect_vaults(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every backup vault in each target region, from one list per region.

    Attributes: `encryption_key_arn` (None when the listing names no key), `locked`
    (Vault Lock applied), `min_retention_days` and `max_retention_days` (None unless
    locked).
    """
    for region, vaults in conn.per_region(
        lambda region: paginate(
            conn.client("backup", region), "list_backup_vaults", "BackupVaultList", _VAULTS
        )
    ):
        for vault in vaults:
            yield {
                "type": VAULT,
                "id": vault["BackupVaultArn"],
                "name": vault["BackupVaultName"],
                "scope": conn.scope(region),
                "attributes": {
                    "encryption_key_arn": vault.get("EncryptionKeyArn"),
                    "locked": bool(vault.get("Locked", False)),
                    "min_retention_days": vault.get("MinRetentionDays"),
                    "max_retention_days": vault.get("MaxRetentionDays"),
                },
            }


@collector(REGION, permissions=[_PLANS, _SELECTIONS, _SELECTION, DESCRIBE_REGIONS])
def collect_regions(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per target region: its backup plans and what each selects.

    Attribute `plans`: ``[{"name", "id", "selections": [{"name", "resources",
    "tags"}]}]``, where `tags` are the ``{"key", "value"}`` pairs a selection picks
    resources by (from ``ListOfTags`` and ``Conditions.StringEquals``) and `resources`
    its resource ARN patterns.
    """
    yield from conn.region_snapshots(
        REGION, "backup", lambda region: {"plans": _plans(conn, region)}
    )


def _plans(conn: AwsConnection, region: str) -> Any:
    client = conn.client("backup", region)
    plans = read_attribute(
        lambda: paginate(client, "list_backup_plans", "BackupPlansList", _PLANS),
        lambda found: found,
        permission=_PLANS,
    )
    if not isinstance(plans, list):
        return plans
    out = []
    for plan in plans:
        plan_id = plan["BackupPlanId"]
        selections = read_attribute(
            partial(
                paginate,
                client,
                "list_backup_selections",
                "BackupSelectionsList",
                _SELECTIONS,
                BackupPlanId=plan_id,
            ),
            lambda found: found,
            permission=_SELECTIONS,
        )
        if isinstance(selections, list):
            selections = [
                read_attribute(
                    partial(
                        client.get_backup_selection,
                        BackupPlanId=plan_id,
                        SelectionId=s["SelectionId"],
                    ),
                    _selection,
                    permission=_SELECTION,
                )
                for s in selections
            ]
        out.append({"name": plan.get("BackupPlanName"), "id": plan_id, "selections": selections})
    return out


def _selection(response: dict[str, Any]) -> dict[str, Any]:
    selection = response["BackupSelection"]
    tags = [
        {"key": t["ConditionKey"], "value": t["ConditionValue"]}
        for t in selection.get("ListOfTags", [])
        if t.get("ConditionType") == "STRINGEQUALS"
    ]
    tags += [
        {
            "key": str(t["ConditionKey"]).removeprefix("aws:ResourceTag/"),
            "value": t["ConditionValue"],
        }
        for t in selection.get("Conditions", {}).get("StringEquals", [])
    ]
    return {
        "name": selection.get("SelectionName"),
        "resources": list(selection.get("Resources", [])),
        "tags": tags,
    }
