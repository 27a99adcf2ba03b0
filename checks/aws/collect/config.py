"""AWS Config: the `aws.config.region` collector, one resource per target region."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import read_attribute
from assay.checks.registry import collector
from assay.checks.result import ERROR_KEY

REGION = "aws.config.region"
_RECORDERS = "config:DescribeConfigurationRecorders"
_STATUS = "config:DescribeConfigurationRecorderStatus"


@collector(REGION, permissions=[_RECORDERS, _STATUS, DESCRIBE_REGIONS])
def collect_regions(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per target region (a region without a recorder is data, not absence).

    Attribute `recorders`: ``[{"name", "recording", "all_supported",
    "include_global_resources", "last_status"}]``, empty when the region has none.
    """
    yield from conn.region_snapshots(
        REGION, "config", lambda region: {"recorders": _recorders(conn, region)}
    )


def _recorders(conn: AwsConnection, region: str) -> Any:
    client = conn.client("config", region)
    found = read_attribute(
        client.describe_configuration_recorders,
        lambda r: r.get("ConfigurationRecorders", []),
        permission=_RECORDERS,
    )
    if not isinstance(found, list) or not found:
        return found
    statuses = read_attribute(
        client.describe_configuration_recorder_status,
        lambda r: {s["name"]: s for s in r.get("ConfigurationRecordersStatus", [])},
        permission=_STATUS,
    )
    marker = statuses if ERROR_KEY in statuses else None
    out = []
    for recorder in found:
        group = recorder.get("recordingGroup", {})
        status = {} if marker else statuses.get(recorder["name"], {})
        out.append(
            {
                "name": recorder["name"],
                "recording": marker or bool(status.get("recording", False)),
                "all_supported": bool(group.get("allSupported", False)),
                "include_global_resources": bool(group.get("includeGlobalResourceTypes", False)),
                "last_status": marker or status.get("lastStatus"),
            }
        )
    return out
