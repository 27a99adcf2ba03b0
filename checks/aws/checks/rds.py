"""RDS checks over `aws.rds.instance`: the ones that need more than a rule."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.collect.rds import DESCRIBE_PARAMETERS, INSTANCE
from assay.checks.registry import check
from assay.checks.result import Result, attribute
from assay.words import counted

_ON = frozenset({"1", "on", "true"})


class BackupParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(default=7, ge=1, le=35, description="Automated backups kept at least.")


@check(
    "aws.rds.backup_retention",
    resource=INSTANCE,
    params=BackupParams,
    permissions=["rds:DescribeDBInstances"],
    reads=["backup_retention_days"],
)
def backup_retention(resource: dict[str, Any], params: BackupParams) -> Result:
    """Pass when automated backups are kept at least `min_days` (0 means no backups)."""
    days = attribute(resource, "backup_retention_days")
    if days >= params.min_days:
        kept = counted(days, "day")
        return Result.passed(f"automated backups are kept {kept}", backup_retention_days=days)
    what = (
        "automated backups are off"
        if days == 0
        else f"automated backups are kept {counted(days, 'day')}"
    )
    return Result.failed(
        f"backup_retention_days is {days}: {what}, expected at least {params.min_days}",
        backup_retention_days=days,
    )


@check(
    "aws.rds.force_ssl",
    resource=INSTANCE,
    permissions=["rds:DescribeDBInstances", DESCRIBE_PARAMETERS],
    reads=["engine", "tls_parameter", "parameter_group"],
)
def force_ssl(resource: dict[str, Any], params: Any) -> Result:
    """Pass when the instance's parameter group makes the engine refuse connections without
    TLS (rds.force_ssl, or require_secure_transport for MySQL and MariaDB)."""
    engine = attribute(resource, "engine") or ""
    tls = attribute(resource, "tls_parameter")
    if tls is None:
        if engine.startswith("aurora"):
            return Result.error(
                "Aurora enforces TLS in the DB cluster parameter group, which is not collected",
                engine=engine,
            )
        return Result.not_applicable(
            f"{engine} has no TLS-enforcing parameter (it uses an option group)", engine=engine
        )
    group = attribute(resource, "parameter_group")
    value = tls["value"]
    if value is not None and str(value).lower() in _ON:
        return Result.passed(f"{tls['name']} is {value} in parameter group {group}", **tls)
    state = "not set" if value is None else f"{value}"
    return Result.failed(
        f"tls_parameter {tls['name']} is {state} in parameter group {group}, so clients may "
        "connect without TLS",
        parameter_group=group,
        **tls,
    )
