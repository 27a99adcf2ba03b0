"""The AWS provider: importing this package registers its provider, collectors and checks.

Each service module (`s3`, `ec2`, `iam`) holds the collectors of its resource types and the
checks that judge them; a new service slots in as one more module imported here.
"""

from assay.checks.aws import ec2, iam, s3
from assay.checks.aws.api import read_attribute, tag_dict
from assay.checks.aws.provider import AwsConnection, AwsTarget, connect, identity

__all__ = [
    "AwsConnection",
    "AwsTarget",
    "connect",
    "ec2",
    "iam",
    "identity",
    "read_attribute",
    "s3",
    "tag_dict",
]
