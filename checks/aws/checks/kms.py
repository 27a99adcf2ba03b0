"""KMS checks over `aws.kms.key`: automatic key rotation."""

from __future__ import annotations

from typing import Any

from assay.checks.aws.collect.kms import KEY
from assay.checks.aws.kms_keys import METADATA, rotatable
from assay.checks.registry import check
from assay.checks.result import Result, attribute


@check(
    "aws.kms.key_rotation",
    resource=KEY,
    permissions=["kms:ListKeys", "kms:DescribeKey", "kms:GetKeyRotationStatus"],
    reads=[*METADATA, "rotation_enabled"],
)
def key_rotation(resource: dict[str, Any], params: Any) -> Result:
    """Pass when a customer-managed symmetric key has automatic rotation on; AWS-managed,
    asymmetric, disabled and imported-material keys are not_applicable."""
    metadata = {name: attribute(resource, name) for name in METADATA}
    if not rotatable(metadata):
        return Result.not_applicable(
            f"rotation does not apply to a {metadata['manager']} {metadata['spec']} key "
            f"in state {metadata['state']} with {metadata['origin']} material",
            **metadata,
        )
    if attribute(resource, "rotation_enabled"):
        return Result.passed("automatic key rotation is on", rotation_enabled=True)
    return Result.failed(
        "rotation_enabled is false: the key material is never rotated", rotation_enabled=False
    )
