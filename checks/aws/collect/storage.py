"""DynamoDB tables (`aws.dynamodb.table`) and EFS file systems (`aws.efs.file_system`)."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute, tag_dict
from assay.checks.registry import collector, read_if_wanted
from assay.checks.result import ERROR_KEY

TABLE = "aws.dynamodb.table"
FILE_SYSTEM = "aws.efs.file_system"
_TABLES = "dynamodb:ListTables"
_DESCRIBE_TABLE = "dynamodb:DescribeTable"
_BACKUPS = "dynamodb:DescribeContinuousBackups"
_FILE_SYSTEMS = "elasticfilesystem:DescribeFileSystems"


@collector(
    TABLE,
    permissions=[_TABLES, _DESCRIBE_TABLE, DESCRIBE_REGIONS],
    attributes={"pitr": (_BACKUPS,)},
)
def collect_tables(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every DynamoDB table in each target region.

    Attributes: `sse_type` (``KMS``; None means the AWS-owned key, DynamoDB's default),
    `kms_key_arn` and `pitr` (``ENABLED`` or ``DISABLED``: point-in-time recovery; a call
    of its own, made only when wanted, None: always).
    """
    items = conn.listed_per_region("dynamodb", "list_tables", "TableNames", _TABLES)
    yield from conn.parallel(partial(_table, conn, wanted), items)


def _table(
    conn: AwsConnection, wanted: frozenset[str] | None, item: tuple[str, str]
) -> dict[str, Any]:
    region, name = item
    client = conn.client("dynamodb", region)
    table = read_attribute(
        partial(client.describe_table, TableName=name),
        lambda found: found["Table"],
        permission=_DESCRIBE_TABLE,
    )
    pitr = read_if_wanted(
        wanted,
        "pitr",
        lambda: read_attribute(
            partial(client.describe_continuous_backups, TableName=name),
            lambda found: (
                found["ContinuousBackupsDescription"]
                .get("PointInTimeRecoveryDescription", {})
                .get("PointInTimeRecoveryStatus", "DISABLED")
            ),
            permission=_BACKUPS,
        ),
    )
    if ERROR_KEY in table:
        sse_type = kms = table
        arn = f"arn:{conn.partition}:dynamodb:{region}:{conn.account}:table/{name}"
    else:
        sse = table.get("SSEDescription", {})
        sse_type, kms, arn = sse.get("SSEType"), sse.get("KMSMasterKeyArn"), table["TableArn"]
    return {
        "type": TABLE,
        "id": arn,
        "name": name,
        "scope": conn.scope(region),
        "attributes": {"sse_type": sse_type, "kms_key_arn": kms, "pitr": pitr},
    }


@collector(FILE_SYSTEM, permissions=[_FILE_SYSTEMS, DESCRIBE_REGIONS])
def collect_file_systems(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every EFS file system in each target region, from one list per region.

    Attributes: `encrypted` (bool), `kms_key_id` and `tags`.
    """
    for region, fs in conn.listed_per_region(
        "efs", "describe_file_systems", "FileSystems", _FILE_SYSTEMS
    ):
        tags = tag_dict(fs.get("Tags", []))
        yield {
            "type": FILE_SYSTEM,
            "id": fs.get("FileSystemArn")
            or f"arn:{conn.partition}:elasticfilesystem:{region}:{conn.account}:"
            f"file-system/{fs['FileSystemId']}",
            "name": fs.get("Name") or tags.get("Name") or fs["FileSystemId"],
            "scope": conn.scope(region),
            "attributes": {
                "encrypted": bool(fs.get("Encrypted", False)),
                "kms_key_id": fs.get("KmsKeyId"),
                "tags": tags,
            },
        }
