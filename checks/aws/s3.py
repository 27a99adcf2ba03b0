"""S3 buckets: the `aws.s3.bucket` collector and the checks that judge buckets."""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from assay.checks.aws.api import read_attribute, tag_dict
from assay.checks.aws.provider import DEFAULT_REGION, AwsConnection
from assay.checks.registry import check, collector
from assay.checks.result import Result, attribute

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        GetBucketEncryptionOutputTypeDef,
        GetBucketLocationOutputTypeDef,
        GetBucketTaggingOutputTypeDef,
        GetBucketVersioningOutputTypeDef,
    )

RESOURCE = "aws.s3.bucket"

# get_bucket_location answers null for us-east-1, and EU for old eu-west-1 buckets.
_LEGACY_LOCATIONS = {"EU": "eu-west-1", "": DEFAULT_REGION}


@collector(
    RESOURCE,
    permissions=[
        "s3:ListAllMyBuckets",
        "s3:GetBucketLocation",
        "s3:GetEncryptionConfiguration",
        "s3:GetBucketVersioning",
        "s3:GetBucketTagging",
    ],
)
def collect_buckets(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """Every bucket of the account, whatever the target's regions (the bucket list is global).

    Attributes: `region`, `encryption` (``{"rules": [{"algorithm", "kms_key_id",
    "bucket_key"}]}``, or None when no default encryption is configured), `versioning`
    (``"Enabled"``, ``"Suspended"`` or None when never enabled) and `tags` (a dict).
    """
    s3: S3Client = conn.client("s3")
    for page in s3.get_paginator("list_buckets").paginate():
        for bucket in page.get("Buckets", []):
            name = bucket["Name"]
            region = read_attribute(
                partial(s3.get_bucket_location, Bucket=name),
                _region,
                permission="s3:GetBucketLocation",
            )
            # Without its location the bucket is still judged; botocore follows S3's
            # redirect if the default region is the wrong one.
            where = region if isinstance(region, str) else conn.regions[0]
            yield {
                "type": RESOURCE,
                "id": f"arn:{conn.partition}:s3:::{name}",
                "name": name,
                "scope": conn.scope(where),
                "attributes": {"region": region, **_details(conn.client("s3", where), name)},
            }


def _details(s3: S3Client, name: str) -> dict[str, Any]:
    return {
        "encryption": read_attribute(
            partial(s3.get_bucket_encryption, Bucket=name),
            _encryption,
            permission="s3:GetEncryptionConfiguration",
            absent={"ServerSideEncryptionConfigurationNotFoundError"},
        ),
        "versioning": read_attribute(
            partial(s3.get_bucket_versioning, Bucket=name),
            _versioning,
            permission="s3:GetBucketVersioning",
        ),
        "tags": read_attribute(
            partial(s3.get_bucket_tagging, Bucket=name),
            _tags,
            permission="s3:GetBucketTagging",
            absent={"NoSuchTagSet"},
            default={},
        ),
    }


def _region(response: GetBucketLocationOutputTypeDef) -> str:
    location = response.get("LocationConstraint") or ""
    return _LEGACY_LOCATIONS.get(location, location)


def _encryption(response: GetBucketEncryptionOutputTypeDef) -> dict[str, Any]:
    rules = response["ServerSideEncryptionConfiguration"]["Rules"]
    return {
        "rules": [
            {
                "algorithm": rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"],
                "kms_key_id": rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID"),
                "bucket_key": bool(rule.get("BucketKeyEnabled", False)),
            }
            for rule in rules
            if "ApplyServerSideEncryptionByDefault" in rule
        ]
    }


def _versioning(response: GetBucketVersioningOutputTypeDef) -> str | None:
    return response.get("Status")


def _tags(response: GetBucketTaggingOutputTypeDef) -> dict[str, str]:
    return tag_dict(response["TagSet"])


class DefaultEncryptionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithms: list[str] = Field(
        default=["aws:kms", "AES256"],
        min_length=1,
        description="Accepted SSE algorithms: aws:kms, aws:kms:dsse, AES256.",
    )


@check(
    "aws.s3.default_encryption",
    resource=RESOURCE,
    params=DefaultEncryptionParams,
    permissions=["s3:ListAllMyBuckets", "s3:GetBucketLocation", "s3:GetEncryptionConfiguration"],
)
def default_encryption(resource: dict[str, Any], params: DefaultEncryptionParams) -> Result:
    """Pass when a default-encryption rule of the bucket uses one of `params.algorithms`."""
    encryption = attribute(resource, "encryption")
    rules = encryption["rules"] if encryption else []
    if not rules:
        return Result.failed("the bucket has no default encryption configured", encryption=None)
    algorithms = [rule["algorithm"] for rule in rules]
    for rule in rules:
        if rule["algorithm"] in params.algorithms:
            return Result.passed(
                f"objects are encrypted by default with {rule['algorithm']}",
                algorithm=rule["algorithm"],
                kms_key_id=rule["kms_key_id"],
            )
    return Result.failed(
        f"default encryption uses {', '.join(algorithms)}, "
        f"not one of the allowed {', '.join(params.algorithms)}",
        algorithms=algorithms,
        allowed=params.algorithms,
    )
