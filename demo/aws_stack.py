"""The rest of the stack in the emulated account: caches, load balancers, CDN, containers,
backups, secrets, certificates, functions, queues, tables and file systems, each seeded
once compliant and once not, with the verdict every AWS control should reach on them.

What moto cannot emulate is said where the expectation is set: it never reports RDS
automated backups replicated to another region, and has no backup selections (so no
backup plan is seeded); those two controls fail here on every resource, and their
passing side is tested with botocore's Stubber on AWS's documented responses.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import TYPE_CHECKING, Any

from assay.checks.aws.provider import AwsConnection
from assay.demo.certificates import self_signed

if TYPE_CHECKING:
    from assay.demo.aws_account import _Book

PASS, FAIL, NA = "pass", "fail", "not_applicable"
# A Kubernetes version in EKS standard support at the demo's date, and one long past it.
EKS_CURRENT, EKS_RETIRED = "1.35", "1.29"


def seed_stack(conn: AwsConnection, book: _Book, key_arn: str, log_bucket: str) -> None:
    """The main account's stack, in its home region."""
    cert_ok = _seed_acm(conn, book)
    _seed_elasticache(conn, book)
    _seed_elbv2(conn, book, cert_ok)
    _seed_cloudfront(conn, book, cert_ok)
    _seed_ecr(conn, book)
    _seed_eks(conn, book, key_arn)
    _seed_backup(conn, book, key_arn)
    role = _lambda_role(conn, book)
    rotator = _seed_lambda(conn, book, role)
    _seed_secrets(conn, book, rotator)
    _seed_messaging(conn, book, key_arn)
    _seed_tables(conn, book, key_arn)
    _seed_vpcs(conn, book, log_bucket, with_flow_logs=False)
    book.add("aws.config.region", _region_arn(conn, book, "config"), {"aws-config-recorder": FAIL})


def seed_peer_stack(conn: AwsConnection, book: _Book, log_bucket: str) -> None:
    """The peer account's regional settings, all compliant where moto allows: AWS Config
    recording, flow logs on its default VPC; no backup plan (moto has no selections)."""
    config = conn.client("config")
    config.put_configuration_recorder(
        ConfigurationRecorder={
            "name": "default",
            "roleARN": f"arn:aws:iam::{book.account}:role/assay-demo-config",
            "recordingGroup": {"allSupported": True, "includeGlobalResourceTypes": True},
        }
    )
    config.put_delivery_channel(DeliveryChannel={"name": "default", "s3BucketName": log_bucket})
    config.start_configuration_recorder(ConfigurationRecorderName="default")
    book.add("aws.config.region", _region_arn(conn, book, "config"), {"aws-config-recorder": PASS})
    _seed_vpcs(conn, book, log_bucket, with_flow_logs=True)
    _backup_plan(conn, book)


def _region_arn(conn: AwsConnection, book: _Book, service: str) -> str:
    return f"arn:aws:{service}:{conn.home_region}:{book.account}:region"


def _seed_acm(conn: AwsConnection, book: _Book) -> str:
    """A certificate valid for a year (returned: the load balancer and CDN use it) and one
    that expires in ten days."""
    acm = conn.client("acm")
    arns = []
    for days, status in ((365, PASS), (10, FAIL)):
        cert, key = self_signed("demo.assay.example", days)
        arn = acm.import_certificate(Certificate=cert, PrivateKey=key)["CertificateArn"]
        arns.append(book.add("aws.acm.certificate", arn, {"aws-acm-certificate-expiry": status}))
    return arns[0]


_CACHE = (
    "aws-elasticache-encrypted-at-rest",
    "aws-elasticache-encrypted-in-transit",
    "aws-elasticache-auth",
    "aws-elasticache-automatic-failover",
    "aws-elasticache-multi-az",
    "aws-elasticache-snapshot-retention",
)


def _seed_elasticache(conn: AwsConnection, book: _Book) -> None:
    cache = conn.client("elasticache")
    good = cache.create_replication_group(
        ReplicationGroupId="assay-demo-sessions",
        ReplicationGroupDescription="sessions",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=2,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        AtRestEncryptionEnabled=True,
        TransitEncryptionEnabled=True,
        AuthToken="demo-auth-token-0123456789",
        SnapshotRetentionLimit=7,
    )["ReplicationGroup"]
    bad = cache.create_replication_group(
        ReplicationGroupId="assay-demo-cache-legacy",
        ReplicationGroupDescription="legacy cache",
        Engine="redis",
        CacheNodeType="cache.t3.micro",
        NumCacheClusters=1,
    )["ReplicationGroup"]
    for group, status in ((good, PASS), (bad, FAIL)):
        book.add("aws.elasticache.replication_group", group["ARN"], dict.fromkeys(_CACHE, status))


def _seed_elbv2(conn: AwsConnection, book: _Book, certificate: str) -> None:
    ec2, elb = conn.client("ec2"), conn.client("elbv2")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])[
            "Subnets"
        ]
    ][:2]
    target = elb.create_target_group(
        Name="assay-demo-app", Protocol="HTTP", Port=8080, VpcId=vpc["VpcId"]
    )["TargetGroups"][0]["TargetGroupArn"]
    forward = [{"Type": "forward", "TargetGroupArn": target}]
    redirect = [
        {
            "Type": "redirect",
            "RedirectConfig": {"Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301"},
        }
    ]
    controls = (
        "aws-elbv2-tls-policy",
        "aws-elbv2-http-redirect",
        "aws-elbv2-access-logs",
        "aws-elbv2-deletion-protection",
    )
    for name, policy, http_action, hardened, status in (
        ("assay-demo-web", "ELBSecurityPolicy-TLS13-1-2-2021-06", redirect, True, PASS),
        ("assay-demo-legacy-lb", "ELBSecurityPolicy-2016-08", forward, False, FAIL),
    ):
        arn = elb.create_load_balancer(Name=name, Subnets=subnets)["LoadBalancers"][0][
            "LoadBalancerArn"
        ]
        elb.create_listener(
            LoadBalancerArn=arn,
            Protocol="HTTPS",
            Port=443,
            SslPolicy=policy,
            Certificates=[{"CertificateArn": certificate}],
            DefaultActions=forward,
        )
        elb.create_listener(
            LoadBalancerArn=arn, Protocol="HTTP", Port=80, DefaultActions=http_action
        )
        if hardened:
            elb.modify_load_balancer_attributes(
                LoadBalancerArn=arn,
                Attributes=[
                    {"Key": "access_logs.s3.enabled", "Value": "true"},
                    {"Key": "access_logs.s3.bucket", "Value": "assay-demo-access-logs"},
                    {"Key": "deletion_protection.enabled", "Value": "true"},
                ],
            )
        book.add("aws.elbv2.load_balancer", arn, dict.fromkeys(controls, status))


def _seed_cloudfront(conn: AwsConnection, book: _Book, certificate: str) -> None:
    cloudfront = conn.client("cloudfront", "us-east-1")
    controls = (
        "aws-cloudfront-viewer-https",
        "aws-cloudfront-minimum-tls",
        "aws-cloudfront-origin-https",
        "aws-cloudfront-logging",
        "aws-cloudfront-waf",
    )
    for ref, hardened in (("assay-demo-cdn", True), ("assay-demo-cdn-legacy", False)):
        config: dict[str, Any] = {
            "CallerReference": ref,
            "Comment": ref,
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "app",
                        "DomainName": "app.assay.example",
                        "CustomOriginConfig": {
                            "HTTPPort": 80,
                            "HTTPSPort": 443,
                            "OriginProtocolPolicy": "https-only" if hardened else "http-only",
                            "OriginSslProtocols": {"Quantity": 1, "Items": ["TLSv1.2"]},
                        },
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "app",
                "ViewerProtocolPolicy": "redirect-to-https" if hardened else "allow-all",
                "MinTTL": 0,
            },
            "Logging": {
                "Enabled": hardened,
                "IncludeCookies": False,
                "Bucket": "assay-demo-access-logs.s3.amazonaws.com" if hardened else "",
                "Prefix": "cdn/" if hardened else "",
            },
        }
        if hardened:
            config["ViewerCertificate"] = {
                "ACMCertificateArn": certificate,
                "SSLSupportMethod": "sni-only",
                "MinimumProtocolVersion": "TLSv1.2_2021",
            }
            config["WebACLId"] = (
                f"arn:aws:wafv2:us-east-1:{book.account}:global/webacl/assay-demo/"
                "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
            )
        else:
            config["ViewerCertificate"] = {"CloudFrontDefaultCertificate": True}
        arn = cloudfront.create_distribution(DistributionConfig=config)["Distribution"]["ARN"]
        book.add(
            "aws.cloudfront.distribution", arn, dict.fromkeys(controls, PASS if hardened else FAIL)
        )


def _seed_ecr(conn: AwsConnection, book: _Book) -> None:
    ecr = conn.client("ecr")
    controls = (
        "aws-ecr-scan-on-push",
        "aws-ecr-immutable-tags",
        "aws-ecr-not-public",
        "aws-ecr-lifecycle-policy",
    )
    good = ecr.create_repository(
        repositoryName="assay-demo/api",
        imageScanningConfiguration={"scanOnPush": True},
        imageTagMutability="IMMUTABLE",
    )["repository"]
    rule = {
        "rulePriority": 1,
        "selection": {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countUnit": "days",
            "countNumber": 14,
        },
        "action": {"type": "expire"},
    }
    ecr.put_lifecycle_policy(
        repositoryName="assay-demo/api", lifecyclePolicyText=json.dumps({"rules": [rule]})
    )
    bad = ecr.create_repository(repositoryName="assay-demo/legacy")["repository"]
    everyone = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicPull",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            }
        ],
    }
    ecr.set_repository_policy(repositoryName="assay-demo/legacy", policyText=json.dumps(everyone))
    for repo, status in ((good, PASS), (bad, FAIL)):
        book.add("aws.ecr.repository", repo["repositoryArn"], dict.fromkeys(controls, status))


def _seed_eks(conn: AwsConnection, book: _Book, key_arn: str) -> None:
    eks, ec2 = conn.client("eks"), conn.client("ec2")
    subnets = [s["SubnetId"] for s in ec2.describe_subnets()["Subnets"]][:2]
    role = f"arn:aws:iam::{book.account}:role/assay-demo-eks"
    controls = (
        "aws-eks-secrets-encryption",
        "aws-eks-control-plane-logging",
        "aws-eks-endpoint-restricted",
        "aws-eks-supported-version",
    )
    good = eks.create_cluster(
        name="assay-demo-platform",
        version=EKS_CURRENT,
        roleArn=role,
        resourcesVpcConfig={
            "subnetIds": subnets,
            "endpointPublicAccess": False,
            "endpointPrivateAccess": True,
        },
        encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": key_arn}}],
        logging={
            "clusterLogging": [
                {"types": ["api", "audit", "authenticator"], "enabled": True},
                {"types": ["controllerManager", "scheduler"], "enabled": False},
            ]
        },
    )["cluster"]
    # Endpoint settings not given: EKS makes the endpoint public to 0.0.0.0/0.
    bad = eks.create_cluster(
        name="assay-demo-legacy-cluster",
        version=EKS_RETIRED,
        roleArn=role,
        resourcesVpcConfig={"subnetIds": subnets},
    )["cluster"]
    for cluster, status in ((good, PASS), (bad, FAIL)):
        book.add("aws.eks.cluster", cluster["arn"], dict.fromkeys(controls, status))


def _seed_backup(conn: AwsConnection, book: _Book, key_arn: str) -> None:
    backup = conn.client("backup")
    controls = ("aws-backup-vault-lock", "aws-backup-vault-encrypted")
    locked = backup.create_backup_vault(
        BackupVaultName="assay-demo-vault", EncryptionKeyArn=key_arn
    )
    backup.put_backup_vault_lock_configuration(
        BackupVaultName="assay-demo-vault", MinRetentionDays=7, MaxRetentionDays=365
    )
    open_vault = backup.create_backup_vault(BackupVaultName="assay-demo-vault-open")
    for vault, status in ((locked, PASS), (open_vault, FAIL)):
        book.add("aws.backup.vault", vault["BackupVaultArn"], dict.fromkeys(controls, status))
    _backup_plan(conn, book)


def _backup_plan(conn: AwsConnection, book: _Book) -> None:
    # moto has no backup selections (neither to create nor to list), so the region gets no
    # plan and coverage fails here; the Stubber test covers plans that select by tag.
    book.add(
        "aws.backup.region", _region_arn(conn, book, "backup"), {"aws-backup-plan-coverage": FAIL}
    )


def _lambda_role(conn: AwsConnection, book: _Book) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = conn.client("iam").create_role(
        RoleName="assay-demo-lambda", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    return str(role["Arn"])


def _zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return event\n")
    return out.getvalue()


def _seed_lambda(conn: AwsConnection, book: _Book, role: str) -> str:
    client = conn.client("lambda")
    controls = ("aws-lambda-not-public", "aws-lambda-supported-runtime")
    arns: dict[str, str] = {}
    for name, runtime, status in (
        ("assay-demo-api", "python3.12", PASS),
        ("assay-demo-legacy-hook", "python3.8", FAIL),
    ):
        arns[name] = client.create_function(
            FunctionName=name,
            Runtime=runtime,
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": _zip()},
        )["FunctionArn"]
        book.add("aws.lambda.function", arns[name], dict.fromkeys(controls, status))
    client.add_permission(
        FunctionName="assay-demo-legacy-hook",
        StatementId="anyone",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    return arns["assay-demo-api"]


def _seed_secrets(conn: AwsConnection, book: _Book, rotator: str) -> None:
    secrets = conn.client("secretsmanager")
    rotated = secrets.create_secret(Name="assay-demo/db-password", SecretString="demo-only")["ARN"]
    secrets.rotate_secret(
        SecretId=rotated,
        RotationLambdaARN=rotator,
        RotationRules={"AutomaticallyAfterDays": 30},
    )
    # The emulator runs the rotator once, which leaves the function's log group behind
    # (no retention set: events are kept, which the retention control accepts).
    group = f"/aws/lambda/{rotator.rsplit(':', 1)[-1]}"
    book.add(
        "aws.logs.log_group",
        f"arn:aws:logs:{conn.home_region}:{book.account}:log-group:{group}",
        {"aws-logs-retention": PASS},
    )
    stale = secrets.create_secret(Name="assay-demo/legacy-token", SecretString="demo-only")["ARN"]
    for arn, status in ((rotated, PASS), (stale, FAIL)):
        book.add("aws.secretsmanager.secret", arn, {"aws-secretsmanager-rotation": status})


def _public(resource: str, action: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Anyone",
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": action,
                    "Resource": resource,
                }
            ],
        }
    )


def _seed_messaging(conn: AwsConnection, book: _Book, key_arn: str) -> None:
    sns, sqs = conn.client("sns"), conn.client("sqs")
    alerts = sns.create_topic(Name="assay-demo-alerts", Attributes={"KmsMasterKeyId": key_arn})
    feed = sns.create_topic(Name="assay-demo-public-feed")
    sns.set_topic_attributes(
        TopicArn=feed["TopicArn"],
        AttributeName="Policy",
        AttributeValue=_public(feed["TopicArn"], "sns:Subscribe"),
    )
    # The default topic policy allows "*" only under AWS:SourceOwner: not public.
    for topic, status in ((alerts, PASS), (feed, FAIL)):
        book.add(
            "aws.sns.topic",
            topic["TopicArn"],
            {"aws-sns-encrypted": status, "aws-sns-not-public": status},
        )
    region = conn.home_region
    sqs.create_queue(QueueName="assay-demo-jobs")
    legacy = sqs.create_queue(
        QueueName="assay-demo-legacy-queue", Attributes={"SqsManagedSseEnabled": "false"}
    )["QueueUrl"]
    legacy_arn = f"arn:aws:sqs:{region}:{book.account}:assay-demo-legacy-queue"
    sqs.set_queue_attributes(
        QueueUrl=legacy, Attributes={"Policy": _public(legacy_arn, "sqs:SendMessage")}
    )
    for name, status in (("assay-demo-jobs", PASS), ("assay-demo-legacy-queue", FAIL)):
        book.add(
            "aws.sqs.queue",
            f"arn:aws:sqs:{region}:{book.account}:{name}",
            {"aws-sqs-encrypted": status, "aws-sqs-not-public": status},
        )


def _seed_tables(conn: AwsConnection, book: _Book, key_arn: str) -> None:
    dynamodb, efs = conn.client("dynamodb"), conn.client("efs")
    common: dict[str, Any] = {
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "BillingMode": "PAY_PER_REQUEST",
    }
    orders = dynamodb.create_table(
        TableName="assay-demo-orders",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn},
        **common,
    )["TableDescription"]
    dynamodb.update_continuous_backups(
        TableName="assay-demo-orders",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    carts = dynamodb.create_table(TableName="assay-demo-carts", **common)["TableDescription"]
    for table, status in ((orders, PASS), (carts, FAIL)):
        book.add(
            "aws.dynamodb.table",
            table["TableArn"],
            {"aws-dynamodb-pitr": status, "aws-dynamodb-kms": status},
        )
    for token, encrypted in (("assay-demo-shared", True), ("assay-demo-scratch-fs", False)):
        fs = efs.create_file_system(
            CreationToken=token,
            Encrypted=encrypted,
            **({"KmsKeyId": key_arn} if encrypted else {}),
            Tags=[{"Key": "Name", "Value": token}],
        )
        book.add(
            "aws.efs.file_system",
            fs["FileSystemArn"],
            {"aws-efs-encrypted": PASS if encrypted else FAIL},
        )


def _seed_vpcs(conn: AwsConnection, book: _Book, log_bucket: str, *, with_flow_logs: bool) -> None:
    """The default VPC (with flow logs only when asked), and in the main account an
    application VPC that has them."""
    ec2 = conn.client("ec2")
    default = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    vpcs = [(default["VpcId"], with_flow_logs)]
    if not with_flow_logs:
        app = ec2.create_vpc(
            CidrBlock="10.42.0.0/16",
            TagSpecifications=[
                {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "assay-demo-app"}]}
            ],
        )["Vpc"]["VpcId"]
        vpcs.append((app, True))
        # A new VPC comes with its own default security group, which admits only itself.
        for group in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [app]}])[
            "SecurityGroups"
        ]:
            arn = f"arn:aws:ec2:{conn.home_region}:{book.account}:security-group/{group['GroupId']}"
            book.add("aws.ec2.security_group", arn, {"aws-ec2-no-public-admin-ports": PASS})
    for vpc, logged in vpcs:
        if logged:
            ec2.create_flow_logs(
                ResourceType="VPC",
                ResourceIds=[vpc],
                TrafficType="ALL",
                LogDestinationType="s3",
                LogDestination=f"arn:aws:s3:::{log_bucket}",
            )
        book.add(
            "aws.ec2.vpc",
            f"arn:aws:ec2:{conn.home_region}:{book.account}:vpc/{vpc}",
            {"aws-vpc-flow-logs": PASS if logged else FAIL},
        )
