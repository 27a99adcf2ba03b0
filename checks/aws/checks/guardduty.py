"""GuardDuty checks over `aws.guardduty.region`: an enabled detector."""

from __future__ import annotations

from typing import Any

from assay.checks.aws.collect.guardduty import REGION
from assay.checks.registry import check
from assay.checks.result import Result, attribute


@check(
    "aws.guardduty.enabled",
    resource=REGION,
    permissions=["guardduty:ListDetectors", "guardduty:GetDetector"],
    reads=["detector_id", "status"],
)
def enabled(resource: dict[str, Any], params: Any) -> Result:
    """Pass when the region has a GuardDuty detector whose status is ENABLED."""
    detector = attribute(resource, "detector_id")
    if detector is None:
        return Result.failed("detector_id is null: GuardDuty was never enabled in the region")
    status = attribute(resource, "status")
    if status == "ENABLED":
        return Result.passed(f"detector {detector} is ENABLED", detector_id=detector)
    return Result.failed(
        f"status of detector {detector} is {status}, expected ENABLED",
        detector_id=detector,
        status=status,
    )
