"""VPC: the `aws.ec2.vpc` collector, each VPC with its flow logs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import paginate, read_attribute, tag_dict
from assay.checks.registry import collector

VPC = "aws.ec2.vpc"
_LIST = "ec2:DescribeVpcs"
_FLOW_LOGS = "ec2:DescribeFlowLogs"


@collector(VPC, permissions=[_LIST, _FLOW_LOGS, DESCRIBE_REGIONS])
def collect_vpcs(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every VPC in each target region; the region's flow logs are listed once and joined.

    Attributes: `default` (bool), `cidr`, `tags`, and `flow_logs`: ``[{"id", "status",
    "traffic_type", "destination_type"}]`` of the flow logs attached to the VPC itself.
    """
    for region, (vpcs, flow_logs) in conn.per_region(lambda region: _region(conn, region)):
        for vpc in vpcs:
            vid = vpc["VpcId"]
            tags = tag_dict(vpc.get("Tags", []))
            yield {
                "type": VPC,
                "id": f"arn:{conn.partition}:ec2:{region}:{conn.account}:vpc/{vid}",
                "name": tags.get("Name", vid),
                "scope": conn.scope(region),
                "attributes": {
                    "default": bool(vpc.get("IsDefault", False)),
                    "cidr": vpc.get("CidrBlock"),
                    "tags": tags,
                    "flow_logs": _attached(flow_logs, vid),
                },
            }


def _region(conn: AwsConnection, region: str) -> tuple[list[dict[str, Any]], Any]:
    ec2 = conn.client("ec2", region)
    vpcs = paginate(ec2, "describe_vpcs", "Vpcs", _LIST)
    flow_logs = read_attribute(
        lambda: paginate(ec2, "describe_flow_logs", "FlowLogs", _FLOW_LOGS),
        lambda found: [
            {
                "resource": f.get("ResourceId"),
                "id": f.get("FlowLogId"),
                "status": f.get("FlowLogStatus"),
                "traffic_type": f.get("TrafficType"),
                "destination_type": f.get("LogDestinationType"),
            }
            for f in found
        ],
        permission=_FLOW_LOGS,
    )
    return vpcs, flow_logs


def _attached(flow_logs: Any, vpc_id: str) -> Any:
    """The flow logs of one VPC, or the region's collection-error marker as it is."""
    if not isinstance(flow_logs, list):
        return flow_logs
    return [
        {k: v for k, v in f.items() if k != "resource"}
        for f in flow_logs
        if f["resource"] == vpc_id
    ]
