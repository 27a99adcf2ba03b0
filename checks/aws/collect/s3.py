"""S3: the `aws.s3.bucket` and `aws.s3.account` collectors (their checks: `checks.s3`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from assay.checks.aws.policy import parse
from assay.checks.aws.provider import DEFAULT_REGION, GLOBAL_REGION, AwsConnection
from assay.checks.aws.reading import listing, read_attribute, tag_dict
from assay.checks.registry import collector, read_if_wanted

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        BucketTypeDef,
        GetBucketAclOutputTypeDef,
        GetBucketEncryptionOutputTypeDef,
        GetBucketLocationOutputTypeDef,
        GetBucketLoggingOutputTypeDef,
        GetBucketPolicyOutputTypeDef,
        GetBucketTaggingOutputTypeDef,
        GetBucketVersioningOutputTypeDef,
        GetPublicAccessBlockOutputTypeDef,
    )

BUCKET = "aws.s3.bucket"
ACCOUNT = "aws.s3.account"

# get_bucket_location answers null for us-east-1, and EU for old eu-west-1 buckets.
_LEGACY_LOCATIONS = {"EU": "eu-west-1", "": DEFAULT_REGION}
# Grantee groups that make an ACL grant public.
_PUBLIC_GROUPS = ("AllUsers", "AuthenticatedUsers")
# ListBuckets names each bucket's region only when asked with a parameter; this one is
# also its maximum page size.
_PAGE = 10000
_ACCOUNT_PAB = "s3:GetAccountPublicAccessBlock"


# Each attribute read by a call of its own, and that call's permission.
BUCKET_ATTRIBUTES = {
    "encryption": ("s3:GetEncryptionConfiguration",),
    "versioning": ("s3:GetBucketVersioning",),
    "tags": ("s3:GetBucketTagging",),
    "policy": ("s3:GetBucketPolicy",),
    "acl_public_grants": ("s3:GetBucketAcl",),
    "public_access_block": ("s3:GetBucketPublicAccessBlock",),
    "account_public_access_block": (_ACCOUNT_PAB,),
    "logging": ("s3:GetBucketLogging",),
    "replication": ("s3:GetReplicationConfiguration",),
}


@collector(
    BUCKET,
    permissions=["s3:ListAllMyBuckets", "s3:GetBucketLocation"],
    attributes=BUCKET_ATTRIBUTES,
)
def collect_buckets(
    conn: AwsConnection, wanted: frozenset[str] | None = None
) -> Iterator[dict[str, Any]]:
    """Every bucket of the account, whatever the target's regions (the bucket list is global).

    Attributes: `region`; `encryption` (``{"rules": [{"algorithm", "kms_key_id",
    "bucket_key"}]}``, or None when no default encryption is configured); `versioning`
    (``"Enabled"``, ``"Suspended"`` or None when never enabled); `tags` (a dict); `policy`
    (the bucket policy document, or None); `acl_public_grants` (``[{"grantee": "AllUsers"
    | "AuthenticatedUsers", "permission"}]``); `public_access_block` and
    `account_public_access_block` (the four Block Public Access flags in snake_case, or None
    when not configured); `logging` (``{"target_bucket", "target_prefix"}``, or None);
    `replication` (``[{"status", "destination_bucket", "destination_region"}]`` per
    replication rule, or None when the bucket replicates nowhere; the destination's region
    is read with GetBucketLocation, a marker when that bucket cannot be read).

    Only the `wanted` attributes are read (None: all); the others hold a `not_collected`
    marker.
    """
    s3: S3Client = conn.client("s3")
    listed: list[BucketTypeDef] = []
    with listing("s3:ListAllMyBuckets"):
        for page in s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": _PAGE}):
            listed += page.get("Buckets", [])
    account_pab = read_if_wanted(
        wanted,
        "account_public_access_block",
        partial(conn.shared, "s3.account_public_access_block", partial(_account_pab, conn)),
    )
    for bucket in conn.parallel(partial(_bucket, conn, wanted), listed):
        bucket["attributes"]["account_public_access_block"] = account_pab
        yield bucket


def _bucket(
    conn: AwsConnection, wanted: frozenset[str] | None, listed: BucketTypeDef
) -> dict[str, Any]:
    name = listed["Name"]
    region: Any = listed.get("BucketRegion") or read_attribute(
        partial(conn.client("s3").get_bucket_location, Bucket=name),
        _region,
        permission="s3:GetBucketLocation",
    )
    # Without its location the bucket is still judged; botocore follows S3's redirect
    # when the home region is the wrong one.
    where = region if isinstance(region, str) else conn.home_region
    s3 = conn.client("s3", where)
    reads: dict[str, Callable[[], Any]] = {
        **_details(s3, name),
        "replication": partial(_replication, conn, s3, name),
    }
    attributes = {key: read_if_wanted(wanted, key, read) for key, read in reads.items()}
    return {
        "type": BUCKET,
        "id": f"arn:{conn.partition}:s3:::{name}",
        "name": name,
        "scope": conn.scope(where),
        "attributes": {"region": region, **attributes},
    }


def _replication(conn: AwsConnection, s3: S3Client, name: str) -> Any:
    rules = read_attribute(
        partial(s3.get_bucket_replication, Bucket=name),
        lambda found: found["ReplicationConfiguration"].get("Rules", []),
        permission="s3:GetReplicationConfiguration",
        absent={"ReplicationConfigurationNotFoundError"},
    )
    if isinstance(rules, list):
        return [_replication_rule(conn, rule) for rule in rules]
    return rules


def _replication_rule(conn: AwsConnection, rule: dict[str, Any]) -> dict[str, Any]:
    destination = str(rule.get("Destination", {}).get("Bucket", "")).rsplit(":", 1)[-1]
    return {
        "status": rule.get("Status"),
        "destination_bucket": destination,
        "destination_region": read_attribute(
            partial(conn.client("s3").get_bucket_location, Bucket=destination),
            _region,
            permission="s3:GetBucketLocation",
        ),
    }


def _details(s3: S3Client, name: str) -> dict[str, Callable[[], Any]]:
    """Each attribute's read, to be made only when the attribute is wanted."""
    return {
        "encryption": partial(
            read_attribute,
            partial(s3.get_bucket_encryption, Bucket=name),
            _encryption,
            permission="s3:GetEncryptionConfiguration",
            absent={"ServerSideEncryptionConfigurationNotFoundError"},
        ),
        "versioning": partial(
            read_attribute,
            partial(s3.get_bucket_versioning, Bucket=name),
            _versioning,
            permission="s3:GetBucketVersioning",
        ),
        "tags": partial(
            read_attribute,
            partial(s3.get_bucket_tagging, Bucket=name),
            _tags,
            permission="s3:GetBucketTagging",
            absent={"NoSuchTagSet"},
            default={},
        ),
        "policy": partial(
            read_attribute,
            partial(s3.get_bucket_policy, Bucket=name),
            _policy,
            permission="s3:GetBucketPolicy",
            absent={"NoSuchBucketPolicy"},
        ),
        "acl_public_grants": partial(
            read_attribute,
            partial(s3.get_bucket_acl, Bucket=name),
            _public_grants,
            permission="s3:GetBucketAcl",
        ),
        "public_access_block": partial(
            read_attribute,
            partial(s3.get_public_access_block, Bucket=name),
            _flags,
            permission="s3:GetBucketPublicAccessBlock",
            absent={"NoSuchPublicAccessBlockConfiguration"},
        ),
        "logging": partial(
            read_attribute,
            partial(s3.get_bucket_logging, Bucket=name),
            _logging,
            permission="s3:GetBucketLogging",
        ),
    }


@collector(ACCOUNT, permissions=[_ACCOUNT_PAB])
def collect_account(conn: AwsConnection) -> Iterator[dict[str, Any]]:
    """One resource per account: its S3 Block Public Access settings.

    Attribute `public_access_block`: the four flags in snake_case, or None when the account
    has no configuration (every flag off).
    """
    yield {
        "type": ACCOUNT,
        "id": f"arn:{conn.partition}:s3::{conn.account}:account",
        "name": conn.account,
        "scope": conn.scope(GLOBAL_REGION),
        "attributes": {
            "public_access_block": conn.shared(
                "s3.account_public_access_block", partial(_account_pab, conn)
            )
        },
    }


def _account_pab(conn: AwsConnection) -> Any:
    control = conn.client("s3control")
    return read_attribute(
        partial(control.get_public_access_block, AccountId=conn.account),
        _flags,
        permission=_ACCOUNT_PAB,
        absent={"NoSuchPublicAccessBlockConfiguration"},
    )


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


def _policy(response: GetBucketPolicyOutputTypeDef) -> dict[str, Any]:
    return parse(response["Policy"])


def _public_grants(response: GetBucketAclOutputTypeDef) -> list[dict[str, str]]:
    grants = []
    for grant in response.get("Grants", []):
        group = grant.get("Grantee", {}).get("URI", "").rsplit("/", 1)[-1]
        if group in _PUBLIC_GROUPS:
            grants.append({"grantee": group, "permission": grant.get("Permission", "")})
    return grants


def _flags(response: GetPublicAccessBlockOutputTypeDef) -> dict[str, bool]:
    config = response["PublicAccessBlockConfiguration"]
    return {
        "block_public_acls": bool(config.get("BlockPublicAcls")),
        "ignore_public_acls": bool(config.get("IgnorePublicAcls")),
        "block_public_policy": bool(config.get("BlockPublicPolicy")),
        "restrict_public_buckets": bool(config.get("RestrictPublicBuckets")),
    }


def _logging(response: GetBucketLoggingOutputTypeDef) -> dict[str, str] | None:
    enabled = response.get("LoggingEnabled")
    if not enabled:
        return None
    return {
        "target_bucket": enabled["TargetBucket"],
        "target_prefix": enabled.get("TargetPrefix", ""),
    }
