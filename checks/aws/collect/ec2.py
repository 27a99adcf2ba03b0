"""EC2 collectors: EBS volumes, each region's EBS encryption default, and security groups."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import listing, read_attribute, tag_dict
from assay.checks.registry import collector

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.type_defs import (
        GetEbsEncryptionByDefaultResultTypeDef,
        IpPermissionOutputTypeDef,
        SecurityGroupTypeDef,
        VolumeTypeDef,
    )

VOLUME = "aws.ec2.volume"
REGION = "aws.ec2.region"
SECURITY_GROUP = "aws.ec2.security_group"


@collector(VOLUME, permissions=["ec2:DescribeVolumes", DESCRIBE_REGIONS])
def collect_volumes(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every EBS volume in each target region.

    Attributes: `encrypted` (bool), `kms_key_id` (None when unencrypted), `size_gib` (int),
    `state`, `attachments` (instance ids) and `tags` (a dict).
    """
    for region, volumes in zip(
        conn.regions, conn.parallel(partial(_volumes, conn), conn.regions), strict=True
    ):
        for volume in volumes:
            yield _volume(conn, region, volume)


def _volumes(conn: AwsConnection, region: str) -> list[VolumeTypeDef]:
    ec2: EC2Client = conn.client("ec2", region)
    with listing("ec2:DescribeVolumes"):
        return [
            v for page in ec2.get_paginator("describe_volumes").paginate() for v in page["Volumes"]
        ]


def _volume(conn: AwsConnection, region: str, volume: VolumeTypeDef) -> dict[str, Any]:
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


@collector(REGION, permissions=["ec2:GetEbsEncryptionByDefault", DESCRIBE_REGIONS])
def collect_regions(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per target region: the account's EC2 settings there.

    Attribute `ebs_encryption_by_default` (bool): whether new EBS volumes are encrypted
    without being asked to.
    """
    yield from conn.region_snapshots(
        REGION, "ec2", lambda region: {"ebs_encryption_by_default": _ebs_default(conn, region)}
    )


def _ebs_default(conn: AwsConnection, region: str) -> Any:
    ec2: EC2Client = conn.client("ec2", region)
    return read_attribute(
        ec2.get_ebs_encryption_by_default,
        _ebs_flag,
        permission="ec2:GetEbsEncryptionByDefault",
    )


def _ebs_flag(response: GetEbsEncryptionByDefaultResultTypeDef) -> bool:
    return bool(response.get("EbsEncryptionByDefault", False))


@collector(SECURITY_GROUP, permissions=["ec2:DescribeSecurityGroups", DESCRIBE_REGIONS])
def collect_security_groups(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every security group in each target region.

    Attributes: `group_name`, `vpc_id`, `tags`, and `ingress`: one entry per rule,
    ``{"protocol": "tcp" | "udp" | "icmp" | "-1" (all) | number, "from_port", "to_port"
    (None when the protocol has no ports), "ipv4": [CIDR...], "ipv6": [CIDR...]}``.
    """
    found = conn.parallel(partial(_security_groups, conn), conn.regions)
    for region, groups in zip(conn.regions, found, strict=True):
        for group in groups:
            yield _security_group(conn, region, group)


def _security_groups(conn: AwsConnection, region: str) -> list[SecurityGroupTypeDef]:
    ec2: EC2Client = conn.client("ec2", region)
    with listing("ec2:DescribeSecurityGroups"):
        pages = ec2.get_paginator("describe_security_groups").paginate()
        return [g for page in pages for g in page["SecurityGroups"]]


def _security_group(
    conn: AwsConnection, region: str, group: SecurityGroupTypeDef
) -> dict[str, Any]:
    gid = group["GroupId"]
    return {
        "type": SECURITY_GROUP,
        "id": group.get("SecurityGroupArn")
        or f"arn:{conn.partition}:ec2:{region}:{conn.account}:security-group/{gid}",
        "name": group.get("GroupName", gid),
        "scope": conn.scope(region),
        "attributes": {
            "group_name": group.get("GroupName"),
            "vpc_id": group.get("VpcId"),
            "tags": tag_dict(group.get("Tags", [])),
            "ingress": [_rule(p) for p in group.get("IpPermissions", [])],
        },
    }


def _rule(permission: IpPermissionOutputTypeDef) -> dict[str, Any]:
    return {
        "protocol": permission.get("IpProtocol", "-1"),
        "from_port": permission.get("FromPort"),
        "to_port": permission.get("ToPort"),
        "ipv4": [r["CidrIp"] for r in permission.get("IpRanges", []) if "CidrIp" in r],
        "ipv6": [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", []) if "CidrIpv6" in r],
    }
