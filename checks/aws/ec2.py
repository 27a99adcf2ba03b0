"""EC2: the `aws.ec2.volume` collector (EBS volumes, judged by declarative rules)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from assay.checks.aws.api import tag_dict
from assay.checks.aws.provider import AwsConnection
from assay.checks.registry import collector

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import VolumeTypeDef

VOLUME = "aws.ec2.volume"


@collector(VOLUME, permissions=["ec2:DescribeVolumes"])
def collect_volumes(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every EBS volume in each target region.

    Attributes: `encrypted` (bool), `kms_key_id` (None when unencrypted), `size_gib` (int),
    `state`, `attachments` (instance ids) and `tags` (a dict).
    """
    for region in conn.regions:
        ec2: EC2Client = conn.client("ec2", region)
        for page in ec2.get_paginator("describe_volumes").paginate():
            for volume in page.get("Volumes", []):
                yield _snapshot(conn, region, volume)


def _snapshot(conn: AwsConnection, region: str, volume: VolumeTypeDef) -> dict[str, Any]:
    tags = tag_dict(volume.get("Tags", []))
    return {
        "type": VOLUME,
        "id": f"arn:{conn.partition}:ec2:{region}:{conn.account}:volume/{volume['VolumeId']}",
        "name": tags.get("Name", volume["VolumeId"]),
        "scope": conn.scope(region),
        "attributes": {
            "encrypted": bool(volume.get("Encrypted", False)),
            "kms_key_id": volume.get("KmsKeyId"),
            "size_gib": int(volume["Size"]),
            "state": volume["State"],
            "attachments": [
                a["InstanceId"] for a in volume.get("Attachments", []) if "InstanceId" in a
            ],
            "tags": tags,
        },
    }
