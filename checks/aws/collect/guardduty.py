"""GuardDuty: the `aws.guardduty.region` collector, one resource per target region."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute
from assay.checks.registry import collector

REGION = "aws.guardduty.region"


@collector(
    REGION,
    permissions=["guardduty:ListDetectors", "guardduty:GetDetector", DESCRIBE_REGIONS],
)
def collect_regions(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per target region (a region without a detector is data, not absence).

    Attributes: `detector_id` (None when GuardDuty was never enabled there) and `status`
    (``ENABLED``, ``DISABLED``, or None without a detector).
    """
    yield from conn.region_snapshots(REGION, "guardduty", partial(_detector, conn))


def _detector(conn: AwsConnection, region: str) -> dict[str, Any]:
    guardduty = conn.client("guardduty", region)
    ids = read_attribute(
        lambda: [
            d
            for page in guardduty.get_paginator("list_detectors").paginate()
            for d in page["DetectorIds"]
        ],
        lambda found: found,
        permission="guardduty:ListDetectors",
    )
    if not isinstance(ids, list):  # a marker: nothing is known about the region
        return {"detector_id": ids, "status": ids}
    if not ids:
        return {"detector_id": None, "status": None}
    status = read_attribute(
        partial(guardduty.get_detector, DetectorId=ids[0]),
        lambda detector: detector.get("Status"),
        permission="guardduty:GetDetector",
    )
    return {"detector_id": ids[0], "status": status}
