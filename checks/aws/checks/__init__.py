"""AWS check functions, one module per service; importing this package registers them all."""

from assay.checks.aws.checks import (
    cloudtrail,
    ec2,
    guardduty,
    iam,
    iam_users,
    kms,
    logs,
    rds,
    s3,
)

__all__ = ["cloudtrail", "ec2", "guardduty", "iam", "iam_users", "kms", "logs", "rds", "s3"]
