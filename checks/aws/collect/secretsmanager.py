"""Secrets Manager: the `aws.secretsmanager.secret` collector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from assay.checks.aws.provider import DESCRIBE_REGIONS, AwsConnection
from assay.checks.aws.reading import tag_dict, timestamp
from assay.checks.registry import collector

SECRET = "aws.secretsmanager.secret"
_LIST = "secretsmanager:ListSecrets"


@collector(SECRET, permissions=[_LIST, DESCRIBE_REGIONS])
def collect_secrets(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every secret in each target region, from one list per region (no secret value is
    ever read).

    Attributes: `rotation_enabled` (a secret never set to rotate has no such field: False),
    `rotation_days` (the schedule's interval, or None), `last_rotated` (RFC 3339, or None),
    `kms_key_id` and `tags`.
    """
    for region, secret in conn.listed_per_region(
        "secretsmanager", "list_secrets", "SecretList", _LIST
    ):
        rules = secret.get("RotationRules", {})
        yield {
            "type": SECRET,
            "id": secret["ARN"],
            "name": secret["Name"],
            "scope": conn.scope(region),
            "attributes": {
                "rotation_enabled": bool(secret.get("RotationEnabled", False)),
                "rotation_days": rules.get("AutomaticallyAfterDays"),
                "last_rotated": timestamp(secret.get("LastRotatedDate")),
                "kms_key_id": secret.get("KmsKeyId"),
                "tags": tag_dict(secret.get("Tags", [])),
            },
        }
