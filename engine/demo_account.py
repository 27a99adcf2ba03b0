"""An emulated AWS account for `assay demo` and the AWS integration tests.

The emulator is moto's HTTP server on 127.0.0.1; `seed` fills it with a small account
in which some resources comply and some do not, and says which verdict each control
should reach on each resource.

moto keeps its state per process, not per server: two emulators in one process would
share one account, so `start_emulator` refuses to start a second one.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypedDict, cast

import boto3
from moto.server import ThreadedMotoServer

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.literals import ResourceTypeType
    from mypy_boto3_ec2.type_defs import TagSpecificationTypeDef
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.literals import BucketLocationConstraintType

# moto accepts any credentials; explicit ones keep a user's real credentials out of seeding.
SEED_KEY = "demo"
# moto runs an instance from any AMI id unless EC2_ENABLE_AMI_VALIDATION is set; loading
# its catalog of real ones would cost seconds.
DEMO_AMI = "ami-0a1b2c3d4e5f60718"

_running = threading.Lock()


class DemoAccount(TypedDict):
    """What `seed` created, and the verdict each control should reach on each resource."""

    account: str
    region: str
    resources: dict[str, list[str]]  # resource type -> resource ids (ARNs)
    expected: dict[str, dict[str, str]]  # control id -> resource id -> status
    waived_volume: str  # an unencrypted volume the demo profile waives
    summary: str


@contextmanager
def start_emulator() -> Iterator[str]:
    """Run moto's server on a free 127.0.0.1 port with an empty account; yield its URL.

    The server stops on exit. Its request log is silenced while it runs.
    """
    if not _running.acquire(blocking=False):
        raise RuntimeError(
            "an AWS emulator is already running in this process; moto keeps one state per "
            "process, so a second would share its account. Use the running one."
        )
    werkzeug_log = logging.getLogger("werkzeug")
    level = werkzeug_log.level
    werkzeug_log.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    try:
        server.start()
        try:
            host, port = server.get_host_and_port()
            url = f"http://{host}:{port}"
            # An earlier emulator in this process leaves its resources in moto's state.
            _post(f"{url}/moto-api/reset")
            yield url
        finally:
            server.stop()
    finally:
        werkzeug_log.setLevel(level)
        _running.release()


def _post(url: str) -> None:
    request = urllib.request.Request(url, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def seed(endpoint_url: str, region: str = "us-east-1") -> DemoAccount:
    """Create the demo account's resources in `region` of the emulator at `endpoint_url`.

    Three buckets (SSE-KMS + versioned; SSE-S3, unversioned; no default encryption,
    versioning suspended), three EBS volumes (a KMS-encrypted data volume and an
    unencrypted root volume on one instance, and an unencrypted detached build-cache
    volume), and a password policy that is too short and does not require symbols.
    """
    session = boto3.Session(
        aws_access_key_id=SEED_KEY, aws_secret_access_key=SEED_KEY, region_name=region
    )
    account = session.client("sts", endpoint_url=endpoint_url).get_caller_identity()["Account"]
    key_arn = session.client("kms", endpoint_url=endpoint_url).create_key(
        Description="assay demo data key"
    )["KeyMetadata"]["Arn"]

    s3: S3Client = session.client("s3", endpoint_url=endpoint_url)
    buckets = _seed_buckets(s3, region, key_arn)
    ec2: EC2Client = session.client("ec2", endpoint_url=endpoint_url)
    volumes = _seed_volumes(ec2, f"{region}a", key_arn)
    session.client("iam", endpoint_url=endpoint_url).update_account_password_policy(
        MinimumPasswordLength=8,
        RequireSymbols=False,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=24,
    )

    bucket_arn = {name: f"arn:aws:s3:::{name}" for name in buckets}
    volume_arn = {
        name: f"arn:aws:ec2:{region}:{account}:volume/{vid}" for name, vid in volumes.items()
    }
    policy_arn = f"arn:aws:iam::{account}:account-password-policy"
    logs, reports, scratch = (bucket_arn[n] for n in buckets)
    return {
        "account": account,
        "region": region,
        "resources": {
            "aws.s3.bucket": list(bucket_arn.values()),
            "aws.ec2.volume": list(volume_arn.values()),
            "aws.iam.password_policy": [policy_arn],
        },
        "expected": {
            "aws-s3-default-encryption": {logs: "pass", reports: "pass", scratch: "fail"},
            "aws-s3-versioning": {logs: "pass", reports: "fail", scratch: "fail"},
            "aws-ebs-volume-encrypted": {
                volume_arn["db-data"]: "pass",
                volume_arn["app-root"]: "fail",
                volume_arn["build-cache"]: "fail",
            },
            "aws-iam-password-policy": {policy_arn: "fail"},
        },
        "waived_volume": volume_arn["build-cache"],
        "summary": f"{len(buckets)} S3 buckets, {len(volumes)} EBS volumes and a password policy",
    }


def _seed_buckets(s3: S3Client, region: str, key_arn: str) -> list[str]:
    logs, reports, scratch = "assay-demo-audit-logs", "assay-demo-reports", "assay-demo-scratch"
    for name in (logs, reports, scratch):
        if region == "us-east-1":  # the one region S3 refuses a location constraint for
            s3.create_bucket(Bucket=name)
        else:
            location = cast("BucketLocationConstraintType", region)
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": location}
            )
    s3.put_bucket_encryption(
        Bucket=logs,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(
        Bucket=logs,
        Tagging={
            "TagSet": [{"Key": "owner", "Value": "security"}, {"Key": "data", "Value": "logs"}]
        },
    )
    s3.put_bucket_encryption(
        Bucket=reports,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    # Real S3 has encrypted every new bucket with SSE-S3 since January 2023; moto still
    # leaves a bucket without default encryption until one is configured, as S3 did before.
    s3.put_bucket_versioning(Bucket=scratch, VersioningConfiguration={"Status": "Suspended"})
    return [logs, reports, scratch]


def _seed_volumes(ec2: EC2Client, zone: str, key_arn: str) -> dict[str, str]:
    """Volume ids by Name tag."""

    def named(kind: ResourceTypeType, name: str) -> TagSpecificationTypeDef:
        return {"ResourceType": kind, "Tags": [{"Key": "Name", "Value": name}]}

    instance = ec2.run_instances(
        ImageId=DEMO_AMI,
        MinCount=1,
        MaxCount=1,
        InstanceType="t3.micro",
        Placement={"AvailabilityZone": zone},
        TagSpecifications=[named("instance", "app-server"), named("volume", "app-root")],
    )["Instances"][0]
    root = instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]
    data = ec2.create_volume(
        AvailabilityZone=zone,
        Size=100,
        Encrypted=True,
        KmsKeyId=key_arn,
        TagSpecifications=[named("volume", "db-data")],
    )["VolumeId"]
    ec2.attach_volume(VolumeId=data, InstanceId=instance["InstanceId"], Device="/dev/sdf")
    cache = ec2.create_volume(
        AvailabilityZone=zone,
        Size=50,
        Encrypted=False,
        TagSpecifications=[named("volume", "build-cache")],
    )["VolumeId"]
    return {"db-data": data, "app-root": root, "build-cache": cache}
