"""CloudTrail checks over `aws.cloudtrail.account`: a multi-region, validated, logging trail."""

from __future__ import annotations

from typing import Any

from assay.checks.aws.collect.cloudtrail import ACCOUNT
from assay.checks.registry import check
from assay.checks.result import ERROR_KEY, Result, attribute, describe_error


@check(
    "aws.cloudtrail.multi_region_validated",
    resource=ACCOUNT,
    permissions=["cloudtrail:DescribeTrails", "cloudtrail:GetTrailStatus"],
    reads=["trails"],
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
