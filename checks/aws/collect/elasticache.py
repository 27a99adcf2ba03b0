"""ElastiCache: the `aws.elasticache.replication_group` collector (Redis and Valkey)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.registry import collector

REPLICATION_GROUP = "aws.elasticache.replication_group"
_LIST = "elasticache:DescribeReplicationGroups"


@collector(REPLICATION_GROUP, permissions=[_LIST, DESCRIBE_REGIONS])
def collect_replication_groups(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every replication group in each target region, from one paginated list per region.

    Attributes: `engine`, `at_rest_encryption`, `transit_encryption`, `auth_token_enabled`
    (bools; absent fields read as AWS's default, off), `user_group_ids` (RBAC user groups),
    `automatic_failover` (``enabled``, ``disabled``, ``enabling``...), `multi_az`,
    `snapshot_retention_days` (0: no automatic backups) and `kms_key_id`.
    """
    for region, group in conn.listed_per_region(
        "elasticache", "describe_replication_groups", "ReplicationGroups", _LIST
    ):
        yield {
            "type": REPLICATION_GROUP,
            "id": group.get("ARN")
            or f"arn:{conn.partition}:elasticache:{region}:{conn.account}:"
            f"replicationgroup:{group['ReplicationGroupId']}",
            "name": group["ReplicationGroupId"],
            "scope": conn.scope(region),
            "attributes": {
                "engine": group.get("Engine", "redis"),
                "at_rest_encryption": bool(group.get("AtRestEncryptionEnabled", False)),
                "transit_encryption": bool(group.get("TransitEncryptionEnabled", False)),
                "auth_token_enabled": bool(group.get("AuthTokenEnabled", False)),
                "user_group_ids": list(group.get("UserGroupIds", [])),
                "automatic_failover": group.get("AutomaticFailover", "disabled"),
                "multi_az": group.get("MultiAZ", "disabled") == "enabled",
                "snapshot_retention_days": int(group.get("SnapshotRetentionLimit", 0)),
                "kms_key_id": group.get("KmsKeyId"),
            },
        }
