"""CloudTrail: the account's trails, collected as one `aws.cloudtrail.account` resource.

Whether the account is audited is a property of all its trails together (one multi-region
trail covers every region), so the resource is the account, not a trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, GLOBAL_REGION, AwsConnection
from assay.checks.aws.reading import listing, read_attribute
from assay.checks.registry import collector

ACCOUNT = "aws.cloudtrail.account"


@collector(
    ACCOUNT,
    permissions=["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus", DESCRIBE_REGIONS],
)
def collect_trails(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per account, attribute `trails`: every trail visible from the target
    regions (multi-region trails homed elsewhere included), each ``{"arn", "name",
    "home_region", "multi_region", "log_file_validation", "organization", "logging"}``.
    """
    found = conn.parallel(partial(_describe, conn), conn.regions)
    trails = sorted(
        {t["TrailARN"]: t for region in found for t in region}.values(),
        key=lambda t: str(t["TrailARN"]),
    )
    yield {
        "type": ACCOUNT,
        "id": f"arn:{conn.partition}:cloudtrail::{conn.account}:account",
        "name": conn.account,
        "scope": conn.scope(GLOBAL_REGION),
        "attributes": {"trails": conn.parallel(partial(_trail, conn), trails)},
    }


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
    }
