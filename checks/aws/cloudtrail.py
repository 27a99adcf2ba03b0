"""CloudTrail: the account's trails as one `aws.cloudtrail.account` resource, and its check.

Whether the account is audited is a property of all its trails together (one multi-region
trail covers every region), so the resource is the account, not a trail.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.api import listing, read_attribute
from assay.checks.aws.provider import DESCRIBE_REGIONS, GLOBAL_REGION, AwsConnection
from assay.checks.registry import check, collector
from assay.checks.result import ERROR_KEY, Result, attribute, describe_error

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


@check(
    "aws.cloudtrail.multi_region_validated",
    resource=ACCOUNT,
    permissions=["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus"],
)
def multi_region_validated(resource: dict[str, Any], params: Any) -> Result:
    """Pass when some trail is multi-region, logging, and validates its log files."""
    trails = attribute(resource, "trails")
    unknown: list[str] = []
    shortfalls: list[str] = []
    for trail in trails:
        lacks = [
            what
            for what, ok in (
                ("not multi-region", trail["multi_region"]),
                ("no log file validation", trail["log_file_validation"]),
            )
            if not ok
        ]
        logging = trail["logging"]
        if isinstance(logging, dict) and ERROR_KEY in logging:
            if not lacks:
                unknown.append(f"{trail['name']}: {describe_error(logging)}")
            lacks.append("logging state unknown")
        elif not logging:
            lacks.append("not logging")
        if not lacks:
            return Result.passed(
                f"trail {trail['name']} (home {trail['home_region']}) is multi-region, "
                "logging and validates log files",
                trail=trail["arn"],
            )
        shortfalls.append(f"{trail['name']}: {', '.join(lacks)}")
    if unknown:
        return Result.error(f"trail status could not be collected: {'; '.join(unknown)}")
    if not trails:
        return Result.failed("trails is empty: the account has no CloudTrail trail", trails=[])
    return Result.failed(
        "no trail in trails is multi-region, logging and validating log files ("
        + "; ".join(shortfalls)
        + ")",
        trails=[t["arn"] for t in trails],
    )
