"""AWS check functions, one module per concern; importing this package registers them all."""

from assay.checks.aws.checks import (
    cloudtrail,
    ec2,
    exposure,
    guardduty,
    iam,
    iam_users,
    kms,
    lifecycle,
    logs,
    network,
    rds,
    recovery,
    s3,
)

__all__ = [
    "cloudtrail",
    "ec2",
    "exposure",
    "guardduty",
    "iam",
    "iam_users",
    "kms",
    "lifecycle",
    "logs",
    "network",
    "rds",
    "recovery",
    "s3",
]
