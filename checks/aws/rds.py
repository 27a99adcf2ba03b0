"""RDS: the `aws.rds.instance` collector, and the checks that need more than a rule."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.api import listing, read_attribute, tag_dict
from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.registry import check, collector
from assay.checks.result import Result, attribute

INSTANCE = "aws.rds.instance"
_DESCRIBE_PARAMETERS = "rds:DescribeDBParameters"

# The parameter that makes an engine refuse unencrypted connections, by engine prefix.
# Oracle and Db2 configure TLS in option groups, so have none.
TLS_PARAMETERS = {
    "postgres": "rds.force_ssl",
    "sqlserver": "rds.force_ssl",
    "mysql": "require_secure_transport",
    "mariadb": "require_secure_transport",
}
_ON = frozenset({"1", "on", "true"})


@collector(
    INSTANCE,
    permissions=["rds:DescribeDBInstances", _DESCRIBE_PARAMETERS, DESCRIBE_REGIONS],
)
def collect_instances(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every RDS DB instance in each target region.

    Attributes: `engine`, `engine_version`, `storage_encrypted`, `kms_key_id`,
    `publicly_accessible`, `backup_retention_days`, `deletion_protection` (bools and
    ints as RDS reports them), `parameter_group`, `tags`, and `tls_parameter`:
    ``{"name": "rds.force_ssl" | "require_secure_transport", "value": str | None}`` read
    from the instance's parameter group (each group read once), or None for engines with
    no such parameter and for Aurora, whose TLS setting lives in the cluster parameter group.
    """
    listed = conn.parallel(partial(_list_region, conn), conn.regions)
    wanted = sorted(
        {
            (region, group, name)
            for region, instances in listed
            for i in instances
            if (group := _group(i)) and (name := tls_parameter_name(i.get("Engine", "")))
        }
    )
    values = dict(zip(wanted, conn.parallel(partial(_parameter, conn), wanted), strict=True))
    for region, instances in listed:
        for instance in instances:
            yield _instance(conn, region, instance, values)


def _list_region(conn: AwsConnection, region: str) -> tuple[str, list[dict[str, Any]]]:
    rds = conn.client("rds", region)
    with listing("rds:DescribeDBInstances"):
        pages = rds.get_paginator("describe_db_instances").paginate()
        return region, [i for page in pages for i in page["DBInstances"]]


def _group(instance: dict[str, Any]) -> str | None:
    groups = instance.get("DBParameterGroups") or [{}]
    name = groups[0].get("DBParameterGroupName")
    return str(name) if name else None


def tls_parameter_name(engine: str) -> str | None:
    """The parameter that enforces TLS for `engine`, or None (Aurora: see the collector)."""
    if engine.startswith("aurora"):
        return None
    return next((p for prefix, p in TLS_PARAMETERS.items() if engine.startswith(prefix)), None)


def _parameter(conn: AwsConnection, wanted: tuple[str, str, str]) -> Any:
    region, group, name = wanted
    rds = conn.client("rds", region)

    def read() -> list[dict[str, Any]]:
        pages = rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group)
        return [p for page in pages for p in page["Parameters"]]

    return read_attribute(
        read,
        lambda found: {
            "name": name,
            "value": next(
                (p.get("ParameterValue") for p in found if p.get("ParameterName") == name), None
            ),
        },
        permission=_DESCRIBE_PARAMETERS,
        absent={"DBParameterGroupNotFound"},
        default={"name": name, "value": None},
    )


def _instance(
    conn: AwsConnection,
    region: str,
    instance: dict[str, Any],
    values: dict[tuple[str, str, str], Any],
) -> dict[str, Any]:
    group = _group(instance)
    name = tls_parameter_name(instance.get("Engine", ""))
    return {
        "type": INSTANCE,
        "id": instance["DBInstanceArn"],
        "name": instance["DBInstanceIdentifier"],
        "scope": conn.scope(region),
        "attributes": {
            "engine": instance.get("Engine"),
            "engine_version": instance.get("EngineVersion"),
            "storage_encrypted": bool(instance.get("StorageEncrypted", False)),
            "kms_key_id": instance.get("KmsKeyId"),
            "publicly_accessible": bool(instance.get("PubliclyAccessible", False)),
            "backup_retention_days": int(instance.get("BackupRetentionPeriod", 0)),
            "deletion_protection": bool(instance.get("DeletionProtection", False)),
            "parameter_group": group,
            "tags": tag_dict(instance.get("TagList", [])),
            "tls_parameter": values.get((region, group, name)) if group and name else None,
        },
    }


class BackupParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days: int = Field(default=7, ge=1, le=35, description="Automated backups kept at least.")


@check(
    "aws.rds.backup_retention",
    resource=INSTANCE,
    params=BackupParams,
    permissions=["rds:DescribeDBInstances"],
)
def backup_retention(resource: dict[str, Any], params: BackupParams) -> Result:
    """Pass when automated backups are kept at least `min_days` (0 means no backups)."""
    days = attribute(resource, "backup_retention_days")
    if days >= params.min_days:
        return Result.passed(f"automated backups are kept {days} days", backup_retention_days=days)
    what = "automated backups are off" if days == 0 else f"automated backups are kept {days} days"
    return Result.failed(
        f"backup_retention_days is {days}: {what}, expected at least {params.min_days}",
        backup_retention_days=days,
    )


@check(
    "aws.rds.force_ssl",
    resource=INSTANCE,
    permissions=["rds:DescribeDBInstances", _DESCRIBE_PARAMETERS],
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
