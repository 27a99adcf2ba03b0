"""The AWS provider: importing this package registers its provider, collectors and checks.

Where things go, the same in every provider:

- `provider`: the target options and the connection every collector receives;
- `collect/<family>.py`: the collectors of one service's resource types (`s3`, `iam`,
  `ec2`...), the names of those types, and what only collecting uses; a new resource
  type goes in its service's module, a new service in a new module listed in
  `collect/__init__.py`;
- `checks/<family>.py`: the check functions of the same family and their params models,
  pure over snapshots; from `collect/` they import only resource type names and the
  permissions a collector declares. A new control's check function goes here (listed in
  `checks/__init__.py` when its module is new);
- modules at this level hold what more than one of those uses: `reading` (AWS calls and
  their errors: the connection and the collectors), `policy` (IAM policy documents),
  `kms_keys` (which keys AWS rotates).

Controls that need only a rule (`storage_encrypted`, ...) have no check function: their
resource type's collector is enough.
"""

from assay.checks.aws import checks, collect
from assay.checks.aws.provider import AwsConnection, AwsTarget, connect, identity
from assay.checks.aws.reading import read_attribute, tag_dict

__all__ = [
    "AwsConnection",
    "AwsTarget",
    "checks",
    "collect",
    "connect",
    "identity",
    "read_attribute",
    "tag_dict",
]
