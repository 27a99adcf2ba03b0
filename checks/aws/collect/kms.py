"""KMS: the `aws.kms.key` collector (its check: `checks.kms`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.kms_keys import METADATA, rotatable
from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import listing, read_attribute
from assay.checks.registry import collector

KEY = "aws.kms.key"


@collector(
    KEY,
    permissions=[
        "kms:ListKeys",
        "kms:ListAliases",
        "kms:DescribeKey",
        "kms:GetKeyRotationStatus",
        DESCRIBE_REGIONS,
    ],
)
def collect_keys(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every KMS key in each target region.

    Attributes: `manager` (CUSTOMER or AWS), `spec` (SYMMETRIC_DEFAULT, RSA_2048, ...),
    `usage`, `state` (Enabled, Disabled, PendingDeletion, ...), `origin` (AWS_KMS,
    EXTERNAL, ...), `aliases`, and `rotation_enabled`: a bool for the keys whose
    rotation AWS can manage (customer-managed, symmetric, enabled, AWS_KMS material), None
    for the rest, which are not asked.
    """
    listed = conn.parallel(partial(_list_region, conn), conn.regions)
    keys = [(region, key, aliases) for region, (found, aliases) in listed for key in found]
    yield from conn.parallel(partial(_key, conn), keys)


def _list_region(
    conn: AwsConnection, region: str
) -> tuple[str, tuple[list[dict[str, Any]], dict[str, list[str]]]]:
    kms = conn.client("kms", region)
    with listing("kms:ListKeys"):
        keys = [k for page in kms.get_paginator("list_keys").paginate() for k in page["Keys"]]
    aliases: dict[str, list[str]] = {}
    with listing("kms:ListAliases"):
        for page in kms.get_paginator("list_aliases").paginate():
            for alias in page["Aliases"]:
                if "TargetKeyId" in alias:
                    aliases.setdefault(alias["TargetKeyId"], []).append(alias["AliasName"])
    return region, (keys, aliases)


def _key(
    conn: AwsConnection, item: tuple[str, dict[str, Any], dict[str, list[str]]]
) -> dict[str, Any]:
    region, key, aliases = item
    kms = conn.client("kms", region)
    key_id = key["KeyId"]
    metadata = read_attribute(
        partial(kms.describe_key, KeyId=key_id), _metadata, permission="kms:DescribeKey"
    )
    if "manager" in metadata:
        attributes = dict(metadata)
        attributes["rotation_enabled"] = (
            read_attribute(
                partial(kms.get_key_rotation_status, KeyId=key_id),
                lambda r: bool(r.get("KeyRotationEnabled", False)),
                permission="kms:GetKeyRotationStatus",
            )
            if rotatable(attributes)
            else None
        )
    else:  # describe_key was refused: everything about the key is unknown
        attributes = dict.fromkeys((*METADATA, "rotation_enabled"), metadata)
    names = sorted(aliases.get(key_id, []))
    attributes["aliases"] = names
    return {
        "type": KEY,
        "id": key.get("KeyArn") or f"arn:{conn.partition}:kms:{region}:{conn.account}:key/{key_id}",
        "name": names[0] if names else key_id,
        "scope": conn.scope(region),
        "attributes": attributes,
    }


def _metadata(response: dict[str, Any]) -> dict[str, Any]:
    meta = response["KeyMetadata"]
    return {
        "manager": meta.get("KeyManager"),
        "spec": meta.get("KeySpec") or meta.get("CustomerMasterKeySpec"),
        "usage": meta.get("KeyUsage"),
        "state": meta.get("KeyState"),
        "origin": meta.get("Origin"),
    }
