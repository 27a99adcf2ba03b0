"""RDS: the `aws.rds.instance` collector (its checks: `checks.rds`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import listing, read_attribute, tag_dict
from assay.checks.registry import collector, not_collected

INSTANCE = "aws.rds.instance"
DESCRIBE_PARAMETERS = "rds:DescribeDBParameters"

# The parameter that makes an engine refuse unencrypted connections, by engine prefix.
# Oracle and Db2 configure TLS in option groups, so have none.
TLS_PARAMETERS = {
    "postgres": "rds.force_ssl",
    "sqlserver": "rds.force_ssl",
    "mysql": "require_secure_transport",
    "mariadb": "require_secure_transport",
}


DESCRIBE_KEY = "kms:DescribeKey"


@collector(
    INSTANCE,
    permissions=["rds:DescribeDBInstances", DESCRIBE_REGIONS],
    attributes={
        "tls_parameter": (DESCRIBE_PARAMETERS,),
        "performance_insights_key_manager": (DESCRIBE_KEY,),
    },
)
def collect_instances(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every RDS DB instance in each target region.

    Attributes: `engine`, `engine_version`, `storage_encrypted`, `kms_key_id`,
    `publicly_accessible`, `backup_retention_days`, `deletion_protection` (bools and
    ints as RDS reports them), `parameter_group`, `tags`, and `tls_parameter`:
    ``{"name": "rds.force_ssl" | "require_secure_transport", "value": str | None}`` read
    from the instance's parameter group (each group read once), or None for engines with
    no such parameter and for Aurora, whose TLS setting lives in the cluster parameter group.

    Also `multi_az`, `iam_auth`, `auto_minor_version_upgrade`, `performance_insights`
    (bools), `performance_insights_kms_key_id` and `performance_insights_key_manager`
    (``CUSTOMER`` or ``AWS``, from KMS, each key asked once; None when Performance Insights
    is off or KMS knows no such key), `log_exports` (the log types exported to
    CloudWatch Logs) and `backup_replications` (ARNs of the automated backups replicated to
    other regions), all from the same DescribeDBInstances listing.

    `tls_parameter` and `performance_insights_key_manager` need calls of their own and are
    read only when wanted (None: always).
    """
    listed = conn.parallel(partial(_list_region, conn), conn.regions)
    read_tls = wanted is None or "tls_parameter" in wanted
    read_keys = wanted is None or "performance_insights_key_manager" in wanted
    groups = sorted(
        {
            (region, group, name)
            for region, instances in listed
            for i in instances
            if read_tls
            and (group := _group(i))
            and (name := tls_parameter_name(i.get("Engine", "")))
        }
    )
    values = dict(zip(groups, conn.parallel(partial(_parameter, conn), groups), strict=True))
    keys = sorted(
        {
            (region, key)
            for region, instances in listed
            for i in instances
            if read_keys
            and i.get("PerformanceInsightsEnabled")
            and (key := i.get("PerformanceInsightsKMSKeyId"))
        }
    )
    managers = dict(zip(keys, conn.parallel(partial(_key_manager, conn), keys), strict=True))
    for region, instances in listed:
        for instance in instances:
            found = _instance(conn, region, instance, values)
            attributes = found["attributes"]
            key = attributes["performance_insights_kms_key_id"]
            attributes["performance_insights_key_manager"] = (
                managers.get((region, key))
                if read_keys
                else not_collected("performance_insights_key_manager")
            )
            if not read_tls:
                attributes["tls_parameter"] = not_collected("tls_parameter")
            yield found


def _key_manager(conn: AwsConnection, item: tuple[str, str]) -> Any:
    """Who manages a KMS key: ``CUSTOMER`` or ``AWS`` (the aws/rds default); None when KMS
    knows no such key."""
    region, key = item
    return read_attribute(
        partial(conn.client("kms", region).describe_key, KeyId=key),
        lambda found: found["KeyMetadata"].get("KeyManager"),
        permission=DESCRIBE_KEY,
        absent={"NotFoundException"},
    )


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
        permission=DESCRIBE_PARAMETERS,
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
            "multi_az": bool(instance.get("MultiAZ", False)),
            "iam_auth": bool(instance.get("IAMDatabaseAuthenticationEnabled", False)),
            "auto_minor_version_upgrade": bool(instance.get("AutoMinorVersionUpgrade", False)),
            "log_exports": list(instance.get("EnabledCloudwatchLogsExports", [])),
            "performance_insights": bool(instance.get("PerformanceInsightsEnabled", False)),
            "performance_insights_kms_key_id": instance.get("PerformanceInsightsKMSKeyId"),
            "backup_replications": [
                r["DBInstanceAutomatedBackupsArn"]
                for r in instance.get("DBInstanceAutomatedBackupsReplications", [])
                if "DBInstanceAutomatedBackupsArn" in r
            ],
        },
    }
