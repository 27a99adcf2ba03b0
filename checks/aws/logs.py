"""CloudWatch Logs: the `aws.logs.log_group` collector and the retention check."""

from __future__ import annotations

from collections.abc import Iterator
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.api import listing, read_attribute
from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.registry import check, collector
from assay.checks.result import Result, attribute

LOG_GROUP = "aws.logs.log_group"


@collector(
    LOG_GROUP,
    permissions=["logs:DescribeLogGroups", "logs:ListTagsForResource", DESCRIBE_REGIONS],
)
def collect_log_groups(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every log group in each target region.

    Attributes: `retention_days` (None when events never expire), `kms_key_id` and `tags`.
    """
    listed = conn.parallel(partial(_list_region, conn), conn.regions)
    groups = [(region, group) for region, found in listed for group in found]
    yield from conn.parallel(partial(_log_group, conn), groups)


def _list_region(conn: AwsConnection, region: str) -> tuple[str, list[dict[str, Any]]]:
    logs = conn.client("logs", region)
    with listing("logs:DescribeLogGroups"):
        pages = logs.get_paginator("describe_log_groups").paginate()
        return region, [g for page in pages for g in page["logGroups"]]


def _log_group(conn: AwsConnection, item: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    region, group = item
    # `arn` ends in ":*" (the group's streams); tagging wants the group's own ARN.
    arn = group.get("logGroupArn") or str(group["arn"]).removesuffix(":*")
    tags = read_attribute(
        partial(conn.client("logs", region).list_tags_for_resource, resourceArn=arn),
        lambda response: dict(response.get("tags", {})),
        permission="logs:ListTagsForResource",
        absent={"ResourceNotFoundException"},
        default={},
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


class RetentionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(default=365, ge=1, description="Minimum retention of a log group.")
    audit_min_days: int = Field(
        default=2557, ge=1, description="Minimum retention of an audit log group (7 years)."
    )
    audit_tags: dict[str, str] = Field(
        default={"data-class": "audit"},
        description="A log group carrying any of these tags (key: value) holds audit logs.",
    )
    audit_names: list[str] = Field(
        default=[], description="Globs over log group names that hold audit logs."
    )


@check(
    "aws.logs.retention",
    resource=LOG_GROUP,
    params=RetentionParams,
    permissions=["logs:DescribeLogGroups", "logs:ListTagsForResource"],
)
def retention(resource: dict[str, Any], params: RetentionParams) -> Result:
    """Pass when the group keeps events at least `min_days`, or `audit_min_days` for an
    audit log group (tagged per `audit_tags` or named per `audit_names`); never expiring
    passes."""
    name = resource.get("name") or ""
    tags = attribute(resource, "tags") or {}
    audit = [f"tag {k}={v}" for k, v in params.audit_tags.items() if tags.get(k) == v]
    audit += [f"name matches {g}" for g in params.audit_names if fnmatchcase(name, g)]
    needed = params.audit_min_days if audit else params.min_days
    kind = f"an audit log group ({', '.join(audit)})" if audit else "a log group"
    days = attribute(resource, "retention_days")
    if days is None:
        return Result.passed(f"{kind}: events never expire", retention_days=None)
    if days >= needed:
        return Result.passed(
            f"{kind}: events are kept {days} days, at least {needed}", retention_days=days
        )
    return Result.failed(
        f"retention_days is {days}; {kind} must keep events at least {needed} days",
        retention_days=days,
        required_days=needed,
    )
