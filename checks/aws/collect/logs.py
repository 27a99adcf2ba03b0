"""CloudWatch Logs: the `aws.logs.log_group` collector (its check: `checks.logs`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import listing, read_attribute
from assay.checks.registry import collector, not_collected

LOG_GROUP = "aws.logs.log_group"


@collector(
    LOG_GROUP,
    permissions=["logs:DescribeLogGroups", DESCRIBE_REGIONS],
    attributes={"tags": ("logs:ListTagsForResource",)},
)
def collect_log_groups(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every log group in each target region.

    Attributes: `retention_days` (None when events never expire), `kms_key_id` and `tags`
    (a call per group, made only when wanted; None: always).
    """
    listed = conn.parallel(partial(_list_region, conn), conn.regions)
    groups = [(region, group) for region, found in listed for group in found]
    read_tags = wanted is None or "tags" in wanted
    yield from conn.parallel(partial(_log_group, conn, read_tags), groups)


def _list_region(conn: AwsConnection, region: str) -> tuple[str, list[dict[str, Any]]]:
    logs = conn.client("logs", region)
    with listing("logs:DescribeLogGroups"):
        pages = logs.get_paginator("describe_log_groups").paginate()
        return region, [g for page in pages for g in page["logGroups"]]


def _log_group(
    conn: AwsConnection, read_tags: bool, item: tuple[str, dict[str, Any]]
) -> dict[str, Any]:
    region, group = item
    # `arn` ends in ":*" (the group's streams); tagging wants the group's own ARN.
    arn = group.get("logGroupArn") or str(group["arn"]).removesuffix(":*")
    tags = (
        read_attribute(
            partial(conn.client("logs", region).list_tags_for_resource, resourceArn=arn),
            lambda response: dict(response.get("tags", {})),
            permission="logs:ListTagsForResource",
            absent={"ResourceNotFoundException"},
            default={},
        )
        if read_tags
        else not_collected("tags")
    )
    retention = group.get("retentionInDays")
    return {
        "type": LOG_GROUP,
        "id": arn,
        "name": group["logGroupName"],
        "scope": conn.scope(region),
        "attributes": {
            "retention_days": int(retention) if retention is not None else None,
            "kms_key_id": group.get("kmsKeyId"),
            "tags": tags,
        },
    }
