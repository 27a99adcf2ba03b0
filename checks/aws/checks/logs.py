"""CloudWatch Logs checks over `aws.logs.log_group`: retention, longer for audit logs."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.logs import LOG_GROUP
from assay.checks.registry import check
from assay.checks.result import Result, attribute


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
    reads=["tags", "retention_days"],
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
