"""An emulated AWS account for `assay demo` and the AWS integration tests.

The emulator is moto's HTTP server on 127.0.0.1; `seed` fills it with an account in which,
for every AWS control, some resources comply and some do not, and says which verdict each
control should reach on each resource. `seed_peer` adds a second account, reached by
assuming a role, whose account-wide settings all comply: one account has one password
policy, so a failing and a passing one need two accounts.

What moto cannot emulate is said where the expectation is set: it reports the root user
without MFA, never reports root access keys, and dates every credential "now", so those
verdicts never vary here (the check unit tests cover the other side with snapshots).

The emulator itself is `assay.demo.aws_emulator.start_emulator`.
"""

from __future__ import annotations

import json
from typing import Any, TypedDict

import boto3

from assay.checks.aws.provider import AwsConnection
from assay.demo.aws_stack import seed_peer_stack, seed_stack

# moto accepts any credentials; explicit ones keep a user's real credentials out of seeding.
SEED_KEY = "demo"
# moto runs an instance from any AMI id unless EC2_ENABLE_AMI_VALIDATION is set; loading
# its catalog of real ones would cost seconds.
DEMO_AMI = "ami-0a1b2c3d4e5f60718"
PEER_ACCOUNT = "210987654321"
PEER_ROLE = f"arn:aws:iam::{PEER_ACCOUNT}:role/assay-auditor"
PEER_EXTERNAL_ID = "assay-demo"
PASS, FAIL, NA = "pass", "fail", "not_applicable"


class DemoAccount(TypedDict):
    """What `seed` created, and the verdict each control should reach on each resource."""

    account: str
    region: str
    resources: dict[str, list[str]]  # resource type -> resource ids (ARNs)
    expected: dict[str, dict[str, str]]  # control id -> resource id -> status
    waived_volume: str  # an unencrypted volume the demo profile waives
    summary: str


class PeerAccount(TypedDict):
    """The second account `seed_peer` set up, and how a target reaches it."""

    account: str
    role_arn: str
    external_id: str
    resources: dict[str, list[str]]
    expected: dict[str, dict[str, str]]


class _Book:
    """The resources a seed made and the verdicts expected on them."""

    def __init__(self, account: str) -> None:
        self.account = account
        self.resources: dict[str, list[str]] = {}
        self.expected: dict[str, dict[str, str]] = {}

    def add(self, rtype: str, rid: str, verdicts: dict[str, str]) -> str:
        self.resources.setdefault(rtype, []).append(rid)
        for control, status in verdicts.items():
            self.expected.setdefault(control, {})[rid] = status
        return rid


def seed(endpoint_url: str, region: str = "us-east-1") -> DemoAccount:
    """Create the demo account's resources in `region` of the emulator at `endpoint_url`.

    IAM users with and without MFA, administrator and scoped policies, a weak password
    policy; four buckets (encrypted or not, versioned or not, public by ACL or policy,
    TLS-only or not, logging or not) under a partial account Block Public Access; KMS
    keys with and without rotation; a compliant and a neglected PostgreSQL instance; EBS
    volumes (the demo waives the build cache); security groups with and without SSH open
    to the internet; a single-region trail without validation; log groups with short and
    long retention; no GuardDuty.
    """
    session = boto3.Session(
        aws_access_key_id=SEED_KEY, aws_secret_access_key=SEED_KEY, region_name=region
    )
    conn = AwsConnection(session, [region], endpoint_url=endpoint_url)
    book = _Book(conn.account)
    key_arn = _seed_kms(conn, book)
    _seed_iam(conn, book)
    _seed_s3(conn, book, key_arn)
    _seed_rds(conn, book, key_arn)
    volumes = _seed_ec2(conn, book, key_arn)
    _seed_monitoring(conn, book, trail_bucket="assay-demo-audit-logs", compliant=False)
    seed_stack(conn, book, key_arn, log_bucket="assay-demo-access-logs")
    _seed_account_settings(conn, book, compliant=False)
    counts = {t.rsplit(".", 1)[-1]: len(ids) for t, ids in book.resources.items()}
    return {
        "account": book.account,
        "region": region,
        "resources": book.resources,
        "expected": book.expected,
        "waived_volume": volumes["build-cache"],
        "summary": (
            f"{counts['user']} IAM users, {counts['bucket']} S3 buckets, "
            f"{counts['instance']} RDS instances, {counts['volume']} EBS volumes, "
            f"{counts['key']} KMS keys, {counts['security_group']} security groups, "
            f"{counts['log_group']} log groups and the account's settings"
        ),
    }


def seed_peer(endpoint_url: str, region: str = "us-east-1") -> PeerAccount:
    """A second account, reached through `PEER_ROLE`, whose account-wide settings comply:
    strong password policy, Block Public Access on, EBS encryption by default, a
    multi-region validated trail (to a compliant bucket that does not log access) and
    GuardDuty."""
    seeder = boto3.Session(
        aws_access_key_id=SEED_KEY, aws_secret_access_key=SEED_KEY, region_name=region
    )
    creds = seeder.client("sts", endpoint_url=endpoint_url).assume_role(
        RoleArn=PEER_ROLE, RoleSessionName="assay-seed", ExternalId=PEER_EXTERNAL_ID
    )["Credentials"]
    session = boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=region,
    )
    conn = AwsConnection(session, [region], endpoint_url=endpoint_url)
    book = _Book(conn.account)
    bucket = "assay-demo-peer-trail"
    _bucket(conn.client("s3"), region, bucket)
    conn.client("s3").put_bucket_encryption(
        Bucket=bucket, ServerSideEncryptionConfiguration=_SSE_S3
    )
    conn.client("s3").put_bucket_policy(Bucket=bucket, Policy=_tls_only(bucket, anyone="*"))
    book.add(
        "aws.s3.bucket",
        f"arn:aws:s3:::{bucket}",
        # Block Public Access holds through the account's settings alone.
        _bucket_verdicts(PASS, NA, PASS, PASS, FAIL, PASS, NA),
    )
    _seed_monitoring(conn, book, trail_bucket=bucket, compliant=True)
    seed_peer_stack(conn, book, log_bucket=bucket)
    _seed_account_settings(conn, book, compliant=True)
    _default_security_groups(conn, book)
    return {
        "account": book.account,
        "role_arn": PEER_ROLE,
        "external_id": PEER_EXTERNAL_ID,
        "resources": book.resources,
        "expected": book.expected,
    }


def _seed_kms(conn: AwsConnection, book: _Book) -> str:
    kms = conn.client("kms")
    data = kms.create_key(Description="assay demo data key")["KeyMetadata"]
    kms.create_alias(AliasName="alias/assay-demo-data", TargetKeyId=data["KeyId"])
    kms.enable_key_rotation(KeyId=data["KeyId"])
    legacy = kms.create_key(Description="assay demo key nobody rotates")["KeyMetadata"]
    signing = kms.create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    for key, status in ((data, PASS), (legacy, FAIL), (signing, NA)):
        book.add("aws.kms.key", key["Arn"], {"aws-kms-key-rotation": status})
    return str(data["Arn"])


def _document(effect: str, action: str, resource: Any = "*", **extra: Any) -> str:
    """A policy document of one statement."""
    statement = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def _allow(action: str, resource: str = "*", **extra: Any) -> str:
    return _document("Allow", action, resource, **extra)


def _seed_iam(conn: AwsConnection, book: _Book) -> None:
    iam = conn.client("iam")
    arn = f"arn:aws:iam::{book.account}"
    # moto dates every credential now, so rotation and unused-credential checks pass here.
    # Administrative privileges: bob through an inline policy, ci-deployer through a group
    # whose policy allows iam:* (privilege escalation); alice holds scoped policies only.
    for user, password, mfa, key, admin in (
        ("alice", True, True, True, PASS),
        ("bob", True, False, False, FAIL),
        ("ci-deployer", False, False, True, FAIL),
    ):
        iam.create_user(UserName=user)
        if password:
            iam.create_login_profile(UserName=user, Password="Demo-passw0rd!")
        if mfa:
            serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=user)["VirtualMFADevice"]
            iam.enable_mfa_device(
                UserName=user,
                SerialNumber=serial["SerialNumber"],
                AuthenticationCode1="123456",
                AuthenticationCode2="654321",
            )
        if key:
            iam.create_access_key(UserName=user)
        if user == "ci-deployer":  # an old key never retired
            iam.create_access_key(UserName=user)
        book.add(
            "aws.iam.user",
            f"{arn}:user/{user}",
            {
                "aws-iam-user-console-mfa": (PASS if mfa else FAIL) if password else NA,
                "aws-iam-access-key-rotation": PASS if key else NA,
                "aws-iam-unused-credentials": PASS,
                "aws-iam-user-no-admin-privileges": admin,
                "aws-iam-user-one-active-key": FAIL if user == "ci-deployer" else PASS,
                # ci-deployer holds only its group's policy; the others hold their own.
                "aws-iam-user-permissions-via-groups": PASS if user == "ci-deployer" else FAIL,
            },
        )
    admin = iam.create_policy(PolicyName="assay-demo-admin", PolicyDocument=_allow("*"))
    reader = iam.create_policy(
        PolicyName="assay-demo-read-reports",
        PolicyDocument=_allow("s3:GetObject", "arn:aws:s3:::assay-demo-reports/*"),
    )
    iam.attach_user_policy(UserName="alice", PolicyArn=reader["Policy"]["Arn"])
    iam.put_user_policy(UserName="bob", PolicyName="break-glass", PolicyDocument=_allow("*"))
    iam.put_user_policy(
        UserName="alice", PolicyName="read-logs", PolicyDocument=_allow("logs:Get*")
    )
    iam.create_group(GroupName="assay-demo-iam-ops")
    iam.put_group_policy(
        GroupName="assay-demo-iam-ops", PolicyName="iam-ops", PolicyDocument=_allow("iam:*")
    )
    iam.add_user_to_group(GroupName="assay-demo-iam-ops", UserName="ci-deployer")
    admin_check = "aws-iam-no-admin-policies"
    # Not * on *, so the per-policy control passes it; the per-user one sees the escalation.
    book.add(
        "aws.iam.policy", f"{arn}:group/assay-demo-iam-ops#policy/iam-ops", {admin_check: PASS}
    )
    book.add("aws.iam.policy", admin["Policy"]["Arn"], {admin_check: FAIL})
    book.add("aws.iam.policy", reader["Policy"]["Arn"], {admin_check: PASS})
    book.add("aws.iam.policy", f"{arn}:user/bob#policy/break-glass", {admin_check: FAIL})
    book.add("aws.iam.policy", f"{arn}:user/alice#policy/read-logs", {admin_check: PASS})


_ALL_BLOCKED: Any = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
_SSE_S3: Any = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
_S3_CONTROLS = (
    "aws-s3-default-encryption",
    "aws-s3-versioning",
    "aws-s3-bucket-not-public",
    "aws-s3-secure-transport",
    "aws-s3-access-logging",
    "aws-s3-bucket-public-access-block",
    "aws-s3-dr-replication",
)
_RECORDS = {"TagSet": [{"Key": "data-class", "Value": "records"}]}
# Records that must also survive the loss of the region.
_DR_RECORDS = {"TagSet": [*_RECORDS["TagSet"], {"Key": "dr", "Value": "critical"}]}
DR_REGION = "us-west-2"


def _bucket_verdicts(*statuses: str) -> dict[str, str]:
    return dict(zip(_S3_CONTROLS, statuses, strict=True))


def _bucket(s3: Any, region: str, name: str) -> None:
    if region == "us-east-1":  # the one region S3 refuses a location constraint for
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})


def _tls_only(bucket: str, anyone: Any) -> str:
    return _document(
        "Deny",
        "s3:*",
        [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        Sid="DenyInsecureTransport",
        Principal=anyone,
        Condition={"Bool": {"aws:SecureTransport": "false"}},
    )


def _seed_s3(conn: AwsConnection, book: _Book, key_arn: str) -> None:
    s3 = conn.client("s3")
    logs, reports, scratch, access = (
        "assay-demo-audit-logs",
        "assay-demo-reports",
        "assay-demo-scratch",
        "assay-demo-access-logs",
    )
    for name in (logs, reports, scratch, access):
        _bucket(s3, conn.home_region, name)
    kms_rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    s3.put_bucket_encryption(
        Bucket=logs,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": kms_rule, "BucketKeyEnabled": True}]
        },
    )
    s3.put_bucket_versioning(Bucket=logs, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_tagging(Bucket=logs, Tagging=_DR_RECORDS)
    replica = f"{logs}-dr"
    _bucket(conn.client("s3", DR_REGION), DR_REGION, replica)
    conn.client("s3", DR_REGION).put_bucket_versioning(
        Bucket=replica, VersioningConfiguration={"Status": "Enabled"}
    )
    conn.client("s3", DR_REGION).put_bucket_encryption(
        Bucket=replica, ServerSideEncryptionConfiguration=_SSE_S3
    )
    s3.put_bucket_replication(
        Bucket=logs,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{book.account}:role/assay-demo-replication",
            "Rules": [
                {
                    "ID": "dr",
                    "Status": "Enabled",
                    "Priority": 1,
                    "Filter": {"Prefix": ""},
                    "DeleteMarkerReplication": {"Status": "Disabled"},
                    "Destination": {"Bucket": f"arn:aws:s3:::{replica}"},
                }
            ],
        },
    )
    s3.put_bucket_policy(Bucket=logs, Policy=_tls_only(logs, anyone="*"))
    # The log bucket lets S3's log delivery write; moto wants a dict Principal in its policy.
    owner = s3.get_bucket_acl(Bucket=access)["Owner"]["ID"]
    delivery = 'uri="http://acs.amazonaws.com/groups/s3/LogDelivery"'
    s3.put_bucket_acl(
        Bucket=access, GrantWrite=delivery, GrantReadACP=delivery, GrantFullControl=f'id="{owner}"'
    )
    s3.put_bucket_encryption(Bucket=access, ServerSideEncryptionConfiguration=_SSE_S3)
    s3.put_bucket_policy(Bucket=access, Policy=_tls_only(access, anyone={"AWS": "*"}))
    s3.put_public_access_block(Bucket=logs, PublicAccessBlockConfiguration=_ALL_BLOCKED)
    s3.put_bucket_logging(
        Bucket=logs,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": access, "TargetPrefix": "logs/"}},
    )
    s3.put_bucket_encryption(Bucket=reports, ServerSideEncryptionConfiguration=_SSE_S3)
    s3.put_bucket_tagging(Bucket=reports, Tagging=_DR_RECORDS)
    s3.put_bucket_acl(Bucket=reports, ACL="public-read")
    # Real S3 has encrypted every new bucket with SSE-S3 since January 2023; moto still
    # leaves a bucket without default encryption until one is configured, as S3 did before.
    s3.put_bucket_versioning(Bucket=scratch, VersioningConfiguration={"Status": "Suspended"})
    public_read = _allow("s3:GetObject", f"arn:aws:s3:::{scratch}/*", Principal="*")
    s3.put_bucket_policy(Bucket=scratch, Policy=public_read)
    for name, verdicts in (
        (logs, _bucket_verdicts(PASS, PASS, PASS, PASS, PASS, PASS, PASS)),
        (reports, _bucket_verdicts(PASS, FAIL, FAIL, FAIL, FAIL, FAIL, FAIL)),
        (scratch, _bucket_verdicts(FAIL, NA, FAIL, FAIL, FAIL, FAIL, NA)),
        (access, _bucket_verdicts(PASS, NA, PASS, PASS, FAIL, FAIL, NA)),
        # The replica: encrypted, but neither TLS-only nor logging, nor DR-tagged itself.
        (replica, _bucket_verdicts(PASS, NA, PASS, FAIL, FAIL, FAIL, NA)),
    ):
        book.add("aws.s3.bucket", f"arn:aws:s3:::{name}", verdicts)


_RDS = (
    "aws-rds-storage-encrypted",
    "aws-rds-not-public",
    "aws-rds-backup-retention",
    "aws-rds-deletion-protection",
    "aws-rds-force-ssl",
    "aws-rds-multi-az",
    "aws-rds-iam-auth",
    "aws-rds-auto-minor-upgrade",
    "aws-rds-log-exports",
    "aws-rds-performance-insights-kms",
)


def _seed_rds(conn: AwsConnection, book: _Book, key_arn: str) -> None:
    rds = conn.client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName="assay-demo-postgres16-tls",
        DBParameterGroupFamily="postgres16",
        Description="assay demo: TLS only",
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName="assay-demo-postgres16-tls",
        Parameters=[
            {"ParameterName": "rds.force_ssl", "ParameterValue": "1", "ApplyMethod": "immediate"}
        ],
    )
    common: dict[str, Any] = {
        "Engine": "postgres",
        "DBInstanceClass": "db.t3.micro",
        "MasterUsername": "app",
        "MasterUserPassword": "demo-password",
        "AllocatedStorage": 20,
    }
    orders = rds.create_db_instance(
        DBInstanceIdentifier="assay-demo-orders",
        EngineVersion="16.3",
        StorageEncrypted=True,
        PubliclyAccessible=False,
        BackupRetentionPeriod=7,
        DeletionProtection=True,
        DBParameterGroupName="assay-demo-postgres16-tls",
        MultiAZ=True,
        EnableIAMDatabaseAuthentication=True,
        AutoMinorVersionUpgrade=True,
        EnableCloudwatchLogsExports=["postgresql"],
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId=key_arn,
        **common,
    )["DBInstance"]
    # The engine's default parameter group leaves rds.force_ssl unset in moto.
    legacy = rds.create_db_instance(
        DBInstanceIdentifier="assay-demo-legacy",
        EngineVersion="13.7",
        StorageEncrypted=False,
        PubliclyAccessible=True,
        BackupRetentionPeriod=1,
        DeletionProtection=False,
        MultiAZ=False,
        AutoMinorVersionUpgrade=False,
        EnablePerformanceInsights=True,
        **common,
    )["DBInstance"]
    for instance, status in ((orders, PASS), (legacy, FAIL)):
        book.add(
            "aws.rds.instance",
            instance["DBInstanceArn"],
            # moto never reports automated backups replicated to another region.
            {**dict.fromkeys(_RDS, status), "aws-rds-backup-replication": FAIL},
        )


def _seed_ec2(conn: AwsConnection, book: _Book, key_arn: str) -> dict[str, str]:
    """Volume ARNs by Name tag."""
    ec2 = conn.client("ec2")
    zone = f"{conn.home_region}a"

    def named(kind: str, name: str) -> dict[str, Any]:
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
    arns = {}
    for name, vid, status in (
        ("db-data", data, PASS),
        ("app-root", root, FAIL),
        ("build-cache", cache, FAIL),
    ):
        arn = f"arn:aws:ec2:{conn.home_region}:{book.account}:volume/{vid}"
        arns[name] = book.add("aws.ec2.volume", arn, {"aws-ebs-volume-encrypted": status})

    web = ec2.create_security_group(GroupName="assay-demo-web", Description="HTTPS")
    admin = ec2.create_security_group(GroupName="assay-demo-admin", Description="SSH and DB")
    for group, port, source in (
        (web, 443, "0.0.0.0/0"),
        (admin, 22, "0.0.0.0/0"),
        (admin, 5432, "::/0"),
        (admin, 8080, "10.0.0.0/8"),
    ):
        ranges = (
            {"Ipv6Ranges": [{"CidrIpv6": source}]}
            if ":" in source
            else {"IpRanges": [{"CidrIp": source}]}
        )
        rule: Any = {"IpProtocol": "tcp", "FromPort": port, "ToPort": port, **ranges}
        ec2.authorize_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[rule])
    for group, status in ((web, PASS), (admin, FAIL)):
        arn = f"arn:aws:ec2:{conn.home_region}:{book.account}:security-group/{group['GroupId']}"
        book.add("aws.ec2.security_group", arn, {"aws-ec2-no-public-admin-ports": status})
    _default_security_groups(conn, book)
    return arns


def _default_security_groups(conn: AwsConnection, book: _Book) -> None:
    """The emulator gives each region a default VPC whose default group admits only itself."""
    for group in conn.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"]:
        arn = f"arn:aws:ec2:{conn.home_region}:{book.account}:security-group/{group['GroupId']}"
        book.add("aws.ec2.security_group", arn, {"aws-ec2-no-public-admin-ports": PASS})


def _seed_monitoring(
    conn: AwsConnection, book: _Book, *, trail_bucket: str, compliant: bool
) -> None:
    trail = conn.client("cloudtrail")
    name = "assay-demo-trail"
    trail.create_trail(
        Name=name,
        S3BucketName=trail_bucket,
        IsMultiRegionTrail=compliant,
        EnableLogFileValidation=compliant,
        **(_trail_delivery(conn, book) if compliant else {}),
    )
    trail.start_logging(Name=name)
    _add_trail(book, conn.home_region, name, dict.fromkeys(_TRAIL, PASS if compliant else FAIL))
    if not compliant:
        # Configured as it should be, but never started: the account-wide control still
        # fails, and this trail's logging verdict says why.
        stopped = "assay-demo-stopped-trail"
        trail.create_trail(
            Name=stopped,
            S3BucketName=trail_bucket,
            IsMultiRegionTrail=True,
            EnableLogFileValidation=True,
            **_trail_delivery(conn, book),
        )
        _add_trail(
            book, conn.home_region, stopped, {**dict.fromkeys(_TRAIL, PASS), _TRAIL[0]: FAIL}
        )
        book.expected["aws-cloudtrail-trail-logging"][
            f"arn:aws:cloudtrail:{conn.home_region}:{book.account}:trail/{name}"
        ] = PASS
    book.add(
        "aws.cloudtrail.account",
        f"arn:aws:cloudtrail::{book.account}:account",
        {"aws-cloudtrail-multi-region": PASS if compliant else FAIL},
    )
    if compliant:
        conn.client("guardduty").create_detector(Enable=True)
    book.add(
        "aws.guardduty.region",
        f"arn:aws:guardduty:{conn.home_region}:{book.account}:region",
        {"aws-guardduty-enabled": PASS if compliant else FAIL},
    )
    if compliant:
        return
    logs = conn.client("logs")
    for group, days, tags, status in (
        ("/assay-demo/app", 400, {}, PASS),
        ("/assay-demo/audit", 365, {"data-class": "audit"}, FAIL),
        ("/assay-demo/debug", 7, {}, FAIL),
        ("/assay-demo/archive", None, {}, PASS),
    ):
        logs.create_log_group(logGroupName=group, tags=tags)
        if days is not None:
            logs.put_retention_policy(logGroupName=group, retentionInDays=days)
        arn = f"arn:aws:logs:{conn.home_region}:{book.account}:log-group:{group}"
        book.add("aws.logs.log_group", arn, {"aws-logs-retention": status})


_TRAIL = (
    "aws-cloudtrail-trail-logging",
    "aws-cloudtrail-trail-multi-region",
    "aws-cloudtrail-trail-log-validation",
    "aws-cloudtrail-trail-kms",
    "aws-cloudtrail-trail-cloudwatch-logs",
)


def _add_trail(book: _Book, region: str, name: str, verdicts: dict[str, str]) -> None:
    arn = f"arn:aws:cloudtrail:{region}:{book.account}:trail/{name}"
    book.add("aws.cloudtrail.trail", arn, verdicts)


def _trail_delivery(conn: AwsConnection, book: _Book) -> dict[str, str]:
    """KMS encryption and CloudWatch Logs delivery for a trail (a key and a group made once)."""
    kms, logs = conn.client("kms"), conn.client("logs")
    group = "/aws/cloudtrail/assay-demo"

    def make_key() -> str:
        key = kms.create_key(Description="assay demo trail key")["KeyMetadata"]
        kms.enable_key_rotation(KeyId=key["KeyId"])
        return book.add("aws.kms.key", key["Arn"], {"aws-kms-key-rotation": PASS})

    def make_group() -> str:
        logs.create_log_group(logGroupName=group)
        logs.put_retention_policy(logGroupName=group, retentionInDays=3653)
        arn = f"arn:aws:logs:{conn.home_region}:{book.account}:log-group:{group}"
        return book.add("aws.logs.log_group", arn, {"aws-logs-retention": PASS})

    return {
        "KmsKeyId": conn.shared("demo.trail_key", make_key),
        "CloudWatchLogsLogGroupArn": conn.shared("demo.trail_group", make_group) + ":*",
        "CloudWatchLogsRoleArn": f"arn:aws:iam::{book.account}:role/assay-demo-trail-logs",
    }


def _seed_account_settings(conn: AwsConnection, book: _Book, *, compliant: bool) -> None:
    iam = conn.client("iam")
    iam.update_account_password_policy(
        MinimumPasswordLength=14 if compliant else 8,
        RequireSymbols=compliant,
        RequireNumbers=True,
        RequireUppercaseCharacters=True,
        RequireLowercaseCharacters=True,
        AllowUsersToChangePassword=True,
        MaxPasswordAge=90,
        PasswordReusePrevention=24,
    )
    # Set last: with Block Public Access on, the emulator would refuse the public seeds.
    conn.client("s3control").put_public_access_block(
        AccountId=book.account,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": compliant,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": compliant,
        },
    )
    if compliant:
        conn.client("ec2").enable_ebs_encryption_by_default()
    status = PASS if compliant else FAIL
    arn = f"arn:aws:iam::{book.account}"
    book.add(
        "aws.iam.password_policy",
        f"{arn}:account-password-policy",
        {"aws-iam-password-policy": status},
    )
    book.add(
        "aws.s3.account",
        f"arn:aws:s3::{book.account}:account",
        {"aws-s3-account-public-access-block": status},
    )
    book.add(
        "aws.ec2.region",
        f"arn:aws:ec2:{conn.home_region}:{book.account}:region",
        {"aws-ebs-default-encryption": status},
    )
    # moto reports the root user without MFA and without access keys, whatever the seed.
    book.add(
        "aws.iam.root_user",
        f"{arn}:root",
        {"aws-iam-root-mfa": FAIL, "aws-iam-root-access-keys": PASS},
    )
