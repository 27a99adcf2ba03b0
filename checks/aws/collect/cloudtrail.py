"""CloudTrail: every trail as an `aws.cloudtrail.trail`, and the account's trails together
as one `aws.cloudtrail.account`.

Whether the account is audited is a property of all its trails together (one multi-region
trail covers every region), so that resource is the account; each trail's own settings
(logging, validation, KMS, CloudWatch Logs delivery) are judged on the trail. Both read
the same calls, made once per connection.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, GLOBAL_REGION, AwsConnection
from assay.checks.aws.reading import listing, read_attribute
from assay.checks.registry import collector

ACCOUNT = "aws.cloudtrail.account"
TRAIL = "aws.cloudtrail.trail"
PERMISSIONS = ("cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", DESCRIBE_REGIONS)


@collector(ACCOUNT, permissions=PERMISSIONS)
def collect_trails(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per account, attribute `trails`: every trail visible from the target
    regions (multi-region trails homed elsewhere included), each ``{"arn", "name",
    "home_region", "multi_region", "log_file_validation", "organization", "logging",
    "kms_key_id", "cloudwatch_logs_log_group_arn", "s3_bucket"}``.
    """
    yield {
        "type": ACCOUNT,
        "id": f"arn:{conn.partition}:cloudtrail::{conn.account}:account",
        "name": conn.account,
        "scope": conn.scope(GLOBAL_REGION),
        "attributes": {"trails": _all_trails(conn)},
    }


@collector(TRAIL, permissions=PERMISSIONS)
def collect_each_trail(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every trail visible from the target regions, once (a multi-region trail's shadow
    copies in other regions are the same trail), scoped to its home region.

    Attributes: `home_region`, `multi_region`, `log_file_validation`, `organization`
    (bools), `logging` (bool, from the trail's status), `kms_key_id` (None when log files
    are encrypted with SSE-S3 only), `cloudwatch_logs_log_group_arn` (None when events
    are not delivered to CloudWatch Logs) and `s3_bucket`.
    """
    for trail in _all_trails(conn):
        yield {
            "type": TRAIL,
            "id": trail["arn"],
            "name": trail["name"],
            "scope": conn.scope(trail["home_region"]),
            "attributes": {k: v for k, v in trail.items() if k not in ("arn", "name")},
        }


def _all_trails(conn: AwsConnection) -> list[dict[str, Any]]:
    def read() -> list[dict[str, Any]]:
        found = conn.parallel(partial(_describe, conn), conn.regions)
        trails = sorted(
            {t["TrailARN"]: t for region in found for t in region}.values(),
            key=lambda t: str(t["TrailARN"]),
        )
        return conn.parallel(partial(_trail, conn), trails)

    return conn.shared("cloudtrail.trails", read)


def _describe(conn: AwsConnection, region: str) -> list[dict[str, Any]]:
    with listing("cloudtrail:DescribeTrails"):
        trails = conn.client("cloudtrail", region).describe_trails(includeShadowTrails=True)
    return list(trails.get("trailList", []))


def _trail(conn: AwsConnection, trail: dict[str, Any]) -> dict[str, Any]:
    home = trail.get("HomeRegion") or conn.home_region
    logging = read_attribute(
        partial(conn.client("cloudtrail", home).get_trail_status, Name=trail["TrailARN"]),
        lambda status: bool(status.get("IsLogging", False)),
        permission="cloudtrail:GetTrailStatus",
    )
    return {
        "arn": trail["TrailARN"],
        "name": trail.get("Name"),
        "home_region": home,
        "multi_region": bool(trail.get("IsMultiRegionTrail", False)),
        "log_file_validation": bool(trail.get("LogFileValidationEnabled", False)),
        "organization": bool(trail.get("IsOrganizationTrail", False)),
        "logging": logging,
        "kms_key_id": trail.get("KmsKeyId"),
        "cloudwatch_logs_log_group_arn": trail.get("CloudWatchLogsLogGroupArn"),
        "s3_bucket": trail.get("S3BucketName"),
    }
