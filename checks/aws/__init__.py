"""The AWS provider: importing this package registers its provider, collectors and checks.

One module per service holds the collectors of its resource types and the checks that
judge them (S3's checks, being many, sit in `s3_checks`); a new service slots in as one
more module imported here. Controls that need only a rule (`storage_encrypted`, ...)
have no check function: their resource type's collector is enough.
"""

from assay.checks.aws import (
    cloudtrail,
    ec2,
    guardduty,
    iam,
    iam_users,
    kms,
    logs,
    rds,
    s3,
    s3_checks,
)
from assay.checks.aws.api import read_attribute, tag_dict
from assay.checks.aws.provider import AwsConnection, AwsTarget, connect, identity

__all__ = [
    "AwsConnection",
    "AwsTarget",
    "cloudtrail",
    "connect",
    "ec2",
    "guardduty",
    "iam",
    "iam_users",
    "identity",
    "kms",
    "logs",
    "rds",
    "read_attribute",
    "s3",
    "s3_checks",
    "tag_dict",
]
