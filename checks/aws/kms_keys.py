"""KMS key metadata: the attributes a key snapshot takes from DescribeKey, and which keys
AWS can rotate.

Shared by the `aws.kms.key` collector, which asks for the rotation status only of the
keys AWS can rotate, and the rotation check, which judges only those keys.
"""

from __future__ import annotations

from typing import Any

METADATA = ("manager", "spec", "usage", "state", "origin")


def rotatable(attributes: dict[str, Any]) -> bool:
    """Whether AWS rotates the key's material when asked: customer-managed, symmetric,
    enabled, with material KMS generated."""
    return (
        attributes.get("manager") == "CUSTOMER"
        and attributes.get("spec") == "SYMMETRIC_DEFAULT"
        and attributes.get("state") == "Enabled"
        and attributes.get("origin") in ("AWS_KMS", None)
    )
